package b2bua

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
	"switchboard/runtime/carrier"
	"switchboard/runtime/clock"
	"switchboard/runtime/events"
	"switchboard/runtime/media"
	"switchboard/runtime/notify"
	"switchboard/runtime/presence"
	"switchboard/runtime/routing"
	"switchboard/runtime/sipdns"
	"switchboard/runtime/sipstack"
	"switchboard/runtime/udp"
)

// Secrets gives the server what the IR leaves out.
type Secrets interface {
	// SIPPassword is the digest password of an IR account.
	SIPPassword(account string) (password string, ok bool)
}

// Config is what a Server runs.
type Config struct {
	// Current returns the running configuration. A request reads it once
	// and keeps what it read (calls keep theirs to the end), so the owner
	// of the pointer behind it (package runtime/site) swaps the whole
	// configuration at once; it calls Reloaded after a swap.
	Current func() *Prepared
	Events  *events.Bus  // nil: events are dropped
	Clock   clock.Clock  // nil: the wall clock
	Logger  *slog.Logger // nil: slog.Default()
	// Media anchors calls' media; nil passes SDP through unchanged (and
	// then no DTMF is observed).
	Media MediaFactory
	// LocalMedia opens the server's own media endpoint for the calls it
	// answers itself; nil: it answers none (Services are not offered).
	LocalMedia func() *media.Endpoint
	// Services are the calls the server answers itself.
	Services Services
	// UDPMTU is the size in bytes above which an INVITE to a contact
	// reached directly over UDP goes over TCP first (RFC 3261 §18.1.1,
	// package sipstack's Oversize); 0: sipstack.DefaultUDPMTU; negative:
	// never.
	UDPMTU int
	// Presence bounds the dialog-event subscriptions (package
	// runtime/presence); zero fields: presence.DefaultLimits'.
	Presence presence.Limits
	// CallSetups bounds the calls being set up at once, and QueueDelay
	// how long the server's work may wait for the CPU (package sipstack,
	// Admission): past either a new call is refused with 503 and
	// Retry-After. 0: no bound (a simulation, which must never refuse).
	CallSetups int
	QueueDelay time.Duration
	// Trace, when set, keeps each call's SIP messages as they crossed the
	// sockets (package sipstack), for its ladder diagram.
	Trace *sipstack.Trace
	// Nodes, in a cluster, recognise the calls and NOTIFYs other nodes
	// send devices through this one (nodehop.go); nil: a single node.
	Nodes NodeHops
	// Locator finds carriers' servers by DNS for calls out and
	// registrations (package sipdns); nil: the system's DNS.
	Locator sipdns.Locator
}

// userAgent is the Server and User-Agent header value.
const userAgent = "switchboard"

// Server is a running site.
type Server struct {
	cfg    Config
	log    *slog.Logger
	clk    clock.Clock
	events *events.Bus

	ua  *sipgo.UserAgent
	srv *sipgo.Server
	// clientPtr sends the B2BUA's requests (client()). It is made when the
	// first listener starts and made again, once, when a UDP listener
	// starts after a TCP or TLS one: UDP requests must leave from the UDP
	// listening socket.
	clientPtr atomic.Pointer[sipgo.Client]
	clientUDP bool // clientPtr's client sends from the UDP listener; hostMu

	calls sync.Map // Call-ID → *callSide
	// ringTests are the answered ring tests' dialogs, Call-ID → a channel
	// closed when the callee hangs up (ringtest.go).
	ringTests sync.Map
	notifier  *notify.Notifier
	presence  *presence.Server  // dialog-event subscriptions, fed by publish
	hosts     map[string]string // transport → our SIP host:port, for Contact headers
	hostMu    sync.Mutex
	toward    sync.Map     // peer IP → our address toward it (contactHeader)
	towardN   atomic.Int64 // entries in toward, roughly
	closing   atomic.Bool
	work      inflight // what Close waits for
	// hopNotifies holds a slot for each NOTIFY relayed through this
	// node at once (nodehop.go); nil outside a cluster.
	hopNotifies chan struct{}
	hopRefusals hopRefusals // what refuseHop has not logged yet

	// listeners are where sipgo reads, per transport (UDP, TCP, TLS),
	// once it does: requests to carriers leave from there. sockets are
	// what Close closes before sipgo's transport layer, serving counts
	// the Serve* calls still reading from them.
	listenMu  sync.Mutex
	listeners map[string]netip.AddrPort
	sockets   []io.Closer
	serving   sync.WaitGroup
	// trunks are the server's registrations at its carriers.
	trunks *carrier.Set
	// locator finds carriers' servers (Config.Locator).
	locator sipdns.Locator

	// register answers REGISTER over UDP beside sipgo (package sipstack).
	register *sipstack.Register
	// oversize sends the INVITEs of call legs (RFC 3261 §18.1.1).
	oversize *sipstack.Oversize
	// rcvBuf is the UDP listener's receive buffer, as granted, for
	// Status.
	rcvBuf atomic.Int64
	// stateless challenges new INVITEs and SUBSCRIBEs over UDP without
	// credentials, or with wrong ones, beside sipgo (package sipstack).
	stateless *sipstack.Stateless
	// admission refuses new calls when too many are being set up.
	admission *sipstack.Admission
}

