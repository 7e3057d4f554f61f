package media

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// Limits on what a party may ask the relay to anchor. An SDP is outside
// input: without a cap one offer could make the server open thousands of
// sockets.
const (
	maxSDPSize = 64 << 10
	maxStreams = 8
)

// ErrSDP is wrapped by every error about a malformed or unsupported SDP
// body; a server answers those with 488 Not Acceptable Here (or 400).
var ErrSDP = errors.New("media: bad SDP")

func sdpErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrSDP}, args...)...)
}

// mediaDesc is what the relay needs from one m-line of one party's SDP.
type mediaDesc struct {
	kind  string // m= media: audio, video, …
	proto string // m= proto, joined: RTP/AVP, UDP/TLS/RTP/SAVPF, …

	// off: the party rejected or disabled the stream (port 0), or it uses a
	// transport the relay cannot carry (TCP); nothing flows either way.
	off bool
	// hold: the connection address is unspecified (0.0.0.0, RFC 2543
	// hold); the party wants nothing sent to it.
	hold bool
	// rtpProfile: the stream is RTP, so it has RTCP beside it.
	rtpProfile bool
	// encrypted: SRTP; payloads are opaque, so no DTMF can be read.
	encrypted bool
	rtcpMux   bool

	// rtp and rtcp are where the party receives; invalid when it gave a
	// host name or an unspecified address (then only latching finds it).
	rtp, rtcp netip.AddrPort

	events ptSet // payload types mapped to telephone-event
	other  ptSet // payload types mapped to anything else
}

// ptSet is a set of RTP payload types (0–127).
type ptSet [2]uint64

func (s *ptSet) add(pt uint8)         { s[pt>>6&1] |= 1 << (pt & 63) }
func (s ptSet) has(pt uint8) bool     { return pt < 128 && s[pt>>6]&(1<<(pt&63)) != 0 }
func (s ptSet) without(o ptSet) ptSet { return ptSet{s[0] &^ o[0], s[1] &^ o[1]} }

// parseSDP parses one party's SDP body. It fails, never panics, on
// anything malformed: the body comes from the network.
func parseSDP(body []byte) (*sdp.SessionDescription, []mediaDesc, error) {
	if len(body) > maxSDPSize {
		return nil, nil, sdpErrorf("body of %d bytes exceeds %d", len(body), maxSDPSize)
	}
	if len(body) == 0 {
		return nil, nil, sdpErrorf("empty body")
	}
	if err := checkText(body); err != nil {
		return nil, nil, err
	}
	sd := new(sdp.SessionDescription)
	if err := sd.UnmarshalString(string(body)); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrSDP, err)
	}
	if len(sd.MediaDescriptions) > maxStreams {
		return nil, nil, sdpErrorf("%d m-lines; at most %d are relayed", len(sd.MediaDescriptions), maxStreams)
	}
	var session *connAddr
	if sd.ConnectionInformation != nil {
		c, err := parseConn(sd.ConnectionInformation)
		if err != nil {
			return nil, nil, sdpErrorf("session c= line: %v", err)
		}
		session = &c
	}
	descs := make([]mediaDesc, len(sd.MediaDescriptions))
	for i, md := range sd.MediaDescriptions {
		d, err := parseMedia(md, session)
		if err != nil {
			return nil, nil, sdpErrorf("m-line %d (%s): %v", i+1, md.MediaName.Media, err)
		}
		descs[i] = d
	}
	return sd, descs, nil
}

// checkText refuses control characters, and a CR that does not end a
// line: parsers disagree on where such lines split, and what one of them
// read as a value must not become a line of its own in what the relay
// sends on.
func checkText(body []byte) error {
	for i, c := range body {
		switch {
		case c == '\r':
			if i+1 == len(body) || body[i+1] != '\n' {
				return sdpErrorf("CR without LF at byte %d", i)
			}
		case c == '\n' || c == '\t':
		case c < 0x20 || c == 0x7f:
			return sdpErrorf("control character %#02x at byte %d", c, i)
		}
	}
	return nil
}

// connAddr is a parsed c= line.
type connAddr struct {
	addr netip.Addr // invalid for a host name
	hold bool       // unspecified address
}

