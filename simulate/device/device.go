// Package device is a simulated SIP endpoint — a door station, an indoor
// monitor, a desk phone or a user's app — that speaks real SIP (sipgo) and
// real RTP to a switchboard server over UDP, or over any datagram
// connection it is given (HubConfig.Conn, HubConfig.ListenMedia), such as
// an in-memory one. It registers with its own digest credentials (and,
// like a phone, answers the server's last challenge before it is asked
// again), rings when called and answers, declines or stays silent as told,
// places calls, sends RFC 4733 DTMF and records the digits it receives,
// which is how a simulated door station "detects" the code that fires its
// relay.
//
// It never calls the runtime's internals: whatever would fail with a real
// device fails here too.
package device

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	rtmedia "switchboard/runtime/media"
	"switchboard/runtime/sipstack"
)

// Answer says what a device does when called.
type Answer int

const (
	Ring    Answer = iota // ring until cancelled (nobody home)
	Pickup                // ring, then answer
	Busy                  // 486 Busy Here
	Decline               // 603 Decline
)

// Config describes one simulated device.
type Config struct {
	Account  string // SIP user and digest user name (ir.Account.Name)
	Password string
	Domain   string // SIP domain / realm
	Server   string // the server's host:port
	IP       netip.Addr
	Logger   *slog.Logger
	// ListenMedia opens the device's RTP sockets; nil means real UDP.
	ListenMedia rtmedia.ListenFunc
}

// Incoming is a call that reached this device.
type Incoming struct {
	CallID   string
	From     string // who the server presents as the caller: the From user part (an extension, an account, a carrier's number)
	FromName string // the From display name ("Mary Byrne", "Front gate, button 1")
	To       string // who was called: the Request-URI's user part
	Identity string // the P-Asserted-Identity's user part, if any
	SentBy   string // the sent-by (host:port) of the INVITE's top Via
	// MaxForwards is the INVITE's Max-Forwards (-1 when absent).
	MaxForwards int
	Answered    bool
	Status      int    // final status this device sent (200, 486, 603, 487)
	Reason      string // Reason header of a CANCEL, if cancelled
	At          time.Time
}

// Hub hosts many simulated devices on one SIP socket, the way a gateway
// hosts many lines: each device has its own account, credentials,
// registration and Contact (sip:<account>@hub), and requests are delivered
// to the device their Request-URI names. A building of thousands of
// endpoints then needs one socket, not thousands.
type Hub struct {
	domain string
	server string
	ip     netip.Addr
	listen rtmedia.ListenFunc
	onCall func(*Device, string) bool
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	conn   net.PacketConn
	addr   string
	cancel context.CancelFunc

	authenticate func(*sip.Request) *sip.Response
	catchAll     string

	mu            sync.Mutex
	devices       map[string]*Device // by account
	told          map[*Device]bool   // devices told to do other than ring
	noted         map[*Device]bool   // devices holding NOTIFYs (mwi.go)
	calls         map[string]*Call   // by Call-ID
	registrations map[string]Registration
	registered    chan struct{} // signalled on each change of registrations
}

// Registration is a binding a hub acting as a registrar (a carrier) holds.
type Registration struct {
	User    string // the To user part: the account at the carrier
	Contact string // where calls for it go
	Expires int    // seconds granted
	Source  string // the address the REGISTER came from
}