// State is one configuration of a running site. Auth and Registrar answer
// with this configuration's passwords and accounts (package runtime/site
// makes them).
type State struct {
	Program *ir.Program
	// Secrets are this configuration's passwords and, when it is also a
	// TrunkSecrets, the trunks' credentials at their carriers.
	Secrets   Secrets
	Auth      Authenticator
	Registrar Registrar
	// Locator finds the carriers' servers, whose addresses are how calls
	// from carriers are recognised; nil: the system's DNS.
	Locator sipdns.Locator
}

// Prepared is a State made ready to run, with what the server derives
// from it; Prepare makes one. It is never changed.
type Prepared struct{ st *siteState }

// siteState is everything derived from one configuration.
type siteState struct {
	program *ir.Program
	secrets Secrets
	router  *routing.Router
	auth    Authenticator
	reg     Registrar
	trunks  map[netip.Addr][]string // carrier source address → its trunks, in program order
	// boxAccounts are the indexes in program.Accounts of the accounts
	// whose devices show a mailbox's message-waiting light, by mailbox,
	// then in program order (accountsOfBox): a message must not cost a
	// walk over every account of a large site. Indexes, not a map of
	// names to pointers: one pointer-free array is all the collector sees
	// of it (a map was 3 MB in 60 000 objects for 30 000 users).
	boxAccounts []int32
}

// accountsOfBox returns the accounts whose devices show mailbox's
// message-waiting light, in program order.
func (st *siteState) accountsOfBox(mailbox string) []*ir.Account {
	p := st.program
	box := func(i int32) string { return notify.MailboxOfAccount(p, &p.Accounts[i]) }
	lo, _ := slices.BinarySearchFunc(st.boxAccounts, mailbox, func(i int32, m string) int { return strings.Compare(box(i), m) })
	var accts []*ir.Account
	for _, i := range st.boxAccounts[lo:] {
		if box(i) != mailbox {
			break
		}
		accts = append(accts, &p.Accounts[i])
	}
	return accts
}

// Authenticator checks digest credentials. It returns the authenticated
// account, or the response to send (a challenge or a refusal).
type Authenticator interface {
	Check(req *sip.Request, source string, proxy bool) (account string, res *sip.Response)
	// Screen is Check without spending anything a retransmission needs
	// (the nonce count): the response to send, or nil when only Check can
	// tell. Its answers are sent statelessly.
	Screen(req *sip.Request, source string, proxy bool) *sip.Response
}

// RegisterChallenger is an Authenticator that also gives, without a
// parsed request, what Check answers a REGISTER without credentials: the
// WWW-Authenticate values of its 401 for the user name its To registers
// and its source, nil for a throttled source
// (auth.Authenticator.RegisterChallengeWith). With it, such REGISTERs over
// UDP are answered from a scan of their header lines (package sipstack,
// Register.Challenge).
type RegisterChallenger interface {
	RegisterChallenge(user, source string) []string
}

