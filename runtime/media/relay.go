// Package media anchors a call's media: an RTP relay per call that
// rewrites SDP so both parties send to the server, forwards every stream
// (audio, and the H.264 video door stations send, untouched) between them,
// and reads the RFC 4733 telephone-events going through, so the server
// sees the DTMF codes that open doors while the door station still gets the
// digits intact.
//
// # Legs and forking
//
// A Relay has one caller side and any number of callee legs, one per
// forked branch. Each leg has its own sockets, so a branch that loses the
// race — and keeps sending for a moment after its 200 OK — can never be
// mistaken for the winner. The caller side is shared: whichever leg wins,
// the caller sees the same relay addresses.
//
//	r, _ := media.NewRelay(cfg)
//	_ = r.SetOffer(invite.Body())          // the caller's offer
//	leg, offer, _ := r.NewLeg()            // per branch: the offer to send it
//	answer, _ := leg.Answer(resp.Body())   // the winner's answer, for the caller
//	otherLeg.Close()                       // losers
//
// Offer and Answer are the shortcut for a server that sends every branch
// the same offer: all branches then share one set of callee-side sockets.
//
// # Latching (symmetric RTP)
//
// Devices behind NAT send from an address other than the one in their SDP
// and receive only where they send from. Each relay socket therefore
// learns ("latches") its party's address from the packets it receives,
// and sends there; until then it sends to the SDP address.
//
// Only a party's own addresses may latch: the IP of its SDP connection
// address, and the IPs its signalling comes from, which the server passes
// in (SetOffer, NewLeg, Offer, Answer, Update) — for a device behind NAT
// that is where its REGISTER or INVITE came from, the NAT's public
// address, since its SDP names a private one. The port may be anything
// (a NAT picks it). Packets from any other IP are dropped and counted,
// before and after latching: a stranger spraying the relay's ports (RTP
// Bleed) can neither take a call's audio before the party's first packet
// nor afterwards. Once latched, a packet from another allowed address
// takes the latch over — a NAT that rebound the party's port — while the
// latched source keeps it otherwise. A new SDP from a party (re-INVITE
// after its address changed) re-arms its latch and replaces its
// signalling addresses when new ones are given. A party's first SDP does
// not re-arm: its first packets may arrive before its answer.
//
// RTCP gets its own socket pair per stream (RTP port + 1 when a port range
// is configured, announced with a=rtcp otherwise); a=rtcp-mux passes
// through, and then RTCP simply rides the RTP sockets. With a Pool, those
// pairs stay open from one call to the next (see Pool).
package media

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/sdp/v3"

	"switchboard/runtime/clock"
	"switchboard/runtime/udp"
)

// Side is a party of a call.
type Side uint8

const (
	Caller Side = iota // the party that sent the INVITE
	Callee             // the party that answered it
)

func (s Side) String() string {
	switch s {
	case Caller:
		return "caller"
	case Callee:
		return "callee"
	}
	return "side(" + strconv.Itoa(int(s)) + ")"
}

// Config sets up a Relay.
type Config struct {
	// IP is the local address the relay's sockets bind to.
	IP netip.Addr
	// Advertise is the address written into SDP; IP when invalid. It must
	// be set when IP is unspecified, or when the server is behind a 1:1 NAT.
	Advertise netip.Addr
	// PortMin and PortMax bound the UDP ports used (inclusive). RTP takes
	// an even port and RTCP the odd one above it; when the range is used
	// up a call gets ErrNoPorts, never a port outside it. Both zero: ports
	// the kernel picks, with RTCP announced by a=rtcp.
	PortMin, PortMax int
	// Clock tells the time of digits and drives the idle timeout; nil
	// means clock.Real.
	Clock clock.Clock
	// OnDigit is called once per DTMF digit (0-9 * # A-D) completed in an
	// RFC 4733 telephone-event stream, with the side that sent it. It runs
	// on a socket goroutine: keep it short and do not Close the relay from
	// it synchronously.
	OnDigit func(side Side, digit rune, at time.Time)
	// IdleTimeout, when positive with OnIdle set, calls OnIdle once no
	// packet has been relayed (and no SDP exchanged) for that long. The
	// relay stays open; ending the call is the server's decision.
	IdleTimeout time.Duration
	OnIdle      func()
	// Listen opens the relay's sockets; nil means ListenUDP. A simulator
	// passes an in-memory network's.
	Listen ListenFunc
	// Pool, when set, opens the relay's sockets (with its own ListenFunc;
	// Listen is not used) and keeps them for later calls once the relay
	// is done with them. Relays sharing a pool may differ in IP and port
	// range: a pooled pair serves only a relay of its own.
	Pool *Pool
}

