package media

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"

	"switchboard/runtime/audio"
	"switchboard/runtime/clock"
	"switchboard/runtime/line"
)

// Endpoint is the server's own end of a call's media, for the calls it
// answers itself (voicemail, conference bridges): one RTP socket that
// speaks G.711 and RFC 4733, where the relay only forwards.
//
// It negotiates the first G.711 codec of the caller's offer (RFC 3264
// answer: same m-lines, every other stream refused with port 0), latches
// onto the address the caller's packets come from (symmetric RTP, RFC
// 4961, for devices behind NAT), decodes what arrives and sends what the
// service plays, paced by the runtime clock. As the relay's sockets do
// (see Relay), it takes packets only from the caller's own IPs — its
// SDP's and its signalling's — so that a stranger can neither listen to
// a voicemail greeting or a conference nor speak into them.
type Endpoint struct {
	cfg  Config
	clk  clock.Clock
	conn PacketConn

	codec   audio.Codec
	eventPT int // -1: the caller offered no telephone-event

	frames chan line.Frame
	digits chan rune
	closed chan struct{}
	once   sync.Once

	// sdpIP and via are the IPs the caller's packets are accepted from:
	// its SDP's connection address and its signalling's source.
	sdpIP   netip.Addr
	via     []netip.Addr
	dropped atomic.Uint64

	mu     sync.Mutex
	remote netip.AddrPort
	seq    uint16
	ts     uint32
	ssrc   uint32
	marker bool
	out    []byte // send buffer, reused under mu
}

// NewEndpoint opens nothing yet: Answer opens the socket.
func NewEndpoint(cfg Config) *Endpoint {
	clk := cfg.Clock
	if clk == nil {
		clk = clock.Real
	}
	// frames holds 5 s of audio: a service busy with a prompt or a disk
	// sync, or a burst after a network stall, loses nothing.
	return &Endpoint{
		cfg: cfg, clk: clk, eventPT: -1,
		frames: make(chan line.Frame, 256), digits: make(chan rune, 32), closed: make(chan struct{}),
		seq: uint16(rand.Uint32()), ts: rand.Uint32(), ssrc: rand.Uint32(), marker: true,
	}
}

// ErrNoCodec is returned by Answer when the offer has no G.711 audio.
var ErrNoCodec = errors.New("media: the offer has no G.711 audio stream (PCMU or PCMA)")

// Answer opens the socket and returns the SDP answer to offer. from are
// the IPs the caller's signalling came from (the INVITE's source): its
// packets are accepted from them and from its SDP's address only.
func (e *Endpoint) Answer(offer []byte, from ...netip.Addr) ([]byte, error) {
	for _, ip := range from {
		if ip.IsValid() && !ip.IsUnspecified() {
			e.via = append(e.via, ip.Unmap())
		}
	}
	sd, descs, err := parseSDP(offer)
	if err != nil {
		return nil, err
	}
	chosen := -1
	for i, md := range sd.MediaDescriptions {
		if descs[i].kind != "audio" || descs[i].off || descs[i].encrypted || !descs[i].rtpProfile {
			continue
		}
		for _, f := range md.MediaName.Formats {
			pt, err := strconv.Atoi(f)
			if err != nil {
				continue
			}
			if c, ok := audio.CodecForPayloadType(uint8(pt)); ok && pt < 128 {
				e.codec, chosen = c, i
				break
			}
		}
		if chosen < 0 {
			continue
		}
		for pt := range 128 {
			if descs[i].events.has(uint8(pt)) {
				e.eventPT = pt
				break
			}
		}
		e.remote = descs[i].rtp
		e.sdpIP = descs[i].rtp.Addr()
		break
	}
	if chosen < 0 {
		return nil, fmt.Errorf("%w: %w", ErrSDP, ErrNoCodec)
	}
	port, err := e.open()
	if err != nil {
		return nil, err
	}
	return e.answerSDP(sd, chosen, port)
}

// open opens the socket, on a port of the configured range, and starts
// reading it.
func (e *Endpoint) open() (int, error) {
	ip := e.cfg.IP
	listen := e.cfg.Listen
	if listen == nil {
		listen = ListenUDP
	}
	port := 0
	if e.cfg.PortMin > 0 {
		// The relay's pairs: an even port, its RTCP neighbour in range
		// too, where a caller sends RTCP by default (RFC 3550 §11).
		lo, hi := e.cfg.PortMin+e.cfg.PortMin%2, e.cfg.PortMax
		n := (hi-1-lo)/2 + 1
		start := rand.IntN(max(n, 1))
		for k := range n {
			p := lo + 2*((start+k)%n)
			if c, err := listen(netip.AddrPortFrom(ip, uint16(p))); err == nil {
				e.conn, port = c, p
				break
			}
		}
		if e.conn == nil {
			return 0, fmt.Errorf("%w %d-%d", ErrNoPorts, e.cfg.PortMin, e.cfg.PortMax)
		}
	} else {
		c, err := listen(netip.AddrPortFrom(ip, 0))
		if err != nil {
			return 0, wrapListen(err)
		}
		e.conn = c
		ap, _ := netip.ParseAddrPort(c.LocalAddr().String())
		port = int(ap.Port())
	}
	go e.read()
	return port, nil
}