// Registrar keeps registrations and answers REGISTER.
type Registrar interface {
	OnRegister(req *sip.Request, tx sip.ServerTransaction)
	Contacts(account string) []Contact
}

// Contact is where to reach one registered endpoint.
type Contact struct {
	URI sip.Uri
	// Dest is the host:port to send to: the address the registration came
	// from, which is the only one that works behind NAT.
	Dest      string
	Transport string
	// Path is the route to the device through edge proxies (RFC 3327),
	// sent as Route headers.
	Path []string
}

// New builds a server for cfg; Serve* starts it.
func New(cfg Config) (*Server, error) {
	if cfg.Current == nil || cfg.Current() == nil {
		return nil, errors.New("b2bua: no configuration")
	}
	s := &Server{cfg: cfg, log: cfg.Logger, clk: cfg.Clock, events: cfg.Events}
	switch {
	case cfg.UDPMTU == 0:
		s.oversize = &sipstack.Oversize{Limit: sipstack.DefaultUDPMTU}
	case cfg.UDPMTU > 0:
		s.oversize = &sipstack.Oversize{Limit: cfg.UDPMTU}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.clk == nil {
		s.clk = clock.Real
	}
	s.locator = cfg.Locator
	if s.locator == nil {
		s.locator = sipdns.New(sipdns.Config{Clock: s.clk})
	}
	// StrictReads: the connections sipgo dials (a leg's TCP, a trunk's)
	// are refused a bare CR or LF as the accepted ones are.
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(userAgent), sipgo.WithUserAgentHostname(cfg.Current().st.program.Site.Domain), sipstack.StrictReads())
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	s.ua = ua
	if s.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(s.log)); err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	s.notifier = notify.New(notify.Config{Stack: notifyStack{s}, Clock: s.clk, Logger: s.log, Summary: cfg.Services.MessageSummary, Go: s.goTracked})
	s.presence = presence.New(presence.Config{Stack: notifyStack{s}, Clock: s.clk, Logger: s.log, Go: s.goTracked, Limits: cfg.Presence, Publish: s.publish})
	s.trunks = carrier.NewSet(carrier.Config{Stack: carrierStack{s}, Clock: s.clk, Logger: s.log, Publish: s.publish, Go: s.goTracked, Locator: s.locator})
	onRegister := requireKnown(func(req *sip.Request, tx sip.ServerTransaction) { s.st().reg.OnRegister(req, tx) })
	s.register = sipstack.NewRegister(onRegister)
	s.register.Challenge(s.challengeRegister)
	s.register.Scanned(s.registerScanned)
	s.stateless = sipstack.NewStateless(s.screen)
	s.admission = sipstack.NewAdmission(cfg.CallSetups, cfg.QueueDelay, sipstack.DefaultRetryAfter)
	s.stateless.Refuse(s.admission) // what screen refuses first, from a scan
	s.srv.OnRegister(onRegister)
	s.srv.OnInvite(requireKnown(s.onInvite))
	s.srv.OnAck(s.onAck)
	s.srv.OnBye(requireKnown(s.onBye))
	s.srv.OnOptions(requireKnown(s.onOptions))
	s.srv.OnSubscribe(requireKnown(s.onSubscribe))
	if cfg.Nodes != nil {
		s.hopNotifies = make(chan struct{}, hopNotifyRelays)
		s.srv.OnNotify(requireKnown(s.onNotifyHop))
	}
	s.srv.OnCancel(func(req *sip.Request, tx sip.ServerTransaction) {
		// A CANCEL that matched no INVITE transaction.
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
	})
	s.srv.OnNoRoute(func(req *sip.Request, tx sip.ServerTransaction) {
		res := sip.NewResponseFromRequest(req, 405, "Method Not Allowed", nil)
		res.AppendHeader(sip.NewHeader("Allow", allowed))
		_ = tx.Respond(res)
	})
	return s, nil
}

