// Package provisioning is the live server's provisioning endpoint: it
// serves the files of a `switchboard build` bundle (OUT/provision) over
// HTTP, each per-device file only to its device.
//
// # Who gets what
//
// The bundle directory holds the vendor files, named as firmware fetches
// them (Akuvox <mac>.cfg, Yealink y000000000000.boot, y0000000000XX.cfg,
// <mac>.boot, <mac>.cfg, Grandstream cfg<mac>.xml), and a manifest
// (manifest.json, see Manifest) saying which file is whose. Without a
// manifest the server falls back to matching the 12-hex-digit MAC in a file
// name against the program's devices (see Swap for the rules).
//
// Every request needs HTTP Digest authentication (RFC 7616, qop=auth,
// SHA-256 and MD5) with the device's SIP account: the user name is the
// account's ir.Account.AuthName and the password is what Secrets gives for
// it. Then:
//
//   - a device's own file: 200 (304 when If-None-Match carries its ETag, the
//     file's SHA-256; devices poll);
//   - a common file (no device in the manifest): 200 to any device;
//   - another device's file, or no such file: 404, the same answer, so a
//     device learns nothing about other devices' files;
//   - a malformed path: 400; a method other than GET or HEAD: 405.
//
// Unknown users and wrong passwords get the same 401 with a fresh
// challenge. The digest (algorithms, challenges, nonces, the nonce-count
// window) is runtime/digest's, the one SIP's runtime/auth uses: nonces
// expire (WithNonceLifetime; a correct response with an expired nonce gets
// stale=true) and each nonce count is accepted once, out of order within 64
// of the highest. Failed attempts are counted in a throttle.Guard per
// device account and client address, with a much higher ceiling per
// address (one building's devices share a NAT), per /24 or /64 and for
// all clients; a try over a limit gets 429 until its window closes
// (WithThrottle). WithAllowedNetworks restricts
// clients to address ranges (403 otherwise).
//
// Each served file (200 or 304) is published as events.ProvisionFetch and
// each refusal as events.ProvisionDenied, with the device, path, client
// address, HTTP status and the device's IR origin; a client that gets
// throttled is published once as events.Throttled. File contents are never
// logged.
//
// # Reloads
//
// Swap loads a new program and bundle completely, then switches to them
// atomically; requests in flight finish with the old bundle, and a bundle
// that fails to load leaves the old one serving. Changed compares two
// manifests and names the devices whose files changed, to be sent a SIP
// NOTIFY check-sync.
//
// # TLS
//
// Device files carry SIP passwords, so serve them over HTTPS in production.
// Two ways:
//
// Built in: ListenAndServeTLS(ctx, addr, certFile, keyFile), or ServeTLS
// with any *tls.Config (TLS 1.2 at least by default). Certificates are read
// once; restart or reload to renew.
//
// Behind a reverse proxy that terminates TLS (Caddy, nginx): listen on
// loopback and tell the server which peers are proxies with
// WithTrustedProxies, so that throttling, the allow-list and events use the
// client address from X-Forwarded-For (the right-most address not in a
// trusted range). Never trust X-Forwarded-For from anywhere else: a client
// could pick its own address. The proxy must pass the request path
// unchanged, because the digest response covers it; to publish the files
// under a prefix, give the server the same prefix (WithBasePath) rather
// than stripping it in the proxy. Caddy:
//
//	provision.example.net {
//		reverse_proxy 127.0.0.1:8080
//	}
//
// nginx:
//
//	location / {
//		proxy_pass http://127.0.0.1:8080;
//		proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
//	}
//
// with WithTrustedProxies(netip.MustParsePrefix("127.0.0.1/32")). Both
// forward the Authorization header and the WWW-Authenticate answers as they
// are.
package provisioning

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"switchboard/compiler/ir"
	"switchboard/runtime/digest"
	"switchboard/runtime/events"
)

// Secrets looks up SIP digest passwords. It has the shape of the runtime's
// Secrets: SIPPassword takes an ir.Account.Name ("device.front-gate") and
// reports ok=false for an unknown account. It is called concurrently.
type Secrets interface {
	SIPPassword(account string) (password string, ok bool)
}

// PreviousSecrets, when Secrets has it too, gives the password an account
// had before its latest rotation, while a grace period after the rotation
// lasts. A pull-provisioned device told to fetch its new file (which
// carries its new password) still holds the old one: without this it
// could never fetch it. Only files are served with it; SIP registration
// takes the new password alone.
type PreviousSecrets interface {
	PreviousSIPPassword(account string) (password string, ok bool)
}

// causePrevious marks a fetch authenticated with the previous password.
const causePrevious = "authenticated with the password before its rotation (grace period)"

// Clock is the time source for nonce expiry and throttling windows; the
// runtime's clock (package runtime/clock) satisfies it, so a simulator can
// drive time.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Option configures a Server.
type Option func(*config)

