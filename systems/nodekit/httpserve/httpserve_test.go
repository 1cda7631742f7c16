package httpserve

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/freeport"
)

func TestStartServesAllOrNone(t *testing.T) {
	lg := slog.New(slog.DiscardHandler)
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hi") })
	addrs := freeport.MustTake(t, 2)

	// The second address is taken: Start fails and gives back the first.
	taken, err := net.Listen("tcp", addrs[1])
	if err != nil {
		t.Fatal(err)
	}
	_, err = Start(context.Background(), lg, []Server{{"peer", addrs[0], ok}, {"client", addrs[1], ok}})
	taken.Close()
	if err == nil || !strings.Contains(err.Error(), "listen client on "+addrs[1]) {
		t.Fatalf("Start with a taken port: %v, want a listen error naming client", err)
	}
	if ln, err := net.Listen("tcp", addrs[0]); err != nil {
		t.Fatalf("the first port was not released: %v", err)
	} else {
		ln.Close()
	}

	g, err := Start(context.Background(), lg, []Server{{"peer", addrs[0], ok}, {"client", addrs[1], ok}})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range g.Addrs() {
		resp, err := http.Get("http://" + a)
		if err != nil {
			t.Fatalf("GET %s: %v", a, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "hi" {
			t.Fatalf("GET %s = %q", a, b)
		}
	}
	g.Shutdown(time.Second)
	if _, err := http.Get("http://" + addrs[0]); err == nil {
		t.Fatal("server still answers after Shutdown")
	}
}
