package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"switchboard/compiler/ir"
	"switchboard/email"
	"switchboard/runtime/auth"
	"switchboard/runtime/certs"
	"switchboard/runtime/events"
	"switchboard/runtime/provisioning"
	"switchboard/runtime/site"
	"switchboard/runtime/sites"
	"switchboard/runtime/store"
)

// serveDirs are the site or build directories serve was given: the
// arguments, or — one argument that is neither a site nor a build
// directory — its subdirectories that are, sorted. No argument: ".".
func serveDirs(positional []string) []string {
	if len(positional) == 0 {
		return []string{"."}
	}
	if len(positional) > 1 || isServable(positional[0]) {
		return positional
	}
	dirs, err := servableSubdirs(positional[0])
	if err != nil || len(dirs) == 0 {
		return positional // serve says what is wrong with it, as for one site
	}
	return dirs
}

// servableSubdirs are parent's subdirectories that are site or build
// directories, sorted.
func servableSubdirs(parent string) ([]string, error) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, e := range entries {
		if d := filepath.Join(parent, e.Name()); e.IsDir() && isServable(d) {
			dirs = append(dirs, d)
		}
	}
	sort.Strings(dirs)
	return dirs, nil
}

// isServable says whether dir is a site directory (it holds site files) or
// a build directory (dialplan.json).
func isServable(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, "dialplan.json")); err == nil {
		return true
	}
	m, _ := filepath.Glob(filepath.Join(dir, "*.pbx.hcl"))
	return len(m) > 0
}

// serveSetup is what runServe worked out from its flags before the sites
// are loaded.
type serveSetup struct {
	log     *slog.Logger
	algs    []auth.Algorithm
	portMin int
	portMax int
	tlsConf *tls.Config
	// tlsCerts are tlsConf's certificates, read again on SIGHUP; nil
	// without -cert.
	tlsCerts *certs.Store
	proxies  []netip.Prefix
	// parent is the directory of sites serve was given (serveParent), ""
	// when it was given the sites themselves: SIGHUP reads it again.
	parent string
}

