// Package admin serves the small admin API every included node has on its
// own port (never through the mesh): GET /status for readiness and role.
package admin

import (
	"encoding/json"
	"net/http"

	"github.com/faultline/faultline/systems"
)

// Handler serves GET /status with whatever status reports at the moment.
func Handler(status func() systems.Status) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(status())
	})
	return mux
}