// HubConfig says where a hub listens and which server it talks to.
type HubConfig struct {
	Domain string
	Server string // the server's host:port
	IP     netip.Addr
	Logger *slog.Logger
	// Conn, when set, is the socket to use (for instance an in-memory
	// one); otherwise the hub listens on IP with an ephemeral port.
	Conn net.PacketConn
	// ListenMedia opens the devices' RTP sockets; nil means real UDP.
	ListenMedia rtmedia.ListenFunc
	// OnIncoming, when set, is called each time an INVITE reaches one of
	// the hub's devices, before it rings, with the INVITE's Call-ID: the
	// SIP stack hands each request to a goroutine of its own, which on a
	// loaded machine can run after the sender has given up on the call,
	// so an observer tells whose call it is by its Call-ID, not by when
	// it arrived. It is called after the device has read what it was
	// told to do (SetAnswer), so a call it admits is handled as told
	// before the observer's verdict, never as told after.
	//
	// It returns false for a call that is no longer anyone's (a call of
	// an earlier simulated case): the device refuses it, as a phone
	// that cannot take the call does, with 480 Temporarily Unavailable
	// — or leaves the stack's 487 if the call was already cancelled —
	// and never rings, answers or lists it in Incoming. 480 rather than
	// 486 or 603: a 6xx would end the caller's other branches (RFC 3261
	// §16.7), a 486 can send the call to a busy route; 480 only says
	// this branch failed.
	OnIncoming func(d *Device, callID string) bool

	// Authenticate, when set, vets each INVITE and REGISTER the hub
	// receives: nil lets it through, a response (a digest challenge) is
	// sent instead — how a carrier makes a PBX prove who it is.
	Authenticate func(req *sip.Request) *sip.Response
	// Registrar makes the hub accept REGISTER, granting the time asked
	// for, and keep the bindings (Registrations): a carrier's registrar.
	Registrar bool
	// CatchAll names the device that takes INVITEs for users the hub has
	// no device for: a carrier's network, which reaches any number.
	CatchAll string
}

// NewHub starts a hub.
func NewHub(cfg HubConfig) (*Hub, error) {
	if !cfg.IP.IsValid() {
		cfg.IP = netip.MustParseAddr("127.0.0.1")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("switchboard-sim"), sipgo.WithUserAgentHostname(cfg.Domain))
	if err != nil {
		return nil, err
	}
	conn := cfg.Conn
	if conn == nil {
		conn, err = net.ListenPacket("udp", net.JoinHostPort(cfg.IP.String(), "0"))
		if err != nil {
			ua.Close()
			return nil, err
		}
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(cfg.Logger))
	if err != nil {
		ua.Close()
		return nil, err
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientConnectionAddr(conn.LocalAddr().String()), sipgo.WithClientLogger(cfg.Logger))
	if err != nil {
		ua.Close()
		return nil, err
	}
	h := &Hub{domain: cfg.Domain, server: cfg.Server, ip: cfg.IP, listen: cfg.ListenMedia, onCall: cfg.OnIncoming, ua: ua, srv: srv, client: client, conn: conn,
		addr: conn.LocalAddr().String(), devices: map[string]*Device{}, told: map[*Device]bool{}, noted: map[*Device]bool{}, calls: map[string]*Call{},
		authenticate: cfg.Authenticate, catchAll: cfg.CatchAll, registrations: map[string]Registration{}, registered: make(chan struct{}, 1)}
	srv.OnInvite(h.onInvite)
	if cfg.Registrar {
		srv.OnRegister(h.onRegister)
	}
	srv.OnBye(h.onBye)
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	srv.OnNotify(h.onNotify)
	srv.OnCancel(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
	})
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	served, ready := Serving(conn)
	go func() { _ = srv.ServeUDP(served) }()
	go func() { <-ctx.Done(); conn.Close() }()
	// Requests must leave from the listening socket (the server answers to
	// where they came from): wait until sipgo has it in its pool.
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		h.Close()
		return nil, errors.New("device hub: SIP listener did not start")
	}
	return h, nil
}

// Serving wraps conn, to be given to sipgo's ServeUDP, and returns a
// channel closed when sipgo first reads from it: ServeUDP adds the socket
// to its connection pool (from which requests then leave) before its read
// loop starts, so the first read is the sign that the pool has it.
func Serving(conn net.PacketConn) (net.PacketConn, <-chan struct{}) {
	r := &readNotifier{PacketConn: conn, read: make(chan struct{})}
	return r, r.read
}

type readNotifier struct {
	net.PacketConn
	once sync.Once
	read chan struct{}
}

func (r *readNotifier) ReadFrom(b []byte) (int, net.Addr, error) {
	r.once.Do(func() { close(r.read) })
	return r.PacketConn.ReadFrom(b)
}

// Addr is the hub's SIP address.
func (h *Hub) Addr() string { return h.addr }

// SetPickupWhen makes the device answer its next calls once ready is
// closed — when something else has happened (other phones ring), rather
// than after a guessed delay.
func (d *Device) SetPickupWhen(ready <-chan struct{}) {
	d.SetAnswer(Pickup, 0)
	d.mu.Lock()
	d.when = ready
	d.mu.Unlock()
}

