package site

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
)

// Handler serves the site over HTTP: the devices' provisioning files (when
// the site serves them) and, under /admin/, the operator's endpoints
// (adminHandler).
func (s *Site) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/admin/", s.adminHandler())
	if s.prov != nil {
		mux.Handle("/", s.prov)
	}
	return mux
}

// adminHandler serves the reload and check-sync endpoints (POST
// /admin/reload, POST /admin/check-sync?device=NAME) and the status (GET
// /admin/status: what the server is doing, as JSON, for a health check),
// to loopback clients only.
func (s *Site) adminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
			http.Error(w, "admin endpoints answer loopback only", http.StatusForbidden)
			return
		}
		if r.URL.Path == "/admin/status" {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.Header().Set("Allow", "GET, HEAD")
				http.Error(w, "use GET", http.StatusMethodNotAllowed)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			_ = json.NewEncoder(w).Encode(s.Status())
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		switch r.URL.Path {
		case "/admin/reload":
			if err := s.Reload("admin endpoint"); err != nil {
				http.Error(w, err.Error(), http.StatusUnprocessableEntity)
				return
			}
			fmt.Fprintln(w, "reloaded")
		case "/admin/check-sync":
			dev := r.URL.Query().Get("device")
			n, err := s.CheckSync(r.Context(), dev)
			if err != nil {
				http.Error(w, err.Error(), http.StatusConflict)
				return
			}
			fmt.Fprintf(w, "check-sync sent to %d contact(s) of %s\n", n, dev)
		default:
			http.NotFound(w, r)
		}
	})
}
