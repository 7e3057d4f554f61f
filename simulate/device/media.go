package device

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"

	"switchboard/runtime/audio"
	rtmedia "switchboard/runtime/media"
)

// Payload types the simulated devices offer: G.711 µ-law and A-law and
// RFC 4733 telephone events, which every intercom and phone supports, and
// H.264 on a camera door station's video.
const (
	ptPCMU  = 0
	ptPCMA  = 8
	ptEvent = 101
	ptH264  = 96
)

// media is one call's RTP endpoint: a UDP socket, the peer's address from
// the SDP, and the digits received as RFC 4733 events.
type media struct {
	conn rtmedia.PacketConn
	ssrc uint32

	mu      sync.Mutex
	remote  netip.AddrPort
	eventPT uint8
	seq     uint16
	ts      uint32
	digits  []rune
	lastTS  uint32
	haveTS  bool
	packets int
	notify  func(rune)
	closed  bool
	got     chan struct{} // signalled when a digit arrives
	audio   []int16       // decoded µ-law received (audio.go)
	heard   chan struct{} // signalled when audio arrives
	toneAt  int           // samples of tone sent, for a continuous phase

	// others are the session's m-lines besides the audio, in order: what
	// the device offers beside it (a door station's camera) or, answering,
	// its answers to the offer's other m-lines (answering). Each SDP the
	// device sends in the call has them (RFC 3264 §8: the m-lines stay).
	others []*sdp.MediaDescription
	// audioAt is the audio m-line's position among them all.
	audioAt int
	// video is the call's video socket, when it has video: a camera's
	// offer, or an answer accepting one. listen and ip open it.
	video  *video
	listen rtmedia.ListenFunc
	ip     netip.Addr
}

func newMedia(listen rtmedia.ListenFunc, ip netip.Addr, notify func(rune)) (*media, error) {
	if listen == nil {
		listen = rtmedia.ListenUDP
	}
	conn, err := listen(netip.AddrPortFrom(ip, 0))
	if err != nil {
		return nil, err
	}
	m := &media{conn: conn, ssrc: uint32(time.Now().UnixNano()), eventPT: ptEvent, notify: notify, got: make(chan struct{}, 1), heard: make(chan struct{}, 1), listen: listen, ip: ip}
	go m.read()
	return m, nil
}

func (m *media) port() int { return m.conn.LocalAddr().(*net.UDPAddr).Port }

// offerVideo adds a camera to what the device offers: H.264 as Akuvox
// door stations describe it, in two profiles — which makes an offer near a
// kilobyte, as a real video door station's is — on a socket of its own.
func (m *media) offerVideo() error {
	v, err := newVideo(m.listen, m.ip)
	if err != nil {
		return err
	}
	m.video = v
	md := &sdp.MediaDescription{
		MediaName:  sdp.MediaName{Media: "video", Port: sdp.RangedPort{Value: v.port()}, Protos: []string{"RTP", "AVP"}, Formats: []string{"96", "97"}},
		Attributes: cameraAttributes,
	}
	m.others = append(m.others, md)
	return nil
}

