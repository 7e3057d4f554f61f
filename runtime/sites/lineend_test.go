package sites_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/sipstack"
	"switchboard/runtime/site"
	"switchboard/runtime/sites"
)

// bareLineEnd finds a CR or LF in b that is not part of a CRLF; -1 when
// every one is.
func bareLineEnd(b []byte) int {
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

// A request whose header has a LF without CR, or a CR without LF, inside
// a value the answer echoes (From, Call-ID, Via…) is answered by nothing
// that carries it, whatever its method, over UDP, TCP and TLS, for a site
// and for a domain no site serves: sipgo keeps a lone LF in the value,
// and a peer that ends lines at LF would read what follows as a header
// field of the server's answer (response splitting). Every CR and LF of
// every answer is part of a CRLF.
func TestNoBareLineEndInAnswers(t *testing.T) {
	l, s := oneSiteServed(t)

	// request is a request of method to domain with injected put into
	// the header named where; callID names it.
	request := func(method, domain, transport, local, callID, where, injected string) []byte {
		lines := []string{
			fmt.Sprintf("%s sip:101@%s SIP/2.0", method, domain),
			fmt.Sprintf("Via: SIP/2.0/%s %s;branch=z9hG4bK-%s;rport", transport, local, callID),
			"Max-Forwards: 70",
			fmt.Sprintf("From: <sip:app.ann@%s>;tag=f1", domain),
			fmt.Sprintf("To: <sip:101@%s>", domain),
			"Call-ID: " + callID,
			"CSeq: 1 " + method,
			fmt.Sprintf("Contact: <sip:app.ann@%s;transport=%s>", local, strings.ToLower(transport)),
			"Event: message-summary",
			"Content-Length: 0",
		}
		if method == "BYE" || method == "CANCEL" {
			lines[4] += ";tag=t1"
		}
		for i, l := range lines {
			if strings.HasPrefix(l, where+":") {
				lines[i] += injected
			}
		}
		return []byte(strings.Join(lines, "\r\n") + "\r\n\r\n")
	}
	// probeID names the clean OPTIONS sent after an attack: its answer
	// bounds the wait for the attack's.
	probeID := func(callID string) string { return "probe-" + callID }

	type attack struct{ method, domain, where, injected string }
	var attacks []attack
	for _, inj := range []string{"\nX-Injected: 1", "\rX-Injected: 1"} {
		for _, m := range []string{"INVITE", "OPTIONS", "REGISTER", "SUBSCRIBE", "MESSAGE", "BYE", "CANCEL"} {
			attacks = append(attacks, attack{m, "s1.example", "From", inj}, attack{m, "s1.example", "Call-ID", inj})
		}
		attacks = append(attacks, attack{"INVITE", "s1.example", "Via", inj}, attack{"INVITE", "nowhere.example", "Call-ID", inj},
			attack{"OPTIONS", "nowhere.example", "From", inj})
	}
	name := func(a attack) string {
		kind := "LF"
		if strings.HasPrefix(a.injected, "\r") {
			kind = "CR"
		}
		return fmt.Sprintf("%s to %s, bare %s in %s", a.method, a.domain, kind, a.where)
	}
	check := func(t *testing.T, what string, answers [][]byte) {
		t.Helper()
		for _, a := range answers {
			if i := bareLineEnd(a); i >= 0 {
				t.Errorf("%s: an answer has a bare CR or LF at %d: %q", what, i, a)
			}
		}
	}

	// Each attack is refused once, by whichever check it meets first
	// (the router's, or the site's stack once a connection is routed),
	// and counted once in the status — over a stream. A datagram's lone
	// LF ends its line (sipstack.CRLF: the router's, as a one-site
	// server's ReadyConn): the LF attacks are taken, X-Injected a header
	// field of the request, and only the CR ones are refused over UDP.
	counted := func(t *testing.T, before uint64, want int) {
		t.Helper()
		if n := s.Status().LineEndRefused - before; n != uint64(want) {
			t.Errorf("%d refusals counted (line_end_refused), want %d of the %d attacks", n, want, len(attacks))
		}
	}
	loneCRs := 0
	for _, a := range attacks {
		if strings.HasPrefix(a.injected, "\r") {
			loneCRs++
		}
	}

	t.Run("UDP", func(t *testing.T) {
		defer counted(t, sipstack.LineEndsRefused(), loneCRs)
		for i, a := range attacks {
			c, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			id := fmt.Sprintf("lf-udp-%d@test", i)
			local := c.LocalAddr().String()
			for _, msg := range [][]byte{
				request(a.method, a.domain, "UDP", local, id, a.where, a.injected),
				request("OPTIONS", "s1.example", "UDP", local, probeID(id), "", ""),
			} {
				if _, err := c.WriteTo(msg, l.udp.LocalAddr()); err != nil {
					t.Fatal(err)
				}
			}
			// Answers until the probe's, and for a moment after it:
			// sipgo handles each datagram in a goroutine of its own,
			// so the attack's answer may come second. Bounded: a
			// missing answer ends the read at its deadline.
			var answers [][]byte
			deadline := time.Now().Add(5 * time.Second)
			buf := make([]byte, 65535)
			for {
				_ = c.SetReadDeadline(deadline)
				n, _, err := c.ReadFrom(buf)
				if err != nil {
					break
				}
				answers = append(answers, append([]byte(nil), buf[:n]...))
				if bytes.Contains(buf[:n], []byte(probeID(id))) {
					deadline = time.Now().Add(150 * time.Millisecond)
				}
			}
			c.Close()
			check(t, name(a), answers)
		}
	})
	for _, tls_ := range []bool{false, true} {
		transport := "TCP"
		if tls_ {
			transport = "TLS"
		}
		t.Run(transport, func(t *testing.T) {
			defer counted(t, sipstack.LineEndsRefused(), len(attacks))
			for i, a := range attacks {
				var c net.Conn
				var err error
				if tls_ {
					c, err = tls.Dial("tcp", l.tls.Addr().String(), &tls.Config{InsecureSkipVerify: true})
				} else {
					c, err = net.Dial("tcp", l.tcp.Addr().String())
				}
				if err != nil {
					t.Fatal(err)
				}
				id := fmt.Sprintf("lf-%s-%d@test", transport, i)
				local := c.LocalAddr().String()
				// The probe first routes the connection to the site
				// (the attack's domain may be no site's); then the
				// attack; then the probe again, whose answer ends the
				// wait when the attack's answer came before it.
				msgs := [][]byte{
					request("OPTIONS", "s1.example", transport, local, probeID(id)+"-1", "", ""),
					request(a.method, a.domain, transport, local, id, a.where, a.injected),
					request("OPTIONS", "s1.example", transport, local, probeID(id), "", ""),
				}
				if a.domain != "s1.example" {
					msgs = msgs[1:] // the attack routes the connection: a 404 from the router
				}
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				for _, m := range msgs {
					if _, err := c.Write(m); err != nil {
						t.Fatal(err)
					}
				}
				// Read to the probe's answer and a moment after it (the
				// attack's may follow), or to the server's close.
				var got []byte
				buf := make([]byte, 65535)
				probed := false
				for {
					n, err := c.Read(buf)
					got = append(got, buf[:n]...)
					if err != nil {
						var ne net.Error
						if !probed && errors.As(err, &ne) && ne.Timeout() {
							t.Errorf("%s: neither an answer to the probe nor a close: %v", name(a), err)
						}
						break
					}
					if !probed && bytes.Contains(got, []byte("Call-ID: "+probeID(id)+"\r\n")) {
						probed = true
						_ = c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
					}
				}
				c.Close()
				check(t, name(a), [][]byte{got})
			}
		})
	}
}

// A phone or carrier whose header lines end at LF (RFC 3261 §7 asks for
// CRLF; Kamailio takes LF) is heard by a many-sites server over UDP as it
// is by one site alone (sipstack.CRLF): its OPTIONS answered by the site
// (sipgo), its REGISTER challenged (the REGISTER fast path), and a
// request for a domain no site serves answered 404 by the router — each
// answer's lines at CRLF, the headers echoed as the sender meant them.
// The router dropped all three before.
func TestLFLinesAnsweredOverUDP(t *testing.T) {
	l, _ := oneSiteServed(t)

	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := c.LocalAddr().String()
	refused := sipstack.LineEndsRefused()
	for i, tt := range []struct {
		method, ruri, to, from, status string
	}{
		{"OPTIONS", "sip:s1.example", "<sip:s1.example>", "<sip:app.ann@s1.example>", "200 OK"},
		{"REGISTER", "sip:s1.example", "<sip:app.ann@s1.example>", "<sip:app.ann@s1.example>", "401 Unauthorized"},
		{"INVITE", "sip:101@nowhere.example", "<sip:101@nowhere.example>", "<sip:+35315550101@carrier.example>", "404 Not Found"},
	} {
		callID := fmt.Sprintf("lf-lines-%d@test", i)
		lines := []string{
			fmt.Sprintf("%s %s SIP/2.0", tt.method, tt.ruri),
			fmt.Sprintf("Via: SIP/2.0/UDP %s;branch=z9hG4bK-lf%d;rport", local, i),
			"Max-Forwards: 70",
			fmt.Sprintf("From: %s;tag=f%d", tt.from, i),
			"To: " + tt.to,
			"Call-ID: " + callID,
			"CSeq: 1 " + tt.method,
			fmt.Sprintf("Contact: <sip:app.ann@%s>", local),
			"User-Agent: lenient/1.0",
			"Content-Length: 0",
		}
		msg := strings.Join(lines, "\n") + "\n\n"
		if _, err := c.WriteTo([]byte(msg), l.udp.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		// Read to the answer to this request (a 100 Trying, or an
		// answer to the one before, may come first). Bounded: none at
		// all ends the read at the deadline.
		buf := make([]byte, 65535)
		var answer []byte
		for answer == nil {
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				t.Fatalf("%s with lines at LF: no %s: %v", tt.method, tt.status, err)
			}
			if bytes.Contains(buf[:n], []byte("\r\nCall-ID: "+callID+"\r\n")) && !bytes.HasPrefix(buf[:n], []byte("SIP/2.0 100 ")) {
				answer = append([]byte(nil), buf[:n]...)
			}
		}
		if !bytes.HasPrefix(answer, []byte("SIP/2.0 "+tt.status+"\r\n")) {
			t.Errorf("%s with lines at LF: answered %q, want %s", tt.method, answer, tt.status)
		}
		if i := bareLineEnd(answer); i >= 0 {
			t.Errorf("%s with lines at LF: the answer has a bare CR or LF at %d: %q", tt.method, i, answer)
		}
		for _, echoed := range []string{"\r\nCSeq: 1 " + tt.method + "\r\n", fmt.Sprintf(";tag=f%d\r\n", i)} {
			if !bytes.Contains(answer, []byte(echoed)) {
				t.Errorf("%s with lines at LF: the answer does not echo %q: %q", tt.method, echoed, answer)
			}
		}
	}
	if n := sipstack.LineEndsRefused() - refused; n != 0 {
		t.Errorf("%d refused (line_end_refused), want none", n)
	}
}

// carrierSecrets are a trunk's credentials at its carrier.
type carrierSecrets map[ir.SecretRef]string

func (s carrierSecrets) TrunkSecret(ref ir.SecretRef) (string, bool) {
	v, ok := s[ref]
	return v, ok
}

// A carrier that ends the header lines of its answers at LF is heard
// behind the many-sites router: its challenge to a site's registration,
// routed by the Call-ID the site sent, is answered with credentials. The
// router dropped it before, and the site only retransmitted.
func TestCarrierAnswersAtLFBehindTheRouter(t *testing.T) {
	car, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer car.Close()
	p := compile(t, siteSource(1, 201)+`
variable "trunk_user" {
  type    = string
  default = "pbx-1001"
}
variable "trunk_password" {
  type      = string
  default   = "carrier-secret-9"
  sensitive = true
}
trunk "carrier" {
  host     = "127.0.0.1"
  username = var.trunk_user
  password = var.trunk_password
  numbers  = ["+35315550100"]
}
`)
	p.Trunks[0].Port = car.LocalAddr().(*net.UDPAddr).Port
	srv := sites.New(quiet)
	s, err := site.New(site.Config{Program: p, Secrets: credentials.NewLookup(keyFor(t, 1), p),
		Trunks: carrierSecrets{"var.trunk_user": "pbx-1001", "var.trunk_password": "carrier-secret-9"}},
		site.Options{Logger: quiet, Services: &b2bua.Services{}, NonceSlots: sites.NonceSlots})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := srv.Add("1", s); err != nil {
		t.Fatal(err)
	}
	serveOnLoopback(t, srv, site.Limits{Handshake: 2 * time.Second}, true)

	// register reads the site's REGISTER of CSeq cseq (retransmissions
	// of the one before are read past); bounded: none ends the read at
	// the deadline.
	buf := make([]byte, 65535)
	register := func(cseq string) (lines []string, from net.Addr) {
		t.Helper()
		_ = car.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			n, from, err := car.ReadFrom(buf)
			if err != nil {
				t.Fatalf("no REGISTER of CSeq %s: %v", cseq, err)
			}
			head, _, _ := strings.Cut(string(buf[:n]), "\r\n\r\n")
			lines := strings.Split(head, "\r\n")
			if strings.HasPrefix(lines[0], "REGISTER ") && slices.Contains(lines, "CSeq: "+cseq+" REGISTER") {
				return lines, from
			}
		}
	}
	first, from := register("1")
	answer := []string{"SIP/2.0 401 Unauthorized"}
	for _, l := range first {
		for _, name := range []string{"Via:", "From:", "To:", "Call-ID:", "CSeq:"} {
			if strings.HasPrefix(l, name) {
				if name == "To:" {
					l += ";tag=car1"
				}
				answer = append(answer, l)
			}
		}
	}
	answer = append(answer, `WWW-Authenticate: Digest realm="carrier.example", nonce="lf-0123456789", algorithm=MD5`, "Content-Length: 0")
	if _, err := car.WriteTo([]byte(strings.Join(answer, "\n")+"\n\n"), from); err != nil {
		t.Fatal(err)
	}
	retry, _ := register("2")
	authorized := false
	for _, l := range retry {
		authorized = authorized || strings.HasPrefix(l, "Authorization: Digest ") && strings.Contains(l, `nonce="lf-0123456789"`)
	}
	if !authorized {
		t.Errorf("the second REGISTER does not answer the challenge:\n%s", strings.Join(retry, "\n"))
	}
}

// oneSiteServed serves siteSource(1, 201) alone behind a many-sites
// server on loopback (UDP, TCP, TLS), its UDP ready.
func oneSiteServed(t *testing.T) (listening, *site.Site) {
	t.Helper()
	srv := sites.New(quiet)
	p := compile(t, siteSource(1, 201))
	s, err := site.New(site.Config{Program: p, Secrets: credentials.NewLookup(keyFor(t, 1), p)}, site.Options{Logger: quiet, Services: &b2bua.Services{}, NonceSlots: sites.NonceSlots})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := srv.Add("1", s); err != nil {
		t.Fatal(err)
	}
	l := serveOnLoopback(t, srv, site.Limits{Handshake: 2 * time.Second}, true)
	<-srv.UDPReady()
	return l, s
}