func parseConn(c *sdp.ConnectionInformation) (connAddr, error) {
	if c.Address == nil || c.Address.Address == "" {
		return connAddr{}, errors.New("no address")
	}
	a, err := netip.ParseAddr(c.Address.Address)
	if err != nil {
		// A host name is legal SDP. Resolving it here would put DNS on the
		// signalling path; latching learns the address from the first
		// packet instead.
		return connAddr{}, nil
	}
	a = a.Unmap()
	return connAddr{addr: a, hold: a.IsUnspecified()}, nil
}

func parseMedia(md *sdp.MediaDescription, session *connAddr) (mediaDesc, error) {
	d := mediaDesc{kind: md.MediaName.Media, proto: strings.Join(md.MediaName.Protos, "/")}
	port := md.MediaName.Port.Value
	if port < 0 || port > 65535 {
		return d, fmt.Errorf("port %d out of range", port)
	}
	for _, p := range md.MediaName.Protos {
		switch {
		case strings.EqualFold(p, "RTP"):
			d.rtpProfile = true
		case strings.Contains(strings.ToUpper(p), "SAVP"):
			d.encrypted = true
		}
	}
	d.off = port == 0 || !relayable(md.MediaName.Protos)

	conn := session
	if md.ConnectionInformation != nil {
		c, err := parseConn(md.ConnectionInformation)
		if err != nil {
			return d, fmt.Errorf("c= line: %v", err)
		}
		conn = &c
	}
	if conn == nil {
		if d.off {
			return d, nil // a rejected stream needs no address
		}
		return d, errors.New("no connection address (c= line) for the stream")
	}
	d.hold = conn.hold

	rtcpPort := port + 1
	var rtcpAddr netip.Addr
	for _, a := range md.Attributes {
		switch strings.ToLower(a.Key) {
		case "rtcp-mux":
			d.rtcpMux = true
		case "rtcp":
			p, addr, err := parseRTCPAttr(a.Value)
			if err != nil {
				return d, fmt.Errorf("a=rtcp:%s: %v", a.Value, err)
			}
			rtcpPort, rtcpAddr = p, addr
		case "rtpmap":
			pt, enc, ok := parseRTPMap(a.Value)
			if !ok {
				continue // tolerated: an rtpmap we cannot read only costs DTMF
			}
			if strings.EqualFold(enc, "telephone-event") {
				d.events.add(pt)
			} else {
				d.other.add(pt)
			}
		}
	}
	if d.off || !conn.addr.IsValid() || d.hold {
		return d, nil
	}
	d.rtp = netip.AddrPortFrom(conn.addr, uint16(port))
	// Where RTCP goes when it is not multiplexed. With a=rtcp-mux in both
	// SDPs the parties send RTCP on the RTP ports, where it is relayed as
	// RTP is, and the RTCP sockets stay quiet; when the answer refuses the
	// mux, this is the right address. Either way rtcp-mux needs nothing more.
	if rtcpPort <= 65535 {
		if !rtcpAddr.IsValid() {
			rtcpAddr = conn.addr
		}
		d.rtcp = netip.AddrPortFrom(rtcpAddr, uint16(rtcpPort))
	}
	return d, nil
}

// relayable reports whether the relay can carry a stream of this transport:
// anything over UDP (RTP/AVP, RTP/SAVP, UDP/TLS/RTP/SAVPF, udptl), not TCP.
func relayable(protos []string) bool {
	if len(protos) == 0 {
		return false
	}
	switch strings.ToUpper(protos[0]) {
	case "RTP", "UDP", "UDPTL":
		return true
	}
	return false
}

// parseRTCPAttr parses the value of a=rtcp (RFC 3605):
// "<port> [IN IP4|IP6 <address>]".
func parseRTCPAttr(v string) (int, netip.Addr, error) {
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0, netip.Addr{}, errors.New("no port")
	}
	p, err := strconv.Atoi(f[0])
	if err != nil || p <= 0 || p > 65535 {
		return 0, netip.Addr{}, errors.New("bad port")
	}
	if len(f) == 4 {
		if a, err := netip.ParseAddr(f[3]); err == nil && !a.IsUnspecified() {
			return p, a.Unmap(), nil
		}
	}
	return p, netip.Addr{}, nil
}