// cameraAttributes and audioAttributes are the attributes of the device's
// video offer and of its audio m-line, the same in every call: built once,
// not in every SDP (formatting them was a tenth of the simulated devices'
// SDP work). They are shared, read only: clipped, so that an append to an
// m-line's attributes copies them.
var (
	cameraAttributes = func() []sdp.Attribute {
		md := &sdp.MediaDescription{}
		for _, pt := range []uint8{ptH264, ptH264 + 1} {
			md.WithCodec(pt, "H264", 90000, 0, fmt.Sprintf("profile-level-id=42%s1f;packetization-mode=%d;max-br=2048;max-mbps=108000;sprop-parameter-sets=Z0LAH9oBQBbsBEAAAAMAQAAADyPGDKg=,aM4G4g==", map[uint8]string{ptH264: "e0", ptH264 + 1: "80"}[pt], pt-ptH264))
			md.WithValueAttribute("rtcp-fb", fmt.Sprintf("%d nack pli", pt))
			md.WithValueAttribute("rtcp-fb", fmt.Sprintf("%d ccm fir", pt))
		}
		md.WithPropertyAttribute("sendrecv")
		return slices.Clip(md.Attributes)
	}()
	audioAttributes = func() []sdp.Attribute {
		md := &sdp.MediaDescription{}
		md.WithCodec(ptPCMU, "PCMU", 8000, 0, "")
		md.WithCodec(ptPCMA, "PCMA", 8000, 0, "")
		md.WithCodec(ptEvent, "telephone-event", 8000, 0, "0-16")
		md.WithPropertyAttribute("sendrecv")
		md.WithValueAttribute("ptime", "20")
		return slices.Clip(md.Attributes)
	}()
)

// answering shapes the device's SDP after offer's m-lines: its audio where
// the offer's audio is; the offer's H.264 video accepted, as a monitor or
// an app shows the door's camera (nothing is sent on it); every other
// m-line refused (port 0).
func (m *media) answering(sess *sdp.SessionDescription) {
	m.others, m.audioAt = nil, 0
	audio := false
	for i, md := range sess.MediaDescriptions {
		if md.MediaName.Media == "audio" && !audio {
			audio, m.audioAt = true, i
			continue
		}
		if m.video == nil && isH264Video(md) {
			if v, err := newVideo(m.listen, m.ip); err == nil {
				if a := acceptVideo(md, v.port()); a != nil {
					m.video = v
					m.others = append(m.others, a)
					continue
				}
				v.conn.Close()
			}
		}
		formats := md.MediaName.Formats
		if len(formats) > 1 {
			formats = formats[:1]
		}
		m.others = append(m.others, &sdp.MediaDescription{
			MediaName: sdp.MediaName{Media: md.MediaName.Media, Port: sdp.RangedPort{Value: 0}, Protos: md.MediaName.Protos, Formats: formats},
		})
	}
}

// isH264Video reports whether md is a live video stream with H.264.
func isH264Video(md *sdp.MediaDescription) bool {
	if md.MediaName.Media != "video" || md.MediaName.Port.Value == 0 {
		return false
	}
	for _, a := range md.Attributes {
		if a.Key == "rtpmap" && strings.Contains(strings.ToUpper(a.Value), " H264/") {
			return true
		}
	}
	return false
}

// acceptVideo answers an offered H.264 video m-line with its first H.264
// payload type, received on port; nil when no payload type is H.264.
func acceptVideo(md *sdp.MediaDescription, port int) *sdp.MediaDescription {
	for _, f := range md.MediaName.Formats {
		var rtpmap, fmtp string
		for _, a := range md.Attributes {
			switch {
			case a.Key == "rtpmap" && strings.HasPrefix(a.Value, f+" "):
				rtpmap = a.Value
			case a.Key == "fmtp" && strings.HasPrefix(a.Value, f+" "):
				fmtp = a.Value
			}
		}
		if !strings.Contains(strings.ToUpper(rtpmap), " H264/") {
			continue
		}
		a := &sdp.MediaDescription{MediaName: sdp.MediaName{Media: "video", Port: sdp.RangedPort{Value: port}, Protos: md.MediaName.Protos, Formats: []string{f}}}
		a.WithValueAttribute("rtpmap", rtpmap)
		if fmtp != "" {
			a.WithValueAttribute("fmtp", fmtp)
		}
		a.WithPropertyAttribute("recvonly")
		return a
	}
	return nil
}

