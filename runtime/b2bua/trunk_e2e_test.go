package b2bua_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/runtime/auth"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/clock"
	"switchboard/runtime/clock/clocktest"
	"switchboard/runtime/events"
	"switchboard/runtime/sipdns"
	"switchboard/runtime/sipdns/sipdnstest"
	"switchboard/runtime/site"
	"switchboard/simulate/device"
)

// trunkSite has a carrier trunk with credentials at 127.0.0.2 (the
// carrier is recognised by its address, so it must not share the
// devices' 127.0.0.1); the tests point its port at their carrier.
const trunkSite = `
variable "trunk_user" {
  type    = string
  default = "pbx-1001"
}
variable "trunk_password" {
  type      = string
  default   = "carrier-secret-9"
  sensitive = true
}
site "trunks" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "trunks.example"
  installer {
    company = "Doors Ltd"
    email   = "i@doors.example"
  }
}
residence "apt-1a" {
  label = "1A"
}
user "mary" {
  email     = "mary@x.example"
  residence = residence.apt-1a
  role      = "owner"
  extension = 101
  app       = true
  numbers   = ["+35315550101"]
}
user "tom" {
  email     = "tom@x.example"
  residence = residence.apt-1a
  extension = 102
  app       = true
}
device "gate" {
  model = "akuvox-r29c"
  mac   = "0C:11:05:00:00:01"
  button "1" { calls = residence.apt-1a }
}
trunk "carrier" {
  host     = "127.0.0.2"
  username = var.trunk_user
  password = var.trunk_password
  numbers  = ["+35315550100", "+35315550101"]
}
`

const (
	trunkUser     = "pbx-1001"
	trunkPassword = "carrier-secret-9"
	carrierHost   = "127.0.0.2"
	carrierRealm  = "carrier.example"
	waitFor       = 10 * time.Second
)

// trunkVars resolves trunk credentials, as serve does from -var.
type trunkVars map[ir.SecretRef]string

func (v trunkVars) TrunkSecret(ref ir.SecretRef) (string, bool) {
	s, ok := v[ref]
	return s, ok
}

var siteTrunkVars = trunkVars{"var.trunk_user": trunkUser, "var.trunk_password": trunkPassword}

// serverSecrets are the accounts' passwords and, when set, the trunks'.
type serverSecrets struct {
	*credentials.Lookup
	trunkVars
}

// trunkServer is a site served on 127.0.0.1:0 whose trunk points at a
// carrier the test runs.
type trunkServer struct {
	t       *testing.T
	p       *ir.Program
	site    *site.Site
	secrets b2bua.Secrets
	clock   *clocktest.Fake
	addr    string
	lookup  *credentials.Lookup
	sub     *events.Subscription
	seen    []events.Event
	taken   map[int]bool // events next returned
	log     *bytes.Buffer
	logMu   *sync.Mutex
	devices []*device.Device
	closed  bool
}

type serverOptions struct {
	vars      trunkVars // nil: the server cannot read trunk credentials
	noCred    bool      // the trunk is IP-authenticated
	src       string    // the site; trunkSite when empty
	transport string    // the trunk's, when not the site's (udp)
	// dns, when set, is where the server looks the carrier up: the
	// trunk's host is then carrierName, with no port (SRV decides), and
	// the carrier address given is ignored.
	dns        *sipdnstest.Server
	dnsTimeout time.Duration // each lookup's; 0: sipdns's default
}

