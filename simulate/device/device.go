// Package device is a simulated SIP endpoint — a door station, an indoor
// monitor, a desk phone or a user's app — that speaks real SIP (sipgo) and
// real RTP to a switchboard server over UDP. It registers with its own
// digest credentials, rings when called and answers, declines or stays
// silent as told, places calls, sends RFC 4733 DTMF and records the digits
// it receives, which is how a simulated door station "detects" the code
// that fires its relay.
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
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
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
}

// Incoming is a call that reached this device.
type Incoming struct {
	CallID   string
	From     string // the caller's account
	Answered bool
	Status   int    // final status this device sent (200, 486, 603, 487)
	Reason   string // Reason header of a CANCEL, if cancelled
	At       time.Time
}

// Device is one simulated endpoint.
type Device struct {
	cfg    Config
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	conn   net.PacketConn
	addr   string

	mu       sync.Mutex
	answer   Answer
	delay    time.Duration
	incoming []*Incoming
	calls    map[string]*Call // by Call-ID
	notify   chan struct{}
	cancel   context.CancelFunc
}

// New starts a device listening on cfg.IP (an ephemeral port).
func New(cfg Config) (*Device, error) {
	if !cfg.IP.IsValid() {
		cfg.IP = netip.MustParseAddr("127.0.0.1")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("switchboard-sim/"+cfg.Account), sipgo.WithUserAgentHostname(cfg.Domain))
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenPacket("udp", net.JoinHostPort(cfg.IP.String(), "0"))
	if err != nil {
		ua.Close()
		return nil, err
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
	d := &Device{cfg: cfg, ua: ua, srv: srv, client: client, conn: conn, addr: conn.LocalAddr().String(),
		calls: map[string]*Call{}, notify: make(chan struct{}, 1), answer: Ring}
	srv.OnInvite(d.onInvite)
	srv.OnBye(d.onBye)
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	srv.OnCancel(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
	})
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() { _ = srv.ServeUDP(conn) }()
	go func() { <-ctx.Done(); conn.Close() }()
	// Requests must leave from the listening socket (the server answers to
	// where they came from); wait until sipgo has it in its pool.
	for i := 0; ; i++ {
		if _, err := ua.TransportLayer().GetConnection("udp", d.addr); err == nil {
			break
		}
		if i == 1000 {
			d.Close()
			return nil, fmt.Errorf("device %s: SIP listener did not start", cfg.Account)
		}
		time.Sleep(time.Millisecond)
	}
	return d, nil
}

// Account returns the device's account name.
func (d *Device) Account() string { return d.cfg.Account }

// Close stops the device.
func (d *Device) Close() error {
	d.cancel()
	d.mu.Lock()
	for _, c := range d.calls {
		c.media.close()
	}
	d.mu.Unlock()
	return d.ua.Close()
}

// SetAnswer sets what the device does with the next calls; Pickup answers
// after delay.
func (d *Device) SetAnswer(a Answer, delay time.Duration) {
	d.mu.Lock()
	d.answer, d.delay = a, delay
	d.mu.Unlock()
}

func (d *Device) contact() *sip.ContactHeader {
	host, port, _ := sip.ParseAddr(d.addr)
	return &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: d.cfg.Account, Host: host, Port: port}}
}

func (d *Device) serverURI(user string) sip.Uri {
	host, port, _ := sip.ParseAddr(d.cfg.Server)
	return sip.Uri{Scheme: "sip", User: user, Host: host, Port: port}
}

// Register registers the device's contact for expires; 0 unregisters.
// It returns the final status.
func (d *Device) Register(ctx context.Context, expires time.Duration) (int, error) {
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: d.serverURI("").Host, Port: d.serverURI("").Port})
	aor := sip.Uri{Scheme: "sip", User: d.cfg.Account, Host: d.cfg.Domain}
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(d.contact())
	req.AppendHeader(sip.NewHeader("Expires", fmt.Sprint(int(expires.Seconds()))))
	req.SetDestination(d.cfg.Server)
	res, err := d.client.Do(ctx, req)
	if err != nil {
		return 0, err
	}
	if res.StatusCode == 401 || res.StatusCode == 407 {
		res, err = d.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: d.cfg.Account, Password: d.cfg.Password})
		if err != nil {
			return 0, err
		}
	}
	return res.StatusCode, nil
}

