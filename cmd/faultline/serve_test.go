package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/exitcode"
)

// resultsTree makes a results dir with one run, a latest link, a dot file
// and a symlink that points outside the tree.
func resultsTree(t *testing.T) string {
	t.Helper()
	results := t.TempDir()
	run := filepath.Join(results, "20261121T100000.000Z-quorum-register-s1")
	for path, body := range map[string]string{
		"test.json":     `{"system":"quorum","workload":"register","nemesis":["kill"],"nodes":3,"seed":1}`,
		"results.json":  `{"valid":false,"reason":"anomalies found","checkers":{}}`,
		"history.jsonl": `{"index":0,"time":1,"process":0,"type":"invoke","f":"read","key":"k","value":null}` + "\n",
		"report.html":   "<!DOCTYPE html><title>report</title>",
		"nodes/n1.log":  "msg=\"<script>alert(1)</script>\"\n",
	} {
		p := filepath.Join(run, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	outside := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(outside, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{{filepath.Base(run), "latest"}, {outside, "escape.txt"}} {
		if err := os.Symlink(l[0], filepath.Join(results, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(results, ".latest-123"), []byte("tmp"), 0o644); err != nil {
		t.Fatal(err)
	}
	return results
}

func TestServeHandlerIsReadOnlyAndStaysInsideTheTree(t *testing.T) {
	results := resultsTree(t)
	h, err := resultsHandler(results, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h) // a real listener on 127.0.0.1
	defer srv.Close()
	get := func(method, path string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader("x"))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	code, ctype, body := get("GET", "/")
	if code != 200 || !strings.HasPrefix(ctype, "text/html") || !strings.Contains(body, "20261121T100000.000Z-quorum-register-s1/report.html") ||
		!strings.Contains(body, "b-invalid") {
		t.Errorf("GET / = %d %s, want the index linking the run's report with its verdict:\n%.600s", code, ctype, body)
	}
	if code, _, body := get("GET", "/latest/report.html"); code != 200 || !strings.Contains(body, "<title>report") {
		t.Errorf("GET /latest/report.html = %d %q", code, body)
	}
	if code, ctype, _ := get("GET", "/latest/nodes/n1.log"); code != 200 || !strings.HasPrefix(ctype, "text/plain") {
		t.Errorf("a node log is served as %d %q, want 200 text/plain", code, ctype)
	}
	for _, path := range []string{"/escape.txt", "/.latest-123", "/../../etc/passwd", "/nope"} {
		if code, _, body := get("GET", path); code != http.StatusNotFound || strings.Contains(body, "secret") {
			t.Errorf("GET %s = %d %q, want 404", path, code, body)
		}
	}
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		if code, _, _ := get(m, "/latest/results.json"); code != http.StatusMethodNotAllowed {
			t.Errorf("%s = %d, want 405", m, code)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(results, "latest", "results.json")); !strings.Contains(string(b), "anomalies found") {
		t.Error("results.json changed")
	}
}

// Every answer, refusals included, carries the headers that keep a browser
// from fetching, sniffing or leaking; a Host that is not this server is
// refused (DNS rebinding).
func TestServeSendsSecurityHeadersAndChecksHost(t *testing.T) {
	h, err := resultsHandler(resultsTree(t), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method, host, path string
		want               int
	}{
		{"GET", "127.0.0.1:8080", "/", 200},
		{"GET", "localhost:8080", "/latest/report.html", 200},
		{"GET", "[::1]:8080", "/latest/history.jsonl", 200},
		{"GET", "127.0.0.1:8080", "/escape.txt", 404},
		{"POST", "127.0.0.1:8080", "/latest/results.json", 405},
		{"GET", "rebind.example:8080", "/latest/results.json", http.StatusMisdirectedRequest},
		{"GET", "10.1.2.3:8080", "/", http.StatusMisdirectedRequest},
		{"GET", "", "/", http.StatusMisdirectedRequest},
	} {
		req := httptest.NewRequest(c.method, "http://x"+c.path, nil)
		req.Host = c.host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s %s Host %q = %d, want %d", c.method, c.path, c.host, rec.Code, c.want)
		}
		hd := rec.Header()
		if csp := hd.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'none'") {
			t.Errorf("%s %s: Content-Security-Policy %q, want one forbidding fetches", c.method, c.path, csp)
		}
		if hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s %s: nosniff %q, referrer %q", c.method, c.path, hd.Get("X-Content-Type-Options"), hd.Get("Referrer-Policy"))
		}
	}
}

func TestAllowedHost(t *testing.T) {
	name, _ := os.Hostname()
	for _, c := range []struct {
		host, listen string
		want         bool
	}{
		{"127.0.0.1:8080", "127.0.0.1", true},
		{"localhost", "127.0.0.1", true},
		{"LOCALHOST.:80", "127.0.0.1", true},
		{"[::1]:9000", "127.0.0.1", true},
		{"evil.example", "127.0.0.1", false},
		{"192.168.1.5:8080", "127.0.0.1", false},
		{"192.168.1.5:8080", "192.168.1.5", true},
		{"results.lan:8080", "results.lan", true},
		{"192.168.1.5:8080", "0.0.0.0", true},
		{"[fe80::1]:8080", "::", true},
		{"evil.example:8080", "0.0.0.0", false},
		{name + ":8080", "0.0.0.0", name != ""},
		{"", "0.0.0.0", false},
	} {
		if got := allowedHost(c.host, c.listen); got != c.want {
			t.Errorf("allowedHost(%q, %q) = %v, want %v", c.host, c.listen, got, c.want)
		}
	}
}

func TestServeCommandListensOnLoopbackAndStopsOnCancel(t *testing.T) {
	results := resultsTree(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- execute(ctx, []string{"serve", "--results", results, "--addr", "127.0.0.1:0"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	url := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`).FindString(line)
	if url == "" {
		t.Fatalf("serve printed %q, want the loopback URL", line)
	}
	resp, err := http.Get(url + "latest/results.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET results.json = %d", resp.StatusCode)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exit %d after cancel, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop after its context was cancelled")
	}
}

func TestServeRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--results", filepath.Join(t.TempDir(), "missing")},
		{"serve", "--results", t.TempDir(), "--addr", "8080"},
	} {
		var errb strings.Builder
		if code := execute(context.Background(), args, io.Discard, &errb); code != exitcode.Usage || strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line", args, code, errb.String())
		}
	}
}
