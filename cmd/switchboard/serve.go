package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/email"
	"switchboard/runtime/auth"
	"switchboard/runtime/certs"
	"switchboard/runtime/events"
	"switchboard/runtime/loglimit"
	"switchboard/runtime/media"
	"switchboard/runtime/provisioning"
	"switchboard/runtime/sipstack"
	"switchboard/runtime/site"
	"switchboard/runtime/store"
)

var serveCommand = &command{
	name:     "serve",
	synopsis: "Run the site as a live SIP server",
	usage: `Usage: switchboard serve [-listen ADDR] [-tcp ADDR] [-tls ADDR] [-http ADDR]
                         [-cert FILE] [-key FILE]... [-trusted-proxy CIDR]...
                         [-digest sha-256,md5] [-media-ip IP] [-rtp-ports MIN-MAX]
                         [-udp-mtu N]
                         [-admin ADDR] [-admin-token-file FILE] [-events FILE]
                         [-log-format text|json] [-data DIR] [-smtp HOST:PORT]
                         [-events-max-age D] [-events-max-msgs N] [-events-max-bytes N]
                         [-keep-in-memory]
                         [-mail-from ADDRESS] [-delete-after-mail] [-rotation-grace D]
                         [-max-connections N] [-max-connections-per-source N]
                         [-handshake-timeout D] [-sip-idle-timeout D]
                         [-http-read-timeout D] [-max-call-setups N] [-max-queue-delay D]
                         [-node-uri URI]
                         [-server HOST] [-port N]
                         [-transport udp|tcp|tls] [-provision-url URL]
                         [-lockfile=readonly] [-var name=value]... [-var-file FILE]...
                         [DIR...]

Serves the site in DIR as a SIP server: a registrar with digest
authentication, call routing by the compiled dial plan (door stations to
residences, extensions, DDIs), media anchoring with door-release events,
and the devices' provisioning files over HTTP.

Each account is offered the digest algorithms its client answers: what its
device model answers (switchboard models), for apps and trunks the site's
digest attribute, else MD5. -digest offers one list to every account
instead, such as -digest sha-256,md5.

With -cert and -key, -http serves HTTPS and -tls serves SIP over TLS; or
put a reverse proxy in front (see README, "Serving provisioning files over
HTTPS"). -cert and -key may be given several times, in pairs: a client
gets the certificate with the name it asks for (SNI), else one with a
wildcard for it, else the first. A renewed certificate is read within
seconds of its files changing (or on SIGHUP), without a restart; one that
cannot be read (a key that does not match, a file half written) is logged
with its file, and the certificate before it keeps serving.

The -http address also serves the people's web portal under /portal/: they
log in with their invitation's e-mail and portal password (switchboard
credentials, kind portal) and manage their voicemail, greeting and PIN (see
README, "The portal"). Passwords they choose are kept as argon2id hashes in
the data directory's portal/passwords.json.

DIR is a site directory (compiled on start, built into DIR/.switchboard/build)
or the output directory of "switchboard build" (dialplan.json and provision/).
Passwords are derived from the site key: SWITCHBOARD_SITE_KEY, or the key
file of a site directory.

Trunks with a username and password register at their carrier from the
SIP UDP socket (digest, SHA-256 or MD5 as the carrier asks), and calls to
public and emergency numbers go out over the trunk that holds the caller's
number (else the first trunk by name), presenting it. The
credentials are the values of the site's variables; serving a build
directory, give them again with -var, -var-file or SWITCHBOARD_VAR_<name>.
A trunk without credentials is IP-authenticated and does not register.

Several DIRs, or one directory holding site or build directories, are
served from one process on the same sockets (-listen, -tcp, -tls, -http,
-admin): a request goes to the site whose domain it names (SIP: a
REGISTER's To, else the Request-URI, and a TCP or TLS connection whole to
the site of its first request; HTTP: the Host header, the site's domain
or a provisioning URL's host no other site has), and each site keeps
its own accounts, data (-data DIR/DOMAIN) and events ("site" names it in
-events). Its admin endpoints are under /sites/DOMAIN/admin/, with its own
token in its own directory (-admin-token-file or SWITCHBOARD_ADMIN_TOKEN
give one to all); status and commission find them, and apply takes
-serve http://ADDR/sites/DOMAIN. A site that cannot be served is reported
and skipped while the others serve; SIGHUP reloads each site on its own.

A directory holding site directories is served as a directory of sites
even while it holds one, so that SIGHUP reads it again: a new site
directory starts serving, a removed one's site stops as at shutdown (its
stored data is kept), one with errors is reported and skipped, and the
log says which ("site added", "site removed"); emptied or unreadable, it
changes nothing. What an earlier serve kept directly under -data for the
directory's one site (voicemail/, portal/) is moved to -data/DOMAIN once,
at the start, each move logged ("site data moved"). The exception: one
site without -data (and without -keep-in-memory) is served alone, its
store in its own directory as before, and SIGHUP logs an error for each
site directory added beside it; give -data to serve them all. A site or
build directory given by name is one site: SIGHUP reloads it.

SIGHUP recompiles and swaps in the new configuration; calls in progress
continue, and a configuration with errors is rejected while the old one keeps
running. POST /admin/reload on the -admin address does the same, and POST
/admin/check-sync?device=NAME asks one device to fetch its files; GET
/admin/status says what the server is doing (listeners, accounts registered,
calls in progress, trunks registered) as JSON, for a health check; GET
/admin/accounts every account (switchboard status), GET /admin/events the
recent events, numbered, as a long poll, GET /admin/calls/ID/sip the SIP
messages of a call in progress or among the last 256 ended (first lines,
CSeq, From and To users: no bodies, no credentials), and POST
/admin/ring-test?user=NAME rings a person (switchboard commission). The admin
endpoints have a listener of their own, on loopback (never the -http address
devices and a reverse proxy reach); they refuse a request that came through
a proxy (X-Forwarded-For, Forwarded, X-Real-IP or Via) and answer only
"Authorization: Bearer TOKEN": the token is SWITCHBOARD_ADMIN_TOKEN, else the
file -admin-token-file names (made on first start, 256 random bits, readable
by its owner only; default DIR/.switchboard/admin-token, or DIR/admin-token
for a build directory). serve prints where the token is, never the token.
SIGINT or SIGTERM stops the server cleanly.

What outlives a restart is kept in NATS JetStream, run embedded in the
process (no port is opened, nothing else to start), under the -data
directory's jetstream/: the registrations, each until it expires, so a
restart keeps the devices reachable without their registering again; and
the event stream, which GET /admin/events, switchboard status and
commission, and the portal's door log and calls read, so they survive a
restart (event IDs stay valid: the epoch is the stream's). It keeps
-events-max-age of events, at most -events-max-msgs and -events-max-bytes;
the oldest go first. These cap each site's stream as it grows; nothing is
set aside for them, so the caps of many sites together may exceed the
disk (or, with -keep-in-memory, the memory): a full disk stops the store
for every site, so leave room for what the sites keep. While it runs,
serve checks the free space under -data every 30 s: under 1 GiB (5 % of
a disk smaller than 20 GiB) or under what the event streams may still
grow by, it logs a warning once, and a line when there is room again;
GET /admin/status shows the last check as "store". Digits someone keyed (door codes, PINs) are never
stored. Voicemail is kept as files under the -data directory.
-keep-in-memory keeps registrations and events in memory only (no store:
a restart loses them), for tests and for comparing the store's cost; each
site's events then take at most 64 MiB of RAM unless -events-max-bytes
says otherwise (the 2 GiB default is for a disk).

Connections are bounded: -max-connections over SIP TCP, TLS and HTTP
together (at most half the open-file limit), -max-connections-per-source
from one address, and a connection must finish its TLS handshake or send
its first bytes within -handshake-timeout; an idle SIP connection is closed
after -sip-idle-timeout. Excess connections are closed at once, and the
server keeps serving when the process runs out of file descriptors.

Overload: when more calls arrive than the server can set up, a new call is
refused at once with 503 Service Unavailable and a Retry-After of a few
seconds while new requests keep waiting longer than -max-queue-delay before
the server takes them up, or once -max-call-setups calls are being set up (received, not yet
answered), instead of being queued until callers give up; requests within a
call in progress (ACK, BYE, CANCEL, re-INVITE) are never refused.

The line "switchboard serve: ready ..." on standard error says the sockets are
open; with port 0 it tells which ports were chosen. With -log-format json
every line on standard error is a JSON object, this one {"msg":"ready",
"listeners":[...], ...}.

Exit status: 0 after a clean shutdown, 1 when the site cannot be served, 2
usage error.`,
	run:   runServe,
	flags: func() *flagSet { return serveFlags(&serveOptions{}) },
}

