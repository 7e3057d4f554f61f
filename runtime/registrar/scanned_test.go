package registrar_test

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/auth"
	"switchboard/runtime/clock/clocktest"
	"switchboard/runtime/digest"
	"switchboard/runtime/registrar"
	"switchboard/runtime/sipstack"
)

// scannedRig is two registrars of the same program on one clock and one
// authenticator, each behind REGISTER's fast path over UDP: one that
// takes REGISTERs with credentials from the scan (sipstack
// Register.Scanned), one that parses every REGISTER, as main did.
type scannedRig struct {
	clk             *clocktest.Fake
	a               *auth.Authenticator
	scanned, parsed *registrar.Registrar
	fast, slow      *sipstack.Register
}

func newScannedRig(t testing.TB, opts ...registrar.Option) *scannedRig {
	g := &scannedRig{clk: clocktest.New(epoch)}
	p := program()
	g.a = auth.New(domain, passwords, g.clk, auth.WithNonceSlots(1<<12)) // a small ring: the fuzz target makes one per input
	g.scanned = registrar.New(p, g.a, g.clk, opts...)
	g.parsed = registrar.New(p, g.a, g.clk, opts...)
	g.fast = sipstack.NewRegister(g.scanned.OnRegister)
	g.fast.Scanned(g.scanned.ServeScanned)
	g.slow = sipstack.NewRegister(g.parsed.OnRegister)
	t.Cleanup(func() {
		g.fast.Close()
		g.slow.Close()
		g.scanned.Close()
		g.parsed.Close()
	})
	return g
}

// nonceRE finds the nonce of a challenge.
var nonceRE = regexp.MustCompile(`nonce="([^"]*)"`)

// nonce is a fresh nonce of the rig's authenticator.
func (g *scannedRig) nonce(t testing.TB) string {
	t.Helper()
	ch := g.a.RegisterChallengeWith(passwords, "app.mary", "192.0.2.1:5060")
	if len(ch) == 0 {
		t.Fatal("no challenge")
	}
	return nonceRE.FindStringSubmatch(ch[0])[1]
}

// sign puts nonce in data for "@NONCE@" and, for "@RESP@", the digest
// response of the credentials of its first Authorization line with
// password (the account's own when empty), as a client computes it.
func sign(data []byte, nonce, password string) []byte {
	data = bytes.ReplaceAll(data, []byte("@NONCE@"), []byte(nonce))
	var value string
	// The header's lines end at CRLF or, as a lenient client's may, at LF.
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			break
		}
		if name, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "authorization") {
			value = strings.TrimSpace(v)
			break
		}
	}
	c, err := digest.ParseCredentials(value)
	if err != nil {
		return data
	}
	if password == "" {
		password = passwords[c.Username]
	}
	h := func(s string) string {
		if digest.ParseAlgorithm(c.Algorithm) == digest.SHA256 {
			sum := sha256.Sum256([]byte(s))
			return hex.EncodeToString(sum[:])
		}
		sum := md5.Sum([]byte(s))
		return hex.EncodeToString(sum[:])
	}
	ha1, ha2 := h(c.Username+":"+domain+":"+password), h("REGISTER:"+c.URI)
	resp := h(ha1 + ":" + c.Nonce + ":" + ha2)
	if c.QOP != "" {
		resp = h(ha1 + ":" + c.Nonce + ":" + c.NC + ":" + c.Cnonce + ":" + c.QOP + ":" + ha2)
	}
	return bytes.ReplaceAll(data, []byte("@RESP@"), []byte(resp))
}

// conn is a PacketConn that keeps what is written to it and where.
type conn struct {
	net.PacketConn
	sent [][]byte
	to   []string
}

func (c *conn) WriteTo(b []byte, to net.Addr) (int, error) {
	c.sent = append(c.sent, append([]byte(nil), b...))
	c.to = append(c.to, to.String())
	return len(b), nil
}

func (c *conn) LocalAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060} }

var deskPhone = &net.UDPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 5060}

