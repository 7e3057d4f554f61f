package site

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"switchboard/runtime/b2bua"
	"switchboard/runtime/sipstack"
	"switchboard/runtime/store"
	"switchboard/runtime/throttle"
)

// Handler serves the devices' provisioning files over HTTP (when the site
// serves them) and the people's portal under /portal/ (when the site has
// a data directory). It is what devices and people, and through a reverse
// proxy the internet, reach; the operator's endpoints are not among them
// (AdminHandler, served on a listener of their own), and /admin/ says so.
// Request bodies are limited to httpMaxBody, but the portal's, which
// limits each form and upload itself.
func (s *Site) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.MaxBytesHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "the admin endpoints are not served here: use serve's -admin address", http.StatusNotFound)
	}), httpMaxBody))
	if s.portal != nil {
		mux.Handle("/portal/", s.portal)
	}
	if s.prov != nil {
		mux.Handle("/", http.MaxBytesHandler(s.prov, httpMaxBody))
	}
	return mux
}

// AdminHandler serves the operator's endpoints (adminHandler), on a
// listener of their own: as careful servers keep their admin API off the
// port the public reaches, a proxy set up for the devices' files can never
// forward to it.
func (s *Site) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/admin/", s.adminHandler())
	return mux
}

// Limits on guessing the admin token: after adminFailLimit wrong tokens
// within adminFailWindow, the admin endpoints refuse every request until
// the window closes, whatever it sends. One count for all, not one per
// address: every client is on this machine, which has all of 127.0.0.0/8
// to send from, so per-address counts would only let a guesser spread its
// tries. A 256-bit token cannot be guessed anyway; the limit keeps a local
// program that tries from filling the log and the CPU.
const (
	adminFailLimit  = 10
	adminFailWindow = time.Minute
)

// forwardingHeaders mark a request that came through a proxy (RFC 7239,
// RFC 9110 §7.6.3 and the de-facto X- headers). The admin endpoints refuse
// such a request whatever it carries: the proxy's loopback address is not
// the client's, and no header the client can write may grant access.
var forwardingHeaders = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip", "Via"}

// adminGuard decides who may use the admin endpoints: a client on
// loopback, not through a proxy, presenting the admin token.
type adminGuard struct {
	sum [sha256.Size]byte // of the token; compared in constant time
	on  bool

	mu    sync.Mutex
	fails throttle.Table[struct{}] // one key: every client is local
}

func newAdminGuard(token string) *adminGuard {
	g := &adminGuard{fails: throttle.New[struct{}](1)}
	if token != "" {
		g.sum, g.on = sha256.Sum256([]byte(token)), true
	}
	return g
}

// adminHandler serves the reload and check-sync endpoints (POST
// /admin/reload, POST /admin/check-sync?device=NAME), the status (GET
// /admin/status: what the server is doing, as JSON, for a health check),
// every account (GET /admin/accounts), the events (GET /admin/events,
// see adminGet), a call's SIP messages (GET /admin/calls/{id}/sip) and
// ring tests (POST /admin/ring-test, adminRingTest).
// Each request must come from loopback, directly (no forwarding header),
// with "Authorization: Bearer TOKEN" (Options.AdminToken). Why a request
// was refused goes to the caller in plain words; the token never goes to
// the log.
func (s *Site) adminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.admit(w, r) {
			return
		}
		path := r.URL.Path
		if strings.HasPrefix(path, callsPrefix) {
			path = callsPrefix
		}
		switch path {
		case "/admin/status", "/admin/accounts", "/admin/events", callsPrefix:
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.Header().Set("Allow", "GET, HEAD")
				http.Error(w, "use GET", http.StatusMethodNotAllowed)
				return
			}
			s.adminGet(w, r)
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
		case "/admin/ring-test":
			s.adminRingTest(w, r)
		case "/admin/check-sync":
			dev := r.URL.Query().Get("device")
			n, err := s.CheckSync(r.Context(), dev)
			if n == 0 {
				http.Error(w, err.Error(), http.StatusConflict)
				return
			}
			fmt.Fprintf(w, "check-sync sent to %d contact(s) of %s\n", n, dev)
			if err != nil {
				// Delivered, but not everywhere: the operator sees which
				// registrations are stale.
				fmt.Fprintf(w, "not delivered: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
			}
		default:
			http.NotFound(w, r)
		}
	})
}

// callsPrefix begins GET /admin/calls/{id}/sip, a call's SIP messages.
const callsPrefix = "/admin/calls/"