type serveOptions struct {
	listen, tcp, tlsAddr, http, mediaIP, eventsFile, logFormat, digest string
	rtpPorts                                                           string
	dataDir, smtp, mailFrom                                            string
	deleteAfterMail                                                    bool
	rotationGrace                                                      time.Duration
	limits                                                             site.Limits
	callSetups                                                         int
	queueDelay                                                         time.Duration
	certFiles, keyFiles                                                listFlag // in pairs: the i-th -cert with the i-th -key
	admin, adminTokenFile                                              string
	udpMTU                                                             int
	trustedProxies                                                     listFlag
	site                                                               siteOptions
	lower                                                              lowerFlags
	store                                                              storeFlags
	node                                                               nodeFlags
	// udp is the SIP UDP socket when it was bound before the listeners
	// (resolveNode); nil: startListeners binds -listen.
	udp net.PacketConn
}

func serveFlags(o *serveOptions) *flagSet {
	f := newFlagSet("serve")
	f.fs.StringVar(&o.listen, "listen", "127.0.0.1:5060", "SIP over UDP on `ADDR`; empty to disable")
	f.fs.StringVar(&o.tcp, "tcp", "", "SIP over TCP on `ADDR` (default: none)")
	f.fs.StringVar(&o.tlsAddr, "tls", "", "SIP over TLS on `ADDR` (needs -cert and -key)")
	f.fs.Var(&o.certFiles, "cert", "TLS certificate `FILE` (PEM) for -tls, and for -http, which then serves HTTPS; repeatable, each with its -key: a client gets the one with the name it asks for (SNI), else one with a wildcard for it, else the first; read again when it changes")
	f.fs.Var(&o.keyFiles, "key", "TLS private key `FILE` (PEM) of the -cert given in the same place; repeatable")
	f.fs.Var(&o.trustedProxies, "trusted-proxy", "a reverse proxy's address or `CIDR` whose X-Forwarded-For the provisioning server believes; repeatable")
	f.fs.StringVar(&o.http, "http", "127.0.0.1:8088", "provisioning HTTP on `ADDR`; empty to disable")
	f.fs.StringVar(&o.admin, "admin", "127.0.0.1:8089", "admin HTTP (reload, check-sync, status) on `ADDR`, a loopback address; empty to disable")
	f.fs.StringVar(&o.adminTokenFile, "admin-token-file", "", "the admin endpoints' bearer token is in `FILE`, made on first start (default DIR/.switchboard/admin-token; SWITCHBOARD_ADMIN_TOKEN overrides)")
	f.fs.StringVar(&o.mediaIP, "media-ip", "", "`IP` the media relay binds and advertises (default: the -listen address)")
	f.fs.StringVar(&o.rtpPorts, "rtp-ports", "10000-20000", "UDP port `RANGE` MIN-MAX of the media relay and voicemail (RTP on even ports, RTCP above); a call that finds it used up is refused with 503")
	f.fs.IntVar(&o.udpMTU, "udp-mtu", sipstack.DefaultUDPMTU, "an INVITE larger than `N` bytes to a device reached directly over UDP goes over TCP first, UDP when refused (RFC 3261 §18.1.1); devices behind NAT always get UDP; 0: never")
	f.fs.StringVar(&o.eventsFile, "events", "", "append the event stream as JSON lines to `FILE` (- for standard output)")
	f.fs.StringVar(&o.logFormat, "log-format", "text", "log `FORMAT` on standard error: text or json")
	f.fs.StringVar(&o.digest, "digest", "", "digest `ALGORITHMS` offered to every account, in order, such as sha-256,md5 (default: each account is offered what its client answers: its device model's, the site's digest attribute for apps and trunks, else md5)")
	f.fs.StringVar(&o.dataDir, "data", "", "keep voicemail under `DIR` (default: DIR/.switchboard/data for a site, DIR/data for a build directory)")
	f.fs.StringVar(&o.smtp, "smtp", "", "send voicemail notifications, and removed people's archived voicemail to the site's owner, through the mail server at `HOST:PORT` (SWITCHBOARD_SMTP_USER and SWITCHBOARD_SMTP_PASSWORD log in); none when empty")
	f.fs.StringVar(&o.mailFrom, "mail-from", "", "sender `ADDRESS` of voicemail notifications (default: voicemail@<site domain>)")
	f.fs.BoolVar(&o.deleteAfterMail, "delete-after-mail", false, "delete a voicemail message once the mail server accepted its notification (needs -smtp)")
	f.fs.DurationVar(&o.rotationGrace, "rotation-grace", time.Hour, "after a reload rotates a device's password, serve its provisioning files for `DURATION` with the old one too, so it can fetch the new one (SIP takes only the new one; 0: never)")
	f.fs.IntVar(&o.limits.Connections, "max-connections", site.DefaultConnections, "SIP TCP and TLS and HTTP connections open at once, at most `N` (and at most half the open-file limit, ulimit -n)")
	f.fs.IntVar(&o.limits.PerSource, "max-connections-per-source", site.DefaultPerSource, "connections one address (an IPv6 /64) may hold at once, at most `N`; raise it when many devices reach the server over TCP from behind one NAT")
	f.fs.DurationVar(&o.limits.SIPIdle, "sip-idle-timeout", site.DefaultSIPIdle, "close a SIP TCP or TLS connection nothing came over for `DURATION` (keep-alives count; the default outlasts the longest registration)")
	f.fs.DurationVar(&o.limits.Handshake, "handshake-timeout", site.DefaultHandshake, "a new connection must finish its TLS handshake, or send its first bytes (SIP over TCP) or its request header (HTTP), within `DURATION`")
	f.fs.DurationVar(&o.limits.HTTPRead, "http-read-timeout", site.DefaultHTTPRead, "an HTTP request, body included, must arrive within `DURATION`")
	f.fs.IntVar(&o.callSetups, "max-call-setups", sipstack.DefaultCallSetups, "calls being set up (INVITE received, no final answer yet) at most `N` at once; a new call beyond it is refused at once with 503 and Retry-After, so that the calls admitted are set up in time when the server is overloaded (0: no bound)")
	f.fs.DurationVar(&o.queueDelay, "max-queue-delay", sipstack.DefaultQueueDelay, "refuse new calls with 503 and Retry-After while new requests keep waiting longer than `DURATION` before the server takes them up (the shortest of 32 in a row, from the kernel's receive time), and at least 8 calls are being set up (0: never)")
	o.lower.register(f.fs)
	o.site.register(f.fs)
	o.store.register(f.fs)
	o.node.register(f.fs)
	return f
}

