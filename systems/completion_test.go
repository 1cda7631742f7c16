package systems

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/faultline/faultline/history"
)

func TestCallJSONTellsNotSentFromUnknown(t *testing.T) {
	hc := NewHTTPClient(1)
	op := Op{F: "write", Key: "k", Value: 1}
	ctx := context.Background()

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte(`{"outcome":"ok"}`))
		case "/hangup": // read the request, then drop the connection
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}
	}))
	defer srv.Close()
	node := Endpoint{Name: "n1", Client: strings.TrimPrefix(srv.URL, "http://")}

	var out struct{ Outcome string }
	r, sent, err := CallJSON(ctx, hc, http.MethodPost, node, "/ok", []byte(`{}`), 1<<10, &out)
	if err != nil || !sent || r.Code != 200 || out.Outcome != "ok" {
		t.Fatalf("ok call: %+v sent=%v err=%v out=%+v", r, sent, err, out)
	}

	_, sent, err = CallJSON(ctx, hc, http.MethodPost, node, "/hangup", []byte(`{}`), 1<<10, &out)
	if err == nil || !sent {
		t.Fatalf("hung-up call: sent=%v err=%v, want sent with an error", sent, err)
	}
	if c := CallFailed(op, node, sent, err); c.Type != history.Info {
		t.Fatalf("a request that left and got no answer is %s, want info", c.Type)
	}

	// A port nobody listens on: the dial fails, the op never left.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := Endpoint{Name: "n2", Client: ln.Addr().String()}
	ln.Close()
	_, sent, err = CallJSON(ctx, hc, http.MethodPost, dead, "/ok", nil, 1<<10, &out)
	if err == nil || sent {
		t.Fatalf("call to a closed port: sent=%v err=%v, want not sent", sent, err)
	}
	if c := CallFailed(op, dead, sent, err); c.Type != history.Fail || !strings.Contains(c.Error, "not sent to n2") {
		t.Fatalf("not-sent completion = %+v, want fail naming n2", c)
	}
}