// sdp describes this endpoint as an offer or answer.
func (m *media) sdp(ip netip.Addr) []byte {
	sess := &sdp.SessionDescription{
		Version:     0,
		Origin:      sdp.Origin{Username: "-", SessionID: uint64(m.ssrc), SessionVersion: 1, NetworkType: "IN", AddressType: "IP4", UnicastAddress: ip.String()},
		SessionName: "switchboard-sim",
		ConnectionInformation: &sdp.ConnectionInformation{
			NetworkType: "IN", AddressType: "IP4", Address: &sdp.Address{Address: ip.String()},
		},
		TimeDescriptions: []sdp.TimeDescription{{Timing: sdp.Timing{}}},
	}
	md := &sdp.MediaDescription{
		MediaName:  sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: m.port()}, Protos: []string{"RTP", "AVP"}, Formats: []string{"0", "8", "101"}},
		Attributes: audioAttributes,
	}
	at := min(m.audioAt, len(m.others))
	sess.MediaDescriptions = append(sess.MediaDescriptions, m.others[:at]...)
	sess.MediaDescriptions = append(sess.MediaDescriptions, md)
	sess.MediaDescriptions = append(sess.MediaDescriptions, m.others[at:]...)
	b, _ := sess.Marshal()
	return b
}

// mediaIP is the connection address of m-line md of sess.
func mediaIP(sess *sdp.SessionDescription, md *sdp.MediaDescription) (netip.Addr, bool) {
	conn := sess.ConnectionInformation
	if md.ConnectionInformation != nil {
		conn = md.ConnectionInformation
	}
	if conn == nil || conn.Address == nil {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(conn.Address.Address)
	return ip, err == nil
}

// parseSDP reads what a device needs of a peer's session description:
// the connection addresses (session and media level), each m-line's
// media, port, protocol and formats, and its attributes. The peer is the
// server, whose SDP the suites read twice a call (the offer a device
// answers, the answer to its own): pion's full parser cost the simulated
// devices more than all they do with the result. Lines of other kinds
// are skipped; a malformed v=, c= or m= line is an error, as it is to
// pion.
func parseSDP(body []byte) (*sdp.SessionDescription, error) {
	sess := &sdp.SessionDescription{}
	var md *sdp.MediaDescription
	text := string(body)
	for first := true; text != ""; first = false {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		line = strings.TrimSuffix(line, "\r")
		if first && line != "v=0" {
			return nil, fmt.Errorf("peer SDP: starts with %q, not v=0", line)
		}
		if len(line) < 2 || line[1] != '=' {
			if line == "" {
				continue
			}
			return nil, fmt.Errorf("peer SDP: malformed line %q", line)
		}
		value := line[2:]
		switch line[0] {
		case 'c':
			f := strings.Fields(value)
			if len(f) != 3 {
				return nil, fmt.Errorf("peer SDP: malformed connection line %q", line)
			}
			addr, _, _ := strings.Cut(f[2], "/") // a multicast TTL
			ci := &sdp.ConnectionInformation{NetworkType: f[0], AddressType: f[1], Address: &sdp.Address{Address: addr}}
			if md == nil {
				sess.ConnectionInformation = ci
			} else {
				md.ConnectionInformation = ci
			}
		case 'm':
			f := strings.Fields(value)
			if len(f) < 4 {
				return nil, fmt.Errorf("peer SDP: malformed media line %q", line)
			}
			num, _, _ := strings.Cut(f[1], "/") // a port count
			port, err := strconv.Atoi(num)
			if err != nil || port < 0 || port > 65535 {
				return nil, fmt.Errorf("peer SDP: malformed media line %q", line)
			}
			md = &sdp.MediaDescription{MediaName: sdp.MediaName{
				Media: f[0], Port: sdp.RangedPort{Value: port}, Protos: strings.Split(f[2], "/"), Formats: f[3:],
			}}
			sess.MediaDescriptions = append(sess.MediaDescriptions, md)
		case 'a':
			key, val, _ := strings.Cut(value, ":")
			a := sdp.Attribute{Key: key, Value: val}
			if md == nil {
				sess.Attributes = append(sess.Attributes, a)
			} else {
				md.Attributes = append(md.Attributes, a)
			}
		}
	}
	return sess, nil
}

// setRemote takes the peer's audio address and event payload type from its
// SDP.
func (m *media) setRemote(body []byte) error {
	sess, err := parseSDP(body)
	if err != nil {
		return err
	}
	return m.setRemoteSession(sess)
}

// setRemoteSession is setRemote with the SDP parsed: a device answering
// an offer reads it once for both its peer and its answer.
func (m *media) setRemoteSession(sess *sdp.SessionDescription) error {
	if v := m.video; v != nil {
		// The peer's video address, where the camera sends.
		for _, md := range sess.MediaDescriptions {
			if md.MediaName.Media != "video" {
				continue
			}
			if ip, ok := mediaIP(sess, md); ok {
				v.mu.Lock()
				v.remote = netip.AddrPortFrom(ip, uint16(md.MediaName.Port.Value))
				v.mu.Unlock()
			}
			break
		}
	}
	for _, md := range sess.MediaDescriptions {
		if md.MediaName.Media != "audio" {
			continue
		}
		conn := sess.ConnectionInformation
		if md.ConnectionInformation != nil {
			conn = md.ConnectionInformation
		}
		if conn == nil || conn.Address == nil {
			return errors.New("peer SDP has no connection address")
		}
		ip, err := netip.ParseAddr(conn.Address.Address)
		if err != nil {
			return fmt.Errorf("peer SDP address: %w", err)
		}
		m.mu.Lock()
		m.remote = netip.AddrPortFrom(ip, uint16(md.MediaName.Port.Value))
		for _, a := range md.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			if pt, ok := eventPayloadType(a.Value); ok {
				m.eventPT = pt
			}
		}
		m.mu.Unlock()
		return nil
	}
	return errors.New("peer SDP has no audio stream")
}