// digestAlgorithms reads -digest; empty (the default) is nil: each
// account is offered what the program says its client answers.
func digestAlgorithms(s string) ([]auth.Algorithm, error) {
	if s == "" {
		return nil, nil
	}
	var out []auth.Algorithm
	for _, a := range strings.Split(s, ",") {
		switch strings.ToLower(strings.TrimSpace(a)) {
		case "sha-256", "sha256":
			out = append(out, auth.SHA256)
		case "md5":
			out = append(out, auth.MD5)
		default:
			return nil, fmt.Errorf("-digest: unknown algorithm %q (use sha-256 and/or md5)", a)
		}
	}
	return out, nil
}

// servedSite is what one configuration produces: the program, its
// passwords and the provisioning directory.
type servedSite struct {
	program *ir.Program
	secrets *credentials.Lookup
	key     credentials.Key // the portal's invitations are sent with it
	trunks  trunkSecrets    // the trunks' credentials at their carriers
	bundle  string          // provisioning directory
	// previous are the passwords of the key a rekey replaced, while its
	// grace lasts (rekey.go).
	previous      *credentials.Lookup
	previousUntil time.Time
}

// config is the site's configuration; bundle says whether it serves
// provisioning files (-http).
func (s *servedSite) config(bundle bool) site.Config {
	c := site.Config{Program: s.program, Secrets: s.secrets, Trunks: s.trunks}
	if s.previous != nil {
		c.Previous, c.PreviousUntil = s.previous, s.previousUntil
	}
	if bundle {
		c.Bundle = s.bundle
	}
	return c
}