// PacketConn is a relay socket: what it needs of a *net.UDPConn.
type PacketConn interface {
	ReadFromUDPAddrPort(b []byte) (n int, addr netip.AddrPort, err error)
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
	LocalAddr() net.Addr // a *net.UDPAddr
	Close() error        // unblocks a read with an error wrapping net.ErrClosed
}

// ListenFunc opens a datagram socket at laddr; port 0 picks a free port.
type ListenFunc func(laddr netip.AddrPort) (PacketConn, error)

// ListenUDP is the default ListenFunc: a UDP socket of the host, read and
// written with raw system calls (package udp).
func ListenUDP(laddr netip.AddrPort) (PacketConn, error) {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(laddr))
	if err != nil {
		return nil, err
	}
	return udp.New(c), nil
}

// Stats counts a relay's packets.
type Stats struct {
	Forwarded uint64 // relayed to the other side
	Dropped   uint64 // from a stranger, for no one yet, truncated, or failed to send
	// A forked leg's sockets are read once it is bound (on a host's
	// sockets): what reaches a leg that never is goes uncounted.
}

var (
	// ErrClosed is returned by a closed Relay or Leg.
	ErrClosed = errors.New("media: relay closed")
	// ErrNoPorts means the configured port range is exhausted.
	ErrNoPorts = errors.New("media: no free port pair in range")
	// ErrNotAnswered is returned by Update before any leg has answered.
	ErrNotAnswered = errors.New("media: no leg has answered")
	// ErrNoOffer is returned by Offer's shortcut Answer before Offer.
	ErrNoOffer = errors.New("media: no offer")
)

// Relay anchors the media of one call.
type Relay struct {
	cfg       Config
	clk       clock.Clock
	advertise netip.Addr

	mu      sync.Mutex
	closed  bool
	streams []*stream
	caller  party
	// callerSD and callerDescs are the caller's latest SDP, parsed once
	// and offered to every leg (rewritten on a copy per leg).
	callerSD    *sdp.SessionDescription
	callerDescs []mediaDesc
	legs        []*Leg
	shared      *Leg // the leg of Offer/Answer
	bound       *Leg // the leg media flows to
	idle        clock.Timer
	quiet       int

	wg        sync.WaitGroup
	active    atomic.Bool
	forwarded atomic.Uint64
	dropped   atomic.Uint64
}

// Leg is the callee side of a relay for one forked branch.
type Leg struct {
	r *Relay
	party
	closed bool
}

// party is one side's sockets: per stream index, nil where not carried.
type party struct {
	side   Side
	leg    *Leg // nil for the caller
	groups []*sockets
	seen   bool // it has sent an SDP
	// via are the IPs the party's signalling comes from, from which its
	// packets are accepted beside its SDP's; read by the socket goroutines.
	via atomic.Pointer[[]netip.Addr]
}

// allow records the IPs the party's signalling comes from; none given
// keeps those it had.
func (p *party) allow(ips []netip.Addr) {
	var v []netip.Addr
	for _, ip := range ips {
		if ip.IsValid() && !ip.IsUnspecified() {
			v = append(v, ip.Unmap())
		}
	}
	if len(v) > 0 {
		p.via.Store(&v)
	}
}

// allows reports whether ip is one of the party's signalling addresses.
func (p *party) allows(ip netip.Addr) bool {
	if v := p.via.Load(); v != nil {
		for _, a := range *v {
			if a == ip {
				return true
			}
		}
	}
	return false
}

func (p *party) group(i int) *sockets {
	if i < len(p.groups) {
		return p.groups[i]
	}
	return nil
}