// outcome is what a REGISTER came to on one path: whether the scan
// answered it, and the answer, its To tag taken out.
type outcome struct {
	Scanned bool
	Answer  string
	To      string
}

// both sends data, signed for each with its nonce of nonces, to both
// registrars and returns both outcomes; it fails t when they differ in
// more than whether the scan answered, or when a retransmission is not
// answered alike.
func (g *scannedRig) both(t testing.TB, data []byte, nonces [2]string, password string) (scanned, parsed outcome) {
	t.Helper()
	run := func(r *sipstack.Register, nonce string) outcome {
		// The read loop (sipstack.ReadyConn) gives it CRLF line ends, or
		// drops it for a lone CR in its header, before Serve.
		data, ok := sipstack.CRLF(sign(data, nonce, password))
		if !ok {
			return outcome{}
		}
		var c conn
		before := sipstack.RegistersScanned()
		if !r.Serve(&c, data, deskPhone) {
			return outcome{}
		}
		o := outcome{Scanned: sipstack.RegistersScanned() != before}
		if len(c.sent) == 0 && !o.Scanned {
			return o // the answer too big to send
		}
		if len(c.sent) != 1 {
			t.Fatalf("sent %d answers", len(c.sent))
		}
		// The path's own nonce, where the request echoed it, as it came.
		o.Answer, o.To = strings.ReplaceAll(untag(string(c.sent[0])), nonce, "@NONCE@"), c.to[0]
		if n := strings.Count(o.Answer, "\r\n"); strings.Count(o.Answer, "\r") != n || strings.Count(o.Answer, "\n") != n {
			t.Fatalf("the answer has a CR or LF outside a CRLF:\n%q", o.Answer)
		}
		// A retransmission: the same answer, the registrar not asked
		// again (a challenge is answered afresh).
		before = sipstack.RegistersScanned()
		r.Serve(&c, data, deskPhone)
		if sipstack.RegistersScanned() != before {
			t.Fatal("a retransmission was scanned and answered again")
		}
		if !strings.Contains(o.Answer, " 401 ") && !bytes.Equal(c.sent[0], c.sent[1]) {
			t.Fatalf("retransmission answered\n%q\nnot\n%q", c.sent[1], c.sent[0])
		}
		return o
	}
	scanned = run(g.fast, nonces[0])
	parsed = run(g.slow, nonces[1])
	if parsed.Scanned {
		t.Fatal("the parsed way scanned")
	}
	want, got := parsed, scanned
	got.Scanned = false
	if strings.Contains(want.Answer, " 401 ") {
		// Each path's challenge has a nonce of its own.
		want.Answer, got.Answer = nonceRE.ReplaceAllString(want.Answer, ""), nonceRE.ReplaceAllString(got.Answer, "")
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("answers (-parsed +scanned):\n%s\nto\n%q", d, data)
	}
	for _, account := range []string{"app.mary", "app.john", "device.front-gate"} {
		if d := cmp.Diff(g.parsed.Lookup(account), g.scanned.Lookup(account)); d != "" {
			t.Fatalf("bindings of %s (-parsed +scanned):\n%s\nafter\n%q", account, d, data)
		}
	}
	return scanned, parsed
}

// untag takes the tag out of an answer's To line: each draws its own.
func untag(answer string) string {
	lines := strings.Split(answer, "\r\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "To: ") {
			if j := strings.LastIndex(l, ";tag="); j >= 0 {
				lines[i] = l[:j]
			}
		}
	}
	return strings.Join(lines, "\r\n")
}

// maryLines are Mary's desk deskPhone registering with credentials; its
// lines are changed by index.
var maryLines = []string{
	"Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-@BRANCH@;rport",
	"Max-Forwards: 70",
	`From: "Mary" <sip:app.mary@harbour-view.example.net>;tag=f1`,
	`To: "Mary" <sip:app.mary@harbour-view.example.net>`,
	"Call-ID: c1@10.0.0.5",
	"CSeq: @CSEQ@ REGISTER",
	`Contact: <sip:app.mary@10.0.0.5:5060;transport=udp>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-00155d000001>"`,
	`Authorization: Digest username="app.mary", realm="harbour-view.example.net", nonce="@NONCE@", uri="sip:harbour-view.example.net", response="@RESP@", algorithm=MD5, cnonce="0a4f113b", qop=auth, nc=00000001`,
	"Expires: 300",
	"User-Agent: Yealink SIP-T54W 96.86.0.70",
}