func runServe(c *cli, args []string) int {
	var o serveOptions
	positional, status, ok := c.parse(serveFlags(&o), args, math.MaxInt)
	if !ok {
		return status
	}
	dirs := serveDirs(positional) // several: serve_sites.go
	dir := dirs[0]
	if o.listen == "" && o.tcp == "" && o.tlsAddr == "" {
		return c.usageError(lookup("serve"), "nothing to serve: -listen, -tcp and -tls are all empty")
	}
	if o.deleteAfterMail && o.smtp == "" {
		return c.usageError(lookup("serve"), "-delete-after-mail needs -smtp: without mail, deleting would lose the messages")
	}
	algs, err := digestAlgorithms(o.digest)
	if err != nil {
		return c.usageError(lookup("serve"), "%v", err)
	}
	portMin, portMax, err := portRange(o.rtpPorts)
	if err != nil {
		return c.usageError(lookup("serve"), "-rtp-ports: %v", err)
	}
	if o.udpMTU < 0 {
		return c.usageError(lookup("serve"), "-udp-mtu: %d is negative (0 keeps every INVITE on UDP)", o.udpMTU)
	}
	pairs, err := certPairs(o.certFiles, o.keyFiles)
	if err != nil {
		return c.usageError(lookup("serve"), "%v", err)
	}
	if o.tlsAddr != "" && len(pairs) == 0 {
		return c.usageError(lookup("serve"), "-tls needs -cert and -key")
	}
	if o.admin != "" {
		if err := checkAdminAddr(o.admin); err != nil {
			return c.usageError(lookup("serve"), "%v", err)
		}
	}
	var handler slog.Handler
	switch o.logFormat {
	case "text":
		handler = slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelInfo})
	case "json":
		handler = slog.NewJSONHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelInfo})
	default:
		return c.usageError(lookup("serve"), "-log-format must be text or json, not %q", o.logFormat)
	}
	// What the server logs about messages from the network is bounded:
	// lines per kind, the length of what they quote (package loglimit).
	log := slog.New(loglimit.New(handler))
	sipstack.TuneServe(log)
	// Every line on standard error is the log's: the standard library's
	// log package and anything logging to slog's default too, and with
	// json the command's own lines and the site's diagnostics
	// (serve_log.go).
	slog.SetDefault(log)
	if o.logFormat == "json" {
		c = c.logJSON(slog.New(handler))
	}
	// Every TLS listener (SIP over TLS, HTTPS) takes its certificate from
	// one store: a renewal is read at a handshake within seconds, or on
	// SIGHUP, without a restart (package certs).
	var tlsConf *tls.Config
	var tlsCerts *certs.Store
	if len(pairs) > 0 {
		if tlsCerts, err = certs.New(pairs, certs.Options{Logger: log}); err != nil {
			fmt.Fprintf(c.stderr, "switchboard serve: %v\n", err)
			return exitFail
		}
		tlsConf = tlsCerts.Config()
	}
	if addr := c.getenv("SWITCHBOARD_PPROF"); addr != "" {
		if err := servePprof(addr, c.stderr); err != nil {
			fmt.Fprintf(c.stderr, "switchboard serve: %v\n", err)
			return exitFail
		}
	}
	proxies, err := trustedProxies(o.trustedProxies)
	if err != nil {
		return c.usageError(lookup("serve"), "%v", err)
	}
	if err := resolveNode(&o); err != nil {
		// The socket it binds for -listen's port 0 failing is no usage
		// error: the flags were right.
		if op := (*net.OpError)(nil); errors.As(err, &op) {
			fmt.Fprintf(c.stderr, "switchboard serve: %v\n", err)
			return exitFail
		}
		return c.usageError(lookup("serve"), "%v", err)
	}
	if o.udp != nil {
		defer o.udp.Close()
	}
	parent := serveParent(positional) // a directory of sites: serve_rescan.go
	if len(dirs) > 1 || parent != "" && parentAsSites(dirs, o) {
		return c.serveSites(dirs, o, serveSetup{log: log, algs: algs, portMin: portMin, portMax: portMax, tlsConf: tlsConf, tlsCerts: tlsCerts, proxies: proxies, parent: parent})
	}
	if parent != "" {
		log.Warn("serving the one site of a directory of sites alone: without -data its store is in its own directory, so a site directory added beside it is not served on SIGHUP; give -data DIR (or -keep-in-memory) to serve the directory as several sites", "dir", parent, "site", dir)
	}

	load := func() (*servedSite, int) { return c.loadServed(dir, o) }
	cur, status := load()
	if cur == nil {
		return status
	}

	mediaIP, err := chooseMediaIP(o.mediaIP, o.listen, o.tcp)
	if err != nil {
		return c.usageError(lookup("serve"), "%v", err)
	}
	bus := events.NewBus(nil)
	if o.eventsFile != "" {
		var w io.Writer = c.stdout
		if o.eventsFile != "-" {
			f, err := os.OpenFile(o.eventsFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
			if err != nil {
				fmt.Fprintf(c.stderr, "switchboard serve: %v\n", err)
				return exitFail
			}
			defer f.Close()
			w = f
		}
		sub := bus.Subscribe(4096)
		done := make(chan struct{})
		go func() { defer close(done); _ = events.WriteJSONLines(w, sub) }()
		defer func() { sub.Close(); <-done }()
	}

	var adminToken string
	if o.admin != "" {
		var status int
		if adminToken, status = c.adminToken(dir, o.adminTokenFile); adminToken == "" {
			return status
		}
	}
	so := site.Options{
		AdminToken: adminToken, Events: bus, Logger: log, MediaIP: mediaIP, DigestAlgorithms: algs,
		MediaPortMin: portMin, MediaPortMax: portMax, UDPMTU: cmp.Or(o.udpMTU, -1),
		DataDir: o.dataDir, MailFrom: o.mailFrom, DeleteAfterMail: o.deleteAfterMail,
		// Without -http nobody can reach the portal: no portal, and no
		// reader of the event stream for its door log (issue 19).
		Headless:      o.http == "",
		RotationGrace: o.rotationGrace, Limits: o.limits, CallSetups: o.callSetups, QueueDelay: o.queueDelay,
		NodeOptions: o.node.options(),
		Recompile: func() (site.Config, error) {
			next, _ := load()
			if next == nil {
				return site.Config{}, errors.New("the new configuration has errors (see the server's log)")
			}
			return next.config(o.http != ""), nil
		},
	}
	if len(proxies) > 0 {
		so.Provisioning = append(so.Provisioning, provisioning.WithTrustedProxies(proxies...))
	}
	if so.DataDir == "" {
		so.DataDir = filepath.Join(dir, ".switchboard", "data")
		if _, err := os.Stat(filepath.Join(dir, "dialplan.json")); err == nil {
			so.DataDir = filepath.Join(dir, "data")
		}
	}
	if o.smtp != "" {
		so.Mailer = &email.SMTPMailer{Addr: o.smtp, User: c.getenv("SWITCHBOARD_SMTP_USER"), Password: c.getenv("SWITCHBOARD_SMTP_PASSWORD")}
	}
	if o.store.memory && o.store.cluster.enabled() {
		return c.usageError(lookup("serve"), "-keep-in-memory keeps no store, so it cannot share one with a cluster")
	}
	var space *store.SpaceWatch
	if !o.store.memory {
		db, err := o.store.open(c, so.DataDir, log)
		if err != nil {
			fmt.Fprintf(c.stderr, "switchboard serve: %v\n", err)
			return exitFail
		}
		// Closed after the site (deferred first, run last): the site's
		// last events are stored before the store writes its state out.
		defer db.Close()
		so.Store = db
		if o.store.cluster.url == "" {
			warnEventsBeyondDisk(c.stderr, so.DataDir, 1, o.store.limits().MaxBytes)
			space = spaceWatch(so.DataDir, db, log) // serve_store.go
			so.StoreSpace = space.Space
		}
	}
	so.EventLimits = o.store.limits()
	var st *site.Site
	so.PortalSite = &portalSite{dir: dir, statePath: statePath(dir, ""), key: cur.key, mailer: so.Mailer, program: func() *ir.Program { return st.Program() }}
	st, err = site.New(cur.config(o.http != ""), so)
	if err != nil {
		fmt.Fprintf(c.stderr, "switchboard serve: %v\n", err)
		return exitFail
	}
	defer startSpaceWatch(space)() // its stream made: counted
	ctx, stop := context.WithCancel(context.Background())
	defer stop()

	errc := make(chan error, 6)
	fail := func(err error) int {
		fmt.Fprintf(c.stderr, "switchboard serve: %v\n", err)
		stop()
		st.Close()
		return exitFail
	}
	ready, err := startListeners(ctx, o, tlsConf != nil, errc, serveFuncs{
		udp:   st.ServeUDP,
		tcp:   st.ServeTCP,
		tls:   func(ctx context.Context, l net.Listener) error { return st.ServeTLS(ctx, l, tlsConf) },
		web:   func(ctx context.Context, l net.Listener) error { return st.ServeWeb(ctx, l, tlsConf) },
		admin: st.ServeAdmin,
	})
	if err != nil {
		return fail(err)
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if c.log != nil {
		c.log.Info("ready", "site", cur.program.Site.Name, "listeners", ready, "media", mediaIP.String())
	} else {
		fmt.Fprintf(c.stderr, "switchboard serve: ready: site %q, %s, media %s\n", cur.program.Site.Name, strings.Join(ready, ", "), mediaIP)
	}
	go releaseWhenIdle(ctx)
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				checkCerts(tlsCerts)
				_ = st.Reload("SIGHUP")
				if parent != "" {
					reportUnservedSiblings(log, parent, dir)
				}
				continue
			}
			log.Info("shutting down", "signal", sig.String())
			// The server first, while its sockets are open: the hang-ups
			// and the carriers' un-REGISTERs leave through them.
			st.Close()
			stop()
			return exitOK
		case err := <-errc:
			if err != nil {
				return fail(err)
			}
		}
	}
}