// stream is one m-line of the call.
type stream struct {
	r      *Relay
	dtmf   atomic.Bool // audio over plain RTP: telephone-events are readable
	caller atomic.Pointer[sockets]
	callee atomic.Pointer[sockets] // the bound leg's
}

// sockets face one party for one stream.
type sockets struct {
	st     *stream
	owner  *party
	pair   *pair // the sockets of rtp and rtcp
	rtp    *port
	rtcp   *port                 // nil for non-RTP transports
	events atomic.Pointer[ptSet] // telephone-event payload types in the party's SDP
	// waiting says the sockets' readers have not started: a leg's start
	// when it is first bound (Relay.bind). Guarded by the relay's mu.
	waiting bool
}

// port is one UDP socket and what it knows about the party it faces.
type port struct {
	g      *sockets
	conn   PacketConn
	num    uint16
	isRTCP bool // RTCP socket
	peer   atomic.Pointer[peer]
	det    *detector // RTP sockets only
	emit   func(rune)
}

// peer is where a party is: immutable, swapped whole.
type peer struct {
	sdp netip.AddrPort // from its SDP; invalid when unknown
	// sdpIP is the IP of the party's latest SDP that named one: an SDP
	// putting the call on hold (0.0.0.0) does not say the party moved.
	sdpIP   netip.Addr
	latched netip.AddrPort // learned from its first packet
	off     bool           // stream rejected or disabled: nothing flows
	hold    bool           // unspecified address: send it nothing
}

// NewRelay returns a relay with no streams yet; sockets open as SDP
// arrives.
func NewRelay(cfg Config) (*Relay, error) {
	r := &Relay{cfg: cfg, clk: cfg.Clock, advertise: cfg.Advertise}
	if r.clk == nil {
		r.clk = clock.Real
	}
	if !cfg.IP.IsValid() {
		return nil, errors.New("media: no IP to bind")
	}
	if !r.advertise.IsValid() {
		if cfg.IP.IsUnspecified() {
			return nil, fmt.Errorf("media: IP %s is unspecified and no Advertise address is set", cfg.IP)
		}
		r.advertise = cfg.IP
	}
	r.advertise = r.advertise.Unmap()
	if err := CheckPorts(cfg.PortMin, cfg.PortMax); err != nil {
		return nil, err
	}
	r.caller.side = Caller
	r.active.Store(true)
	if cfg.IdleTimeout > 0 && cfg.OnIdle != nil {
		r.idle = r.clk.AfterFunc(cfg.IdleTimeout/idleTicks, r.idleTick)
	}
	return r, nil
}

// CheckPorts reports whether min-max is a usable port range for Config:
// both zero (ports the kernel picks), or within 1-65535 and holding at
// least one even/odd pair.
func CheckPorts(min, max int) error {
	if min == 0 && max == 0 {
		return nil
	}
	lo := min + min%2
	if min < 1 || max > 65535 || lo+1 > max {
		return fmt.Errorf("media: port range %d-%d holds no even/odd port pair", min, max)
	}
	return nil
}

// idleTicks is how many quiet checks make a timeout: the idle callback
// comes between IdleTimeout and 1¼ IdleTimeout after the last packet,
// without a timer reset per packet.
const idleTicks = 4

func (r *Relay) idleTick() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	if r.active.Swap(false) {
		r.quiet = 0
	} else {
		r.quiet++
	}
	fire := r.quiet >= idleTicks
	if !fire {
		r.idle = r.clk.AfterFunc(r.cfg.IdleTimeout/idleTicks, r.idleTick)
	}
	r.mu.Unlock()
	if fire {
		r.cfg.OnIdle()
	}
}

// Stats returns the relay's packet counts.
func (r *Relay) Stats() Stats {
	return Stats{Forwarded: r.forwarded.Load(), Dropped: r.dropped.Load()}
}

// SetOffer takes the caller's SDP offer (or, mid-call, re-offer), opening
// caller-side sockets for its streams. Legs made later with NewLeg are
// offered it. from are the IPs the caller's signalling came from (the
// INVITE's source): its packets are accepted from them and from its
// SDP's address, and from nowhere else.
func (r *Relay) SetOffer(sdp []byte, from ...netip.Addr) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fromCaller(sdp, from)
}

