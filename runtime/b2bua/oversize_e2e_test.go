package b2bua_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"switchboard/runtime/events"
)

// videoOffer is a video door station's offer: H.264 in several profiles
// beside the audio, over 1 100 bytes, so the INVITEs forked with it pass
// RFC 3261 §18.1.1's 1 300 bytes.
func videoOffer() string {
	var sdp strings.Builder
	sdp.WriteString("v=0\r\no=akuvox 1 1 IN IP4 127.0.0.1\r\ns=door\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n")
	sdp.WriteString("m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n")
	sdp.WriteString("m=video 40002 RTP/AVP 96 97 98 99\r\n")
	for pt := 96; pt <= 99; pt++ {
		fmt.Fprintf(&sdp, "a=rtpmap:%d H264/90000\r\na=fmtp:%d profile-level-id=42%02x1f;packetization-mode=%d;max-br=2048;max-mbps=108000;max-fs=3600;sprop-parameter-sets=Z0LAH9oBQBbsBEAAAAMAQAAADyPGDKg=,aM4G4g==\r\n", pt, pt, pt, pt%2)
		fmt.Fprintf(&sdp, "a=rtcp-fb:%d nack\r\na=rtcp-fb:%d nack pli\r\na=rtcp-fb:%d ccm fir\r\n", pt, pt, pt)
	}
	sdp.WriteString("a=sendrecv\r\n")
	return sdp.String()
}

// TestLargeInviteTransport checks RFC 3261 §18.1.1 on the legs the server
// forks: an INVITE over 1 300 bytes to a contact reached directly goes
// over TCP when the contact takes a connection, over UDP when it refuses
// one; a contact registered through NAT (its REGISTER came from another
// address than its Contact names) gets UDP without a TCP attempt, as does
// a small INVITE.
func TestLargeInviteTransport(t *testing.T) {
	audio := "v=0\r\no=door 1 1 IN IP4 127.0.0.1\r\ns=door\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=sendrecv\r\n"
	for _, tc := range []struct {
		name      string
		offer     string
		listenTCP bool // the contact's address takes TCP connections
		natted    bool // the Contact names another port than the REGISTER came from
		want      string
	}{
		{name: "large, direct, takes TCP", offer: videoOffer(), listenTCP: true, want: "TCP"},
		{name: "large, direct, refuses TCP", offer: videoOffer(), want: "UDP"},
		{name: "large, behind NAT", offer: videoOffer(), listenTCP: true, natted: true, want: "UDP"},
		{name: "small, direct, takes TCP", offer: audio, listenTCP: true, want: "UDP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t)
			var mary *udpPeer
			var ln *net.TCPListener
			contactPort := 0
			switch {
			case tc.natted:
				// The Contact names a port of its own, which listens.
				mary = newUDPPeer(t, h.addr)
				ln = listenTCP(t, 0)
				contactPort = ln.Addr().(*net.TCPAddr).Port
			case tc.listenTCP:
				// The contact's UDP and TCP on the same port.
				mary, ln = newUDPPeerWithTCP(t, h.addr)
				contactPort = ln.Addr().(*net.TCPAddr).Port
			default:
				// Nothing listens on the contact's TCP port: take a UDP
				// port whose TCP twin could be bound (so nobody held it),
				// then let it go to refuse connections.
				var probe *net.TCPListener
				mary, probe = newUDPPeerWithTCP(t, h.addr)
				probe.Close()
				contactPort = mary.conn.LocalAddr().(*net.UDPAddr).Port
			}
			registerContact(t, h, mary, "app.mary", contactPort)

			gate := newRawCaller(t, h, "device.gate")
			gate.sdp = tc.offer
			callID := strings.ReplaceAll(tc.name, " ", "-")
			callID = strings.ReplaceAll(callID, ",", "")
			done := make(chan *sip.Response, 1)
			go func() { done <- gate.call("sip:1A@e2e.example", callID, 70) }()

			var got string
			var answer func(*sip.Response)
			var inv *sip.Request
			if tc.want == "TCP" {
				_ = ln.SetDeadline(time.Now().Add(10 * time.Second))
				conn, err := ln.Accept()
				if err != nil {
					t.Fatalf("no TCP connection for the INVITE: %v", err)
				}
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				rd := bufio.NewReader(conn)
				inv = readStreamRequest(t, rd)
				got = "TCP"
				answer = func(res *sip.Response) {
					if _, err := conn.Write([]byte(res.String())); err != nil {
						t.Error(err)
					}
					// The server's transaction acknowledges the failure
					// over the same connection (RFC 3261 §17.1.1.3).
					if ack := readStreamRequest(t, rd); !ack.IsAck() {
						t.Errorf("after 486 over TCP: %s, want ACK", ack.Method)
					}
				}
			} else {
				inv = readDatagramRequest(t, mary, sip.INVITE)
				got = "UDP"
				answer = func(res *sip.Response) {
					if _, err := mary.conn.WriteTo([]byte(res.String()), mary.srv); err != nil {
						t.Error(err)
					}
					readDatagramRequest(t, mary, sip.ACK)
				}
				if ln != nil {
					// The TCP attempt, had there been one, came before the
					// UDP send: its connection would be queued by now.
					_ = ln.SetDeadline(time.Now())
					if c, err := ln.Accept(); err == nil {
						c.Close()
						t.Errorf("a TCP connection was opened to the contact although the INVITE went over UDP")
					}
				}
			}
			if got != tc.want {
				t.Fatalf("the INVITE to the contact came over %s, want %s", got, tc.want)
			}
			if via := inv.Via(); via == nil || !strings.EqualFold(via.Transport, tc.want) {
				t.Errorf("the INVITE's Via is %v, want transport %s", via, tc.want)
			}
			size := len(inv.String())
			if (tc.offer != audio) != (size > 1300) {
				t.Fatalf("the forked INVITE is %d bytes: the test's offers no longer straddle 1 300", size)
			}
			busy := sip.NewResponseFromRequest(inv, 486, "Busy Here", nil)
			busy.To().Params.Add("tag", "busy")
			answer(busy)
			res := <-done
			if res.StatusCode < 400 {
				t.Errorf("the door got %d %s, want the busy contact's failure", res.StatusCode, res.Reason)
			}
			h.waitEvent("call_ended", func(e events.Event) bool { return e.Kind == events.CallEnded })
		})
	}
}