// Close stops the hub and its devices' media.
func (h *Hub) Close() error {
	h.cancel()
	// The socket closes now, not when the goroutine waiting on the
	// context runs: a request that arrives after Close returned must meet
	// a closed port, not a device that still answers (on a busy machine
	// that goroutine ran late, and a "stale" registration answered the
	// server's check-sync NOTIFY).
	_ = h.conn.Close()
	h.mu.Lock()
	for _, c := range h.calls {
		c.media.close()
	}
	h.mu.Unlock()
	return h.ua.Close()
}

// Add creates the device of an account on the hub.
func (h *Hub) Add(account, password string) *Device {
	d := &Device{hub: h, account: account, password: password, notify: make(chan struct{}, 1), answer: Ring}
	h.mu.Lock()
	h.devices[account] = d
	h.mu.Unlock()
	return d
}

// Device returns the device of an account, or nil.
func (h *Hub) Device(account string) *Device {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.devices[account]
}

// Device is one simulated endpoint.
type Device struct {
	hub      *Hub
	account  string
	password string
	own      bool // the device owns its hub (New)

	mu            sync.Mutex
	answer        Answer
	delay         time.Duration
	when          <-chan struct{} // Pickup answers once it is closed (SetPickupWhen)
	incoming      []*Incoming
	notify        chan struct{}
	notifications []Notification    // NOTIFYs received (mwi.go)
	chal          *digest.Challenge // the server's last challenge
	nc            int               // the last nonce count used with it
	video         bool              // its calls offer video (SetCamera)
	nat           netip.Addr        // the private address it believes it has (SetBehindNAT)
}

// SetBehindNAT puts the device behind a NAT: it believes its address is
// private and says so in its Contact, as a phone on a home network or a
// mobile app does, while its packets come from the hub's address. The
// server must reach it where its REGISTER came from. private should be an
// address nothing listens on. (Its SDP keeps the address its media comes
// from: in virtual time the server's paced audio would outrun the packets
// a symmetric-RTP latch needs; the relay's and endpoint's latching is
// tested in runtime/media.)
func (d *Device) SetBehindNAT(private netip.Addr) {
	d.mu.Lock()
	d.nat = private
	d.mu.Unlock()
}

// advertised is the address the device puts in its Contact.
func (d *Device) advertised() netip.Addr {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.nat.IsValid() {
		return d.nat
	}
	return d.hub.ip
}

// SetCamera makes the device's calls offer video beside the audio, as a
// video door station's do; nothing is sent on it.
func (d *Device) SetCamera(on bool) {
	d.mu.Lock()
	d.video = on
	d.mu.Unlock()
}

func (d *Device) camera() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.video
}

// New starts a device on a hub of its own.
func New(cfg Config) (*Device, error) {
	h, err := NewHub(HubConfig{Domain: cfg.Domain, Server: cfg.Server, IP: cfg.IP, Logger: cfg.Logger, ListenMedia: cfg.ListenMedia})
	if err != nil {
		return nil, err
	}
	d := h.Add(cfg.Account, cfg.Password)
	d.own = true
	return d, nil
}

// Account returns the device's account name.
func (d *Device) Account() string { return d.account }

// Close stops a device made by New (with its hub); for a device added to
// a shared hub it does nothing: close the hub.
func (d *Device) Close() error {
	if d.own {
		return d.hub.Close()
	}
	return nil
}

// SetAnswer sets what the device does with the next calls; Pickup answers
// after delay.
func (d *Device) SetAnswer(a Answer, delay time.Duration) {
	d.mu.Lock()
	d.answer, d.delay, d.when = a, delay, nil
	d.mu.Unlock()
	d.hub.mu.Lock()
	if a == Ring && delay == 0 {
		delete(d.hub.told, d)
	} else {
		d.hub.told[d] = true
	}
	d.hub.mu.Unlock()
}

// RingAll sets every device of the hub back to ringing until cancelled;
// it costs as many devices as were told otherwise, not the whole hub.
func (h *Hub) RingAll() {
	h.mu.Lock()
	told := make([]*Device, 0, len(h.told))
	for d := range h.told {
		told = append(told, d)
	}
	h.mu.Unlock()
	for _, d := range told {
		d.SetAnswer(Ring, 0)
	}
}