func (r *Relay) fromCaller(body []byte, from []netip.Addr) error {
	if r.closed {
		return ErrClosed
	}
	sd, descs, err := parseSDP(body)
	if err != nil {
		return err
	}
	r.caller.allow(from)
	if err := r.learn(&r.caller, descs, r.caller.seen); err != nil {
		return err
	}
	r.callerSD, r.callerDescs = sd, descs
	return nil
}

// NewLeg opens the callee side for one branch and returns the offer to
// send it: the caller's offer pointed at the leg's sockets. Before any
// SetOffer (an INVITE without SDP) the offer is nil and the branch's
// 2xx carries its own offer: give that to Answer. at are the IPs of the
// branch's signalling (where its registration came from): its packets
// are accepted from them and from its SDP's address.
func (r *Relay) NewLeg(at ...netip.Addr) (*Leg, []byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, nil, ErrClosed
	}
	l := r.newLeg()
	l.allow(at)
	if r.callerSD == nil {
		return l, nil, nil
	}
	out, err := r.offerTo(l)
	if err != nil {
		return nil, nil, errors.Join(err, releaseAll(r.closeLeg(l)))
	}
	return l, out, nil
}

func (r *Relay) newLeg() *Leg {
	l := &Leg{r: r}
	l.side, l.leg = Callee, l
	r.legs = append(r.legs, l)
	return l
}

// offerTo rewrites the caller's latest SDP for leg l, opening the leg's
// sockets for the streams the caller side carries.
func (r *Relay) offerTo(l *Leg) ([]byte, error) {
	descs := r.callerDescs
	for i, d := range descs {
		if r.caller.group(i) == nil {
			continue
		}
		if _, err := r.ensure(&l.party, i, d); err != nil {
			return nil, err
		}
	}
	if r.bound == l {
		r.bind(l) // publish the sockets of new streams
	}
	return rewrite(cloneSession(r.callerSD), r.advertise, portsOf(&l.party, len(descs)))
}

// Answer takes this leg's SDP — the answer in its 183 or 2xx, or the offer
// in a 2xx to an INVITE sent without one — binds the leg so media flows
// between it and the caller, and returns the SDP for the caller. A later
// Answer on another leg (a 183 from one branch, the 200 from another)
// moves the binding.
func (l *Leg) Answer(sdp []byte) ([]byte, error) {
	r := l.r
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.answer(l, sdp, false)
}

func (r *Relay) answer(l *Leg, body []byte, rearm bool) ([]byte, error) {
	if r.closed || l.closed {
		return nil, ErrClosed
	}
	sd, descs, err := parseSDP(body)
	if err != nil {
		return nil, err
	}
	if err := r.learn(&l.party, descs, rearm || l.seen); err != nil {
		return nil, err
	}
	r.bind(l)
	return rewrite(sd, r.advertise, portsOf(&r.caller, len(descs)))
}

// Close releases the leg's sockets: a branch that lost or was cancelled.
// Closing the bound leg stops the media.
func (l *Leg) Close() error {
	r := l.r
	r.mu.Lock()
	pairs := r.closeLeg(l)
	r.mu.Unlock()
	return releaseAll(pairs)
}

func (r *Relay) closeLeg(l *Leg) []*pair {
	if l.closed {
		return nil
	}
	l.closed = true
	if r.bound == l {
		r.bind(nil)
	}
	for i, x := range r.legs {
		if x == l {
			r.legs = append(r.legs[:i], r.legs[i+1:]...)
			break
		}
	}
	if r.shared == l {
		r.shared = nil
	}
	return l.pairs()
}

// Offer takes the caller's offer and returns the one to send every branch:
// all of them share one callee side. Answer then binds whichever answers.
// NewLeg gives each branch its own sockets instead, which keeps a losing
// branch's stray packets out of the call; prefer it when forking to
// devices behind NAT.
func (r *Relay) Offer(sdp []byte, from ...netip.Addr) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fromCaller(sdp, from); err != nil {
		return nil, err
	}
	if r.shared == nil {
		r.shared = r.newLeg()
	}
	return r.offerTo(r.shared)
}