// parseRTPMap parses "<pt> <encoding>/<clock>[/<channels>]".
func parseRTPMap(v string) (pt uint8, encoding string, ok bool) {
	num, rest, found := strings.Cut(strings.TrimSpace(v), " ")
	if !found {
		return 0, "", false
	}
	n, err := strconv.ParseUint(num, 10, 8)
	if err != nil || n > 127 {
		return 0, "", false
	}
	enc, _, _ := strings.Cut(strings.TrimSpace(rest), "/")
	return uint8(n), enc, true
}

// portPair is the relay's sockets for one m-line as advertised to a party;
// rtp 0 means the relay does not carry the stream (port 0 in the output).
type portPair struct{ rtp, rtcp uint16 }

// rewrite points sd at the relay: every address becomes ip, every m-line's
// port the relay's (0 where ports[i].rtp is 0 or the input had 0), and
// a=rtcp the relay's RTCP port. Codecs, telephone-event rtpmap/fmtp,
// direction and every other attribute are kept. Unspecified connection
// addresses (hold) stay unspecified, so the hold reaches the other side.
func rewrite(sd *sdp.SessionDescription, ip netip.Addr, ports []portPair) ([]byte, error) {
	if len(ports) != len(sd.MediaDescriptions) {
		return nil, fmt.Errorf("media: %d port pairs for %d m-lines", len(ports), len(sd.MediaDescriptions))
	}
	addrType := "IP4"
	if ip.Is6() {
		addrType = "IP6"
	}
	ipText := ip.String()
	sd.Origin.NetworkType = "IN"
	sd.Origin.AddressType = addrType
	sd.Origin.UnicastAddress = ipText
	pointConn(sd.ConnectionInformation, addrType, ipText)
	for i, md := range sd.MediaDescriptions {
		pp := ports[i]
		md.MediaName.Port.Range = nil
		if md.MediaName.Port.Value == 0 || pp.rtp == 0 {
			md.MediaName.Port.Value = 0
			continue
		}
		md.MediaName.Port.Value = int(pp.rtp)
		pointConn(md.ConnectionInformation, addrType, ipText)
		if pp.rtcp == 0 {
			continue
		}
		found := false
		for j, a := range md.Attributes {
			if !strings.EqualFold(a.Key, "rtcp") {
				continue
			}
			found = true
			v := strconv.Itoa(int(pp.rtcp))
			if f := strings.Fields(a.Value); len(f) == 4 {
				v += " IN " + addrType + " " + ipText
			}
			md.Attributes[j].Value = v
		}
		if !found && pp.rtcp != pp.rtp+1 {
			md.Attributes = append(md.Attributes, sdp.NewAttribute("rtcp", strconv.Itoa(int(pp.rtcp))))
		}
	}
	return sd.Marshal()
}

// cloneSession copies what rewrite changes in sd — the origin, the c=
// lines, the m-lines' ports and attributes — so that one parsed offer can
// be rewritten for each leg; what rewrite only reads stays shared.
func cloneSession(sd *sdp.SessionDescription) *sdp.SessionDescription {
	c := *sd
	c.ConnectionInformation = cloneConn(sd.ConnectionInformation)
	c.MediaDescriptions = make([]*sdp.MediaDescription, len(sd.MediaDescriptions))
	for i, md := range sd.MediaDescriptions {
		m := *md
		m.ConnectionInformation = cloneConn(md.ConnectionInformation)
		m.Attributes = slices.Clone(md.Attributes)
		c.MediaDescriptions[i] = &m
	}
	return &c
}

func cloneConn(ci *sdp.ConnectionInformation) *sdp.ConnectionInformation {
	if ci == nil {
		return nil
	}
	c := *ci
	return &c
}

// pointConn sets a c= line to the relay's address, unless it is an
// unspecified (hold) address.
func pointConn(c *sdp.ConnectionInformation, addrType, ip string) {
	if c == nil {
		return
	}
	if c.Address != nil {
		if a, err := netip.ParseAddr(c.Address.Address); err == nil && a.IsUnspecified() {
			return
		}
	}
	c.NetworkType = "IN"
	c.AddressType = addrType
	c.Address = &sdp.Address{Address: ip}
}