func startTrunkServer(t *testing.T, carrier netip.AddrPort, o serverOptions) *trunkServer {
	t.Helper()
	src := trunkSite
	if o.src != "" {
		src = o.src
	}
	p := compile(t, src)
	p.Trunks[0].Port = int(carrier.Port())
	if o.dns != nil {
		p.Trunks[0].Host, p.Trunks[0].Port = carrierName, 0
	}
	if o.transport != "" {
		p.Trunks[0].Transport = o.transport
	}
	if o.noCred {
		p.Trunks[0].Username, p.Trunks[0].Password = "", ""
	}
	key, err := credentials.KeyFromBytes([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	h := &trunkServer{t: t, p: p, clock: clocktest.New(time.Unix(1_800_000_000, 0)), lookup: credentials.NewLookup(key, p),
		log: &bytes.Buffer{}, logMu: &sync.Mutex{}}
	var sec b2bua.Secrets = h.lookup
	if o.vars != nil {
		sec = serverSecrets{h.lookup, o.vars}
	}
	bus := events.NewBus(h.clock.Now)
	h.sub = bus.Subscribe(4096)
	logger := slog.New(slog.NewTextHandler(lockedWriter{h.logMu, h.log}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts := site.Options{Events: bus, Clock: h.clock, Logger: logger, MediaIP: netip.MustParseAddr("127.0.0.1"), Services: &b2bua.Services{}}
	if o.dns != nil {
		opts.Carriers = sipdns.New(sipdns.Config{DNS: o.dns.Resolver(), Clock: h.clock, Timeout: o.dnsTimeout})
	}
	st, err := site.New(site.Config{Program: p, Secrets: sec}, opts)
	if err != nil {
		t.Fatal(err)
	}
	h.site, h.secrets = st, sec
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = conn.LocalAddr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); st.ServeUDP(ctx, conn) }()
	t.Cleanup(func() {
		for _, d := range h.devices {
			d.Close()
		}
		h.close()
		cancel()
		<-served
		h.sub.Close()
		h.noSecretsShown()
		// The server's log says what it made of a failed test (a leg it
		// could not start logs only a warning); noSecretsShown has
		// already said so if it holds the password.
		h.logMu.Lock()
		if t.Failed() && !strings.Contains(h.log.String(), trunkPassword) {
			t.Logf("server log:\n%s", h.log)
		}
		h.logMu.Unlock()
	})
	return h
}

// close stops the server (once): the carriers hear the un-REGISTER.
func (h *trunkServer) close() {
	if !h.closed {
		h.closed = true
		h.site.Close()
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// noSecretsShown fails the test when the trunk password appears in any
// event or log line the server produced.
func (h *trunkServer) noSecretsShown() {
	for e := range h.sub.C {
		h.seen = append(h.seen, e)
	}
	data, err := json.Marshal(h.seen)
	if err != nil {
		h.t.Fatal(err)
	}
	if bytes.Contains(data, []byte(trunkPassword)) {
		h.t.Errorf("an event shows the trunk password:\n%s", data)
	}
	h.logMu.Lock()
	defer h.logMu.Unlock()
	if strings.Contains(h.log.String(), trunkPassword) {
		h.t.Errorf("the log shows the trunk password:\n%s", h.log)
	}
}

// next waits for the first event matching f that no earlier call took:
// events that happen at once (a new registration and the old one's
// withdrawal) may be waited for in either order.
func (h *trunkServer) next(what string, f func(events.Event) bool) events.Event {
	h.t.Helper()
	if h.taken == nil {
		h.taken = map[int]bool{}
	}
	for i, e := range h.seen {
		if !h.taken[i] && f(e) {
			h.taken[i] = true
			return e
		}
	}
	deadline := time.NewTimer(waitFor)
	defer deadline.Stop()
	for {
		select {
		case e := <-h.sub.C:
			h.seen = append(h.seen, e)
			if f(e) {
				h.taken[len(h.seen)-1] = true
				return e
			}
		case <-deadline.C:
			h.t.Fatalf("no %s event within %s; saw %s", what, waitFor, h.kinds())
		}
	}
}

func (h *trunkServer) kinds() string {
	var out []string
	for _, e := range h.seen {
		out = append(out, fmt.Sprintf("%s(%s %s)", e.Kind, e.Account+e.Leg, e.Cause))
	}
	return strings.Join(out, "; ")
}

func kindOf(k events.Kind) func(events.Event) bool {
	return func(e events.Event) bool { return e.Kind == k }
}

// device registers a simulated app or phone.
func (h *trunkServer) device(account string) *device.Device {
	h.t.Helper()
	pw, _ := h.lookup.SIPPassword(account)
	d, err := device.New(device.Config{Account: account, Password: pw, Domain: "trunks.example", Server: h.addr})
	if err != nil {
		h.t.Fatal(err)
	}
	h.devices = append(h.devices, d)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if status, err := d.Register(ctx, time.Hour); err != nil || status != 200 {
		h.t.Fatalf("register %s: %d, %v", account, status, err)
	}
	return d
}

// registrar is a carrier's registrar on sipgo at 127.0.0.2:0: it
// challenges REGISTER with digest (SHA-256 then MD5, RFC 8760) unless told
// otherwise, hands the test every REGISTER it receives, and answers the
// authenticated ones as answer says (200, echoing the expiry, by default).
type registrar struct {
	addr   netip.AddrPort
	got    chan *sip.Request
	client *sipgo.Client // the carrier's calls in leave from its socket

	mu     sync.Mutex
	auth   *auth.Authenticator // nil: no challenge
	answer func(*sip.Request) *sip.Response
}

type carrierPasswords map[string]string

func (c carrierPasswords) SIPPassword(u string) (string, bool) { p, ok := c[u]; return p, ok }

func carrierAuth(password string) *auth.Authenticator {
	// A carrier offers SHA-256 first (RFC 8760), as real ones do.
	return auth.New(carrierRealm, carrierPasswords{trunkUser: password}, clock.Real, auth.WithAlgorithms(auth.SHA256, auth.MD5))
}

func startRegistrar(t *testing.T) *registrar { t.Helper(); return startRegistrarOn(t, "udp") }

// startRegistrarOn starts the registrar on network "udp" or "tcp".
func startRegistrarOn(t *testing.T, network string) *registrar {
	t.Helper()
	return startRegistrarWrapped(t, network, nil)
}

// startRegistrarWrapped is startRegistrarOn with its UDP socket wrapped
// by wrap, when set: a carrier whose datagrams are not as sipgo writes
// them.
func startRegistrarWrapped(t *testing.T, network string, wrap func(net.PacketConn) net.PacketConn) *registrar {
	t.Helper()
	ua, srv := carrierUA(t, "test-carrier")
	var serve func() error
	var laddr net.Addr
	var closer interface{ Close() error }
	if network == "tcp" {
		l, err := net.Listen("tcp", carrierHost+":0")
		if err != nil {
			t.Skipf("SKIPPING: cannot listen on %s (a loopback address the carrier needs): %v", carrierHost, err)
		}
		serve, laddr, closer = func() error { return srv.ServeTCP(l) }, l.Addr(), l
	} else {
		conn, err := net.ListenPacket("udp", carrierHost+":0")
		if err != nil {
			t.Skipf("SKIPPING: cannot listen on %s (a loopback address the carrier needs): %v", carrierHost, err)
		}
		served := conn
		if wrap != nil {
			served = wrap(conn)
		}
		serve, laddr, closer = func() error { return srv.ServeUDP(served) }, conn.LocalAddr(), conn
	}
	r := &registrar{addr: netip.MustParseAddrPort(laddr.String()), got: make(chan *sip.Request, 64),
		auth: carrierAuth(trunkPassword), answer: grant}
	srv.OnRegister(func(req *sip.Request, tx sip.ServerTransaction) {
		r.got <- req.Clone()
		r.mu.Lock()
		a, answer := r.auth, r.answer
		r.mu.Unlock()
		if a != nil {
			if _, res := a.Check(req, "", false); res != nil {
				_ = tx.Respond(res)
				return
			}
		}
		_ = tx.Respond(answer(req))
	})
	client, err := sipgo.NewClient(ua, sipgo.WithClientConnectionAddr(laddr.String()))
	if err != nil {
		t.Fatal(err)
	}
	r.client = client
	go serve()
	t.Cleanup(func() { ua.Close(); closer.Close() })
	return r
}

func (r *registrar) set(a *auth.Authenticator, answer func(*sip.Request) *sip.Response) {
	r.mu.Lock()
	r.auth, r.answer = a, answer
	r.mu.Unlock()
}

// grant accepts a registration for the time asked for.
func grant(req *sip.Request) *sip.Response { return grantFor(req, "") }

// grantFor accepts a registration, granting expires seconds in the
// Contact (what was asked for when empty).
func grantFor(req *sip.Request, expires string) *sip.Response {
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	if expires == "" {
		expires = req.GetHeader("Expires").Value()
	}
	if ct := req.Contact(); ct != nil && expires != "0" {
		granted := &sip.ContactHeader{Address: ct.Address, Params: sip.NewParams()}
		granted.Params.Add("expires", expires)
		res.AppendHeader(granted)
	}
	res.AppendHeader(sip.NewHeader("Expires", "3600")) // the Contact's expires wins
	return res
}

func refuse(status int, reason string) func(*sip.Request) *sip.Response {
	return func(req *sip.Request) *sip.Response { return sip.NewResponseFromRequest(req, status, reason, nil) }
}

// next returns the next REGISTER the carrier receives.
func (r *registrar) next(t *testing.T) *sip.Request {
	t.Helper()
	select {
	case req := <-r.got:
		return req
	case <-time.After(waitFor):
		t.Fatalf("the carrier received no REGISTER within %s", waitFor)
		return nil
	}
}

// exchange returns the next two REGISTERs: one without credentials and
// its retry answering the carrier's challenge.
func (r *registrar) exchange(t *testing.T) (first, retry *sip.Request) {
	t.Helper()
	first, retry = r.next(t), r.next(t)
	if first.GetHeader("Authorization") != nil {
		t.Errorf("the first REGISTER carries credentials before any challenge")
	}
	if retry.GetHeader("Authorization") == nil {
		t.Fatalf("the REGISTER after the 401 carries no credentials:\n%s", retry)
	}
	if first.CallID().Value() != retry.CallID().Value() || tag(first.From()) != tag(retry.From()) {
		t.Errorf("the retry is not the same registration (Call-ID, From tag)")
	}
	if retry.CSeq().SeqNo != first.CSeq().SeqNo+1 {
		t.Errorf("retry CSeq %d after %d, want +1", retry.CSeq().SeqNo, first.CSeq().SeqNo)
	}
	return first, retry
}

func tag(f *sip.FromHeader) string {
	v, _ := f.Params.Get("tag")
	return v
}

// TestTrunkRegistration: the server registers at its carrier from its
// listening socket, answers the digest challenge (SHA-256, the carrier's
// first), refreshes at half the time granted on the runtime clock, as the
// same registration, and withdraws it when it closes.
func TestTrunkRegistration(t *testing.T) {
	car := startRegistrar(t)
	h := startTrunkServer(t, car.addr, serverOptions{vars: siteTrunkVars})

	first, retry := car.exchange(t)
	if got, want := first.Source(), h.addr; got != want {
		t.Errorf("REGISTER came from %s, want the server's listening socket %s", got, want)
	}
	if got, want := first.Recipient.String(), fmt.Sprintf("sip:%s:%d", carrierHost, car.addr.Port()); got != want {
		t.Errorf("Request-URI %s, want %s", got, want)
	}
	if got, want := first.To().Address.String(), "sip:"+trunkUser+"@"+carrierHost; got != want {
		t.Errorf("To %s, want %s", got, want)
	}
	if got, want := first.Contact().Address.String(), "sip:"+trunkUser+"@"+h.addr; got != want {
		t.Errorf("Contact %s, want %s", got, want)
	}
	if got := first.GetHeader("Expires").Value(); got != "3600" {
		t.Errorf("Expires %s, want 3600", got)
	}
	if !first.Via().Params.Has("rport") {
		t.Errorf("Via without rport: %s", first.Via())
	}
	if cred := retry.GetHeader("Authorization").Value(); !strings.Contains(cred, "algorithm=SHA-256") || !strings.Contains(cred, `username="`+trunkUser+`"`) {
		t.Errorf("credentials %q: want SHA-256, the carrier's first challenge, for %s", cred, trunkUser)
	}
	reg := h.next("trunk_registered", kindOf(events.TrunkRegistered))
	if reg.Account != "trunk.carrier" || reg.Origin.File == "" || !strings.Contains(reg.Cause, "registered for 1h0m0s; refreshing in 30m0s") {
		t.Errorf("trunk_registered = %+v", reg)
	}

	h.clock.Advance(30 * time.Minute)
	refresh, _ := car.exchange(t)
	if refresh.CallID().Value() != first.CallID().Value() || refresh.CSeq().SeqNo != retry.CSeq().SeqNo+1 {
		t.Errorf("the refresh is not the same registration: Call-ID %s CSeq %d, after %s CSeq %d",
			refresh.CallID().Value(), refresh.CSeq().SeqNo, first.CallID().Value(), retry.CSeq().SeqNo)
	}
	h.next("trunk_registered (refresh)", kindOf(events.TrunkRegistered))

	h.close()
	un, _ := car.exchange(t)
	if got := un.GetHeader("Expires").Value(); got != "0" {
		t.Errorf("un-REGISTER Expires %s, want 0", got)
	}
	if e := h.next("trunk_unregistered", kindOf(events.TrunkUnregistered)); e.Cause != "server shutting down" {
		t.Errorf("trunk_unregistered = %+v", e)
	}
}

// TestTrunkRegistrationExpiry: the carrier's word on the expiry is what
// counts — the expires of our Contact in its 200, and a 423's Min-Expires.
func TestTrunkRegistrationExpiry(t *testing.T) {
	car := startRegistrar(t)
	car.set(nil, func(req *sip.Request) *sip.Response {
		if req.GetHeader("Expires").Value() == "3600" {
			res := sip.NewResponseFromRequest(req, 423, "Interval Too Brief", nil)
			res.AppendHeader(sip.NewHeader("Min-Expires", "7200"))
			return res
		}
		return grantFor(req, "120")
	})
	h := startTrunkServer(t, car.addr, serverOptions{vars: siteTrunkVars})
	if got := car.next(t).GetHeader("Expires").Value(); got != "3600" {
		t.Fatalf("first REGISTER asks %s, want 3600", got)
	}
	if got := car.next(t).GetHeader("Expires").Value(); got != "7200" {
		t.Fatalf("after 423 with Min-Expires 7200 the REGISTER asks %s", got)
	}
	reg := h.next("trunk_registered", kindOf(events.TrunkRegistered))
	if !strings.Contains(reg.Cause, "registered for 2m0s; refreshing in 1m0s") {
		t.Errorf("trunk_registered cause %q: want the 120 s the carrier granted", reg.Cause)
	}
	h.clock.Advance(time.Minute)
	if got := car.next(t).GetHeader("Expires").Value(); got != "7200" {
		t.Errorf("refresh asks %s, want 7200 (the carrier's minimum, kept)", got)
	}
	h.next("trunk_registered (refresh)", kindOf(events.TrunkRegistered))
}

// TestTrunkRegistrationFailureRetries: refused credentials are answered
// once, never in a loop; the failure is reported and retried after 30 s,
// then 1 min, … on the runtime clock, and the registration recovers.
func TestTrunkRegistrationFailureRetries(t *testing.T) {
	car := startRegistrar(t)
	car.set(carrierAuth("not-the-password"), grant)
	h := startTrunkServer(t, car.addr, serverOptions{vars: siteTrunkVars})

	car.exchange(t)
	failed := h.next("trunk_registration_failed", kindOf(events.TrunkRegistrationFailed))
	if failed.Status != 401 || failed.Account != "trunk.carrier" || failed.Origin.File == "" ||
		failed.Cause != "401 Unauthorized: the carrier refused the credentials; retrying in 30s" {
		t.Errorf("trunk_registration_failed = %+v", failed)
	}
	// The failure is decided after the second 401: a third REGISTER
	// would have been sent before it.
	if n := len(car.got); n != 0 {
		t.Fatalf("%d more REGISTERs after the credentials were refused", n)
	}

	car.set(carrierAuth(trunkPassword), grant) // the carrier fixed its side
	h.clock.Advance(30 * time.Second)
	car.exchange(t)
	h.next("trunk_registered", kindOf(events.TrunkRegistered))

	car.set(nil, refuse(503, "Service Unavailable"))
	h.clock.Advance(30 * time.Minute)
	car.next(t)
	if e := h.next("failure", kindOf(events.TrunkRegistrationFailed)); e.Status != 503 || !strings.HasSuffix(e.Cause, "retrying in 30s") {
		t.Errorf("first failure = %+v", e)
	}
	h.clock.Advance(30 * time.Second)
	car.next(t)
	if e := h.next("failure", kindOf(events.TrunkRegistrationFailed)); !strings.HasSuffix(e.Cause, "retrying in 1m0s") {
		t.Errorf("second failure = %+v, want the wait doubled", e)
	}
}

// TestTrunkCredentialsUnreadable: a server that cannot read the trunk's
// credentials does not register, and says which variables it lacks.
func TestTrunkCredentialsUnreadable(t *testing.T) {
	car := startRegistrar(t)
	h := startTrunkServer(t, car.addr, serverOptions{vars: trunkVars{"var.trunk_user": trunkUser}})
	e := h.next("trunk_registration_failed", kindOf(events.TrunkRegistrationFailed))
	if want := "not registered: no value for var.trunk_password: set it with -var, -var-file or SWITCHBOARD_VAR_<name>"; e.Cause != want {
		t.Errorf("cause %q, want %q", e.Cause, want)
	}
}

// carrierHub is the carrier side of calls out: a simulated carrier (a
// device hub at 127.0.0.2 whose catch-all device answers any number),
// challenging INVITEs with 407 when it has a password, and registering
// the server. Every INVITE it receives is kept.
type carrierHub struct {
	hub     *device.Hub
	net     *device.Device // the public network: answers every number
	mu      sync.Mutex
	invites []*sip.Request
}

func startCarrierHub(t *testing.T, password string, refuseRegister bool) (*carrierHub, netip.AddrPort) {
	t.Helper()
	conn, err := net.ListenPacket("udp", carrierHost+":0")
	if err != nil {
		t.Skipf("SKIPPING: cannot listen on %s: %v", carrierHost, err)
	}
	wire := newWireLog(conn)
	conn = wire
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("what crossed the carrier's socket:\n%s", wire)
		}
	})
	c := &carrierHub{}
	a := carrierAuth(password)
	vet := func(req *sip.Request) *sip.Response {
		if req.Method == sip.INVITE {
			c.mu.Lock()
			c.invites = append(c.invites, req.Clone())
			c.mu.Unlock()
		}
		if req.Method == sip.REGISTER && refuseRegister {
			return sip.NewResponseFromRequest(req, 403, "Forbidden", nil)
		}
		if password == "" {
			return nil
		}
		_, res := a.Check(req, "", req.Method == sip.INVITE)
		return res
	}
	// The server's address is not needed: the carrier only answers here.
	c.hub, err = device.NewHub(device.HubConfig{Domain: carrierRealm, Server: "127.0.0.1:9", IP: netip.MustParseAddr(carrierHost), Conn: conn,
		Authenticate: vet, Registrar: true, CatchAll: "trunk.carrier"})
	if err != nil {
		t.Fatal(err)
	}
	c.net = c.hub.Add("trunk.carrier", "")
	c.net.SetAnswer(device.Pickup, 0)
	t.Cleanup(func() { c.hub.Close() })
	return c, netip.MustParseAddrPort(conn.LocalAddr().String())
}

func (c *carrierHub) received() []*sip.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*sip.Request(nil), c.invites...)
}