// Prepare derives what the server needs of c: its routing tables, its
// carriers' addresses (host names are looked up now, before c runs: the
// servers their SRV records name, else their own addresses, as calls out
// find them) and the devices that show each mailbox's light.
func Prepare(c State) *Prepared {
	p := c.Program
	st := &siteState{program: p, secrets: c.Secrets, router: routing.New(p), auth: c.Auth, reg: c.Registrar, trunks: map[netip.Addr][]string{}}
	type boxAccount struct {
		box string
		i   int32
	}
	var boxes []boxAccount
	for i := range p.Accounts {
		a := &p.Accounts[i]
		if a.Kind == ir.AccountTrunk {
			continue
		}
		if box := notify.MailboxOfAccount(p, a); box != "" {
			boxes = append(boxes, boxAccount{box, int32(i)})
		}
	}
	slices.SortStableFunc(boxes, func(a, b boxAccount) int { return strings.Compare(a.box, b.box) })
	st.boxAccounts = make([]int32, len(boxes))
	for j, b := range boxes {
		st.boxAccounts[j] = b.i
	}
	loc := c.Locator
	if loc == nil && len(p.Trunks) > 0 {
		loc = sipdns.New(sipdns.Config{})
	}
	// Carriers are recognised by source address: the addresses of the
	// servers calls out go to. A carrier DNS cannot find now is not
	// recognised until the next configuration (its calls are challenged
	// as anyone's).
	for i, servers := range locateAll(loc, p.Trunks) {
		t := &p.Trunks[i]
		for _, ap := range servers {
			a := ap.Addr().Unmap()
			if !slices.Contains(st.trunks[a], t.Name) {
				st.trunks[a] = append(st.trunks[a], t.Name)
			}
		}
	}
	return &Prepared{st}
}

// maxLocating bounds the trunks Prepare looks up at once.
const maxLocating = 16

// locateAll locates every trunk's servers, the i-th trunk's at i (none
// for one DNS does not find). The lookups run at once (at most
// maxLocating at a time) under one deadline: a reload with the name
// servers down waits locateTimeout, not locateTimeout per trunk, and a
// trunk still waiting for a turn at the deadline is not recognised, as
// one whose lookup timed out.
func locateAll(loc sipdns.Locator, trunks []ir.Trunk) [][]netip.AddrPort {
	out := make([][]netip.AddrPort, len(trunks))
	if len(trunks) == 0 {
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), locateTimeout)
	defer cancel()
	turns := make(chan struct{}, maxLocating)
	var wg sync.WaitGroup
	for i := range trunks {
		select {
		case turns <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-turns }()
			out[i], _ = loc.Locate(ctx, carrier.Target(&trunks[i]))
		})
	}
	wg.Wait()
	return out
}

func (s *Server) st() *siteState { return s.cfg.Current().st }

// Reloaded tells the server that Current returns a new configuration:
// the event is published and the registrations at carriers follow it.
// Calls in progress continue with the configuration they started with.
func (s *Server) Reloaded() {
	s.publish(events.Event{Kind: events.Reloaded, Origin: s.st().program.Site.Origin})
	s.presence.Reloaded(s.st().program)
	s.syncTrunks()
}

// ServeUDP serves SIP on conn until ctx ends or Close.
func (s *Server) ServeUDP(ctx context.Context, conn net.PacketConn) error {
	s.setHost("UDP", conn.LocalAddr().String())
	if err := s.ensureClient(conn.LocalAddr().String()); err != nil {
		return err
	}
	go func() { <-ctx.Done(); conn.Close() }()
	pc := conn
	var received func() time.Time // when the datagram read last arrived
	if u, ok := conn.(*net.UDPConn); ok {
		n := sipstack.SizeReceiveBuffer(u)
		s.rcvBuf.Store(int64(n))
		if n > 0 && n < sipstack.ReceiveBuffer {
			s.log.Warn("the SIP UDP receive buffer is smaller than asked: bursts may be dropped (raise net.core.rmem_max)",
				"bytes", n, "asked", sipstack.ReceiveBuffer)
		}
		uc := udp.New(u) // raw-syscall reads and writes (package udp)
		if uc.Stamp() {  // for how long datagrams wait (sipstack.Admission)
			received = uc.Received
		}
		pc = uc
	}
	// Traced beneath the early answers, so that a call's challenge is in
	// its record.
	pc = sipstack.TracePacketConn(pc, s.cfg.Trace)
	rc := sipstack.NewReadyConn(pc, &s.closing, s.serveEarly)
	rc.MeasureWait(received, s.admission.Waited)
	if !s.serve(rc) {
		return nil
	}
	defer s.serving.Done()
	// The listener is known before sipgo handles the first datagram:
	// requests to carriers must leave from it (trunkSocket), and the
	// first call out may come in that datagram. Recorded by a goroutine
	// waiting on Ready, it was missing for the first few requests when
	// that goroutine ran late, and a call out failed with 480.
	rc.OnReady(func() { s.addListener("UDP", conn.LocalAddr()) })
	go func() {
		select {
		case <-rc.Ready():
			s.syncTrunks()
		case <-ctx.Done():
		}
	}()
	err := s.srv.ServeUDP(rc)
	s.notListening("UDP")
	if s.closing.Load() || ctx.Err() != nil {
		return nil
	}
	return err
}