// certPairs pairs -cert and -key: the i-th -cert with the i-th -key.
func certPairs(certFiles, keyFiles []string) ([]certs.Pair, error) {
	if len(certFiles) != len(keyFiles) {
		return nil, fmt.Errorf("-cert and -key go in pairs, each -cert with the -key given in the same place: %s and %s",
			flagCount(len(certFiles), "-cert"), flagCount(len(keyFiles), "-key"))
	}
	pairs := make([]certs.Pair, len(certFiles))
	for i := range certFiles {
		pairs[i] = certs.Pair{CertFile: certFiles[i], KeyFile: keyFiles[i]}
	}
	return pairs, nil
}

// flagCount is "1 -cert", "2 -certs", "no -key".
func flagCount(n int, flag string) string {
	switch n {
	case 0:
		return "no " + flag
	case 1:
		return "1 " + flag
	}
	return fmt.Sprintf("%d %ss", n, flag)
}

// checkCerts reads again the TLS certificates whose files changed (SIGHUP,
// as for the sites); nil: serve has none.
func checkCerts(s *certs.Store) {
	if s != nil {
		s.Check()
	}
}

// trustedProxies reads -trusted-proxy: addresses and CIDRs.
func trustedProxies(list []string) ([]netip.Prefix, error) {
	var proxies []netip.Prefix
	for _, p := range list {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			a, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return nil, fmt.Errorf("-trusted-proxy %q is neither an address nor a CIDR", p)
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		proxies = append(proxies, pfx)
	}
	return proxies, nil
}