// TestCallOut: mary calls a public number; the call goes out over the
// trunk presenting her DDI (From and P-Asserted-Identity), the carrier's
// 407 is answered once with the same INVITE (Call-ID, From tag, CSeq+1),
// the media is anchored (her DTMF reaches the carrier through the relay),
// and the events name the trunk. Tom, without a DDI, presents the trunk's
// main number.
func TestCallOut(t *testing.T) {
	car, addr := startCarrierHub(t, trunkPassword, false)
	h := startTrunkServer(t, addr, serverOptions{vars: siteTrunkVars})
	h.next("trunk_registered", kindOf(events.TrunkRegistered))
	mary := h.device("app.mary")

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	call, err := mary.Dial(ctx, "+15550100")
	if err != nil {
		t.Fatal(err)
	}
	in := car.net.Incoming()
	if len(in) != 1 || in[0].To != "+15550100" || in[0].From != "+35315550101" || in[0].Identity != "+35315550101" || !in[0].Answered {
		t.Fatalf("the carrier got %+v; want one answered call to +15550100 from mary's DDI +35315550101", in)
	}
	invites := car.received()
	if len(invites) != 2 {
		t.Fatalf("the carrier received %d INVITEs, want 2 (challenged, then with credentials)", len(invites))
	}
	first, retry := invites[0], invites[1]
	if first.GetHeader("Proxy-Authorization") != nil || retry.GetHeader("Proxy-Authorization") == nil {
		t.Errorf("want the first INVITE without credentials and the second with")
	}
	if first.CallID().Value() != retry.CallID().Value() || tag(first.From()) != tag(retry.From()) || retry.CSeq().SeqNo != first.CSeq().SeqNo+1 {
		t.Errorf("the INVITE with credentials is not the same request with CSeq+1")
	}
	if got, want := first.Recipient.String(), fmt.Sprintf("sip:+15550100@%s", addr); got != want {
		t.Errorf("Request-URI %s, want %s", got, want)
	}
	if got := first.Source(); got != h.addr {
		t.Errorf("the INVITE came from %s, want the listening socket %s", got, h.addr)
	}
	started := h.next("call_started", kindOf(events.CallStarted))
	if started.From != "app.mary" || started.To != "+15550100" || started.Target != "trunk.carrier" || started.Origin != h.p.Trunks[0].Origin {
		t.Errorf("call_started = %+v", started)
	}
	if e := h.next("leg_answered", kindOf(events.LegAnswered)); e.Leg != "trunk.carrier" {
		t.Errorf("leg_answered = %+v", e)
	}
	if err := call.SendDTMF("5"); err != nil {
		t.Fatal(err)
	}
	if err := car.net.Answered(in[0].CallID).WaitDigits(ctx, "5"); err != nil {
		t.Errorf("carrier: %v", err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	h.next("call_ended", kindOf(events.CallEnded))

	tom := h.device("app.tom")
	call, err = tom.Dial(ctx, "0871234567")
	if err != nil {
		t.Fatal(err)
	}
	defer call.Hangup(ctx)
	in = car.net.Incoming()
	if last := in[len(in)-1]; last.To != "0871234567" || last.From != "+35315550100" {
		t.Errorf("tom's call out: %+v; want From the trunk's main number +35315550100", last)
	}
}

// TestEmergencyCallWhileRegistrationFails: the carrier refuses the
// registration, and an emergency call still goes out.
func TestEmergencyCallWhileRegistrationFails(t *testing.T) {
	car, addr := startCarrierHub(t, trunkPassword, true)
	h := startTrunkServer(t, addr, serverOptions{vars: siteTrunkVars})
	if e := h.next("trunk_registration_failed", kindOf(events.TrunkRegistrationFailed)); e.Status != 403 {
		t.Errorf("trunk_registration_failed = %+v", e)
	}
	mary := h.device("app.mary")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	call, err := mary.Dial(ctx, "112")
	if err != nil {
		t.Fatalf("emergency call: %v", err)
	}
	defer call.Hangup(ctx)
	if in := car.net.Incoming(); len(in) != 1 || in[0].To != "112" {
		t.Errorf("the carrier got %+v, want the call to 112", in)
	}
}

// TestCallOutRefusedCredentials: a carrier that refuses the credentials
// gets them once — two INVITEs, never a loop — and the caller a failure.
func TestCallOutRefusedCredentials(t *testing.T) {
	car, addr := startCarrierHub(t, "not-the-password", false)
	h := startTrunkServer(t, addr, serverOptions{vars: siteTrunkVars})
	mary := h.device("app.mary")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err := mary.Dial(ctx, "+15550100")
	var se *device.StatusError
	if !errors.As(err, &se) || se.Status != 403 {
		t.Fatalf("call out with refused credentials: %v, want 403 (the carrier's challenge is not the caller's to answer)", err)
	}
	if e := h.next("leg_failed", kindOf(events.LegFailed)); e.Leg != "trunk.carrier" || e.Status != 407 {
		t.Errorf("leg_failed = %+v", e)
	}
	if n := len(car.received()); n != 2 {
		t.Errorf("the carrier received %d INVITEs, want 2", n)
	}
}

// TestCallOutCarrierStatus: the caller hears what the carrier said — a
// busy line is 486, not "no answer".
func TestCallOutCarrierStatus(t *testing.T) {
	car, addr := startCarrierHub(t, trunkPassword, false)
	car.net.SetAnswer(device.Busy, 0)
	h := startTrunkServer(t, addr, serverOptions{vars: siteTrunkVars})
	mary := h.device("app.mary")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err := mary.Dial(ctx, "+15550100")
	var se *device.StatusError
	if !errors.As(err, &se) || se.Status != 486 {
		t.Fatalf("call out to a busy line: %v, want 486", err)
	}
}

// TestCallOutCancelled: the caller gives up while the carrier rings; the
// CANCEL matches the INVITE that carried the credentials (its branch and
// CSeq), so the carrier stops ringing.
func TestCallOutCancelled(t *testing.T) {
	car, addr := startCarrierHub(t, trunkPassword, false)
	car.net.SetAnswer(device.Ring, 0)
	h := startTrunkServer(t, addr, serverOptions{vars: siteTrunkVars})
	mary := h.device("app.mary")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := mary.Dial(ctx, "+15550100"); errc <- err }()
	wctx, wcancel := context.WithTimeout(context.Background(), waitFor)
	defer wcancel()
	if in, err := car.net.WaitIncoming(wctx, func(in []device.Incoming) bool { return len(in) == 1 }); err != nil {
		t.Fatalf("the carrier's call: %v; it has %+v", err, in)
	}
	h.next("leg_ringing", kindOf(events.LegRinging))
	cancel()
	<-errc
	in, err := car.net.WaitIncoming(wctx, func(in []device.Incoming) bool { return len(in) == 1 && in[0].Status == 487 })
	if err != nil {
		t.Fatalf("the carrier's leg did not end with 487: %+v", in)
	}
	if !strings.Contains(in[0].Reason, "Caller cancelled") {
		t.Errorf("CANCEL Reason %q", in[0].Reason)
	}
}

// TestCallOutIPAuthenticated: a trunk without credentials never
// registers, and calls go out without a challenge.
func TestCallOutIPAuthenticated(t *testing.T) {
	car, addr := startCarrierHub(t, "", false)
	h := startTrunkServer(t, addr, serverOptions{noCred: true})
	mary := h.device("app.mary")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	call, err := mary.Dial(ctx, "+15550100")
	if err != nil {
		t.Fatal(err)
	}
	defer call.Hangup(ctx)
	if n := len(car.received()); n != 1 {
		t.Errorf("the carrier received %d INVITEs, want 1", n)
	}
	if regs := car.hub.Registrations(); len(regs) != 0 {
		t.Errorf("an IP-authenticated trunk registered: %+v", regs)
	}
}

// TestTrunkReload: a reload that moves the trunk withdraws the old
// registration and registers at the new address; one that removes the
// trunk withdraws it.
func TestTrunkReload(t *testing.T) {
	carA, carB := startRegistrar(t), startRegistrar(t)
	h := startTrunkServer(t, carA.addr, serverOptions{vars: siteTrunkVars})
	carA.exchange(t)
	h.next("trunk_registered", kindOf(events.TrunkRegistered))

	moved := *h.p
	moved.Trunks = slices.Clone(h.p.Trunks)
	moved.Trunks[0].Port = int(carB.addr.Port())
	if err := h.site.Swap(site.Config{Program: &moved, Secrets: h.secrets}); err != nil {
		t.Fatal(err)
	}
	if un, _ := carA.exchange(t); un.GetHeader("Expires").Value() != "0" {
		t.Errorf("the old carrier got Expires %s, want 0", un.GetHeader("Expires").Value())
	}
	if e := h.next("trunk_unregistered", kindOf(events.TrunkUnregistered)); e.Cause != "trunk changed in the configuration" {
		t.Errorf("trunk_unregistered = %+v", e)
	}
	if reg, _ := carB.exchange(t); reg.GetHeader("Expires").Value() != "3600" {
		t.Errorf("the new carrier got Expires %s, want 3600", reg.GetHeader("Expires").Value())
	}
	h.next("trunk_registered at the new address", kindOf(events.TrunkRegistered))

	removed := moved
	removed.Trunks = nil
	if err := h.site.Swap(site.Config{Program: &removed, Secrets: h.secrets}); err != nil {
		t.Fatal(err)
	}
	carB.exchange(t)
	if e := h.next("trunk_unregistered", kindOf(events.TrunkUnregistered)); e.Cause != "trunk removed from the configuration" {
		t.Errorf("trunk_unregistered = %+v", e)
	}
}

// TestCarrierCallsRegisteredContact: a carrier the server registers with
// sends its calls to the registered Contact (sip:<trunk user>@server) and
// names the DDI in To; the call rings the DDI's user.
func TestCarrierCallsRegisteredContact(t *testing.T) {
	car := startRegistrar(t)
	h := startTrunkServer(t, car.addr, serverOptions{vars: siteTrunkVars})
	first, _ := car.exchange(t)
	h.next("trunk_registered", kindOf(events.TrunkRegistered))
	mary := h.device("app.mary")
	mary.SetAnswer(device.Decline, 0)

	req := sip.NewRequest(sip.INVITE, first.Contact().Address)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "+35315550101", Host: carrierRealm}})
	from := &sip.FromHeader{DisplayName: "Ann Other", Address: sip.Uri{Scheme: "sip", User: "+353861234567", Host: carrierRealm}, Params: sip.NewParams()}
	from.Params.Add("tag", "carrier1")
	req.AppendHeader(from)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"))
	req.SetDestination(h.addr)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	res, err := car.client.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 603 {
		t.Errorf("the carrier's call ended with %d, want mary's 603", res.StatusCode)
	}
	// The callee sees the carrier's caller: its number and the name it
	// gave (issue 16), not the trunk.
	if in := mary.Incoming(); len(in) != 1 || in[0].From != "+353861234567" || in[0].FromName != "Ann Other" {
		t.Errorf("mary's calls: %+v, want the carrier's caller, \"Ann Other\" +353861234567", in)
	}
	if e := h.next("call_started", kindOf(events.CallStarted)); e.From != "trunk.carrier" || e.Target != "user.mary" {
		t.Errorf("call_started = %+v", e)
	}
}