func (d *Device) contact() *sip.ContactHeader {
	_, port, _ := sip.ParseAddr(d.hub.addr)
	return &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: d.account, Host: d.advertised().String(), Port: port}}
}

func (d *Device) serverURI(user string) sip.Uri {
	host, port, _ := sip.ParseAddr(d.hub.server)
	return sip.Uri{Scheme: "sip", User: user, Host: host, Port: port}
}

// Register registers the device's contact for expires; 0 unregisters.
// It returns the final status.
func (d *Device) Register(ctx context.Context, expires time.Duration) (int, error) {
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: d.serverURI("").Host, Port: d.serverURI("").Port})
	aor := sip.Uri{Scheme: "sip", User: d.account, Host: d.hub.domain}
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(d.contact())
	req.AppendHeader(sip.NewHeader("Expires", fmt.Sprint(int(expires.Seconds()))))
	return d.doAuthorized(ctx, req)
}

// doAuthorized sends an out-of-dialog request to the server with
// credentials for its last challenge, answers a new challenge once, and
// returns the final status.
func (d *Device) doAuthorized(ctx context.Context, req *sip.Request) (int, error) {
	res, err := d.doAuthorizedResponse(ctx, req)
	if err != nil {
		return 0, err
	}
	return res.StatusCode, nil
}

// doAuthorizedResponse is doAuthorized returning the final response.
func (d *Device) doAuthorizedResponse(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	req.SetDestination(d.hub.server)
	d.authorize(req, "Authorization")
	res, err := sipstack.Do(ctx, d.hub.client, req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode == 401 || res.StatusCode == 407 {
		d.learn(res)
		res, err = sipstack.DoDigestAuth(ctx, d.hub.client, req, res, sipgo.DigestAuth{Username: d.account, Password: d.password})
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// authorize answers, before it is asked, the challenge the server sent
// last, with the next nonce count: what phones do to spare a round trip
// per request (RFC 7616 §3.4.5). The server decides whether the nonce is
// still good; when it is not, it challenges again and the request is
// retried with the new nonce.
func (d *Device) authorize(req *sip.Request, header string) {
	d.mu.Lock()
	chal := d.chal
	d.nc++
	nc := d.nc
	d.mu.Unlock()
	if chal == nil {
		return
	}
	cred, err := digest.Digest(chal, digest.Options{
		Method: req.Method.String(), URI: req.Recipient.Addr(), Username: d.account, Password: d.password, Count: nc,
	})
	if err != nil {
		return
	}
	req.AppendHeader(sip.NewHeader(header, credentialsValue(cred)))
}

// credentialsValue is c.String() — the same text, byte for byte — built in
// one buffer: the simulated devices answer a challenge in every INVITE,
// and the icholy/digest formatting (a string and a strconv.Quote per
// parameter) was most of what that cost.
func credentialsValue(c *digest.Credentials) string {
	b := make([]byte, 0, 64+len(c.Username)+len(c.Realm)+len(c.Nonce)+len(c.URI)+len(c.Algorithm)+len(c.Cnonce)+len(c.Opaque)+len(c.QOP)+len(c.Response))
	b = append(b, digest.Prefix...)
	quoted := func(key, v string) {
		if len(b) > len(digest.Prefix) {
			b = append(b, ", "...)
		}
		b = append(b, key...)
		b = append(b, '=')
		b = strconv.AppendQuote(b, v)
	}
	plain := func(key, v string) {
		b = append(b, ", "...)
		b = append(b, key...)
		b = append(b, '=')
		b = append(b, v...)
	}
	quoted("username", c.Username)
	quoted("realm", c.Realm)
	quoted("nonce", c.Nonce)
	quoted("uri", c.URI)
	if c.Algorithm != "" {
		plain("algorithm", c.Algorithm)
	}
	if c.QOP != "" {
		quoted("cnonce", c.Cnonce)
	}
	if c.Opaque != "" {
		quoted("opaque", c.Opaque)
	}
	if c.QOP != "" {
		plain("qop", c.QOP)
		b = append(b, ", nc="...)
		n := len(b)
		b = strconv.AppendInt(b, int64(c.Nc), 16)
		if pad := 8 - (len(b) - n); pad > 0 {
			b = append(b, "00000000"[:pad]...)
			copy(b[n+pad:], b[n:len(b)-pad])
			copy(b[n:n+pad], "00000000")
		}
	}
	if c.Userhash {
		plain("userhash", "true")
	}
	quoted("response", c.Response)
	return string(b)
}

// learn keeps the challenge of a 401 or 407 for the requests that follow;
// the retry that answers it uses nonce count 1.
func (d *Device) learn(res *sip.Response) {
	h := res.GetHeader("Proxy-Authenticate")
	if h == nil {
		h = res.GetHeader("WWW-Authenticate")
	}
	if h == nil {
		return
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil || !digest.CanDigest(chal) {
		return
	}
	chal.Algorithm = sip.ASCIIToUpper(chal.Algorithm)
	d.mu.Lock()
	d.chal, d.nc = chal, 1
	d.mu.Unlock()
}

func (d *Device) signal() {
	select {
	case d.notify <- struct{}{}:
	default:
	}
}

// IncomingCount is len(Incoming()) without the copy: a carrier's device
// takes every call out of a long suite.
func (d *Device) IncomingCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.incoming)
}

// Incoming returns the calls that reached the device so far.
func (d *Device) Incoming() []Incoming {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Incoming, len(d.incoming))
	for i, in := range d.incoming {
		out[i] = *in
	}
	return out
}

// AnsweredIncoming returns the calls that reached the device and that it
// answered, in order: Incoming without the rest, for a step that looks
// for the call in progress — a phone rung in every case of a long suite
// keeps dozens it did not answer.
func (d *Device) AnsweredIncoming() []Incoming {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Incoming
	for _, in := range d.incoming {
		if in.Answered {
			out = append(out, *in)
		}
	}
	return out
}

// WaitIncoming waits until cond holds for the device's incoming calls.
func (d *Device) WaitIncoming(ctx context.Context, cond func([]Incoming) bool) ([]Incoming, error) {
	for {
		in := d.Incoming()
		if cond(in) {
			return in, nil
		}
		select {
		case <-d.notify:
		case <-ctx.Done():
			return in, ctx.Err()
		}
	}
}

func (h *Hub) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if h.authenticate != nil {
		if res := h.authenticate(req); res != nil {
			_ = tx.Respond(res)
			takeAck(tx)
			return
		}
	}
	if to := req.To(); to != nil && to.Params.Has("tag") {
		h.onReinvite(req, tx)
		return
	}
	d := h.Device(req.Recipient.User)
	if d == nil && h.catchAll != "" {
		d = h.Device(h.catchAll)
	}
	if d == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 404, "Not Found", nil))
		return
	}
	d.onInvite(req, tx)
}