// serveSites serves several sites from one process (package sites): each
// is compiled, or read, on its own; one that fails is reported and
// skipped, and serve fails only when none can be served.
func (c *cli) serveSites(dirs []string, o serveOptions, x serveSetup) int {
	mediaIP, err := chooseMediaIP(o.mediaIP, o.listen, o.tcp)
	if err != nil {
		return c.usageError(lookup("serve"), "%v", err)
	}
	// Each site's admin endpoints answer its own token, kept in its own
	// directory as for one site (status and commission find it there);
	// SWITCHBOARD_ADMIN_TOKEN or -admin-token-file give one to all.
	var sharedToken string
	if o.admin != "" && (o.adminTokenFile != "" || c.getenv("SWITCHBOARD_ADMIN_TOKEN") != "") {
		var status int
		if sharedToken, status = c.adminToken(dirs[0], o.adminTokenFile); sharedToken == "" {
			return status
		}
	}
	eventsOut, closeEvents, err := c.eventsWriter(o.eventsFile)
	if err != nil {
		fmt.Fprintf(c.stderr, "switchboard serve: %v\n", err)
		return exitFail
	}
	defer closeEvents()
	var mailer email.Mailer
	if o.smtp != "" {
		mailer = &email.SMTPMailer{Addr: o.smtp, User: c.getenv("SWITCHBOARD_SMTP_USER"), Password: c.getenv("SWITCHBOARD_SMTP_PASSWORD")}
	}

	// One embedded store for every site (each keeps its own stream and
	// bucket, named by its domain), under -data. Without -data the sites'
	// data directories differ and no one of them can hold the others'
	// store: their events and registrations are then kept in memory only.
	var db *store.Store
	var space *store.SpaceWatch // the free space under -data (serve_store.go)
	if o.store.memory && o.store.cluster.enabled() {
		return c.usageError(lookup("serve"), "-keep-in-memory keeps no store, so it cannot share one with a cluster")
	}
	if o.dataDir == "" && o.store.cluster.enabled() {
		fmt.Fprintf(c.stderr, "switchboard serve: a cluster node serving several sites needs -data DIR: the one store the sites share\n")
		return exitFail
	}
	if o.dataDir != "" && !o.store.memory {
		if db, err = o.store.open(c, o.dataDir, x.log); err != nil {
			fmt.Fprintf(c.stderr, "switchboard serve: %v\n", err)
			return exitFail
		}
		// Closed after the sites (deferred before srv.Close runs): their
		// last events are stored first.
		defer db.Close()
		if o.store.cluster.url == "" {
			space = spaceWatch(o.dataDir, db, x.log)
		}
	} else if !o.store.memory {
		fmt.Fprintf(c.stderr, "switchboard serve: without -data, several sites keep their events and registrations in memory only; give -data DIR to keep them across restarts\n")
	}

	// A directory of sites keeps each site's data under -data/DOMAIN; one
	// that held a single site was served alone before, its data directly
	// under -data. That site's data is moved to its place once (its
	// domain is known once it compiles: add), so it neither starts empty
	// nor loses what it kept. With several sites at the start, whose
	// it was cannot be known: it is left where it is, and said.
	var moveOld []string
	if o.dataDir != "" {
		if old := oldSiteData(o.dataDir); len(old) > 0 && len(dirs) == 1 {
			moveOld = old
		} else if len(old) > 0 {
			fmt.Fprintf(c.stderr, "switchboard serve: warning: %s holds %s of a site served alone by an earlier serve (directly under -data), and serving several sites, each keeps its data under -data/DOMAIN: none of them reads it; move it into %s of the site it belongs to\n",
				o.dataDir, strings.Join(old, ", "), filepath.Join(o.dataDir, "DOMAIN"))
		}
	}

	srv := sites.New(x.log)
	var compileMu sync.Mutex
	var skipped []string
	skip := func(dir, why string) {
		fmt.Fprintf(c.stderr, "switchboard serve: %s: not served: %s; the other sites are\n", dir, why)
		skipped = append(skipped, dir)
	}
	served := map[string]servedDir{}
	// add compiles (or reads) the site in dir and serves it: at the start,
	// and on SIGHUP for a directory that appeared under the parent.
	add := func(dir string) bool {
		cur, _ := c.loadServed(dir, o)
		if cur == nil {
			skip(dir, "its configuration has errors (above)")
			return false
		}
		name := strings.ToLower(cur.program.Site.Domain)
		adminToken := sharedToken
		if o.admin != "" && adminToken == "" {
			if adminToken, _ = c.adminToken(dir, ""); adminToken == "" {
				skip(dir, "it has no admin token (above)")
				return false
			}
		}
		if moveOld != nil {
			old := moveOld
			moveOld = nil
			if err := moveSiteData(x.log, o.dataDir, name, old); err != nil {
				skip(dir, err.Error())
				return false
			}
		}
		bus := events.NewBus(nil)
		stopEvents := eventsOut(name, bus)
		so := site.Options{
			AdminToken: adminToken, Events: bus, Logger: x.log.With("site", name), MediaIP: mediaIP, DigestAlgorithms: x.algs,
			MediaPortMin: x.portMin, MediaPortMax: x.portMax, UDPMTU: cmp.Or(o.udpMTU, -1),
			DataDir: siteDataDir(o.dataDir, dir, name), Mailer: mailer, MailFrom: o.mailFrom, DeleteAfterMail: o.deleteAfterMail,
			Headless:      o.http == "", // no portal nobody can reach (serve.go)
			RotationGrace: o.rotationGrace, Limits: o.limits, CallSetups: o.callSetups, QueueDelay: o.queueDelay,
			NonceSlots: sites.NonceSlots, EventLimits: o.store.limits(), NodeOptions: o.node.options(),
			Recompile: func() (site.Config, error) {
				// Sites reload on their own (SIGHUP one after another, the
				// admin endpoints at any time), but compile one at a time:
				// their diagnostics share standard error.
				compileMu.Lock()
				next, _ := c.loadServed(dir, o)
				compileMu.Unlock()
				if next == nil {
					return site.Config{}, errors.New("the new configuration has errors (see the server's log)")
				}
				if err := srv.Claim(name, next.program.Site.Domain); err != nil {
					return site.Config{}, err
				}
				return next.config(o.http != ""), nil
			},
		}
		if db != nil {
			so.Store = db
		}
		if space != nil {
			so.StoreSpace = space.Space
		}
		if len(x.proxies) > 0 {
			so.Provisioning = append(so.Provisioning, provisioning.WithTrustedProxies(x.proxies...))
		}
		var st *site.Site
		so.PortalSite = &portalSite{dir: dir, statePath: statePath(dir, ""), key: cur.key, mailer: mailer, program: func() *ir.Program { return st.Program() }}
		st, err := site.New(cur.config(o.http != ""), so)
		if err != nil {
			stopEvents()
			skip(dir, err.Error())
			return false
		}
		if err := srv.Add(dir, st); err != nil {
			st.Close()
			stopEvents()
			skip(dir, err.Error())
			return false
		}
		served[dir] = servedDir{name: name, stopEvents: stopEvents}
		return true
	}
	for _, dir := range dirs {
		add(dir)
	}
	names := srv.Names()
	if len(names) == 0 {
		fmt.Fprintf(c.stderr, "switchboard serve: no site can be served\n")
		return exitFail
	}
	if o.http != "" {
		warnSharedProvisionHosts(c.stderr, srv)
	}
	if db != nil && o.store.cluster.url == "" {
		warnEventsBeyondDisk(c.stderr, o.dataDir, len(names), o.store.limits().MaxBytes)
	}
	defer startSpaceWatch(space)() // the sites' streams made: counted

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	errc := make(chan error, 5)
	fail := func(err error) int {
		fmt.Fprintf(c.stderr, "switchboard serve: %v\n", err)
		stop()
		srv.Close()
		return exitFail
	}
	ready, err := startListeners(ctx, o, x.tlsConf != nil, errc, serveFuncs{
		udp:   srv.ServeUDP,
		tcp:   func(ctx context.Context, l net.Listener) error { return srv.ServeTCP(ctx, l, o.limits) },
		tls:   func(ctx context.Context, l net.Listener) error { return srv.ServeTLS(ctx, l, x.tlsConf, o.limits) },
		web:   func(ctx context.Context, l net.Listener) error { return srv.ServeWeb(ctx, l, x.tlsConf) },
		admin: srv.ServeAdmin,
	})
	if err != nil {
		return fail(err)
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if c.log != nil {
		c.log.Info("ready", "sites", names, "skipped", skipped, "listeners", ready, "media", mediaIP.String())
	} else {
		fmt.Fprintf(c.stderr, "switchboard serve: ready: %d sites (%s), %s, media %s\n", len(names), strings.Join(names, ", "), strings.Join(ready, ", "), mediaIP)
	}
	go releaseWhenIdle(ctx)
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				// A directory of sites is read again first: a site whose
				// directory went stops, one that appeared starts
				// (rescan). Then each site on its own: one that fails
				// keeps running its old configuration (logged), the
				// others take their new one.
				checkCerts(x.tlsCerts)
				var fresh []string
				if x.parent != "" {
					fresh = rescanSites(x.log, x.parent, srv, served, func(dir string) {
						s := served[dir]
						delete(served, dir)
						s.stopEvents()
					})
				}
				_ = srv.ReloadAll("SIGHUP")
				for _, dir := range fresh {
					compileMu.Lock()
					ok := add(dir)
					compileMu.Unlock()
					if ok {
						x.log.Info("site added", "site", served[dir].name, "dir", dir, "sites", len(srv.Names()))
					}
				}
				continue
			}
			x.log.Info("shutting down", "signal", sig.String())
			srv.Close()
			stop()
			return exitOK
		case err := <-errc:
			if err != nil {
				return fail(err)
			}
		}
	}
}