// eventPayloadType reads an rtpmap value ("101 telephone-event/8000"):
// the payload type when it maps telephone events.
func eventPayloadType(rtpmap string) (uint8, bool) {
	num, name, ok := strings.Cut(rtpmap, " ")
	if !ok || !strings.HasPrefix(strings.TrimSpace(name), "telephone-event") {
		return 0, false
	}
	pt, err := strconv.ParseUint(num, 10, 7)
	if err != nil {
		return 0, false
	}
	return uint8(pt), true
}

// readBuffers are the RTP read loops' buffers: a call's loop lives for a
// few packets, and the 6 000-user suite starts hundreds of thousands.
// Nothing read is kept past the next read (keepAudio decodes a copy).
var readBuffers = sync.Pool{New: func() any { return new([1500]byte) }}

func (m *media) read() {
	b := readBuffers.Get().(*[1500]byte)
	defer readBuffers.Put(b)
	buf := b[:]
	for {
		n, _, err := m.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		var p rtp.Packet
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		m.mu.Lock()
		m.packets++
		pt := m.eventPT
		m.mu.Unlock()
		switch p.PayloadType {
		case ptPCMU:
			m.keepAudio(audio.PCMU, p.Payload)
			continue
		case ptPCMA:
			m.keepAudio(audio.PCMA, p.Payload)
			continue
		}
		if p.PayloadType != pt || len(p.Payload) < 4 {
			continue
		}
		event, end := p.Payload[0], p.Payload[1]&0x80 != 0
		if !end {
			continue
		}
		m.mu.Lock()
		// The end packet is sent three times; one digit per timestamp.
		dup := m.haveTS && m.lastTS == p.Timestamp
		m.lastTS, m.haveTS = p.Timestamp, true
		var d rune
		if !dup {
			d = eventDigit(event)
			if d != 0 {
				m.digits = append(m.digits, d)
			}
		}
		notify := m.notify
		m.mu.Unlock()
		if d != 0 {
			select {
			case m.got <- struct{}{}:
			default:
			}
		}
		if d != 0 && notify != nil {
			notify(d)
		}
	}
}