func (d *Device) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	in := &Incoming{CallID: req.CallID().Value(), To: req.Recipient.User, At: time.Now()}
	if v := req.Via(); v != nil {
		in.SentBy = net.JoinHostPort(strings.Trim(v.Host, "[]"), strconv.Itoa(v.Port))
	}
	in.MaxForwards = -1
	if mf := req.MaxForwards(); mf != nil {
		in.MaxForwards = int(mf.Val())
	}
	if f := req.From(); f != nil {
		in.From, in.FromName = f.Address.User, f.DisplayName
	}
	if pai := req.GetHeader("P-Asserted-Identity"); pai != nil {
		var u sip.Uri
		var params sip.HeaderParams
		if _, err := sip.ParseAddressValue(pai.Value(), &u, &params); err == nil {
			in.Identity = u.User
		}
	}
	d.mu.Lock()
	answer, delay, when := d.answer, d.delay, d.when
	d.mu.Unlock()
	toTag := sip.GenerateTagN(16)
	// The observer is asked after the answer was read (see
	// HubConfig.OnIncoming): an INVITE it admits was taken in before it
	// moved on, so answer is what the device was told for that call.
	if d.hub.onCall != nil && !d.hub.onCall(d, in.CallID) {
		d.refuse(req, tx, toTag)
		return
	}
	d.mu.Lock()
	d.incoming = append(d.incoming, in)
	d.mu.Unlock()
	defer d.signal()

	reply := func(status int, reason string, body []byte) error {
		res := sip.NewResponseFromRequest(req, status, reason, body)
		res.To().Params.Add("tag", toTag)
		res.AppendHeader(d.contact())
		if body != nil {
			res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		}
		return tx.Respond(res)
	}
	switch answer {
	case Busy:
		d.setStatus(in, 486, "")
		_ = reply(486, "Busy Here", nil)
		takeAck(tx)
		return
	case Decline:
		d.setStatus(in, 603, "")
		_ = reply(603, "Decline", nil)
		takeAck(tx)
		return
	}
	cancelled := make(chan string, 1)
	tx.OnCancel(func(c *sip.Request) {
		reason := ""
		if h := c.GetHeader("Reason"); h != nil {
			reason = h.Value()
		}
		cancelled <- reason
	})
	_ = reply(180, "Ringing", nil)
	d.signal()
	var wait <-chan time.Time
	switch {
	case answer == Pickup && when != nil:
	case answer == Pickup:
		// A person's delay in picking up, asked for by the test; not a
		// wait for anything to happen (SetPickupWhen is that).
		wait = time.After(delay)
	}
	select {
	case reason := <-cancelled:
		d.setStatus(in, 487, reason)
		takeAck(tx)
		return
	case <-tx.Done():
		d.setStatus(in, 487, "")
		return
	case <-wait:
	case <-when:
	}
	m, err := newMedia(d.hub.listen, d.hub.ip, nil)
	if err != nil {
		_ = reply(500, "Server Internal Error", nil)
		return
	}
	offer, err := parseSDP(req.Body())
	if err == nil {
		err = m.setRemoteSession(offer)
	}
	if err != nil {
		m.close()
		_ = reply(488, "Not Acceptable Here", nil)
		return
	}
	m.answering(offer)
	c := &Call{d: d, id: in.CallID, media: m, inbound: true, invite: req, toTag: toTag}
	d.hub.mu.Lock()
	d.hub.calls[in.CallID] = c
	d.hub.mu.Unlock()
	// Answered before the 200 leaves: whoever sees the call connect must
	// find this device's side of it.
	d.mu.Lock()
	in.Answered, in.Status = true, 200
	d.mu.Unlock()
	if err := reply(200, "OK", m.sdp(d.hub.ip)); err != nil {
		d.mu.Lock()
		in.Answered, in.Status = false, 0
		d.mu.Unlock()
		return
	}
	_ = m.sendAudio(1) // the relay learns where to send (symmetric RTP)
}

