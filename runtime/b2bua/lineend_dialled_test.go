package b2bua_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/runtime/events"
	"switchboard/runtime/sipstack"
)

// A carrier answering over the TCP connection the server dialled to it
// (a trunk over TCP: no listener of the server's accepted it) gets no
// answer that carries a lone LF it sent, and a response with one is not
// taken: the server closes the connection, as it does an accepted one,
// and counts the refusal in its status. sipgo keeps a lone LF inside a
// header value, and every answer echoes Via, From, To, Call-ID and CSeq;
// a peer that ends lines at LF would read the rest as a header field of
// the server's choosing — of the sender's.
func TestDialledConnectionRefusesBareLineEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		// send is what the carrier writes over the server's connection
		// once it has the REGISTER.
		send func(reg *sip.Request, local string) []string
	}{
		{
			// Without the check the server answers the OPTIONS 200,
			// echoing From with the injected line.
			name: "a request from the carrier",
			send: func(reg *sip.Request, local string) []string {
				return []string{
					carrierOptions(reg, local, "lf-dialled", "\nX-Injected: 1"),
					carrierOptions(reg, local, "probe-dialled", ""),
				}
			},
		},
		{
			// Without the check the trunk is registered by it, and the
			// connection stays.
			name: "the carrier's response",
			send: func(reg *sip.Request, _ string) []string {
				return []string{grantWith(reg, "\nX-Injected: 1")}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := net.Listen("tcp", carrierHost+":0")
			if err != nil {
				t.Skipf("SKIPPING: cannot listen on %s (a loopback address the carrier needs): %v", carrierHost, err)
			}
			t.Cleanup(func() { l.Close() })
			before := sipstack.LineEndsRefused()
			h := startTrunkServer(t, netip.MustParseAddrPort(l.Addr().String()), serverOptions{vars: siteTrunkVars, transport: "tcp"})
			_ = l.(*net.TCPListener).SetDeadline(time.Now().Add(waitFor))
			c, err := l.Accept()
			if err != nil {
				t.Fatalf("the server never connected to the carrier: %v", err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(waitFor))
			r := &streamReader{c: c}
			reg, err := r.request()
			if err != nil {
				t.Fatalf("reading the server's REGISTER: %v", err)
			}
			for _, m := range tc.send(reg, c.LocalAddr().String()) {
				if _, err := io.WriteString(c, m); err != nil {
					t.Fatal(err)
				}
			}
			// Everything the server sends from here to its close: the
			// probe's answer (its Call-ID) bounds the wait for an answer
			// to the attack, which the server may send second.
			var got []byte
			buf := make([]byte, 65535)
			closed := false
			for {
				n, err := c.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					closed = errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)
					break
				}
				if bytes.Contains(got, []byte("Call-ID: probe-dialled\r\n")) {
					_ = c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
				}
			}
			if i := bareLineEndAt(got); i >= 0 {
				t.Errorf("the server sent a bare CR or LF at %d: %q", i, got)
			}
			if bytes.Contains(got, []byte("X-Injected")) {
				t.Errorf("the server sent the injected line: %q", got)
			}
			if !closed {
				t.Errorf("the server kept the connection after the carrier's bare LF; it sent %q", got)
			}
			for _, tr := range h.site.Status().Trunks {
				if tr.Registered {
					t.Errorf("trunk %s registered by a response with a bare LF", tr.Name)
				}
			}
			if n := sipstack.LineEndsRefused() - before; n != 1 {
				t.Errorf("%d refusals counted, want 1", n)
			}
			if st := h.site.Status(); st.LineEndRefused < before+1 {
				t.Errorf("status line_end_refused %d, want at least %d", st.LineEndRefused, before+1)
			}
		})
	}
}