type config struct {
	secrets        Secrets
	clock          Clock
	bus            *events.Bus
	logger         *slog.Logger
	algorithms     []string
	nonceLifetime  time.Duration
	nonceSlots     int
	throttleLimit  int
	throttleWindow time.Duration
	allowed        []netip.Prefix
	trusted        []netip.Prefix
	basePath       string
}

// WithEvents publishes fetches and refusals on bus.
func WithEvents(bus *events.Bus) Option { return func(c *config) { c.bus = bus } }

// WithClock sets the time source (default: the system clock).
func WithClock(clk Clock) Option { return func(c *config) { c.clock = clk } }

// WithLogger sets the logger for operator warnings (default slog.Default).
// Fetches are events, not log lines.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithAlgorithms sets the digest algorithms offered, most preferred first:
// SHA256, MD5 (the default offers both, SHA-256 first, as RFC 7616 §3.7
// asks). Offer MD5 alone for firmware that reads only the first challenge
// and knows no SHA-256.
func WithAlgorithms(algs ...string) Option {
	return func(c *config) { c.algorithms = append([]string(nil), algs...) }
}

// WithNonceLifetime sets how long a nonce may be used (default 5 minutes).
func WithNonceLifetime(d time.Duration) Option { return func(c *config) { c.nonceLifetime = d } }

// WithNonceSlots sizes the ring of nonce-count windows (default 65 536,
// 1 MiB): a server of many small sites gives each a smaller one.
func WithNonceSlots(n int) Option { return func(c *config) { c.nonceSlots = n } }

// WithThrottle refuses a device account from a client address for window
// once it has failed authentication limit times within window (default 10
// in 5 minutes), and the address as a whole after 20 times as many
// failures of any accounts (a building's devices behind one NAT keep
// working when one of them has a wrong password); limit 0 turns
// throttling off.
func WithThrottle(limit int, window time.Duration) Option {
	return func(c *config) { c.throttleLimit, c.throttleWindow = limit, window }
}

// WithAllowedNetworks serves only clients within the given ranges
// (default: any address). The client address is the one WithTrustedProxies
// yields.
func WithAllowedNetworks(prefixes ...netip.Prefix) Option {
	return func(c *config) { c.allowed = append(c.allowed, prefixes...) }
}

// WithTrustedProxies names the reverse proxies whose X-Forwarded-For is
// believed (default: none; the TCP peer is the client).
func WithTrustedProxies(prefixes ...netip.Prefix) Option {
	return func(c *config) { c.trusted = append(c.trusted, prefixes...) }
}

// WithBasePath serves the bundle under a URL path prefix such as
// "/provision/" (default "/"): the path of the site's provision_url when
// the server is reached without a rewriting proxy.
func WithBasePath(p string) Option { return func(c *config) { c.basePath = p } }

// deniedEvents is how many ProvisionDenied events a minute publishes; the
// rest are counted in one events.Suppressed.
const deniedEvents = 100

// Server is the provisioning endpoint: an http.Handler over the current
// bundle. Its methods are safe for concurrent use.
type Server struct {
	cfg      config
	nonces   *digest.Nonces
	throttle *failures
	// denied publishes refusals, at most deniedEvents a minute: a
	// client can provoke one per request.
	denied        *events.Sampler
	dummyPassword string

	swapMu sync.Mutex
	cur    atomic.Pointer[bundle]
}

// New loads the bundle in dir (the build's OUT/provision directory) for
// program p and returns a server for it. secrets gives the devices'
// passwords.
func New(p *ir.Program, dir string, secrets Secrets, opts ...Option) (*Server, error) {
	if secrets == nil {
		return nil, errors.New("provisioning: no secrets")
	}
	cfg := config{
		secrets:        secrets,
		clock:          systemClock{},
		logger:         slog.Default(),
		algorithms:     []string{SHA256, MD5},
		nonceLifetime:  5 * time.Minute,
		throttleLimit:  10,
		throttleWindow: 5 * time.Minute,
		basePath:       "/",
	}
	for _, o := range opts {
		o(&cfg)
	}
	if len(cfg.algorithms) == 0 {
		return nil, errors.New("provisioning: no digest algorithm offered")
	}
	for i, a := range cfg.algorithms {
		a = strings.ToUpper(a)
		if a != SHA256 && a != MD5 {
			return nil, fmt.Errorf("provisioning: unknown digest algorithm %q (want %s or %s)", a, SHA256, MD5)
		}
		cfg.algorithms[i] = a
	}
	if cfg.nonceLifetime <= 0 {
		return nil, errors.New("provisioning: nonce lifetime must be positive")
	}
	if cfg.throttleLimit > 0 && cfg.throttleWindow <= 0 {
		return nil, errors.New("provisioning: throttle window must be positive")
	}
	if !strings.HasPrefix(cfg.basePath, "/") || !strings.HasSuffix(cfg.basePath, "/") || path.Clean(cfg.basePath+"x") != cfg.basePath+"x" {
		return nil, fmt.Errorf("provisioning: base path %q must be a clean path that starts and ends with a slash", cfg.basePath)
	}
	for _, ps := range [][]netip.Prefix{cfg.allowed, cfg.trusted} {
		for i, p := range ps {
			if !p.IsValid() {
				return nil, errors.New("provisioning: invalid network prefix")
			}
			ps[i] = p.Masked()
		}
	}
	s := &Server{
		cfg:           cfg,
		nonces:        newNonces(cfg.nonceLifetime, cfg.nonceSlots),
		throttle:      newThrottle(cfg.throttleLimit, cfg.throttleWindow, 1<<16),
		denied:        events.NewSampler(cfg.bus, deniedEvents, time.Minute, cfg.clock),
		dummyPassword: digest.DummyPassword(),
	}
	if err := s.Swap(p, dir); err != nil {
		return nil, err
	}
	return s, nil
}