// offerEventPT is the payload type the server's own offers give
// telephone-event (RFC 4733), the one most phones use.
const offerEventPT = 101

// Offer opens the socket and returns an SDP offer, for a call the server
// places itself (a ring test): G.711 µ-law and A-law and telephone-event.
// to are the IPs the callee's packets are accepted from (its signalling's)
// until Accept reads its answer.
func (e *Endpoint) Offer(to ...netip.Addr) ([]byte, error) {
	for _, ip := range to {
		if ip.IsValid() && !ip.IsUnspecified() {
			e.via = append(e.via, ip.Unmap())
		}
	}
	// What the answer will most likely say, until Accept reads it: a
	// callee may send its first digits as soon as it answers, before its
	// answer is read here (RFC 3264 §6.1: it answers with the offer's
	// payload types).
	e.codec, e.eventPT = audio.PCMU, offerEventPT
	port, err := e.open()
	if err != nil {
		return nil, err
	}
	adv := e.cfg.Advertise
	if !adv.IsValid() {
		adv = e.cfg.IP
	}
	addrType := "IP4"
	if adv.Is6() {
		addrType = "IP6"
	}
	offer := &sdp.SessionDescription{
		Origin:                sdp.Origin{Username: "-", SessionID: uint64(e.ssrc), SessionVersion: 1, NetworkType: "IN", AddressType: addrType, UnicastAddress: adv.String()},
		SessionName:           "switchboard",
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType, Address: &sdp.Address{Address: adv.String()}},
		TimeDescriptions:      []sdp.TimeDescription{{}},
	}
	m := &sdp.MediaDescription{MediaName: sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: port}, Protos: []string{"RTP", "AVP"}}}
	for _, c := range []audio.Codec{audio.PCMU, audio.PCMA} {
		m.WithCodec(c.PayloadType(), c.String(), audio.Rate, 0, "")
	}
	m.WithCodec(offerEventPT, "telephone-event", audio.Rate, 0, "0-16")
	m.WithValueAttribute("ptime", "20")
	m.WithPropertyAttribute("sendrecv")
	offer.MediaDescriptions = append(offer.MediaDescriptions, m)
	return offer.Marshal()
}

// Accept reads the callee's answer to Offer's offer: the codec it chose,
// whether it takes telephone-event, and where it receives.
func (e *Endpoint) Accept(answer []byte) error {
	sd, descs, err := parseSDP(answer)
	if err != nil {
		return err
	}
	for i, d := range descs {
		if d.kind != "audio" || d.off || d.encrypted || !d.rtpProfile {
			continue
		}
		for _, f := range sd.MediaDescriptions[i].MediaName.Formats {
			pt, err := strconv.Atoi(f)
			if err != nil || pt < 0 || pt >= 128 {
				continue
			}
			c, ok := audio.CodecForPayloadType(uint8(pt))
			if !ok {
				continue
			}
			e.mu.Lock()
			e.codec, e.remote = c, d.rtp
			if !d.events.has(offerEventPT) {
				e.eventPT = -1 // the callee takes no RFC 4733 events
			}
			e.sdpIP = d.rtp.Addr()
			e.mu.Unlock()
			return nil
		}
	}
	return fmt.Errorf("%w: %w", ErrSDP, ErrNoCodec)
}

func (e *Endpoint) answerSDP(offer *sdp.SessionDescription, chosen, port int) ([]byte, error) {
	adv := e.cfg.Advertise
	if !adv.IsValid() {
		adv = e.cfg.IP
	}
	addrType := "IP4"
	if adv.Is6() {
		addrType = "IP6"
	}
	ans := &sdp.SessionDescription{
		Origin:                sdp.Origin{Username: "-", SessionID: uint64(e.ssrc), SessionVersion: 1, NetworkType: "IN", AddressType: addrType, UnicastAddress: adv.String()},
		SessionName:           "switchboard",
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType, Address: &sdp.Address{Address: adv.String()}},
		TimeDescriptions:      []sdp.TimeDescription{{}},
	}
	for i, md := range offer.MediaDescriptions {
		if i != chosen {
			// A refused stream keeps its media and proto, with port 0
			// (RFC 3264 §6).
			f := md.MediaName.Formats
			if len(f) > 1 {
				f = f[:1]
			}
			ans.MediaDescriptions = append(ans.MediaDescriptions, &sdp.MediaDescription{
				MediaName: sdp.MediaName{Media: md.MediaName.Media, Port: sdp.RangedPort{Value: 0}, Protos: md.MediaName.Protos, Formats: f},
			})
			continue
		}
		pt := int(e.codec.PayloadType())
		m := &sdp.MediaDescription{
			MediaName: sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: port}, Protos: []string{"RTP", "AVP"}},
		}
		m.WithCodec(uint8(pt), e.codec.String(), audio.Rate, 0, "")
		if e.eventPT >= 0 {
			m.WithCodec(uint8(e.eventPT), "telephone-event", audio.Rate, 0, "0-16")
		}
		m.WithValueAttribute("ptime", "20")
		m.WithPropertyAttribute("sendrecv")
		ans.MediaDescriptions = append(ans.MediaDescriptions, m)
	}
	return ans.Marshal()
}