// Answer takes the answer of whichever branch answered the shared offer
// and returns the SDP for the caller; from are the IPs of that branch's
// signalling. Because branches share sockets, the callee side's latch is
// re-armed on every Answer.
func (r *Relay) Answer(sdp []byte, from ...netip.Addr) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shared == nil {
		if r.closed {
			return nil, ErrClosed
		}
		return nil, ErrNoOffer
	}
	r.shared.allow(from)
	return r.answer(r.shared, sdp, true)
}

// Update takes a later SDP from one side of the answered call — a
// re-INVITE's offer or its answer, or the caller's answer in the ACK after
// an INVITE without SDP — and returns the SDP for the other side. A new
// m-line gets new sockets; a re-armed latch follows a party that moved.
// via, when given, replace the IPs the party's signalling comes from (a
// re-INVITE from a device that changed networks).
func (r *Relay) Update(from Side, sdp []byte, via ...netip.Addr) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	l := r.bound
	if l == nil {
		return nil, ErrNotAnswered
	}
	switch from {
	case Caller:
		if err := r.fromCaller(sdp, via); err != nil {
			return nil, err
		}
		return r.offerTo(l)
	case Callee:
		l.allow(via)
		return r.answer(l, sdp, false)
	}
	return nil, fmt.Errorf("media: bad side %v", from)
}

// Close stops the relay and frees its sockets. When it returns no OnDigit
// call is running or will run; an OnIdle already under way may still
// finish, and may itself call Close.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	if r.idle != nil {
		r.idle.Stop()
	}
	conns := r.caller.pairs()
	for _, l := range r.legs {
		l.closed = true
		conns = append(conns, l.pairs()...)
	}
	r.legs, r.bound, r.shared = nil, nil, nil
	r.mu.Unlock()
	err := releaseAll(conns)
	r.wg.Wait()
	return err
}

func (p *party) pairs() []*pair {
	var ps []*pair
	for _, g := range p.groups {
		if g != nil {
			ps = append(ps, g.pair)
		}
	}
	return ps
}