// Swap loads program p and the bundle in dir completely, then serves them
// in place of the current ones; on error nothing changes.
//
// The bundle's manifest.json says whose each file is. Without one, a file
// whose name holds one device's MAC (12 hex digits, any case) is that
// device's and treated as secret; a Yealink common file (y + 12 digits,
// .cfg or .boot) or a name holding no 12-hex-digit run is common; a name
// holding a MAC of no device is withheld (not served) and logged. Hidden
// files are skipped.
func (s *Server) Swap(p *ir.Program, dir string) error {
	s.swapMu.Lock()
	defer s.swapMu.Unlock()
	b, err := s.load(p, dir, s.cfg.secrets)
	if err != nil {
		return err
	}
	s.cur.Store(b)
	return nil
}

// Bundle is one configuration's provisioning files with the passwords
// that fetch them, loaded by Load and served once Use swaps it in.
type Bundle struct{ b *bundle }

// Load reads program p's bundle in dir completely, as Swap does, for
// secrets' passwords, without serving it: a site building a whole new
// configuration (package runtime/site) loads first, then swaps every part
// at once with Use. Loads must not overlap with each other or with Swap.
func (s *Server) Load(p *ir.Program, dir string, secrets Secrets) (Bundle, error) {
	if secrets == nil {
		return Bundle{}, errors.New("provisioning: no secrets")
	}
	b, err := s.load(p, dir, secrets)
	return Bundle{b}, err
}

// Use serves b, from Load, in place of the current bundle.
func (s *Server) Use(b Bundle) { s.cur.Store(b.b) }

// load builds the bundle of p in dir, served with secrets' passwords.
func (s *Server) load(p *ir.Program, dir string, secrets Secrets) (*bundle, error) {
	// The digest realm is the SIP realm, the site's domain, followed
	// across reloads.
	realm := ""
	if p != nil {
		realm = p.Site.Domain
	}
	if realm == "" {
		realm = "switchboard"
	}
	b, err := loadBundle(p, dir, realm, s.cur.Load())
	if err != nil {
		return nil, err
	}
	b.secrets = secrets
	for _, w := range b.withheld {
		s.cfg.logger.Warn("provisioning: file names a MAC of no device; not served", "path", w)
	}
	return b, nil
}

// Manifest returns the manifest of the bundle being served; in fallback
// mode, the one made from file names.
func (s *Server) Manifest() Manifest {
	m := s.cur.Load().manifest
	m.Files = append([]ManifestFile(nil), m.Files...)
	return m
}

