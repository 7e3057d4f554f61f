package sites

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"strings"

	"switchboard/runtime/listener"
)

// WebHandler routes the devices' provisioning fetches and the portal to
// the site whose domain the request's Host names (any port), else to the
// one site whose provisioning URL has that host; any other host gets 404,
// as an unknown path does. (A path prefix would not do: the devices'
// digest covers the path, and their URLs are the compiler's.)
func (srv *Server) WebHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		e := srv.byHTTPHost(strings.TrimSuffix(host, "."))
		if e == nil {
			http.NotFound(w, r)
			return
		}
		e.web.ServeHTTP(w, r)
	})
}

// sitesPrefix starts the admin paths of one site: /sites/NAME/admin/...
const sitesPrefix = "/sites/"

// AdminHandler serves each site's admin endpoints under
// /sites/NAME/admin/..., answered by that site (its token check, its
// reload); with one site, /admin/... too, as a single site serves them.
func (srv *Server) AdminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, sitesPrefix); ok {
			name, _, _ := strings.Cut(rest, "/")
			srv.mu.RLock()
			e := srv.byName[name]
			srv.mu.RUnlock()
			if e != nil {
				e.admin.ServeHTTP(w, r)
				return
			}
		} else if es := srv.entries(); len(es) == 1 {
			es[0].site.AdminHandler().ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	})
}

// ServeWeb serves WebHandler on l (over TLS when conf is set) until ctx
// ends, within the server's connection budget (shared with its SIP
// streams) and the first site's HTTP limits.
func (srv *Server) ServeWeb(ctx context.Context, l net.Listener, conf *tls.Config) error {
	es := srv.entries()
	if len(es) == 0 {
		return errors.New("sites: no site to serve")
	}
	return es[0].site.ServeWebHandler(ctx, srv.budgeted(l, es[0]), conf, srv.WebHandler())
}

// ServeAdmin serves AdminHandler on l, a loopback listener, until ctx
// ends, within the server's connection budget and the first site's HTTP
// limits.
func (srv *Server) ServeAdmin(ctx context.Context, l net.Listener) error {
	es := srv.entries()
	if len(es) == 0 {
		return errors.New("sites: no site to serve")
	}
	return es[0].site.ServeAdminHandler(ctx, srv.budgeted(l, es[0]), srv.AdminHandler())
}

// budgeted is l counted against the server's connection budget: the
// first site's own budget, which the site's HTTP serving applies, bounds
// only what that site serves, not the server's SIP streams beside it.
func (srv *Server) budgeted(l net.Listener, e *entry) net.Listener {
	return listener.New(l, listener.Options{Budget: srv.connBudget(e.site.Limits()), Logger: srv.log})
}