// adminToken returns the admin endpoints' token: SWITCHBOARD_ADMIN_TOKEN,
// else the one in file (default: defaultAdminTokenFile), made there if
// there is none. It says where the token is on standard error, never what
// it is; "" and an exit status when there is no usable token.
func (c *cli) adminToken(dir, file string) (string, int) {
	if t := c.getenv("SWITCHBOARD_ADMIN_TOKEN"); t != "" {
		if err := site.CheckAdminToken(t); err != nil {
			fmt.Fprintf(c.stderr, "switchboard serve: SWITCHBOARD_ADMIN_TOKEN: %v\n", err)
			return "", exitFail
		}
		fmt.Fprintln(c.stderr, "switchboard serve: admin token from SWITCHBOARD_ADMIN_TOKEN")
		return t, exitOK
	}
	if file == "" {
		file = defaultAdminTokenFile(dir)
	}
	t, created, err := site.AdminToken(file)
	if err != nil {
		fmt.Fprintf(c.stderr, "switchboard serve: %v\n(the admin endpoints need a token: give one with SWITCHBOARD_ADMIN_TOKEN or -admin-token-file, or turn them off with -admin \"\")\n", err)
		return "", exitFail
	}
	made := ""
	if created {
		made = " (new)"
	}
	fmt.Fprintf(c.stderr, "switchboard serve: admin token in %s%s: curl -H \"Authorization: Bearer $(cat %s)\" ...\n", file, made, file)
	return t, exitOK
}