// ServeHTTP serves one request; see the package documentation.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b := s.cur.Load()
	now := s.cfg.clock.Now()
	h := w.Header()
	h.Set("Cache-Control", "private, no-cache")
	h.Set("X-Content-Type-Options", "nosniff")

	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ip, ok := clientAddr(r, s.cfg.trusted)
	if !ok {
		s.deny(w, r, b, nil, "", http.StatusBadRequest, "malformed X-Forwarded-For from a trusted proxy")
		return
	}
	src := ip.String()
	if len(s.cfg.allowed) > 0 && !inPrefixes(ip, s.cfg.allowed) {
		s.deny(w, r, b, nil, src, http.StatusForbidden, "client address not allowed")
		return
	}
	user := userOf(r)
	if wait, blocked := s.throttle.blocked(ip, user, now); blocked {
		h.Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		s.deny(w, r, b, nil, src, http.StatusTooManyRequests, "too many failed attempts")
		return
	}
	name, ok := s.requestName(r.URL.Path)
	if !ok {
		s.deny(w, r, b, nil, src, http.StatusBadRequest, "malformed path")
		return
	}

	dev, res, cause := s.authenticate(b, r, now)
	switch res {
	case authNone, authStale, authFailed:
		if res == authFailed && s.throttle.fail(ip, user, now) {
			s.cfg.bus.Publish(events.Event{Kind: events.Throttled, Source: src, Cause: "provisioning: too many failed attempts", Path: truncate(name)})
		}
		nonce := s.nonces.Issue(now)
		for _, alg := range s.cfg.algorithms {
			h.Add("WWW-Authenticate", challenge(b.realm, nonce, alg, res == authStale))
		}
		if res == authNone && cause == "" {
			// The first request of every fetch: not news.
			http.Error(w, "401 unauthorized", http.StatusUnauthorized)
			return
		}
		s.deny(w, r, b, dev, src, http.StatusUnauthorized, cause)
		return
	}

	s.throttle.succeed(ip, user, now)
	f := b.files[foldPath(name)]
	switch {
	case f == nil:
		s.deny(w, r, b, dev, src, http.StatusNotFound, "no such file")
		return
	case f.Device != "" && f.Device != dev.name:
		s.deny(w, r, b, dev, src, http.StatusNotFound, "file of device "+strconv.Quote(f.Device))
		return
	}
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", f.etag)
	sw := &statusWriter{ResponseWriter: w}
	http.ServeContent(sw, r, path.Base(f.Path), f.modTime, bytes.NewReader(f.data))
	s.cfg.bus.Publish(events.Event{
		Kind:    events.ProvisionFetch,
		Device:  dev.name,
		Account: dev.account,
		Path:    f.Path,
		Source:  src,
		Status:  sw.code(),
		Cause:   cause,
		Origin:  dev.origin,
	})
	if cause == causePrevious {
		s.cfg.logger.Info("provisioning: served a device with the password before its rotation", "device", dev.name, "path", f.Path)
	}
}

// requestName cuts the base path off a request path and checks what is
// left: a valid slash-separated relative path, printable UTF-8, no
// backslash, no empty, "." or ".." element, nothing hidden. Files are
// served from memory by name, so nothing outside the bundle is reachable
// anyway; this turns the odd requests away early with 400.
func (s *Server) requestName(p string) (string, bool) {
	name, ok := strings.CutPrefix(p, s.cfg.basePath)
	if !ok || name == "" || len(name) > maxPathLen || !utf8.ValidString(name) {
		return "", false
	}
	return name, validBundlePath(name) || strings.EqualFold(name, ManifestName)
}

// deny answers status (when the caller has not written a 401 challenge
// header set, http.Error does it) and publishes the refusal.
func (s *Server) deny(w http.ResponseWriter, r *http.Request, b *bundle, dev *device, src string, status int, cause string) {
	http.Error(w, strconv.Itoa(status)+" "+strings.ToLower(http.StatusText(status)), status)
	e := events.Event{Kind: events.ProvisionDenied, Path: truncate(strings.TrimPrefix(r.URL.Path, s.cfg.basePath)), Source: src, Status: status, Cause: cause}
	if dev != nil {
		e.Device, e.Account, e.Origin = dev.name, dev.account, dev.origin
	}
	if f := b.files[foldPath(e.Path)]; f != nil {
		e.Path = f.Path
	}
	s.denied.Publish(e)
}

// truncate bounds client-chosen text copied into events.
func truncate(s string) string {
	const n = 256
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Serve serves HTTP on l until ctx is done, then shuts down gracefully
// (requests in flight get 5 seconds). It returns nil after a shutdown.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	return s.serve(ctx, l, nil)
}

// ServeTLS is Serve over TLS with cfg (certificates in cfg.Certificates or
// cfg.GetCertificate). A cfg without MinVersion gets TLS 1.2.
func (s *Server) ServeTLS(ctx context.Context, l net.Listener, cfg *tls.Config) error {
	if cfg == nil {
		return errors.New("provisioning: no TLS configuration")
	}
	cfg = cfg.Clone()
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return s.serve(ctx, l, cfg)
}

// ListenAndServe listens on the TCP address addr and calls Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	return s.Serve(ctx, l)
}

// ListenAndServeTLS listens on the TCP address addr and serves HTTPS with
// the PEM certificate chain and key in certFile and keyFile.
func (s *Server) ListenAndServeTLS(ctx context.Context, addr, certFile, keyFile string) error {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	return s.ServeTLS(ctx, l, &tls.Config{Certificates: []tls.Certificate{cert}})
}

func (s *Server) serve(ctx context.Context, l net.Listener, tlsCfg *tls.Config) error {
	srv := &http.Server{
		Handler:           s,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.cfg.logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() {
		if tlsCfg != nil {
			errc <- srv.ServeTLS(l, "", "")
		} else {
			errc <- srv.Serve(l)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("provisioning: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	if err != nil {
		return fmt.Errorf("provisioning: shutdown: %w", err)
	}
	return nil
}
