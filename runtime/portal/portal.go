package portal

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/compiler/ir"
	"switchboard/runtime/clock"
	"switchboard/runtime/events"
	"switchboard/runtime/registrar"
	"switchboard/runtime/store"
	"switchboard/runtime/throttle"
	"switchboard/runtime/voicemail"
)

//go:embed assets
var assets embed.FS

// Passwords are the derived portal passwords (credentials.Lookup has
// them): a person's until they choose their own.
type Passwords interface {
	PortalPassword(user string) (string, bool)
	InstallerPortalPassword() (string, bool)
}

// Config is what the portal reads; none of it is copied, so a reload of
// the site is seen at once.
type Config struct {
	// Program returns the running program.
	Program func() *ir.Program
	// Passwords returns the running generation's derived passwords (nil:
	// only chosen passwords log in).
	Passwords func() Passwords
	// Voicemail is the site's voicemail; nil: the site keeps none.
	Voicemail *voicemail.Service
	// Bindings returns an account's live registrations.
	Bindings func(account string) []registrar.Binding
	// Events is the site's event stream: the door log, the calls and when
	// devices came online are read from it (the portal keeps the recent
	// ones; History).
	Events *events.Bus
	// EventLog, when set, is the site's stream of the same events kept
	// in the store: the door log and the calls are read from it, so they
	// outlive a restart of the server.
	EventLog *store.EventLog
	// Site answers what only the site files, the applied state and the
	// site key know (invitations, the handover sheet); nil: not available.
	Site SiteFiles
	// RingTest has the server ring a person's endpoints and reports who
	// answered (runtime/site: b2bua's RingTest); nil: no ring tests.
	RingTest func(ctx context.Context, user string) (RingResult, error)
	// Trunks returns the trunks' registrations at their carriers.
	Trunks func() []Trunk
	// Dir holds the chosen passwords' hashes (passwords.json) and the
	// change requests (RequestsDir).
	Dir    string
	Clock  clock.Clock
	Logger *slog.Logger
}

// Limits on what the portal keeps and takes.
const (
	// MaxSessions bounds the sessions kept; the least recently used goes.
	MaxSessions = 4096
	// SessionIdle ends a session no page or form used for this long (an
	// open event stream does not count: operatorEvents); SessionMax ends
	// any.
	SessionIdle = 30 * time.Minute
	SessionMax  = 12 * time.Hour
	// maxForm is the largest form body (login, PIN, password, actions).
	maxForm = 8 << 10
	// maxUpload is the largest greeting upload: the file and the form
	// around it.
	maxUpload = voicemail.MaxGreetingFile + 8<<10
	// maxPassword is the longest password read; longer is wrong.
	maxPassword = 256
	// MinPassword is the shortest password a person may choose.
	MinPassword = 12
)

// Login throttle: per e-mail and address, per address, per /24 or /64,
// and for everyone, in 15-minute windows (runtime/throttle, the one
// table). A person who mistypes a few times is not locked out; a guesser
// gets a handful of tries per window.
var loginLimits = throttle.Limits{PerUser: 5, PerSource: 20, PerPrefix: 60, Global: 500, Window: 15 * time.Minute}

// Portal serves the portal under /portal/.
type Portal struct {
	cfg   Config
	clk   clock.Clock
	log   *slog.Logger
	mux   *http.ServeMux
	pages map[string]*template.Template

	guard    *throttle.Guard
	sessions *sessions
	store    *hashStore
	history  *History
	stream   *stream
	requests *requestStore
	rings    *ringRuns

	// hashes counts the password hashes computed for logins: tests check
	// that every answer costs the same hash work.
	hashes atomic.Int64
	// sem bounds the argon2 computations at once (each takes hashMemory).
	sem chan struct{}
}