// adminGet answers the admin endpoints that only read: the status, the
// accounts, a call's SIP messages (GET /admin/calls/{id}/sip, id the
// call of its events: a sipstack.CallTrace, the messages as they crossed
// the wire, no bodies and no credentials) and the events (GET
// /admin/events?after=ID&wait=SECONDS: the
// events after ID, waiting up to SECONDS, at most MaxEventsWait, for one —
// a long poll a client resumes from the last ID it saw; with
// &epoch=EPOCH, an ID of another run of the server counts from the oldest
// event kept).
func (s *Site) adminGet(w http.ResponseWriter, r *http.Request) {
	var body any
	path := r.URL.Path
	if strings.HasPrefix(path, callsPrefix) {
		path = callsPrefix
	}
	switch path {
	case "/admin/status":
		st := s.Status()
		body = st
		if s.o.StoreSpace != nil {
			sp := s.o.StoreSpace()
			body = struct {
				b2bua.Status
				Store *store.Space `json:"store"`
			}{st, &sp}
		}
	case "/admin/accounts":
		rep, ok := s.Accounts()
		if !ok {
			http.Error(w, "this server keeps no event journal", http.StatusNotFound)
			return
		}
		body = rep
	case callsPrefix:
		id, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, callsPrefix), "/sip")
		if !ok || id == "" {
			http.NotFound(w, r)
			return
		}
		if s.trace == nil {
			http.Error(w, "this server keeps no SIP messages of its calls", http.StatusNotFound)
			return
		}
		ct, ok := s.trace.Call(id)
		if !ok {
			http.Error(w, fmt.Sprintf("no SIP messages of call %q: the server keeps the last %d calls that ended", id, sipstack.TraceFinished), http.StatusNotFound)
			return
		}
		body = ct
	case "/admin/events":
		q := r.URL.Query()
		after, err := strconv.ParseUint(cmp.Or(q.Get("after"), "0"), 10, 64)
		if err != nil {
			http.Error(w, "after: an event ID (a whole number) is needed", http.StatusBadRequest)
			return
		}
		secs, err := strconv.ParseFloat(cmp.Or(q.Get("wait"), "0"), 64)
		if err != nil || secs < 0 || secs > MaxEventsWait.Seconds() {
			http.Error(w, fmt.Sprintf("wait: a number of seconds from 0 to %d is needed", int(MaxEventsWait.Seconds())), http.StatusBadRequest)
			return
		}
		page, ok := s.Events(r.Context(), q.Get("epoch"), after, time.Duration(secs*float64(time.Second)))
		if !ok {
			http.Error(w, "this server keeps no event journal", http.StatusNotFound)
			return
		}
		body = page
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(body)
}

// Bounds of a ring test: how long it may ring and wait for the digit,
// and how many run at once (each holds a media socket and a request).
const (
	maxRingTestWait = 60 * time.Second
	maxRingTests    = 4
)

// adminRingTest answers POST /admin/ring-test?user=NAME[&ring=SECONDS]
// [&confirm=SECONDS]: the server calls the person's endpoints, tells
// whoever answers that it is a test call and to press a key, beeps, and
// waits for a digit (RingTest); the answer is
// the result as JSON once the test is over.
func (s *Site) adminRingTest(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	user := q.Get("user")
	if user == "" {
		http.Error(w, "user: the name of the person to ring is needed", http.StatusBadRequest)
		return
	}
	wait := func(name string) (time.Duration, bool) {
		secs, err := strconv.Atoi(cmp.Or(q.Get(name), "30"))
		if err != nil || secs < 1 || time.Duration(secs)*time.Second > maxRingTestWait {
			http.Error(w, fmt.Sprintf("%s: a number of seconds from 1 to %d is needed", name, int(maxRingTestWait.Seconds())), http.StatusBadRequest)
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	ring, ok := wait("ring")
	if !ok {
		return
	}
	confirm, ok := wait("confirm")
	if !ok {
		return
	}
	select {
	case s.ringTests <- struct{}{}:
		defer func() { <-s.ringTests }()
	default:
		w.Header().Set("Retry-After", "30")
		http.Error(w, fmt.Sprintf("%d ring tests are running; try again when one is over", maxRingTests), http.StatusTooManyRequests)
		return
	}
	res, err := s.RingTest(r.Context(), user, ring, confirm)
	if err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(res)
}

// admit answers w and returns false unless r may use the admin endpoints.
func (s *Site) admit(w http.ResponseWriter, r *http.Request) bool {
	g := s.admin
	for _, h := range forwardingHeaders {
		if _, ok := r.Header[http.CanonicalHeaderKey(h)]; ok {
			// At debug: anyone the proxy serves can send these, as often
			// as they like.
			s.log.Debug("admin request through a proxy refused", "path", r.URL.Path, "peer", r.RemoteAddr, "header", h)
			http.Error(w, "admin endpoints are not served through a proxy: call them on the server's own machine", http.StatusForbidden)
			return false
		}
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !peer.Addr().Unmap().IsLoopback() {
		http.Error(w, "admin endpoints answer loopback only", http.StatusForbidden)
		return false
	}
	if !g.on {
		http.Error(w, "admin endpoints are off: the server was started without an admin token", http.StatusForbidden)
		return false
	}
	now := s.clk.Now()
	g.mu.Lock()
	n, closes := g.fails.Count(struct{}{}, now, adminFailWindow)
	g.mu.Unlock()
	if n >= adminFailLimit {
		w.Header().Set("Retry-After", strconv.Itoa(int(closes.Sub(now)/time.Second)+1))
		http.Error(w, "too many wrong admin tokens; try again later", http.StatusTooManyRequests)
		return false
	}
	// The scheme's name is case-insensitive (RFC 9110 §11.1).
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if token = strings.TrimSpace(token); !strings.EqualFold(scheme, "Bearer") || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard admin"`)
		http.Error(w, "admin endpoints need the admin token: Authorization: Bearer TOKEN (the file serve names when it starts)", http.StatusUnauthorized)
		return false
	}
	sum := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(sum[:], g.sum[:]) == 1 {
		return true
	}
	g.mu.Lock()
	n = g.fails.Add(struct{}{}, now, adminFailWindow)
	g.mu.Unlock()
	// The first failure of a window and the one that reaches the limit
	// are logged, not every one: a program guessing must not fill the log.
	if n == 1 || n == adminFailLimit {
		s.log.Warn("admin request with a wrong token refused", "path", r.URL.Path, "peer", r.RemoteAddr, "failures", n)
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard admin", error="invalid_token"`)
	http.Error(w, "wrong admin token", http.StatusUnauthorized)
	return false
}