// TestTrunkOverTCP: over TCP, with no TCP listener of its own, the server
// registers through the connection it opens and names that connection in
// its Contact — the only way the carrier can reach it — and withdraws the
// registration over it when it closes.
func TestTrunkOverTCP(t *testing.T) {
	car := startRegistrarOn(t, "tcp")
	h := startTrunkServer(t, car.addr, serverOptions{vars: siteTrunkVars, transport: "tcp"})
	first, retry := car.exchange(t)
	if got, want := first.Recipient.String(), fmt.Sprintf("sip:%s;transport=tcp", car.addr); got != want {
		t.Errorf("Request-URI %s, want %s", got, want)
	}
	for _, r := range []*sip.Request{first, retry} {
		if got, want := r.Contact().Address.String(), "sip:"+trunkUser+"@"+r.Source()+";transport=tcp"; got != want {
			t.Errorf("Contact %s, want the connection's address %s", got, want)
		}
	}
	h.next("trunk_registered", kindOf(events.TrunkRegistered))
	h.close()
	if un, _ := car.exchange(t); un.GetHeader("Expires").Value() != "0" || un.Source() != first.Source() {
		t.Errorf("un-REGISTER Expires %s from %s; want 0 over the same connection %s", un.GetHeader("Expires").Value(), un.Source(), first.Source())
	}
	h.next("trunk_unregistered", kindOf(events.TrunkUnregistered))
}

// carrierUA is a test carrier's user agent, named agent, and its server,
// logging nothing; the caller closes the agent.
func carrierUA(t *testing.T, agent string) (*sipgo.UserAgent, *sipgo.Server) {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(agent))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	return ua, srv
}