// onRegister keeps the bindings of a hub acting as a registrar: the time
// asked for is granted (Contact expires, else Expires, else an hour) and
// echoed in the 200, and 0 removes the binding.
func (h *Hub) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	if h.authenticate != nil {
		if res := h.authenticate(req); res != nil {
			_ = tx.Respond(res)
			return
		}
	}
	to := req.To()
	ct := req.Contact()
	if to == nil || ct == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return
	}
	expires := 3600
	if hdr := req.GetHeader("Expires"); hdr != nil {
		if n, err := strconv.Atoi(hdr.Value()); err == nil {
			expires = n
		}
	}
	if v, ok := ct.Params.Get("expires"); ok {
		if n, err := strconv.Atoi(v); err == nil {
			expires = n
		}
	}
	user := to.Address.User
	h.mu.Lock()
	if expires == 0 {
		delete(h.registrations, user)
	} else {
		h.registrations[user] = Registration{User: user, Contact: ct.Address.String(), Expires: expires, Source: req.Source()}
	}
	h.mu.Unlock()
	select {
	case h.registered <- struct{}{}:
	default:
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	if expires > 0 {
		granted := &sip.ContactHeader{Address: ct.Address, Params: sip.NewParams()}
		granted.Params.Add("expires", strconv.Itoa(expires))
		res.AppendHeader(granted)
	}
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	_ = tx.Respond(res)
}

// Registrations returns the bindings a registrar hub holds, by user.
func (h *Hub) Registrations() map[string]Registration {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]Registration, len(h.registrations))
	for k, v := range h.registrations {
		out[k] = v
	}
	return out
}

// WaitRegistrations waits until cond holds for a registrar hub's bindings.
func (h *Hub) WaitRegistrations(ctx context.Context, cond func(map[string]Registration) bool) (map[string]Registration, error) {
	for {
		regs := h.Registrations()
		if cond(regs) {
			return regs, nil
		}
		select {
		case <-h.registered:
		case <-ctx.Done():
			return regs, ctx.Err()
		}
	}
}