func (d *Device) signal() {
	select {
	case d.notify <- struct{}{}:
	default:
	}
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

func (d *Device) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	in := &Incoming{CallID: req.CallID().Value(), At: time.Now()}
	if f := req.From(); f != nil {
		in.From = f.Address.User
	}
	d.mu.Lock()
	d.incoming = append(d.incoming, in)
	answer, delay := d.answer, d.delay
	d.mu.Unlock()
	defer d.signal()

	toTag := sip.GenerateTagN(16)
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
		return
	case Decline:
		d.setStatus(in, 603, "")
		_ = reply(603, "Decline", nil)
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
	if answer == Pickup {
		wait = time.After(delay)
	}
	select {
	case reason := <-cancelled:
		d.setStatus(in, 487, reason)
		return
	case <-tx.Done():
		d.setStatus(in, 487, "")
		return
	case <-wait:
	}
	m, err := newMedia(d.cfg.IP, nil)
	if err != nil {
		_ = reply(500, "Server Internal Error", nil)
		return
	}
	if err := m.setRemote(req.Body()); err != nil {
		m.close()
		_ = reply(488, "Not Acceptable Here", nil)
		return
	}
	c := &Call{d: d, id: in.CallID, media: m, inbound: true, invite: req, toTag: toTag}
	d.mu.Lock()
	d.calls[in.CallID] = c
	d.mu.Unlock()
	if err := reply(200, "OK", m.sdp(d.cfg.IP)); err != nil {
		return
	}
	d.mu.Lock()
	in.Answered, in.Status = true, 200
	d.mu.Unlock()
	_ = m.sendAudio(2)
}

func (d *Device) setStatus(in *Incoming, status int, reason string) {
	d.mu.Lock()
	in.Status, in.Reason = status, reason
	d.mu.Unlock()
}

func (d *Device) onBye(req *sip.Request, tx sip.ServerTransaction) {
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	d.mu.Lock()
	c := d.calls[req.CallID().Value()]
	delete(d.calls, req.CallID().Value())
	d.mu.Unlock()
	if c != nil {
		c.hungUp()
	}
	d.signal()
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
	done    chan struct{}
}

// Answered returns the device's established call with Call-ID id.
func (d *Device) Answered(id string) *Call {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[id]
}

// Dial calls number through the server and waits for an answer. A non-2xx
// final response is returned as *StatusError.
func (d *Device) Dial(ctx context.Context, number string) (*Call, error) {
	m, err := newMedia(d.cfg.IP, nil)
	if err != nil {
		return nil, err
	}
	dua := &sipgo.DialogUA{Client: d.client, ContactHDR: *d.contact()}
	req := sip.NewRequest(sip.INVITE, d.serverURI(number))
	req.SetDestination(d.cfg.Server)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: d.cfg.Account, Host: d.cfg.Domain}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: number, Host: d.cfg.Domain}, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(m.sdp(d.cfg.IP))
	sess, err := dua.WriteInvite(ctx, req)
	if err != nil {
		m.close()
		return nil, err
	}
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{Username: d.cfg.Account, Password: d.cfg.Password}); err != nil {
		m.close()
		var de *sipgo.ErrDialogResponse
		if errors.As(err, &de) {
			return nil, &StatusError{Status: de.Res.StatusCode, Reason: de.Res.Reason}
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
	c := &Call{d: d, id: req.CallID().Value(), media: m, dialog: sess, done: make(chan struct{})}
	d.mu.Lock()
	d.calls[c.id] = c
	d.mu.Unlock()
	_ = m.sendAudio(2)
	return c, nil
}

// StatusError is a call refused by the server or the callee.
type StatusError struct {
	Status int
	Reason string
}

func (e *StatusError) Error() string { return fmt.Sprintf("call refused: %d %s", e.Status, e.Reason) }

// ID returns the call's Call-ID.
func (c *Call) ID() string { return c.id }

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
		case <-time.After(2 * time.Millisecond):
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
	c.ended = true
	c.mu.Unlock()
	defer c.media.close()
	c.d.mu.Lock()
	delete(c.d.calls, c.id)
	c.d.mu.Unlock()
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
	bye.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.BYE})
	bye.SetDestination(c.d.cfg.Server)
	res, err := c.d.client.Do(ctx, bye, sipgo.ClientRequestBuild)
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
	c.ended = true
	c.mu.Unlock()
	c.media.close()
}

// Ended reports whether the call is over.
func (c *Call) Ended() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ended
}