func eventDigit(e byte) rune {
	switch {
	case e <= 9:
		return rune('0' + e)
	case e == 10:
		return '*'
	case e == 11:
		return '#'
	case e >= 12 && e <= 15:
		return rune('A' + e - 12)
	}
	return 0
}

func digitEvent(d rune) (byte, error) {
	switch {
	case d >= '0' && d <= '9':
		return byte(d - '0'), nil
	case d == '*':
		return 10, nil
	case d == '#':
		return 11, nil
	case d >= 'A' && d <= 'D':
		return byte(d-'A') + 12, nil
	}
	return 0, fmt.Errorf("%q is not a DTMF digit", d)
}

// sendAudio sends n packets of silence. The first is what makes a
// symmetric-RTP relay learn where this endpoint is.
func (m *media) sendAudio(n int) error {
	payload := make([]byte, 160)
	for i := range payload {
		payload[i] = 0xff // µ-law silence
	}
	for i := 0; i < n; i++ {
		if err := m.send(ptPCMU, false, payload, 160); err != nil {
			return err
		}
	}
	return nil
}

// sendDigits sends each digit as an RFC 4733 event: the event's first
// packet (marker set), then its end packet three times (§2.5.1.4), which a
// receiver must count as one digit. A phone also sends updates while the
// key is held, every 50 ms or so; they carry the same event and timestamp
// and end nothing, so a simulated key press goes without them.
func (m *media) sendDigits(digits string) error {
	for _, d := range digits {
		ev, err := digitEvent(d)
		if err != nil {
			return err
		}
		m.mu.Lock()
		pt := m.eventPT
		m.ts += 160
		start := m.ts
		m.mu.Unlock()
		for i := 0; i < 4; i++ {
			end := i >= 1
			dur := uint16(160)
			if end {
				dur = 160 * 4
			}
			flags := byte(10) // volume -10 dBm0
			if end {
				flags |= 0x80
			}
			payload := []byte{ev, flags, byte(dur >> 8), byte(dur)}
			if err := m.sendAt(pt, i == 0, payload, start); err != nil {
				// The first end packet completes the digit; the others
				// repeat it (RFC 4733 §2.5.1.4). A far end that hangs up
				// on the digit (a ring test confirmed) may close the call,
				// and with it this socket, before they leave: the key was
				// pressed. A later digit finds the socket closed and fails.
				if i > 1 && errors.Is(err, net.ErrClosed) && m.isClosed() {
					break
				}
				return err
			}
		}
		m.mu.Lock()
		m.ts += 160 * 4
		m.mu.Unlock()
	}
	return nil
}

func (m *media) send(pt uint8, marker bool, payload []byte, tsStep uint32) error {
	m.mu.Lock()
	m.ts += tsStep
	ts := m.ts
	m.mu.Unlock()
	return m.sendAt(pt, marker, payload, ts)
}

func (m *media) sendAt(pt uint8, marker bool, payload []byte, ts uint32) error {
	m.mu.Lock()
	m.seq++
	p := rtp.Packet{Header: rtp.Header{Version: 2, Marker: marker, PayloadType: pt, SequenceNumber: m.seq, Timestamp: ts, SSRC: m.ssrc}, Payload: payload}
	remote := m.remote
	m.mu.Unlock()
	if !remote.IsValid() {
		return errors.New("no remote media address yet")
	}
	b, err := p.Marshal()
	if err != nil {
		return err
	}
	_, err = m.conn.WriteToUDPAddrPort(b, remote)
	return err
}

func (m *media) received() (digits string, packets int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return string(m.digits), m.packets
}

// isClosed reports whether the call's media was closed (the call ended).
func (m *media) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

func (m *media) close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	m.mu.Unlock()
	m.conn.Close()
	if m.video != nil {
		m.video.conn.Close()
	}
}
