package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/internal/store"
	"github.com/faultline/faultline/report"
)

func newServeCmd(stdout, stderr io.Writer) *cobra.Command {
	var dir, addr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the results tree (index of runs, reports, files) read-only over HTTP",
		Long: `Serve serves the results directory over HTTP, read-only: / is the index of
every run (built afresh on each request, newest first), each run's report.html,
history, results, logs and checker files below it. Only GET and HEAD are
answered; dot files are hidden; symlinks (results/latest) are followed only
inside the directory (a link out of it is 404). Every answer carries a
Content-Security-Policy that forbids fetching anything (pages are
self-contained), nosniff and no-referrer; a request whose Host header names
neither a loopback address nor the address served is refused with 421, so a
web page cannot reach the results through DNS rebinding.

It listens on 127.0.0.1:8080 unless --addr says otherwise. An address that is
not loopback (for example 0.0.0.0:8080) serves the results to anyone who can
reach it; faultline does so only when you ask, and says so. Ctrl-C stops it.`,
		Example: `  faultline serve
  faultline serve --results /tmp/ci-results --addr 127.0.0.1:9000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fi, err := os.Stat(dir)
			if err != nil || !fi.IsDir() {
				return usageErr("--results %s: not a directory (run a test first, or name the directory runs were stored under)", dir)
			}
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return usageErr("--addr %q: want host:port, e.g. 127.0.0.1:8080 (%v)", addr, err)
			}
			h, err := resultsHandler(dir, host)
			if err != nil {
				return usageErr("%v", err)
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return usageErr("--addr %s: %v", addr, err)
			}
			if !isLoopback(host) {
				fmt.Fprintf(stderr, "faultline: warning: %s is not a loopback address: anyone who can reach it can read these results\n", addr)
			}
			fmt.Fprintf(stdout, "serving %s at http://%s/ (Ctrl-C stops)\n", dir, ln.Addr())
			return serve(cmd.Context(), ln, h)
		},
	}
	cmd.Flags().StringVar(&dir, "results", "results", "directory runs are stored under")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "host:port to listen on (loopback by default)")
	return cmd
}

// serve answers on ln until ctx ends, then shuts down, giving requests in
// flight a moment to finish.
func serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serveCSP is sent with every answer. The pages are self-contained (inline
// scripts and styles, data: images), so nothing may be fetched, framed or
// posted; report pages narrow scripts further with their own meta policy.
const serveCSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; " +
	"connect-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// allowedHost says whether a request's Host header may be answered by a
// server listening on listenHost: loopback names always; the listen
// address itself; and, on an unspecified address (0.0.0.0, ::), any IP
// literal or this machine's name. Other names are refused: a page on the
// web that rebinds its own name to 127.0.0.1 must not read the results.
func allowedHost(hostport, listenHost string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if host == "" {
		return false
	}
	if isLoopback(host) || strings.EqualFold(host, listenHost) {
		return true
	}
	if ip := net.ParseIP(listenHost); listenHost == "" || (ip != nil && ip.IsUnspecified()) {
		if net.ParseIP(host) != nil {
			return true
		}
		name, err := os.Hostname()
		return err == nil && strings.EqualFold(host, name)
	}
	return false
}

// resultsHandler serves dir read-only to requests addressed to listenHost
// (see allowedHost). Files come through an os.Root, so no path or symlink
// leads outside dir; the index is rendered per request.
func resultsHandler(dir, listenHost string) (http.Handler, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	files := http.FileServerFS(notFoundFS{root.FS()})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", serveCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		if !allowedHost(r.Host, listenHost) {
			http.Error(w, "misdirected request: Host "+r.Host+" is not this server", http.StatusMisdirectedRequest)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "read-only: only GET and HEAD", http.StatusMethodNotAllowed)
			return
		}
		p := path.Clean("/" + r.URL.Path)
		for _, seg := range strings.Split(p, "/") {
			if strings.HasPrefix(seg, ".") {
				http.NotFound(w, r)
				return
			}
		}
		if p == "/" || p == "/"+store.IndexFile {
			var b bytes.Buffer
			if err := report.RenderIndex(&b, dir); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			h.Set("Content-Type", "text/html; charset=utf-8")
			http.ServeContent(w, r, store.IndexFile, time.Time{}, bytes.NewReader(b.Bytes()))
			return
		}
		// Histories and logs are text, whatever they contain: never let a
		// browser sniff a node log into HTML.
		switch path.Ext(p) {
		case ".log", ".jsonl":
			h.Set("Content-Type", "text/plain; charset=utf-8")
		case ".json":
			h.Set("Content-Type", "application/json")
		}
		files.ServeHTTP(w, r)
	}), nil
}

// notFoundFS answers every file it cannot open as not existing: a symlink
// that leads out of the tree, which os.Root refuses, is simply not here
// (404), where the file server would answer 500.
type notFoundFS struct{ fs.FS }

func (n notFoundFS) Open(name string) (fs.File, error) {
	f, err := n.FS.Open(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return f, nil
}