// maryRegister is a REGISTER of maryLines, changed: at index i, the
// lines of with[i] instead (none: the line goes).
func maryRegister(cseq int, with map[int][]string) []byte {
	var b strings.Builder
	b.WriteString("REGISTER sip:harbour-view.example.net SIP/2.0\r\n")
	for i, l := range maryLines {
		lines, ok := with[i]
		if !ok {
			lines = []string{l}
		}
		for _, l := range lines {
			l = strings.ReplaceAll(l, "@BRANCH@", fmt.Sprint(cseq))
			b.WriteString(strings.ReplaceAll(l, "@CSEQ@", fmt.Sprint(cseq)) + "\r\n")
		}
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String())
}

// atLF is data with the lines of its header ending at LF, as a lenient
// client may send them (RFC 3261 §7 asks for CRLF; the read loop puts a
// CR before each, sipstack.CRLF).
func atLF(data []byte) []byte {
	head, body, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	return append(append(bytes.ReplaceAll(head, []byte("\r\n"), []byte("\n")), "\n\n"...), body...)
}

// A REGISTER with credentials is answered from the scan exactly when the
// parsed way answers it 200, and then with the same answer (but for the
// To tag) and the same bindings; every other outcome is the parsed way's,
// the scan having changed nothing.
func TestScannedRegisterAsParsed(t *testing.T) {
	authz := func(params string) map[int][]string {
		return map[int][]string{7: {`Authorization: Digest username="app.mary", realm="harbour-view.example.net", nonce="@NONCE@", response="@RESP@", cnonce="0a4f113b", ` + params}}
	}
	type step struct {
		data      []byte
		sameNonce bool   // the nonce of the step before (a replay of its count)
		password  string // "": the right one
		later     time.Duration
		scanned   bool
		status    string
	}
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"new, then refreshed", []step{
			{data: maryRegister(2, nil), scanned: true, status: "200 OK"},
			{data: maryRegister(3, nil), later: time.Minute, scanned: true, status: "200 OK"},
		}},
		{"several contacts, one with its own expiry", []step{
			{data: maryRegister(2, map[int][]string{6: {maryLines[6], "Contact: <sip:app.mary@10.0.0.6:5070>;expires=1200, <sip:app.mary@10.0.0.7>"}}), scanned: true, status: "200 OK"},
		}},
		{"no Expires: the default", []step{{data: maryRegister(2, map[int][]string{8: nil}), scanned: true, status: "200 OK"}}},
		{"contact expires", []step{{data: maryRegister(2, map[int][]string{6: {"Contact: <sip:app.mary@10.0.0.5>;expires=120"}}), scanned: true, status: "200 OK"}}},
		{"unregistered", []step{
			{data: maryRegister(2, nil), scanned: true, status: "200 OK"},
			{data: maryRegister(3, map[int][]string{8: {"Expires: 0"}}), scanned: true, status: "200 OK"},
		}},
		{"wrong password", []step{{data: maryRegister(2, nil), password: "guess", status: "401 Unauthorized"}}},
		{"replayed nonce count", []step{
			{data: maryRegister(2, nil), scanned: true, status: "200 OK"},
			{data: maryRegister(3, nil), sameNonce: true, status: "401 Unauthorized"},
		}},
		{"stale nonce", []step{{data: maryRegister(2, nil), later: 6 * time.Minute, status: "401 Unauthorized"}}},
		{"no qop", []step{{data: maryRegister(2, authz(`uri="sip:harbour-view.example.net"`)), status: "200 OK"}}},
		{"algorithm not offered", []step{{data: maryRegister(2, authz(`uri="sip:harbour-view.example.net", algorithm=SHA-256, qop=auth, nc=00000001`)), status: "401 Unauthorized"}}},
		{"uri of another resource", []step{{data: maryRegister(2, authz(`uri="sip:elsewhere.example", qop=auth, nc=00000001`)), status: "400 Credentials For Another URI"}}},
		{"another realm", []step{{data: maryRegister(2, map[int][]string{7: {strings.Replace(maryLines[7], `realm="harbour-view.example.net"`, `realm="other.example"`, 1)}}), status: "401 Unauthorized"}}},
		{"malformed credentials", []step{{data: maryRegister(2, map[int][]string{7: {`Authorization: Digest username`}}), status: "400 Malformed Credentials"}}},
		{"an account's password, another's To", []step{{data: maryRegister(2, map[int][]string{3: {"To: <sip:app.john@harbour-view.example.net>"}}), status: "403 Forbidden"}}},
		{"no account", []step{{data: maryRegister(2, map[int][]string{
			3: {"To: <sip:app.ghost@harbour-view.example.net>"},
			7: {strings.Replace(maryLines[7], `username="app.mary"`, `username="app.ghost"`, 1)}}), status: "403 Forbidden"}}},
		{"interval too brief", []step{{data: maryRegister(2, map[int][]string{8: {"Expires: 10"}}), status: "423 Interval Too Brief"}}},
		{"bad Expires", []step{{data: maryRegister(2, map[int][]string{8: {"Expires: soon"}}), status: "400 Invalid Expires"}}},
		{"out-of-order CSeq", []step{
			{data: maryRegister(5, nil), scanned: true, status: "200 OK"},
			{data: maryRegister(4, map[int][]string{0: {"Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-other;rport"}}), status: "400 Out-of-order CSeq"},
		}},
		{"wildcard", []step{
			{data: maryRegister(2, nil), scanned: true, status: "200 OK"},
			{data: maryRegister(3, map[int][]string{6: {"Contact: *"}, 8: {"Expires: 0"}}), status: "200 OK"},
		}},
		{"Path", []step{{data: maryRegister(2, map[int][]string{1: {"Path: <sip:edge.example;lr>", "Supported: path"}}), status: "200 OK"}}},
		{"Require", []step{{data: maryRegister(2, map[int][]string{1: {"Require: gruu"}}), status: "420 Bad Extension"}}},
		{"two Authorization lines", []step{{data: maryRegister(2, map[int][]string{7: {maryLines[7], `Authorization: Digest username="app.john"`}}), status: "200 OK"}}},
		{"lines at LF", []step{
			{data: atLF(maryRegister(2, nil)), scanned: true, status: "200 OK"},
			{data: atLF(maryRegister(3, map[int][]string{8: {"Expires: 0"}})), scanned: true, status: "200 OK"},
		}},
		{"lines at LF and CRLF", []step{{data: bytes.Replace(maryRegister(2, nil), []byte("\r\n"), []byte("\n"), 4), scanned: true, status: "200 OK"}}},
		{"a lone CR", []step{{data: bytes.Replace(maryRegister(2, nil), []byte("\r\n"), []byte("\r"), 1)}}},
		{"From in another form", []step{{data: maryRegister(2, map[int][]string{2: {"From: sip:app.mary@harbour-view.example.net;tag=f1"}}), status: "200 OK"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := newScannedRig(t)
			var nonces [2]string
			type result struct {
				Scanned bool
				Status  string
			}
			var want, got []result
			for _, s := range tt.steps {
				if !s.sameNonce {
					nonces = [2]string{g.nonce(t), g.nonce(t)}
				}
				g.clk.Advance(s.later)
				scanned, _ := g.both(t, s.data, nonces, s.password)
				status, _, _ := strings.Cut(strings.TrimPrefix(scanned.Answer, "SIP/2.0 "), "\r\n")
				want = append(want, result{s.scanned, s.status})
				got = append(got, result{scanned.Scanned, status})
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// FuzzScannedRegister feeds the same REGISTER with credentials (its
// nonce and digest response filled in, each path with a nonce of its
// own) to a registrar that takes it from the scan and to one that parses
// it: both come to the same decision, the same answer but for the To tag
// (the same Date: one clock), the same destination and the same
// bindings, and a retransmission gets the same answer again.
func FuzzScannedRegister(f *testing.F) {
	f.Add(maryRegister(2, nil))
	f.Add(maryRegister(3, map[int][]string{6: {maryLines[6], "m: <sip:app.mary@10.0.0.6:5070>;expires=1200, <sip:app.mary@10.0.0.7;lr>;q=0.5"}}))
	f.Add(maryRegister(4, map[int][]string{0: {"v: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK-x"}, 2: {"f: <sip:app.mary@harbour-view.example.net:5060;transport=udp>;tag=f1"}, 8: nil}))
	f.Add(maryRegister(5, map[int][]string{8: {"Expires: 0"}}))
	f.Add(maryRegister(6, map[int][]string{3: {"t: <sip:app.john@harbour-view.example.net>"}}))
	f.Add(atLF(maryRegister(7, nil)))
	f.Fuzz(func(t *testing.T, data []byte) {
		g := newScannedRig(t)
		g.both(t, data, [2]string{g.nonce(t), g.nonce(t)}, "")
	})
}

// The REGISTER with credentials of a registration is not parsed: every
// one is answered from the scan (RegistersScanned), at less than half
// the allocations of the parsed way (33 against 80 when written; sipgo's
// parser alone made some 40 objects of it).
func TestScannedRegisterAllocations(t *testing.T) {
	g := newScannedRig(t)
	const runs = 50
	count := func(r *sipstack.Register) float64 {
		datagrams := make([][]byte, runs+1)
		for i := range datagrams {
			datagrams[i] = sign(maryRegister(2+i, nil), g.nonce(t), "")
		}
		i := 0
		var c conn
		c.sent = make([][]byte, 0, runs+1)
		c.to = make([]string, 0, runs+1)
		n := testing.AllocsPerRun(runs, func() {
			r.Serve(&c, datagrams[i], deskPhone)
			i++
		})
		for _, a := range c.sent {
			if !bytes.HasPrefix(a, []byte("SIP/2.0 200 OK\r\n")) {
				t.Fatalf("answered %q", a)
			}
		}
		return n
	}
	before := sipstack.RegistersScanned()
	scanned, parsed := count(g.fast), count(g.slow)
	if n := sipstack.RegistersScanned() - before; n != runs+1 {
		t.Errorf("%d of %d REGISTERs answered from the scan", n, runs+1)
	}
	t.Logf("allocations per REGISTER: scanned %.0f, parsed %.0f", scanned, parsed)
	if scanned > parsed/2 {
		t.Errorf("a scanned REGISTER made %.0f allocations, the parsed way %.0f", scanned, parsed)
	}
}

// BenchmarkRegisterDatagram measures the REGISTER with credentials of a
// registration refresh from the datagram to the answer sent, through
// REGISTER's fast path over UDP: "scanned" as the server answers it now,
// "parsed" through sipgo's parser as before (the nonce issued for each
// and the client's digest are not timed).
func BenchmarkRegisterDatagram(b *testing.B) {
	for _, way := range []string{"scanned", "parsed"} {
		b.Run(way, func(b *testing.B) {
			g := newScannedRig(b)
			r := g.fast
			if way == "parsed" {
				r = g.slow
			}
			var c conn
			// The datagrams are made in batches, the timer stopped: a
			// stop per REGISTER would cost more than the REGISTER.
			batch := make([][]byte, 1024)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; {
				b.StopTimer()
				n := min(len(batch), b.N-i)
				for j := range n {
					batch[j] = sign(maryRegister(2+i+j, nil), g.nonce(b), "")
				}
				c.sent, c.to = c.sent[:0], c.to[:0]
				b.StartTimer()
				for _, data := range batch[:n] {
					r.Serve(&c, data, deskPhone)
				}
				i += n
			}
			b.StopTimer()
			for _, a := range c.sent {
				if !bytes.HasPrefix(a, []byte("SIP/2.0 200 OK\r\n")) {
					b.Fatalf("answered %q", a)
				}
			}
		})
	}
}