// listenTCP listens on loopback TCP port (0: any) until the test ends.
func listenTCP(t *testing.T, port int) *net.TCPListener {
	t.Helper()
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// newUDPPeerWithTCP is a peer whose UDP port also listens on TCP, as a
// device taking both does. The kernel picks the UDP port; when another
// socket of the machine holds that TCP port, the next one is tried (a
// busy machine's tests hold many).
func newUDPPeerWithTCP(t *testing.T, server string) (*udpPeer, *net.TCPListener) {
	t.Helper()
	for range 50 {
		p := newUDPPeer(t, server)
		port := p.conn.LocalAddr().(*net.UDPAddr).Port
		l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			p.conn.Close()
			continue
		}
		t.Cleanup(func() { l.Close() })
		return p, l
	}
	t.Fatal("no loopback port free for both UDP and TCP in 50 tries")
	return nil, nil
}

// registerContact registers account from p with a Contact at loopback
// contactPort (the peer's own port, or another one as a NAT would show).
func registerContact(t *testing.T, h *harness, p *udpPeer, account string, contactPort int) {
	t.Helper()
	port := p.conn.LocalAddr().(*net.UDPAddr).Port
	msg := func(cseq int, auth string) []byte {
		var b strings.Builder
		fmt.Fprintf(&b, "REGISTER sip:e2e.example SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-reg-%d;rport\r\nMax-Forwards: 70\r\n", port, cseq)
		fmt.Fprintf(&b, "From: <sip:%[1]s@e2e.example>;tag=f1\r\nTo: <sip:%[1]s@e2e.example>\r\nCall-ID: reg-%[1]s\r\nCSeq: %[2]d REGISTER\r\n", account, cseq)
		fmt.Fprintf(&b, "Contact: <sip:%s@127.0.0.1:%d>\r\nExpires: 3600\r\n", account, contactPort)
		if auth != "" {
			fmt.Fprintf(&b, "Authorization: %s\r\n", auth)
		}
		b.WriteString("Content-Length: 0\r\n\r\n")
		return []byte(b.String())
	}
	chal := parseResponse(t, p.exchange(msg(1, "")))
	if chal.StatusCode != 401 {
		t.Fatalf("REGISTER: %d %s, want 401", chal.StatusCode, chal.Reason)
	}
	c, err := digest.ParseChallenge(chal.GetHeader("WWW-Authenticate").Value())
	if err != nil {
		t.Fatal(err)
	}
	password, _ := h.secrets.SIPPassword(account)
	cred, err := digest.Digest(c, digest.Options{Method: "REGISTER", URI: "sip:e2e.example", Username: account, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	if res := parseResponse(t, p.exchange(msg(2, cred.String()))); res.StatusCode != 200 {
		t.Fatalf("REGISTER with credentials: %d %s", res.StatusCode, res.Reason)
	}
}

// readDatagramRequest returns the next request of method that reaches p,
// passing over anything else the server sends it.
func readDatagramRequest(t *testing.T, p *udpPeer, method sip.RequestMethod) *sip.Request {
	t.Helper()
	buf := make([]byte, 65535)
	_ = p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, _, err := p.conn.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no %s over UDP: %v", method, err)
		}
		m, err := sip.ParseMessage(buf[:n])
		if err != nil {
			continue
		}
		if req, ok := m.(*sip.Request); ok && req.Method == method {
			return req
		}
	}
}

// readStreamRequest reads one SIP request from a stream (TCP): the header,
// then Content-Length bytes of body.
func readStreamRequest(t *testing.T, r *bufio.Reader) *sip.Request {
	t.Helper()
	tp := textproto.NewReader(r)
	var head bytes.Buffer
	length := 0
	for {
		line, err := tp.ReadLine()
		if err != nil {
			t.Fatalf("reading a request over TCP: %v", err)
		}
		if line == "" && head.Len() == 0 {
			continue // a keep-alive CRLF
		}
		head.WriteString(line + "\r\n")
		if line == "" {
			break
		}
		if name, value, ok := strings.Cut(line, ":"); ok && (strings.EqualFold(strings.TrimSpace(name), "Content-Length") || strings.TrimSpace(name) == "l") {
			if length, err = strconv.Atoi(strings.TrimSpace(value)); err != nil {
				t.Fatalf("Content-Length %q", value)
			}
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	m, err := sip.ParseMessage(append(head.Bytes(), body...))
	if err != nil {
		t.Fatalf("%v\n%s", err, head.Bytes())
	}
	req, ok := m.(*sip.Request)
	if !ok {
		t.Fatalf("not a request:\n%s", head.Bytes())
	}
	return req
}
