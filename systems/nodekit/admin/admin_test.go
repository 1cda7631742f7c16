package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/nodekit/clock"
)

func TestClockRequiresJSONWithTheOffsetGiven(t *testing.T) {
	clk := clock.New()
	srv := httptest.NewServer(Handler(func() systems.Status { return systems.Status{Ready: true} }, clk))
	defer srv.Close()
	post := func(ctype, body string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/clock", strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("application/json", `{"offset_ns": 5000000000}`); code != http.StatusNoContent || clk.Offset() != 5*time.Second {
		t.Fatalf("a valid request: %d, offset %v; want 204 and 5s", code, clk.Offset())
	}
	for _, c := range []struct {
		ctype, body string
		want        int
	}{
		{"text/plain", `{"offset_ns": 1}`, http.StatusUnsupportedMediaType},
		{"application/x-www-form-urlencoded", `offset_ns=1`, http.StatusUnsupportedMediaType},
		{"", `{"offset_ns": 1}`, http.StatusUnsupportedMediaType},
		{"application/json", `{}`, http.StatusBadRequest},
		{"application/json", `{"offset_ns": null}`, http.StatusBadRequest},
		{"application/json", `{"offset_ns": 1, "extra": 2}`, http.StatusBadRequest},
		{"application/json", `{"offset_ns": "1"}`, http.StatusBadRequest},
		{"application/json", `{"offset_ns": 1} {"offset_ns": 2}`, http.StatusBadRequest},
	} {
		if code := post(c.ctype, c.body); code != c.want {
			t.Errorf("POST /clock %q %s = %d, want %d", c.ctype, c.body, code, c.want)
		}
		if clk.Offset() != 5*time.Second {
			t.Fatalf("a refused request (%q %s) changed the offset to %v", c.ctype, c.body, clk.Offset())
		}
	}
	if code := post("application/json; charset=utf-8", `{"offset_ns": 0}`); code != http.StatusNoContent || clk.Offset() != 0 {
		t.Errorf("an explicit zero offset: %d, offset %v; want 204 and 0", code, clk.Offset())
	}
	// The harness's own client speaks the same contract.
	addr := strings.TrimPrefix(srv.URL, "http://")
	if err := SetClock(context.Background(), srv.Client(), addr, -3*time.Second); err != nil || clk.Offset() != -3*time.Second {
		t.Errorf("SetClock: %v, offset %v", err, clk.Offset())
	}
	if st, err := GetStatus(context.Background(), srv.Client(), addr); err != nil || !st.Ready || st.ClockOffsetNS != int64(-3*time.Second) {
		t.Errorf("GetStatus = %+v, %v", st, err)
	}
}