// refuse turns away an INVITE that is no longer anyone's call (see
// HubConfig.OnIncoming) with 480, unless the caller already cancelled it:
// the stack has then answered it 487 itself, and a second final response
// would be one the caller never asked for.
func (d *Device) refuse(req *sip.Request, tx sip.ServerTransaction, toTag string) {
	if !errors.Is(tx.Err(), sip.ErrTransactionCanceled) {
		res := sip.NewResponseFromRequest(req, 480, "Temporarily Unavailable", nil)
		res.To().Params.Add("tag", toTag)
		if tx.Respond(res) != nil {
			return
		}
	}
	takeAck(tx) // of the 480, or of the stack's 487
}

// takeAck waits for the ACK of a non-2xx final response. sipgo hands it
// to whoever reads the transaction's Acks, and when nobody does it parks
// a goroutine holding it until the transaction ends, seconds later: at
// thousands of calls a second, tens of thousands of them.
func takeAck(tx sip.ServerTransaction) {
	select {
	case <-tx.Acks():
	case <-tx.Done():
	}
}

func (d *Device) setStatus(in *Incoming, status int, reason string) {
	d.mu.Lock()
	in.Status, in.Reason = status, reason
	d.mu.Unlock()
}

func (h *Hub) onBye(req *sip.Request, tx sip.ServerTransaction) {
	h.mu.Lock()
	c := h.calls[req.CallID().Value()]
	delete(h.calls, req.CallID().Value())
	h.mu.Unlock()
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	c.hungUp()
	c.d.signal()
}

// Call is an established call of this device.
type Call struct {
	d       *Device
	id      string
	media   *media
	inbound bool
	invite  *sip.Request               // inbound: the INVITE we answered
	toTag   string                     // inbound: our tag
	dialog  *sipgo.DialogClientSession // outbound
	mu      sync.Mutex
	ended   bool
	done    chan struct{} // made by Done, closed when the call ends
	// seq (inbound): the CSeq of our last request in the call's dialog;
	// version: of our SDP's origin line (RFC 3264 §8), raised by every
	// re-offer; reoffers: the directions of the re-INVITEs received.
	seq      uint32
	version  uint64
	reoffers []string
}

// Answered returns the device's established call with Call-ID id.
func (d *Device) Answered(id string) *Call {
	d.hub.mu.Lock()
	defer d.hub.mu.Unlock()
	if c := d.hub.calls[id]; c != nil && c.d == d {
		return c
	}
	return nil
}

// Dial calls number through the server and waits for an answer. A non-2xx
// final response is returned as *StatusError.
func (d *Device) Dial(ctx context.Context, number string) (*Call, error) {
	m, err := newMedia(d.hub.listen, d.hub.ip, nil)
	if err != nil {
		return nil, err
	}
	if d.camera() {
		if err := m.offerVideo(); err != nil {
			m.close()
			return nil, err
		}
	}
	dua := &sipgo.DialogUA{Client: d.hub.client, ContactHDR: *d.contact()}
	req := sip.NewRequest(sip.INVITE, d.serverURI(number))
	req.SetDestination(d.hub.server)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: d.account, Host: d.hub.domain}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: number, Host: d.hub.domain}, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(m.sdp(d.hub.ip))
	d.authorize(req, "Proxy-Authorization")
	sess, err := dua.WriteInvite(ctx, req)
	if err != nil {
		m.close()
		return nil, err
	}
	learn := func(res *sip.Response) error {
		if res.StatusCode == 401 || res.StatusCode == 407 {
			d.learn(res)
		}
		return nil
	}
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{Username: d.account, Password: d.password, OnResponse: learn}); err != nil {
		m.close()
		var de *sipgo.ErrDialogResponse
		if errors.As(err, &de) {
			return nil, &StatusError{Status: de.Res.StatusCode, Reason: de.Res.Reason, Early: m.audioHeard()}
		}
		return nil, err
	}
	if err := sess.Ack(ctx); err != nil {
		m.close()
		return nil, err
	}
	if err := m.setRemote(sess.InviteResponse.Body()); err != nil {
		m.close()
		return nil, err
	}
	c := &Call{d: d, id: req.CallID().Value(), media: m, dialog: sess}
	d.hub.mu.Lock()
	d.hub.calls[c.id] = c
	d.hub.mu.Unlock()
	_ = m.sendAudio(1) // the relay learns where to send (symmetric RTP)
	return c, nil
}