// releaseAll lets go of the pairs: closed, or stopped and given back to
// their pool.
func releaseAll(ps []*pair) error {
	var errs []error
	for _, p := range ps {
		if err := p.release(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// learn records a party's SDP: it opens sockets for the streams it
// enables, on its side and the caller's, and points its sockets at the
// addresses it gave; rearm forgets the sources they latched.
func (r *Relay) learn(p *party, descs []mediaDesc, rearm bool) error {
	if len(descs) < len(r.streams) {
		return sdpErrorf("%d m-lines where %d were negotiated; m-lines are never removed (RFC 3264 §8)", len(descs), len(r.streams))
	}
	r.active.Store(true)
	for len(r.streams) < len(descs) {
		r.streams = append(r.streams, &stream{r: r})
	}
	for i, d := range descs {
		st := r.streams[i]
		st.dtmf.Store(d.kind == "audio" && d.rtpProfile && !d.encrypted)
		if !d.off {
			if _, err := r.ensure(p, i, d); err != nil {
				return err
			}
			if p.side == Callee {
				if _, err := r.ensure(&r.caller, i, d); err != nil {
					return err
				}
			}
		}
		g := p.group(i)
		if g == nil {
			continue
		}
		events := d.events.without(d.other)
		g.events.Store(&events)
		g.rtp.setPeer(d.rtp, d.off, d.hold, rearm)
		if g.rtcp != nil {
			g.rtcp.setPeer(d.rtcp, d.off, d.hold, rearm)
		}
	}
	p.seen = true
	return nil
}

// ensure returns p's sockets for stream i, opening them if needed.
func (r *Relay) ensure(p *party, i int, d mediaDesc) (*sockets, error) {
	if g := p.group(i); g != nil {
		return g, nil
	}
	st := r.streams[i]
	pr, err := r.listen(d.rtpProfile)
	if err != nil {
		return nil, err
	}
	g := &sockets{st: st, owner: p, pair: pr}
	g.rtp = r.newPort(g, pr.rtp, false)
	if d.rtpProfile && pr.rtcp != nil { // a pooled pair has RTCP's even when unused
		g.rtcp = r.newPort(g, pr.rtcp, true)
	}
	for len(p.groups) <= i {
		p.groups = append(p.groups, nil)
	}
	p.groups[i] = g
	if p.side == Caller {
		st.caller.Store(g)
	}
	if p.side == Callee && r.bound != p.leg && g.deferrable() {
		// A leg's packets are only latched until it is bound, and the
		// kernel keeps them meanwhile: most forked branches lose the
		// race and are closed having never needed a reader (a door
		// call's three callees: half its sockets).
		g.waiting = true
	} else {
		g.start()
	}
	return g, nil
}

// start starts the readers of g's sockets.
func (g *sockets) start() {
	g.waiting = false
	g.rtp.start()
	if g.rtcp != nil {
		g.rtcp.start()
	}
}

// nowReader is a socket that can be read without waiting (package udp's
// Conn, with raw reads).
type nowReader interface {
	ReadsNow() bool
	ReadFromNow(b []byte) (n int, addr net.Addr, ok bool, err error)
}

// deferrable reports whether g's readers may start late: only sockets
// read by a goroutine, whose waiting datagrams can be read out without
// waiting when they do.
func (g *sockets) deferrable() bool {
	for _, p := range []*port{g.rtp, g.rtcp} {
		if p == nil {
			continue
		}
		if _, ok := p.conn.(HandlerConn); ok {
			return false
		}
		if c, ok := p.conn.(nowReader); !ok || !c.ReadsNow() {
			return false
		}
	}
	return true
}

// maxCatchUp bounds the datagrams a leg's socket reads out when its
// reader starts late: what a receive buffer holds of small packets.
const maxCatchUp = 1024

// catchUp does for what waits in p's socket what a reader would have done
// before the leg was bound: latch the party's address, drop the packet.
func (p *port) catchUp() {
	c := p.conn.(nowReader)
	r := p.g.st.r
	// From the pool the readers use: a buffer of its own escaped to the
	// heap, 2 KiB for every leg answered (issue 19).
	b := rtcpBufs.Get().(*[rtcpBufSize]byte)
	defer rtcpBufs.Put(b)
	buf := b[:]
	for range maxCatchUp {
		n, from, ok, err := c.ReadFromNow(buf[:])
		if !ok || err != nil {
			return
		}
		// As handle: truncated packets and strangers' latch nothing; a
		// party's keeps the relay active.
		if a, ok := from.(*net.UDPAddr); ok && n < len(buf) {
			ap := a.AddrPort()
			if p.accept(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())) {
				r.active.Store(true)
			}
		}
		r.dropped.Add(1)
	}
}

// HandlerConn is a PacketConn that can hand each datagram to a function
// as it arrives instead of being read (an in-memory network's: the
// sender's goroutine then relays it, and no goroutine waits on the
// socket). Handle's f is called one datagram at a time, as a read loop
// would take them; done is called once the conn is closed and no call of
// f is under way, where a read loop would have ended.
type HandlerConn interface {
	PacketConn
	Handle(f func(b []byte, from netip.AddrPort), done func())
}

// start relays what the port receives: on a goroutine reading the socket,
// or, when the socket hands datagrams over itself, in its handler.
func (p *port) start() {
	r := p.g.st.r
	if h, ok := p.conn.(HandlerConn); ok {
		size := rtpBufSize
		if p.isRTCP {
			size = rtcpBufSize
		}
		r.wg.Add(1) // as for a read loop: Close waits for the last call
		h.Handle(func(b []byte, src netip.AddrPort) {
			if len(b) >= size { // what a read into the buffer would truncate
				r.dropped.Add(1)
				return
			}
			p.handle(b, netip.AddrPortFrom(src.Addr().Unmap(), src.Port()))
		}, r.wg.Done)
		return
	}
	r.wg.Add(1)
	p.g.pair.users.Add(1) // the pair goes back to a pool only once its readers return
	go p.serve()
}

func (r *Relay) newPort(g *sockets, c PacketConn, rtcp bool) *port {
	p := &port{g: g, conn: c, isRTCP: rtcp}
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok {
		p.num = uint16(a.Port)
	}
	p.peer.Store(&peer{})
	if !rtcp {
		side := g.owner.side
		p.det = new(detector)
		p.emit = func(d rune) { r.digit(side, d) }
	}
	return p
}

// bind makes l the leg media flows to (nil: none), starting its readers
// if they wait: what arrived before is latched and dropped first, as it
// would have been while the leg was not bound.
func (r *Relay) bind(l *Leg) {
	r.bound = l
	var late []*sockets
	for i, st := range r.streams {
		var g *sockets
		if l != nil {
			g = l.group(i)
		}
		if g != nil && g.waiting {
			g.rtp.catchUp()
			if g.rtcp != nil {
				g.rtcp.catchUp()
			}
			late = append(late, g)
		}
		st.callee.Store(g)
	}
	for _, g := range late {
		g.start()
	}
}

func portsOf(p *party, n int) []portPair {
	ps := make([]portPair, n)
	for i := range ps {
		g := p.group(i)
		if g == nil {
			continue
		}
		ps[i].rtp = g.rtp.num
		if g.rtcp != nil {
			ps[i].rtcp = g.rtcp.num
		}
	}
	return ps
}

// listen returns a stream's sockets: taken from the pool, or opened for
// the relay alone.
func (r *Relay) listen(rtcp bool) (*pair, error) {
	key := poolKey{ip: r.cfg.IP, min: r.cfg.PortMin, max: r.cfg.PortMax}
	if r.cfg.Pool != nil {
		return r.cfg.Pool.take(key)
	}
	listen := r.cfg.Listen
	if listen == nil {
		listen = ListenUDP
	}
	a, b, err := openPair(listen, key, rtcp)
	if err != nil {
		return nil, err
	}
	pr := &pair{rtp: a, rtcp: b, key: key}
	pr.users.Store(1)
	return pr, nil
}

// openPair opens a socket for RTP and, when rtcp, one for RTCP: from the
// key's range (even RTP port, RTCP above it) or ports the kernel picks.
// The range is scanned from a random pair, so a port freed by one call is
// not handed straight to the next, where late packets would land.
func openPair(listen ListenFunc, key poolKey, rtcp bool) (PacketConn, PacketConn, error) {
	open := func(port int) (PacketConn, error) {
		return listen(netip.AddrPortFrom(key.ip, uint16(port)))
	}
	if key.min == 0 && key.max == 0 {
		a, err := open(0)
		if err != nil || !rtcp {
			return a, nil, wrapListen(err)
		}
		b, err := open(0)
		if err != nil {
			a.Close()
			return nil, nil, wrapListen(err)
		}
		return a, b, nil
	}
	lo := key.min + key.min%2
	pairs := (key.max-1-lo)/2 + 1
	start := rand.IntN(pairs)
	for k := range pairs {
		p := lo + 2*((start+k)%pairs)
		a, err := open(p)
		if err != nil {
			continue
		}
		if !rtcp {
			return a, nil, nil
		}
		b, err := open(p + 1)
		if err != nil {
			a.Close()
			continue
		}
		return a, b, nil
	}
	return nil, nil, fmt.Errorf("%w %d-%d", ErrNoPorts, key.min, key.max)
}

func wrapListen(err error) error {
	if err != nil {
		return fmt.Errorf("media: open socket: %w", err)
	}
	return nil
}

func (r *Relay) digit(side Side, d rune) {
	if r.cfg.OnDigit != nil {
		r.cfg.OnDigit(side, d, r.clk.Now())
	}
}

// setPeer points the port at a party's SDP address. rearm forgets the
// latched source, so the next packet is learned afresh.
func (p *port) setPeer(sdp netip.AddrPort, off, hold, rearm bool) {
	for {
		old := p.peer.Load()
		n := &peer{sdp: sdp, sdpIP: old.sdpIP, off: off, hold: hold}
		if sdp.IsValid() {
			n.sdpIP = sdp.Addr()
		}
		if !rearm {
			n.latched = old.latched
		}
		if p.peer.CompareAndSwap(old, n) {
			return
		}
	}
}

// accept reports whether a packet from src is the party's: from the
// latched source, or from one of the party's addresses (its SDP's IP or
// its signalling's), which latches it. Anything else is a stranger's.
func (p *port) accept(src netip.AddrPort) bool {
	for {
		old := p.peer.Load()
		if old.latched == src {
			return !old.off
		}
		if ip := src.Addr(); ip != old.sdpIP && !p.g.owner.allows(ip) {
			return false
		}
		n := *old
		n.latched = src
		if p.peer.CompareAndSwap(old, &n) {
			return !n.off
		}
	}
}

// dest is where to send to the party the port faces.
func (p *port) dest() netip.AddrPort {
	pr := p.peer.Load()
	switch {
	case pr.off || pr.hold:
		return netip.AddrPort{}
	case pr.latched.IsValid():
		return pr.latched
	}
	return pr.sdp
}

// counterpart is the sockets a packet arriving on g leaves by: the bound
// leg's for the caller, the caller's for the bound leg, none for a leg
// that is not bound.
func (g *sockets) counterpart() *sockets {
	st := g.st
	if g.owner.side == Caller {
		return st.callee.Load()
	}
	if st.callee.Load() != g {
		return nil
	}
	return st.caller.Load()
}

// Receive buffers: RTP up to a large video packet, RTCP compounds. A read
// that fills the buffer was truncated and is dropped, not forwarded cut.
const (
	rtpBufSize  = 8192
	rtcpBufSize = 2048
)

// Receive buffers are reused across calls: a call opens a socket pair per
// party and leg, and a server taking many calls a second would otherwise
// allocate (and clear) tens of kilobytes for each.
var (
	rtpBufs  = sync.Pool{New: func() any { return new([rtpBufSize]byte) }}
	rtcpBufs = sync.Pool{New: func() any { return new([rtcpBufSize]byte) }}
)

func (p *port) serve() {
	defer p.g.st.r.wg.Done()
	defer p.g.pair.done()
	var buf []byte
	if p.isRTCP {
		b := rtcpBufs.Get().(*[rtcpBufSize]byte)
		defer rtcpBufs.Put(b)
		buf = b[:]
	} else {
		b := rtpBufs.Get().(*[rtpBufSize]byte)
		defer rtpBufs.Put(b)
		buf = b[:]
	}
	for {
		n, src, err := p.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			// Closed, or stopped by release to go back to its pool.
			if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) {
				return
			}
			continue
		}
		if n == len(buf) {
			p.g.st.r.dropped.Add(1)
			continue
		}
		p.handle(buf[:n], netip.AddrPortFrom(src.Addr().Unmap(), src.Port()))
	}
}