// siteDataDir is where one site of several keeps its data: -data DIR/DOMAIN
// when -data is given, else its own directory's default, as for one site.
func siteDataDir(flagDir, dir, domain string) string {
	if flagDir != "" {
		return filepath.Join(flagDir, domain)
	}
	if _, err := os.Stat(filepath.Join(dir, "dialplan.json")); err == nil {
		return filepath.Join(dir, "data")
	}
	return filepath.Join(dir, ".switchboard", "data")
}

// eventsWriter opens -events for several sites: add subscribes a site's
// bus, and every event is written as a JSON line naming its site
// ("site": the domain); the function add returns stops that site's
// writer (a site removed on SIGHUP). close stops the writers and closes
// the file.
func (c *cli) eventsWriter(file string) (add func(site string, bus *events.Bus) (stop func()), close func(), err error) {
	if file == "" {
		return func(string, *events.Bus) func() { return func() {} }, func() {}, nil
	}
	var w io.Writer = c.stdout
	var f *os.File
	if file != "-" {
		if f, err = os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640); err != nil {
			return nil, nil, err
		}
		w = f
	}
	var mu sync.Mutex // one line at a time, whichever site's
	var subs []*events.Subscription
	var wg sync.WaitGroup
	add = func(name string, bus *events.Bus) func() {
		sub := bus.Subscribe(4096)
		subs = append(subs, sub)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range sub.C {
				line, err := json.Marshal(struct {
					Site string `json:"site"`
					events.Event
				}{name, e})
				if err != nil {
					continue
				}
				mu.Lock()
				_, _ = w.Write(append(line, '\n'))
				mu.Unlock()
			}
		}()
		// A removed site's writer ends (Close is idempotent: close
		// below closes it again).
		return sub.Close
	}
	close = func() {
		for _, s := range subs {
			s.Close()
		}
		wg.Wait()
		if f != nil {
			f.Close()
		}
	}
	return add, close, nil
}

// warnSharedProvisionHosts says which sites' devices would get 404 for
// their files: the web listener finds a site by the Host a request names,
// its domain or a provisioning host no other site has.
func warnSharedProvisionHosts(w io.Writer, srv *sites.Server) {
	byHost := map[string][]string{}
	for _, name := range srv.Names() {
		st, _ := srv.Site(name)
		if h := sites.ProvisionHost(st.Program()); h != "" && h != name {
			byHost[h] = append(byHost[h], name)
		}
	}
	hosts := make([]string, 0, len(byHost))
	for h := range byHost {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		if names := byHost[h]; len(names) > 1 {
			fmt.Fprintf(w, "switchboard serve: warning: the devices of %s fetch their files from %s, which is none of their domains: with several sites, -http finds a site by the host a request names, so give each site a provisioning URL on its own domain (or a host no other site uses)\n",
				strings.Join(names, ", "), h)
		}
	}
}