// serveEarly answers what is answered beside sipgo's transactions over UDP:
// REGISTER, and challenges to INVITEs and SUBSCRIBEs.
func (s *Server) serveEarly(conn net.PacketConn, data []byte, src net.Addr) bool {
	return s.register.Serve(conn, data, src) || s.stateless.Serve(conn, data, src)
}

// challengeRegister is the challenge to a REGISTER over UDP without
// credentials or Require (sipstack.Register.Challenge): what the
// registrar, behind requireKnown, answers it — the running
// configuration's authenticator decides.
func (s *Server) challengeRegister(user, source string) []string {
	if s.closing.Load() {
		return nil
	}
	c, ok := s.st().auth.(RegisterChallenger)
	if !ok {
		return nil
	}
	return c.RegisterChallenge(user, source)
}

// ScannedRegistrar is a Registrar that also answers a REGISTER with
// credentials over UDP from a scan of its header lines, without parsing
// it (sipstack.ScannedRegister): it answers 200, or declines it having
// done nothing, and the parsed way answers it.
type ScannedRegistrar interface {
	ServeScanned(s *sipstack.ScannedRegister) bool
}

// registerScanned hands a scanned REGISTER with credentials to the
// registrar (package sipstack, Register.Scanned).
func (s *Server) registerScanned(r *sipstack.ScannedRegister) bool {
	if s.closing.Load() {
		return false
	}
	reg, ok := s.st().reg.(ScannedRegistrar)
	return ok && reg.ServeScanned(r)
}

// screen is the stateless answer to a new INVITE or SUBSCRIBE over UDP
// (package sipstack, Stateless): the challenge, or the throttle's refusal,
// that onInvite or onSubscribe would send, when authentication is all that
// decides it; nil leaves the request to sipgo and the handler. What a
// handler answers before authenticating is left to it.
func (s *Server) screen(req *sip.Request) *sip.Response {
	if s.closing.Load() || len(unsupported(req)) > 0 {
		return nil
	}
	if req.Method == sip.SUBSCRIBE {
		ev := req.GetHeader("Event")
		if ev == nil {
			return nil
		}
		switch notify.EventPackage(ev.Value()) {
		case notify.Event:
			return s.st().auth.Screen(req, req.Source(), false)
		case presence.Event:
			return s.st().auth.Screen(req, req.Source(), true)
		}
		return nil
	}
	if _, ok := dialled(req); !ok {
		return nil
	}
	// A new call is refused when too many are being set up, before the
	// challenge (which would only bring back an INVITE to refuse) and
	// before anything is kept for it; the INVITE that answers a challenge
	// takes its place in the budget here (onInvite would otherwise), so
	// that it is refused statelessly too.
	callID := callIDOf(req)
	if !s.admission.Admits(callID) {
		return s.admission.Refusal(req)
	}
	st := s.st()
	if _, ok := st.trunks[sourceAddr(req)]; !ok && !s.namesNode(req) {
		if res := st.auth.Screen(req, req.Source(), true); res != nil {
			return res
		}
	}
	if !s.admission.Admit(callID) {
		return s.admission.Refusal(req)
	}
	return nil
}