// carrierOptions is an OPTIONS the carrier sends over the server's
// connection, injected appended to its From.
func carrierOptions(reg *sip.Request, local, callID, injected string) string {
	return strings.Join([]string{
		fmt.Sprintf("OPTIONS sip:%s@%s;transport=tcp SIP/2.0", trunkUser, reg.Source()),
		fmt.Sprintf("Via: SIP/2.0/TCP %s;branch=z9hG4bK-%s", local, callID),
		"Max-Forwards: 70",
		fmt.Sprintf("From: <sip:carrier@%s>;tag=c1%s", carrierHost, injected),
		fmt.Sprintf("To: <sip:%s@%s>", trunkUser, carrierRealm),
		"Call-ID: " + callID,
		"CSeq: 1 OPTIONS",
		"Content-Length: 0",
	}, "\r\n") + "\r\n\r\n"
}

// grantWith is the carrier's 200 to reg, injected appended to its To.
func grantWith(reg *sip.Request, injected string) string {
	res := sip.NewResponseFromRequest(reg, 200, "OK", nil)
	res.To().Params.Add("tag", "c2")
	res.AppendHeader(sip.NewHeader("Expires", "3600"))
	s := res.String()
	i := strings.Index(s, "\r\nTo: ") + 2
	end := i + strings.Index(s[i:], "\r\n")
	return s[:end] + injected + s[end:]
}

// streamReader reads SIP messages off a stream, framed by Content-Length.
type streamReader struct {
	c   net.Conn
	buf []byte
}

func (r *streamReader) request() (*sip.Request, error) {
	for {
		if end := bytes.Index(r.buf, []byte("\r\n\r\n")); end >= 0 {
			end += 4
			length := 0
			for line := range strings.SplitSeq(string(r.buf[:end]), "\r\n") {
				if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
					length, _ = strconv.Atoi(v)
				}
			}
			if len(r.buf) >= end+length {
				msg := r.buf[:end+length]
				r.buf = r.buf[end+length:]
				m, err := sip.ParseMessage(msg)
				if err != nil {
					return nil, err
				}
				req, ok := m.(*sip.Request)
				if !ok {
					return nil, fmt.Errorf("not a request: %q", msg)
				}
				req.SetSource(r.c.RemoteAddr().String())
				return req, nil
			}
		}
		b := make([]byte, 4096)
		n, err := r.c.Read(b)
		r.buf = append(r.buf, b[:n]...)
		if err != nil {
			return nil, err
		}
	}
}

// bareLineEndAt finds a CR or LF in b that is not part of a CRLF; -1
// when every one is.
func bareLineEndAt(b []byte) int {
	for i, c := range b {
		switch {
		case c == '\r' && (i+1 == len(b) || b[i+1] != '\n'):
			return i
		case c == '\n' && (i == 0 || b[i-1] != '\r'):
			return i
		}
	}
	return -1
}

// isReset reports whether err is the peer resetting the connection: a
// close with unread data in its buffer is a reset.
func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && strings.Contains(ne.Err.Error(), "connection reset")
}

// lfWriter is a carrier's socket that ends the header lines of what it
// sends at LF, as a lenient stack may.
type lfWriter struct{ net.PacketConn }

func (w lfWriter) WriteTo(b []byte, a net.Addr) (int, error) {
	head, body, _ := bytes.Cut(b, []byte("\r\n\r\n"))
	m := append(bytes.ReplaceAll(head, []byte("\r\n"), []byte("\n")), "\n\n"...)
	if _, err := w.PacketConn.WriteTo(append(m, body...), a); err != nil {
		return 0, err
	}
	return len(b), nil
}

// A carrier whose responses end their lines at LF (RFC 3261 §7 asks for
// CRLF; Kamailio takes LF, and so does the server, sipstack.CRLF) is
// heard: the server answers its challenge and the trunk is registered.
func TestCarrierAnswersAtLF(t *testing.T) {
	car := startRegistrarWrapped(t, "udp", func(c net.PacketConn) net.PacketConn { return lfWriter{c} })
	h := startTrunkServer(t, car.addr, serverOptions{vars: siteTrunkVars})
	first, retry := car.exchange(t)
	if first.CallID().Value() != retry.CallID().Value() || retry.GetHeader("Authorization") == nil {
		t.Errorf("the second REGISTER does not answer the challenge: %s", retry)
	}
	h.next("trunk_registered", kindOf(events.TrunkRegistered))
}
