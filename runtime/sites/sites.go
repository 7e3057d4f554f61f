package sites

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"switchboard/compiler/ir"
	"switchboard/runtime/listener"
	"switchboard/runtime/site"
)

// Server is many sites behind one set of listeners. Sites are added
// before the listeners start or while they run (Add), and removed while
// they run (Remove); each is known by the domain it had when added (its
// name, in the admin paths and the logs).
type Server struct {
	log *slog.Logger

	mu      sync.RWMutex
	byName  map[string]*entry
	order   []*entry          // in the order added
	domains map[string]*entry // lower-cased domain → site (stale when a reload moved it: lookup checks)
	// index maps carriers' addresses and provisioning hosts to sites
	// (current); an address or host two sites share is in neither (a
	// carrier's call to our IP is then routed by its From).
	indexMu sync.Mutex
	index   *index

	// running are the SIP listeners being served (ServeUDP, ServeTCP,
	// ServeTLS): a site added or removed meanwhile is attached to or
	// detached from each; srv.mu guards it.
	running map[runningListener]struct{}

	owners  *owners
	dropped atomic.Int64 // datagrams no site took (Dropped)
	// udpReady is closed once every site served by ServeUDP read from its
	// siteConn: their SIP stacks are up.
	udpReady     chan struct{}
	udpReadyOnce sync.Once
	// budget bounds the connections of every listener the server
	// serves — SIP over TCP and TLS before they are routed, HTTP, admin —
	// together, as one site's budget bounds all of its listeners: made
	// once (connBudget), from the first listener's limits (serve gives
	// every site and listener the same).
	budgetOnce sync.Once
	budget     *listener.Budget
}

// connBudget is the server's connection budget, made from lim the first
// time.
func (srv *Server) connBudget(lim site.Limits) *listener.Budget {
	srv.budgetOnce.Do(func() {
		lim = withDefaults(lim)
		total, _ := listener.FitTotal(lim.Connections)
		srv.budget = listener.NewBudget(lim.PerSource, total)
	})
	return srv.budget
}

// runningListener is a shared SIP listener being served: each site
// reads from a view of its own (siteConn, streamListener).
type runningListener interface {
	attach(e *entry)
	detach(e *entry)
}

// entry is one site of the server.
type entry struct {
	name string
	dir  string // where it came from, for messages
	site *site.Site
	// web and admin are the site's handlers, made once: a site makes a
	// new mux each time it is asked.
	web, admin http.Handler
}

// New returns an empty server; log may be nil (slog.Default()).
func New(log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{log: log, byName: map[string]*entry{}, domains: map[string]*entry{}, running: map[runningListener]struct{}{}, owners: newOwners(), udpReady: make(chan struct{})}
}