// handle relays one packet received from src.
func (p *port) handle(pkt []byte, src netip.AddrPort) {
	g := p.g
	r := g.st.r
	if !p.accept(src) {
		r.dropped.Add(1)
		return
	}
	if !r.active.Load() {
		r.active.Store(true)
	}
	out := g.counterpart()
	if out == nil {
		r.dropped.Add(1)
		return
	}
	q := out.rtp
	if p.isRTCP {
		q = out.rtcp
	}
	if p.det != nil && len(pkt) >= 12 && g.st.dtmf.Load() && isEvent(pkt[1]&0x7f, g, out) {
		// Observe before forwarding: once the other side has the packet,
		// its digit has been reported.
		p.det.packet(pkt, p.emit)
	}
	if q == nil {
		r.dropped.Add(1)
		return
	}
	dst := q.dest()
	if !dst.IsValid() {
		r.dropped.Add(1)
		return
	}
	// Counted before sending, so a receiver that has the packet sees it
	// counted.
	r.forwarded.Add(1)
	if _, err := q.conn.WriteToUDPAddrPort(pkt, dst); err != nil {
		r.forwarded.Add(^uint64(0))
		r.dropped.Add(1)
	}
}

// isEvent reports whether pt is telephone-event in either party's SDP: the
// sender uses the receiver's number (RFC 3264 §5.1), and answers repeat
// the offer's in practice.
func isEvent(pt uint8, a, b *sockets) bool {
	if s := a.events.Load(); s != nil && s.has(pt) {
		return true
	}
	if s := b.events.Load(); s != nil && s.has(pt) {
		return true
	}
	return false
}