// checkAdminAddr refuses an -admin address off loopback: the admin
// endpoints answer loopback clients only, so anything else is a mistake
// that would show the port to the network for nothing.
func checkAdminAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-admin: %v", err)
	}
	if host == "localhost" {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
		return fmt.Errorf("-admin %s: the admin endpoints listen on a loopback address only (127.0.0.1 or [::1])", addr)
	}
	return nil
}

// defaultAdminTokenFile is where serve keeps the admin token of the site or
// build directory dir, beside its other private files; apply reads it there.
func defaultAdminTokenFile(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, "dialplan.json")); err == nil {
		return filepath.Join(dir, "admin-token")
	}
	return filepath.Join(dir, ".switchboard", "admin-token")
}

// loadServed compiles a site directory, or reads a build directory.
func (c *cli) loadServed(dir string, o serveOptions) (*servedSite, int) {
	if data, err := os.ReadFile(filepath.Join(dir, "dialplan.json")); err == nil {
		p, err := ir.Unmarshal(data)
		if err != nil {
			fmt.Fprintf(c.stderr, "switchboard serve: %s: %v\n", filepath.Join(dir, "dialplan.json"), err)
			return nil, exitFail
		}
		k, err := credentials.LoadKey(dir, c.environ)
		if err != nil {
			fmt.Fprintf(c.stderr, "switchboard serve: %v\n", err)
			return nil, exitFail
		}
		trunks, err := trunkSecretsFromInputs(p, o.site, c.environ)
		if err != nil {
			fmt.Fprintf(c.stderr, "switchboard serve: %v\n", err)
			return nil, exitFail
		}
		return c.withPreviousKey(dir, &servedSite{program: p, secrets: credentials.NewLookup(k, p), key: k, trunks: trunks, bundle: filepath.Join(dir, "provision")})
	}
	lower, err := o.lower.options()
	if err != nil {
		fmt.Fprintf(c.stderr, "switchboard serve: %v\n", err)
		return nil, exitFail
	}
	cs, status := c.compileSite("serve", dir, compileOptions{site: o.site, lower: lower, needKey: true, render: true, recordLock: true, state: statePath(dir, "")})
	if cs == nil {
		return nil, status
	}
	out := filepath.Join(dir, ".switchboard", "build")
	if err := writeBuild(out, cs.program, cs.bundle); err != nil {
		fmt.Fprintf(c.stderr, "switchboard serve: %v\n", err)
		return nil, exitFail
	}
	return c.withPreviousKey(dir, &servedSite{program: cs.program, secrets: credentials.NewLookup(cs.key, cs.program), key: cs.key, trunks: trunkSecretsOf(cs.cfg),
		bundle: filepath.Join(out, "provision")})
}