// ServeTCP serves SIP over TCP on l until ctx ends or Close.
func (s *Server) ServeTCP(ctx context.Context, l net.Listener) error {
	return s.serveStream(ctx, "TCP", l, s.srv.ServeTCP)
}

// ServeTLS serves SIP over TLS on l (a tls.Listener) until ctx ends or
// Close.
func (s *Server) ServeTLS(ctx context.Context, l net.Listener) error {
	return s.serveStream(ctx, "TLS", l, s.srv.ServeTLS)
}

// serveStream serves a stream transport's listener with sipgo's serve.
func (s *Server) serveStream(ctx context.Context, transport string, l net.Listener, serve func(net.Listener) error) error {
	s.setHost(transport, l.Addr().String())
	if err := s.ensureClient(""); err != nil {
		return err
	}
	raw := l // the goroutine closes what it was given; l is rebound below
	go func() { <-ctx.Done(); raw.Close() }()
	l = sipstack.TraceListener(sipstack.StrictListener(l), s.cfg.Trace)
	if !s.serve(l) {
		return nil
	}
	defer s.serving.Done()
	s.listening(transport, l.Addr())
	err := serve(l)
	s.notListening(transport)
	if s.closing.Load() || ctx.Err() != nil {
		return nil
	}
	return err
}

// serve records a socket Close must close, and reports false when the
// server is already closing.
func (s *Server) serve(c io.Closer) bool {
	s.listenMu.Lock()
	defer s.listenMu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.sockets = append(s.sockets, c)
	s.serving.Add(1)
	return true
}

// closeSockets stops sipgo reading: the sockets are closed and, for a
// moment at most, the readers waited for.
func (s *Server) closeSockets() {
	s.listenMu.Lock()
	socks := s.sockets
	s.sockets = nil
	s.listenMu.Unlock()
	for _, c := range socks {
		c.Close()
	}
	done := make(chan struct{})
	go func() { s.serving.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
}

// listening records a listener sipgo serves, and starts the
// registrations at carriers that can now be sent.
func (s *Server) listening(transport string, addr net.Addr) {
	s.addListener(transport, addr)
	s.syncTrunks()
}

// addListener records a listener sipgo serves.
func (s *Server) addListener(transport string, addr net.Addr) {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return
	}
	s.listenMu.Lock()
	defer s.listenMu.Unlock()
	if s.listeners == nil {
		s.listeners = map[string]netip.AddrPort{}
	}
	if _, ok := s.listeners[transport]; !ok {
		s.listeners[transport] = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
}

// notListening forgets a listener sipgo no longer reads from.
func (s *Server) notListening(transport string) {
	s.listenMu.Lock()
	delete(s.listeners, transport)
	s.listenMu.Unlock()
}

// listenerAddr is the address of the listener of transport, once served.
func (s *Server) listenerAddr(transport string) (netip.AddrPort, bool) {
	s.listenMu.Lock()
	defer s.listenMu.Unlock()
	a, ok := s.listeners[transport]
	return a, ok
}

func (s *Server) setHost(transport, addr string) {
	s.hostMu.Lock()
	defer s.hostMu.Unlock()
	if s.hosts == nil {
		s.hosts = map[string]string{}
	}
	if s.hosts[transport] == "" {
		s.hosts[transport] = addr
	}
}

// hostPort is the address we listen on for transport; for a transport we
// do not listen on, the UDP listener's, else any.
func (s *Server) hostPort(transport string) (host string, port int, listened string) {
	s.hostMu.Lock()
	defer s.hostMu.Unlock()
	addr, listened := s.hosts[transport], transport
	for _, t := range []string{"UDP", "TCP", "TLS"} {
		if addr != "" {
			break
		}
		addr, listened = s.hosts[t], t
	}
	h, p, err := sip.ParseAddr(addr)
	if err != nil {
		return "127.0.0.1", 5060, "UDP"
	}
	return h, p, listened
}

// ensureClient creates the client side of the B2BUA once. Requests to
// endpoints leave from the listening socket (connAddr), so that a device
// behind NAT receives them through the binding its REGISTER opened.
func (s *Server) ensureClient(connAddr string) error {
	s.hostMu.Lock()
	defer s.hostMu.Unlock()
	if s.clientPtr.Load() != nil && (s.clientUDP || connAddr == "") {
		return nil
	}
	var opts []sipgo.ClientOption
	if connAddr != "" {
		opts = append(opts, sipgo.WithClientConnectionAddr(connAddr))
		if host, _, err := net.SplitHostPort(connAddr); err == nil {
			if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
				// Serving on every interface: our Via sent-by names the
				// address of the default route rather than 0.0.0.0 (peers
				// still answer to where the request came from, RFC 3261
				// §18.2.2, but a sent-by of 0.0.0.0 says nothing).
				if def := localIPToward(defaultRouteProbe); def.IsValid() && !def.IsUnspecified() {
					opts = append(opts, sipgo.WithClientHostname(def.String()))
				}
			}
		}
	}
	c, err := sipgo.NewClient(s.ua, opts...)
	if err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	s.clientPtr.Store(c)
	s.clientUDP = connAddr != ""
	return nil
}