// StatusError is a call refused by the server or the callee.
type StatusError struct {
	Status int
	Reason string
	// Early is the audio the caller heard before the refusal: early media,
	// such as a carrier's announcement.
	Early []int16
}

func (e *StatusError) Error() string { return fmt.Sprintf("call refused: %d %s", e.Status, e.Reason) }

// ID returns the call's Call-ID.
func (c *Call) ID() string { return c.id }

// Remote is where the call's audio goes: the other party's media address.
func (c *Call) Remote() netip.AddrPort {
	c.media.mu.Lock()
	defer c.media.mu.Unlock()
	return c.media.remote
}

// SendSilence sends frames 20 ms packets of silence, as a phone whose
// user says nothing still does.
func (c *Call) SendSilence(frames int) error { return c.media.sendAudio(frames) }

// SendDTMF sends digits as RFC 4733 events.
func (c *Call) SendDTMF(digits string) error { return c.media.sendDigits(digits) }

// Received returns the DTMF digits received so far and the RTP packet count.
func (c *Call) Received() (string, int) { return c.media.received() }

// WaitDigits waits until the received digits end with want.
func (c *Call) WaitDigits(ctx context.Context, want string) error {
	for {
		got, _ := c.Received()
		if len(got) >= len(want) && got[len(got)-len(want):] == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("digits %q not received (got %q): %w", want, got, ctx.Err())
		case <-c.media.got:
		}
	}
}

// Hangup ends the call with a BYE.
func (c *Call) Hangup(ctx context.Context) error {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return nil
	}
	c.endLocked()
	c.mu.Unlock()
	defer c.media.close()
	c.d.hub.mu.Lock()
	delete(c.d.hub.calls, c.id)
	c.d.hub.mu.Unlock()
	if c.dialog != nil {
		return c.dialog.Bye(ctx)
	}
	inv := c.invite
	bye := sip.NewRequest(sip.BYE, inv.Contact().Address)
	from := &sip.FromHeader{Address: inv.To().Address, Params: sip.NewParams()}
	from.Params.Add("tag", c.toTag)
	bye.AppendHeader(from)
	bye.AppendHeader(&sip.ToHeader{Address: inv.From().Address, Params: inv.From().Params.Clone()})
	bye.AppendHeader(sip.HeaderClone(inv.CallID()))
	bye.AppendHeader(&sip.CSeqHeader{SeqNo: c.nextSeq(), MethodName: sip.BYE})
	bye.SetDestination(c.d.hub.server)
	res, err := sipstack.Do(ctx, c.d.hub.client, bye, sipgo.ClientRequestBuild)
	if err != nil {
		return err
	}
	if res.StatusCode != 200 {
		return &StatusError{Status: res.StatusCode, Reason: res.Reason}
	}
	return nil
}

func (c *Call) hungUp() {
	c.mu.Lock()
	c.endLocked()
	c.mu.Unlock()
	c.media.close()
}

// endLocked marks the call over. c.mu is held.
func (c *Call) endLocked() {
	if c.ended {
		return
	}
	c.ended = true
	if c.done != nil {
		close(c.done)
	}
}

// Ended reports whether the call is over.
func (c *Call) Ended() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ended
}

// Done returns a channel closed when the call is over (hung up by either
// side).
func (c *Call) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.ended {
			close(c.done)
		}
	}
	return c.done
}

// RemoteContact is the Contact the other party gave for the call's dialog
// (its INVITE's for a call the device answered, its 200's for one it
// placed): where the device sends its in-dialog requests.
func (c *Call) RemoteContact() string {
	var ct *sip.ContactHeader
	if c.inbound {
		ct = c.invite.Contact()
	} else if c.dialog != nil && c.dialog.InviteResponse != nil {
		ct = c.dialog.InviteResponse.Contact()
	}
	if ct == nil {
		return ""
	}
	return ct.Address.String()
}