// portRange reads -rtp-ports: MIN-MAX, holding at least one even/odd
// port pair. There is no "any port": a firewall in front of the server
// opens a range, and a relay outside it would carry no audio.
func portRange(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if ok {
		lo, err = strconv.Atoi(strings.TrimSpace(a))
		if err == nil {
			hi, err = strconv.Atoi(strings.TrimSpace(b))
		}
	}
	if !ok || err != nil {
		return 0, 0, fmt.Errorf("%q is not a port range MIN-MAX such as 10000-20000", s)
	}
	if lo == 0 && hi == 0 {
		return 0, 0, fmt.Errorf("%q: the range must be within 1-65535", s)
	}
	if err := media.CheckPorts(lo, hi); err != nil {
		return 0, 0, fmt.Errorf("%q holds no even RTP port with its RTCP port above it within 1-65535", s)
	}
	return lo, hi, nil
}

// chooseMediaIP picks the relay's address: the flag, else the SIP
// listener's host when it is a concrete address.
func chooseMediaIP(flagValue string, addrs ...string) (netip.Addr, error) {
	if flagValue != "" {
		ip, err := netip.ParseAddr(flagValue)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("-media-ip: %v", err)
		}
		if ip.IsUnspecified() {
			return netip.Addr{}, errors.New("-media-ip must be an address devices can reach, not " + flagValue)
		}
		return ip, nil
	}
	for _, a := range addrs {
		if a == "" {
			continue
		}
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			continue
		}
		if ip, err := netip.ParseAddr(host); err == nil && !ip.IsUnspecified() {
			return ip, nil
		}
	}
	return netip.Addr{}, errors.New("the SIP address listens on every interface, so set -media-ip to the address devices reach the server at")
}

// serveFuncs are what serve runs on each listener it opens: one site's or
// several sites' (runtime/sites).
type serveFuncs struct {
	udp                  func(context.Context, net.PacketConn) error
	tcp, tls, web, admin func(context.Context, net.Listener) error
}

// startListeners opens the listeners the flags ask for, runs f's function
// on each (its end goes to errc) and returns the ready line's parts; the
// first address that cannot be opened is the error.
func startListeners(ctx context.Context, o serveOptions, https bool, errc chan<- error, f serveFuncs) (ready []string, err error) {
	if o.listen != "" {
		conn := o.udp
		if conn == nil {
			if conn, err = net.ListenPacket("udp", o.listen); err != nil {
				return nil, err
			}
		}
		ready = append(ready, "sip udp "+conn.LocalAddr().String())
		go func() { errc <- f.udp(ctx, conn) }()
	}
	scheme := "http "
	if https {
		scheme = "https "
	}
	for _, l := range []struct {
		addr, name string
		serve      func(context.Context, net.Listener) error
	}{
		{o.tcp, "sip tcp ", f.tcp},
		{o.tlsAddr, "sip tls ", f.tls},
		{o.http, scheme, f.web},
		{o.admin, "admin http ", f.admin},
	} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return nil, err
		}
		ready = append(ready, l.name+ln.Addr().String())
		go func() { errc <- l.serve(ctx, ln) }()
	}
	return ready, nil
}