// New returns the portal of cfg; Close stops its reading of the events.
func New(cfg Config) (*Portal, error) {
	if cfg.Program == nil {
		return nil, errors.New("portal: no program")
	}
	if cfg.Dir == "" {
		return nil, errors.New("portal: no data directory")
	}
	p := &Portal{cfg: cfg, clk: cfg.Clock, log: cfg.Logger, guard: throttle.NewGuard(loginLimits), sem: make(chan struct{}, 2)}
	if p.clk == nil {
		p.clk = clock.Real
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	p.sessions = newSessions(p.clk.Now)
	var err error
	if p.store, err = openHashStore(filepath.Join(cfg.Dir, "passwords.json")); err != nil {
		return nil, err
	}
	if p.pages, err = sharedPages(); err != nil {
		return nil, err
	}
	if cfg.EventLog != nil {
		p.history = NewHistoryFrom(cfg.EventLog, historySize, p.log)
	} else {
		p.history = NewHistory(cfg.Events, historySize)
	}
	p.stream = newStream(cfg.Events)
	p.requests = &requestStore{dir: RequestsDir(cfg.Dir)}
	p.rings = newRingRuns()
	p.routes()
	return p, nil
}

// HistoryChanged returns a channel closed at the next event the door log
// and the call history take in: a test of a site waits on it.
func (p *Portal) HistoryChanged() <-chan struct{} { return p.history.Changed() }

// Close stops reading the event stream and the ring tests running.
func (p *Portal) Close() {
	p.rings.close()
	p.history.Close()
	p.stream.close()
}

// ServeHTTP serves the portal. POSTs from another origin are refused
// (net/http's CrossOriginProtection: Sec-Fetch-Site and Origin) before any
// handler runs; the handlers check the session's CSRF token too.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	// blob: media is the greeting recorder's playback of what it
	// recorded, before it is uploaded (assets/static/greeting.js).
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; media-src 'self' blob:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	p.mux.ServeHTTP(w, r)
}

var crossOrigin = http.NewCrossOriginProtection()

func (p *Portal) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets/static")
	m.Handle("GET /portal/static/", http.StripPrefix("/portal/static/", staticFiles(static)))
	m.HandleFunc("GET /portal/{$}", p.home)
	m.HandleFunc("GET /portal/login", p.loginPage)
	m.HandleFunc("POST /portal/login", p.login)
	m.HandleFunc("POST /portal/logout", p.logout)
	m.HandleFunc("GET /portal/installer", p.page(pageInstaller, ir.RightSeeSite, false, p.installerPage))

	own := func(pattern string, name string, right ir.Right, h func(http.ResponseWriter, *http.Request, *visit)) {
		m.HandleFunc(pattern, p.page(name, right, true, h))
	}
	act := func(pattern string, right ir.Right, limit int64, h func(http.ResponseWriter, *http.Request, *visit)) {
		m.HandleFunc(pattern, p.action(right, limit, h))
	}
	own("GET /portal/u/{user}/{$}", pageOverview, ir.RightAnswer, p.overview)
	own("GET /portal/u/{user}/voicemail", pageVoicemail, ir.RightOwnSettings, p.voicemailPage)
	own("GET /portal/u/{user}/voicemail/{file}", "", ir.RightOwnSettings, p.messageAudio)
	own("GET /portal/u/{user}/greeting.wav", "", ir.RightOwnSettings, p.greetingAudio)
	own("GET /portal/u/{user}/settings", pageSettings, ir.RightOwnSettings, p.settingsPage)
	own("GET /portal/u/{user}/doors", pageDoors, ir.RightAnswer, p.doorsPage)
	own("GET /portal/u/{user}/devices", pageDevices, ir.RightAnswer, p.devicesPage)
	own("GET /portal/u/{user}/calls", pageCalls, ir.RightAnswer, p.callsPage)
	act("POST /portal/u/{user}/voicemail/{id}/delete", ir.RightOwnSettings, maxForm, p.deleteMessage)
	act("POST /portal/u/{user}/voicemail/{id}/heard", ir.RightOwnSettings, maxForm, p.markHeard)
	act("POST /portal/u/{user}/greeting", ir.RightOwnSettings, maxUpload, p.uploadGreeting)
	act("POST /portal/u/{user}/pin", ir.RightOwnSettings, maxForm, p.changePIN)
	act("POST /portal/u/{user}/password", ir.RightOwnSettings, maxForm, p.changePassword)
	own("GET /portal/u/{user}/requests", pageRequests, ir.RightOwnSettings, p.requestsPage)
	act("POST /portal/u/{user}/requests", ir.RightOwnSettings, maxForm, p.askChange)

	// The site's pages: the owner's and admins' (ir.RightSeeSite and
	// above) and the installer's operator view (ir.RightBindDevices).
	site := func(pattern string, name string, right ir.Right, h func(http.ResponseWriter, *http.Request, *visit)) {
		m.HandleFunc(pattern, p.page(name, right, false, h))
	}
	site("GET /portal/site/people", pagePeople, ir.RightSeeSite, p.peoplePage)
	site("GET /portal/site/doors", pageSiteDoors, ir.RightSeeSite, p.siteDoorsPage)
	site("GET /portal/site/calls", pageSiteCalls, ir.RightSeeSite, p.siteCallsPage)
	site("GET /portal/site/requests", pageSiteRequests, ir.RightSeeSite, p.requestsPage)
	site("GET /portal/site/handover", "", ir.RightReceiveHandover, p.handoverSheet)
	site("GET /portal/operator", pageOperator, ir.RightBindDevices, p.operatorPage)
	// The event stream resolves its session without keeping it alive
	// (operatorEvents).
	m.HandleFunc("GET /portal/operator/events", p.operatorEvents)
	act("POST /portal/site/people/{name}/invite", ir.RightInvite, maxForm, p.resendInvitation)
	// A ring test rings someone's phones: the people managers' (the owner,
	// admins, the installer), not everyone who may see the site.
	act("POST /portal/site/people/{name}/ring", ir.RightManagePeople, maxForm, p.ringTest)
	site("GET /portal/site/ring/{id}", pageRingTest, ir.RightManagePeople, p.ringPage)
	act("POST /portal/site/requests", ir.RightManagePeople, maxForm, p.askChange)
	p.mux = http.NewServeMux()
	p.mux.Handle("/portal/", crossOrigin.Handler(m))
}