// read decodes the caller's packets until Close.
func (e *Endpoint) read() {
	buf := make([]byte, 1500)
	var det detector
	var hdr rtp.Header
	emit := func(d rune) {
		select {
		case e.digits <- d:
		default:
		}
	}
	for {
		n, src, err := e.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		e.mu.Lock() // Accept may change what a call it placed negotiated
		allowed := e.allows(src.Addr())
		e.mu.Unlock()
		if !allowed {
			e.dropped.Add(1)
			continue
		}
		pkt := buf[:n]
		off, err := hdr.Unmarshal(pkt)
		if err != nil || hdr.Version != 2 {
			continue
		}
		e.mu.Lock()
		// Symmetric RTP: answer where the caller's packets come from,
		// which behind NAT is not what its SDP says.
		e.remote = src
		eventPT, codec := e.eventPT, e.codec
		e.mu.Unlock()
		switch {
		case int(hdr.PayloadType) == eventPT:
			det.packet(pkt, emit)
		case hdr.PayloadType == codec.PayloadType():
			end := len(pkt)
			if hdr.Padding && end > off {
				end -= int(pkt[end-1])
			}
			if end <= off || end-off > 4*audio.FrameSamples {
				continue
			}
			f := line.Frame{Seq: hdr.SequenceNumber, Timestamp: hdr.Timestamp, Samples: codec.Decode(make([]int16, 0, end-off), pkt[off:end])}
			select {
			case e.frames <- f:
			default: // the service is not keeping up: lose the frame, not the call
			}
		}
	}
}

// allows reports whether ip is one of the caller's: fixed once Answer has
// started the reading goroutine.
func (e *Endpoint) allows(ip netip.Addr) bool {
	if ip == e.sdpIP {
		return true
	}
	for _, a := range e.via {
		if a == ip {
			return true
		}
	}
	return false
}

// Dropped counts the packets refused for coming from an address that is
// not the caller's.
func (e *Endpoint) Dropped() uint64 { return e.dropped.Load() }

// Codec is the negotiated codec.
func (e *Endpoint) Codec() audio.Codec { return e.codec }

// Clock is the endpoint's clock.
func (e *Endpoint) Clock() clock.Clock { return e.clk }

// Frames delivers decoded audio.
func (e *Endpoint) Frames() <-chan line.Frame { return e.frames }

// Digits delivers RFC 4733 digits.
func (e *Endpoint) Digits() <-chan rune { return e.digits }

// Send sends one frame now.
func (e *Endpoint) Send(frame []int16) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn == nil {
		return errors.New("media: endpoint not answered")
	}
	select {
	case <-e.closed:
		return ErrClosed
	default:
	}
	h := rtp.Header{Version: 2, PayloadType: e.codec.PayloadType(), SequenceNumber: e.seq, Timestamp: e.ts, SSRC: e.ssrc, Marker: e.marker}
	e.seq++
	e.ts += uint32(len(frame))
	e.marker = false
	b, err := h.MarshalTo(e.out[:cap(e.out)])
	if err != nil {
		e.out = make([]byte, 12+4*audio.FrameSamples)
		if b, err = h.MarshalTo(e.out); err != nil {
			return err
		}
	}
	pkt := e.codec.Encode(e.out[:b], frame)
	e.out = pkt[:0]
	if !e.remote.IsValid() {
		return nil // on hold, or no address yet: the frame is dropped
	}
	_, err = e.conn.WriteToUDPAddrPort(pkt, e.remote)
	return err
}

// Play sends samples as 20 ms frames paced by the clock.
func (e *Endpoint) Play(ctx context.Context, samples []int16) error {
	frame := make([]int16, audio.FrameSamples)
	tick := make(chan struct{}, 1)
	for off := 0; off < len(samples); off += audio.FrameSamples {
		n := copy(frame, samples[off:])
		clear(frame[n:])
		// The next frame's timer runs before this frame leaves: whoever
		// receives it (a simulator driving a virtual clock) may move the
		// clock on at once, and must find the timer there.
		t := e.clk.AfterFunc(20*time.Millisecond, func() { tick <- struct{}{} })
		if err := e.Send(frame); err != nil {
			t.Stop()
			if errors.Is(err, ErrClosed) {
				return line.ErrHungUp
			}
			return err
		}
		select {
		case <-tick:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-e.closed:
			t.Stop()
			return line.ErrHungUp
		}
	}
	return nil
}

// Close releases the socket.
func (e *Endpoint) Close() error {
	var err error
	e.once.Do(func() {
		e.mu.Lock()
		close(e.closed)
		if e.conn != nil {
			err = e.conn.Close()
		}
		e.mu.Unlock()
	})
	return err
}