// Add serves s, read from dir, under the domain of its program, on the
// listeners already served too (a site added on SIGHUP): what is routed
// to it from now on waits in its queue until its stack reads. A second
// site with a domain already served is refused with an error naming the
// first one's directory (the caller names the second).
func (srv *Server) Add(dir string, s *site.Site) error {
	d := strings.ToLower(s.Program().Site.Domain)
	if d == "" {
		return errors.New("the site has no domain")
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if e := srv.holder(d); e != nil {
		return fmt.Errorf("domain %q is already served by the site in %s; each site needs a domain of its own", d, e.dir)
	}
	if _, ok := srv.byName[d]; ok {
		return fmt.Errorf("a site was named %q before a reload gave it another domain; give this one another domain", d)
	}
	e := &entry{name: d, dir: dir, site: s, web: s.Handler(), admin: http.StripPrefix(sitesPrefix+d, s.AdminHandler())}
	srv.byName[d] = e
	srv.order = append(srv.order, e)
	srv.domains[d] = e
	for l := range srv.running {
		l.attach(e)
	}
	return nil
}

// Remove stops serving the site named name and closes it, as at
// shutdown: it hangs up its calls and un-registers at its carriers. From
// the start no new request is routed to it (its domain gets 404, as an
// unknown one); the answers to its own requests (its BYEs) still reach it
// until it has closed. What it stored is kept. The name may be added
// again.
func (srv *Server) Remove(name string) error {
	srv.mu.Lock()
	e := srv.byName[name]
	if e == nil {
		srv.mu.Unlock()
		return fmt.Errorf("no site %q", name)
	}
	delete(srv.byName, name)
	srv.order = slices.DeleteFunc(srv.order, func(o *entry) bool { return o == e })
	maps.DeleteFunc(srv.domains, func(_ string, o *entry) bool { return o == e })
	running := make([]runningListener, 0, len(srv.running))
	for l := range srv.running {
		running = append(running, l)
	}
	srv.mu.Unlock()
	err := e.site.Close()
	for _, l := range running {
		l.detach(e)
	}
	return err
}

// holder is the site whose running program has domain d (lower-case),
// nil when none; srv.mu held.
func (srv *Server) holder(d string) *entry {
	e := srv.domains[d]
	if e == nil || !strings.EqualFold(e.site.Program().Site.Domain, d) {
		return nil
	}
	return e
}

// Claim reserves domain for the site named name before a reload makes it
// that site's: the command's Recompile calls it, so that a reload that
// would give a site another site's domain is refused and the old
// configuration keeps running.
func (srv *Server) Claim(name, domain string) error {
	d := strings.ToLower(domain)
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if e := srv.holder(d); e != nil && e.name != name {
		return fmt.Errorf("domain %q is already served by the site in %s", d, e.dir)
	}
	if e := srv.byName[name]; e != nil {
		srv.domains[d] = e
	}
	return nil
}

// index is what the running programs say beyond their domains: each
// carrier's address and each provisioning URL's host, of the one site
// that has it. Host names of carriers are not looked up here: a carrier
// named by host name calls in by domain or From.
type index struct {
	of        []*ir.Program // the programs it was made from, in the order of Server.order
	trunks    map[netip.Addr]*entry
	provHosts map[string]*entry
}

// current is the index of the running programs, made anew when a reload
// (SIGHUP, or a site's own admin endpoint) changed one.
func (srv *Server) current() *index {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	srv.indexMu.Lock()
	defer srv.indexMu.Unlock()
	progs := make([]*ir.Program, len(srv.order))
	stale := srv.index == nil || len(srv.index.of) != len(progs)
	for i, e := range srv.order {
		progs[i] = e.site.Program()
		stale = stale || srv.index.of[i] != progs[i]
	}
	if stale {
		srv.index = newIndex(srv.order, progs)
	}
	return srv.index
}

func newIndex(order []*entry, progs []*ir.Program) *index {
	x := &index{of: progs, trunks: map[netip.Addr]*entry{}, provHosts: map[string]*entry{}}
	sharedTrunks := map[netip.Addr]bool{}
	sharedHosts := map[string]bool{}
	for i, e := range order {
		for _, t := range progs[i].Trunks {
			a, err := netip.ParseAddr(t.Host)
			if err != nil {
				continue
			}
			a = a.Unmap()
			if o, ok := x.trunks[a]; ok && o != e {
				sharedTrunks[a] = true
			}
			x.trunks[a] = e
		}
		if h := ProvisionHost(progs[i]); h != "" {
			if o, ok := x.provHosts[h]; ok && o != e {
				sharedHosts[h] = true
			}
			x.provHosts[h] = e
		}
	}
	for a := range sharedTrunks {
		delete(x.trunks, a)
	}
	for h := range sharedHosts {
		delete(x.provHosts, h)
	}
	return x
}

// ProvisionHost is the host (lower-case, no port) of p's provisioning
// URL, "" when it has none.
func ProvisionHost(p *ir.Program) string {
	u, err := url.Parse(p.Site.ProvisionURL)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// byDomain is the site serving domain d (any case), nil when none.
func (srv *Server) byDomain(d string) *entry {
	if d == "" {
		return nil
	}
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	return srv.holder(strings.ToLower(d))
}

// byTrunk is the site one of whose trunks has its carrier at a.
func (srv *Server) byTrunk(a netip.Addr) *entry { return srv.current().trunks[a.Unmap()] }

// byHTTPHost is the site an HTTP request for host (no port) is for: the
// one whose domain it is, else the one site whose provisioning URL names
// it.
func (srv *Server) byHTTPHost(host string) *entry {
	if e := srv.byDomain(host); e != nil {
		return e
	}
	return srv.current().provHosts[strings.ToLower(host)]
}

// Site returns the site named name (its domain when added).
func (srv *Server) Site(name string) (*site.Site, bool) {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	e, ok := srv.byName[name]
	if !ok {
		return nil, false
	}
	return e.site, true
}

// Names returns the sites' names, sorted.
func (srv *Server) Names() []string {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	out := make([]string, 0, len(srv.order))
	for _, e := range srv.order {
		out = append(out, e.name)
	}
	sort.Strings(out)
	return out
}

// first is the site added first, nil when there is none.
func (srv *Server) first() *entry {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	if len(srv.order) == 0 {
		return nil
	}
	return srv.order[0]
}

func (srv *Server) entries() []*entry {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	return append([]*entry(nil), srv.order...)
}

// Reload reloads the site named name alone (site.Site.Reload): the others
// are not touched, and on error that site keeps its running
// configuration.
func (srv *Server) Reload(name, reason string) error {
	s, ok := srv.Site(name)
	if !ok {
		return fmt.Errorf("no site %q", name)
	}
	return s.Reload(reason)
}

// ReloadAll reloads every site, each on its own; it returns the failures
// by site name (none: nil). A failed site keeps its old configuration.
func (srv *Server) ReloadAll(reason string) map[string]error {
	var failed map[string]error
	for _, e := range srv.entries() {
		if err := srv.Reload(e.name, reason); err != nil {
			if failed == nil {
				failed = map[string]error{}
			}
			failed[e.name] = err
			srv.log.Error("site kept its running configuration", "site", e.name, "dir", e.dir, "error", err)
		}
	}
	return failed
}

// Close closes every site, all at once: each hangs up its calls and
// un-registers at its carriers through the sockets still open, which
// takes a few seconds at most, and 200 sites must not take 200 times
// that.
func (srv *Server) Close() error {
	es := srv.entries()
	errs := make([]error, len(es))
	var wg sync.WaitGroup
	for i, e := range es {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.site.Close(); err != nil {
				errs[i] = fmt.Errorf("%s: %w", e.name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// NonceSlots is the digest nonce ring of each site of many
// (site.Options.NonceSlots): 16 384 nonces within their five-minute
// lifetime, 55 challenges a second for one site, in 256 KiB. The default
// ring, sized for one large site, is 4 MiB a site — 800 MiB for 200 sites
// once their devices have been challenged often enough to touch it all.
const NonceSlots = 1 << 14