// staticFiles serves fsys's files. A name fs.FS refuses (not UTF-8, say)
// is not found: net/http's file server answers it 500, a server error a
// client could cause at will (FuzzRequest).
func staticFiles(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name != "" && !fs.ValidPath(name) {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// fail answers an error page with status.
func (p *Portal) fail(w http.ResponseWriter, r *http.Request, v *visit, status int, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	p.render(w, r, v, status, pageError, map[string]any{"Status": status, "StatusText": http.StatusText(status), "Message": msg})
}

// render writes page name with data, in the layout.
func (p *Portal) render(w http.ResponseWriter, r *http.Request, v *visit, status int, name string, data map[string]any) {
	t := p.pages[name]
	if data == nil {
		data = map[string]any{}
	}
	data["Visit"] = v
	if _, ok := data["Page"]; !ok {
		data["Page"] = name
	}
	if pr := p.cfg.Program(); pr != nil {
		data["Site"] = cmpOr(pr.Site.DisplayName, pr.Site.Name)
	}
	if v != nil {
		data["Nav"] = navFor(v)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := t.ExecuteTemplate(w, "layout", data); err != nil {
		p.log.Error("portal: rendering a page", "page", name, "error", err)
	}
}

// sharedPages parses the pages once per process: they hold no site's
// state, a parsed html/template executes concurrently, and one serve of
// 200 sites parsed them 200 times (about 55 MB allocated).
var sharedPages = sync.OnceValues(parsePages)

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2 Jan 2006 15:04 UTC")
		},
		"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"secs": func(d time.Duration) string { return fmt.Sprintf("%.0f s", d.Seconds()) },
	}
	out := map[string]*template.Template{}
	for _, name := range allPages {
		t, err := template.New("").Funcs(funcs).ParseFS(assets, "assets/layout.html", "assets/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("portal: %w", err)
		}
		out[name] = t
	}
	return out, nil
}

// The pages, by template name.
const (
	pageLogin     = "login"
	pageError     = "error"
	pageInstaller = "installer"
	pageOverview  = "overview"
	pageVoicemail = "voicemail"
	pageSettings  = "settings"
	pageDoors     = "doors"
	pageDevices   = "devices"
	pageCalls     = "calls"
	pagePeople    = "people"
	pageSiteDoors = "sitedoors"
	pageSiteCalls = "sitecalls"
	pageRequests  = "requests"
	pageOperator  = "operator"
	pageRingTest  = "ringtest"
	// pageSiteRequests is the requests page reached as a page of the site.
	pageSiteRequests = "site-requests"
)

var allPages = []string{pageLogin, pageError, pageInstaller, pageOverview, pageVoicemail, pageSettings, pageDoors, pageDevices, pageCalls, pagePeople, pageSiteDoors, pageSiteCalls, pageRequests, pageOperator, pageRingTest}
