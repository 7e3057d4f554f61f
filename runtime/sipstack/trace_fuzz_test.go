package sipstack

import (
	"bytes"
	"net"
	"slices"
	"testing"
)

// FuzzTrace feeds what a peer sends to the call trace, which reads every
// message the server receives (issue 13, point 3: every parser of network
// input is fuzzed): each datagram, and each TCP or TLS stream through
// its framer. Whatever arrives, nothing panics; the framer finds the same
// messages however the stream is cut, each a header section ending in
// the empty line; and what the trace keeps of a request line has no
// password from the Request-URI's user part (sip: or sips:, any case).
func FuzzTrace(f *testing.F) {
	f.Add(msg("INVITE sip:1@site.example SIP/2.0", "c1", "1 INVITE", "device.gate", "1", "", "", "v=0\r\n\r\nbody with an empty line\r\n"), uint8(7))
	f.Add(append([]byte("\r\n\r\n"), msg("SIP/2.0 180 Ringing", "c1", "1 INVITE", "device.gate", "1", "t", "", "")...), uint8(1))
	f.Add(msg("BYE sip:1:pa55word@site.example SIP/2.0", "c1", "3 BYE", "device.gate:pa55word", "1", "b", "", ""), uint8(64))
	f.Add(msg("INVITE sips:1:pa55word@site.example SIP/2.0", "c2", "1 INVITE", "device.gate", "1", "", "", ""), uint8(3))
	f.Add(msg("INVITE sip:1:pa;5w@rd@site.example SIP/2.0", "c3", "1 INVITE", "device.gate", "1", "", "", ""), uint8(4))
	f.Add([]byte("INVITE sip:1@x SIP/2.0\r\ni: short\r\nl: 5\r\n\r\nhelloINVITE sip:2@x SIP/2.0\r\ni: two\r\n\r\n"), uint8(2))
	f.Add([]byte("INVITE sip:1@x SIP/2.0\r\nCall-ID: big\r\nContent-Length: 99999999999\r\n\r\n"), uint8(5))
	f.Add([]byte("\x00\xff garbage\r\n\r\n"), uint8(0))
	peer := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5062}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		// As a datagram: the trace keeps a new INVITE tentatively, a
		// begun call's messages for good.
		tr := NewTrace()
		tr.record(true, peer, data)
		if id := scanHead(data).callID; len(id) > 0 {
			tr.Begin(string(id), "fuzz")
			tr.record(true, peer, data)
			tr.record(false, peer, data)
			if c, ok := tr.Call(string(id)); ok {
				for _, m := range c.Messages {
					if pw := uriPassword([]byte(m.FirstLine)); pw != "" {
						t.Fatalf("the trace kept the Request-URI's password %q: %q", pw, m.FirstLine)
					}
				}
			}
			tr.End(string(id))
		}

		// As a stream, whole and cut every chunk bytes.
		frame := func(size int) (heads []string, lost bool) {
			var fr framer
			for i := 0; i < len(data); i += size {
				fr.feed(data[i:min(i+size, len(data))], func(h []byte) {
					if !bytes.HasSuffix(h, []byte("\r\n\r\n")) {
						t.Fatalf("a header section without its empty line: %q", h)
					}
					heads = append(heads, string(h))
					tr.record(true, peer, h)
				})
			}
			return heads, fr.lost
		}
		whole, lostWhole := frame(max(len(data), 1))
		cut, lostCut := frame(int(chunk%64) + 1)
		// A stream cut small loses its way where the whole one finds
		// an end past the framer's limit; otherwise they agree.
		if !lostWhole && !lostCut && !slices.Equal(whole, cut) {
			t.Fatalf("cut every %d bytes the framer found %q, whole %q", chunk%64+1, cut, whole)
		}
	})
}

// uriPassword is the password in the user part of a request line's
// Request-URI (METHOD SP sip:user:password@host…, sips: too, any case),
// the user part ending at the URI's last '@' (a password sent against
// its grammar may hold ';', '@' or '>'); "" when there is none.
func uriPassword(line []byte) string {
	_, uri, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return ""
	}
	uri, _, _ = bytes.Cut(uri, []byte(" "))
	scheme, rest, ok := bytes.Cut(uri, []byte(":"))
	if !ok || !(bytes.EqualFold(scheme, []byte("sip")) || bytes.EqualFold(scheme, []byte("sips"))) {
		return ""
	}
	at := bytes.LastIndexByte(rest, '@')
	if at < 0 {
		return ""
	}
	userinfo := rest[:at]
	_, pw, ok := bytes.Cut(userinfo, []byte(":"))
	if !ok || len(pw) == 0 {
		return ""
	}
	return string(pw)
}