// client is the B2BUA's client side; nil before any listener started.
func (s *Server) client() *sipgo.Client { return s.clientPtr.Load() }

// Close stops the server: open calls are hung up, sockets closed.
func (s *Server) Close() error {
	if !s.closing.CompareAndSwap(false, true) {
		return nil
	}
	n := 0
	s.calls.Range(func(_, v any) bool {
		v.(*callSide).call.hangup("server shutting down")
		n++
		return true
	})
	// Carriers are told we are gone (un-REGISTER), in the same few
	// seconds as the hang-ups.
	s.trunks.Stop("server shutting down")
	// Hang-ups get a few seconds to be answered; a device that has gone
	// away must not hold the shutdown for a whole transaction timeout.
	if !s.work.wait(3 * time.Second) {
		s.log.Warn("shutdown: some hang-ups were not answered", "calls", n)
	}
	// sipgo stops reading before its transport layer closes: a request
	// read after that would find the pool empty and get a socket of its own.
	s.closeSockets()
	s.presence.Close()
	s.register.Close()
	s.admission.Close()
	return s.ua.Close()
}

func (s *Server) publish(e events.Event) {
	// The trace follows the calls by their events, as presence does.
	switch e.Kind {
	case events.CallStarted:
		s.cfg.Trace.Begin(e.Call, e.From)
	case events.CallRejected:
		s.cfg.Trace.Begin(e.Call, e.From)
		s.cfg.Trace.End(e.Call)
	case events.CallEnded:
		s.cfg.Trace.End(e.Call)
	}
	// Presence follows the calls from their events, synchronously: it
	// must see every one, in order, which the bus does not promise.
	s.presence.Observe(s.st().program, e)
	if s.events != nil {
		if e.Time.IsZero() {
			e.Time = s.clk.Now()
		}
		s.events.Publish(e)
	}
}

// allowEvents are the event packages the server notifies (RFC 6665
// §8.2.2): voicemail's message summary and the dialog package of presence.
const allowEvents = notify.Event + ", " + presence.Event

// allowed are the methods the server serves (Allow, RFC 3261 §20.5).
const allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, SUBSCRIBE"

// onOptions says what the server can do (RFC 3261 §11.2): methods, body
// types, extensions, event packages. Keep-alive OPTIONS from devices get
// the same answer.
func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", allowed))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	res.AppendHeader(sip.NewHeader("Supported", supportedList))
	res.AppendHeader(sip.NewHeader("Allow-Events", allowEvents))
	_ = tx.Respond(res)
}

// respond answers req with status and reason, its standard phrase, and
// hdrs.
//
// Why a request was refused never leaves the site: a refusal carries the
// status and its standard reason phrase only — no Warning header
// (RFC 3261 §20.43), no phrase of our own. "Door station … has no entry",
// "no mailbox for …", an SDP parser's complaint would tell a caller how the
// site is built and which guesses came close; the reason goes to the log
// and the event stream (call_rejected's cause), where the operator reads
// it.
func respond(tx sip.ServerTransaction, req *sip.Request, status int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, status, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}

// sourceAddr is the address a request came from, without the port.
func sourceAddr(req *sip.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
