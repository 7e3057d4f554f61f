package sipstack

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"
)

// register is a REGISTER with the given header lines.
func register(lines ...string) []byte {
	return []byte("REGISTER sip:bench.example SIP/2.0\r\n" + strings.Join(lines, "\r\n") + "\r\nContent-Length: 0\r\n\r\n")
}

var phoneLines = []string{
	"Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK-1;rport",
	"Max-Forwards: 70",
	"From: \"Desk phone\" <sip:app.u1@bench.example>;tag=1",
	"To: \"Desk phone\" <sip:app.u1@bench.example>",
	"Call-ID: 1-2@192.168.1.20",
	"CSeq: 1 REGISTER",
	"Contact: <sip:app.u1@192.168.1.20:5060>",
	"Expires: 300",
	"User-Agent: Yealink SIP-T54W",
}

var benchChallenges = []string{
	`Digest realm="bench.example", nonce="abc", algorithm=SHA-256, qop="auth"`,
	`Digest realm="bench.example", nonce="abc", algorithm=MD5, qop="auth"`,
}

// The scan is sure of plain REGISTERs without credentials and finds the
// user name their To registers; everything else goes the parsed way.
func TestScanRegister(t *testing.T) {
	for _, tt := range []struct {
		name string
		data []byte
		user string // "": not scanned
	}{
		{"phone", register(phoneLines...), "app.u1"},
		{"compact", register("v: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK-2", "f: <sip:a@b>;tag=x", "t: sip:app.u2@bench.example", "i: abc", "CSeq: 7 REGISTER"), "app.u2"},
		{"addr-spec with parameters", register(replace(phoneLines, 3, "To: sip:app.u3@bench.example;x=y")...), "app.u3"},
		{"sips, port", register(replace(phoneLines, 3, "To: <sips:+3531@bench.example:5061;transport=tls>")...), "+3531"},
		{"credentials", register(append(phoneLines, `Authorization: Digest username="app.u1"`)...), ""},
		{"credentials, lower case", register(append(phoneLines, `authorization: Digest username="app.u1"`)...), ""},
		{"proxy credentials", register(append(phoneLines, `Proxy-Authorization: Digest username="app.u1"`)...), ""},
		{"require", register(append(phoneLines, "Require: path")...), ""},
		{"to tag", register(replace(phoneLines, 3, "To: <sip:app.u1@bench.example>;tag=9")...), ""},
		{"escaped user", register(replace(phoneLines, 3, "To: <sip:app%2Eu1@bench.example>")...), ""},
		{"password", register(replace(phoneLines, 3, "To: <sip:app.u1:pw@bench.example>")...), ""},
		{"no user", register(replace(phoneLines, 3, "To: <sip:bench.example>")...), ""},
		{"tel", register(replace(phoneLines, 3, "To: <tel:+3531>")...), ""},
		{"quote in display name", register(replace(phoneLines, 3, `To: "a\" <sip:x@y>" <sip:app.u1@bench.example>`)...), ""},
		{"no closing bracket", register(replace(phoneLines, 3, "To: <sip:app.u1@bench.example")...), ""},
		{"tcp", register(replace(phoneLines, 0, "Via: SIP/2.0/TCP 192.168.1.20:5060;branch=z9hG4bK-1")...), ""},
		{"cseq of another method", register(replace(phoneLines, 5, "CSeq: 1 INVITE")...), ""},
		{"cseq not a number", register(replace(phoneLines, 5, "CSeq: x REGISTER")...), ""},
		{"no call-id", register(replace(phoneLines, 4)...), ""},
		{"two to", register(append(phoneLines, "To: <sip:app.u9@bench.example>")...), ""},
		{"folded", register(replace(phoneLines, 8, "User-Agent: Yealink", " SIP-T54W")...), ""},
		// What sipgo's parser refuses (a CR without LF ends no line for
		// it; a CSeq must be below 2**31, RFC 3261 §8.1.1.5) is not
		// answered from the scan: its lines would be echoed as they came.
		{"bare CR in a line", register(replace(phoneLines, 4, "Call-ID: 1-2\rWWW-Authenticate: Digest realm=\"evil\"")...), ""},
		{"bare LF in a line", register(replace(phoneLines, 4, "Call-ID: 1-2\nWWW-Authenticate: Digest realm=\"evil\"")...), ""},
		{"bare CR in the request line", append([]byte("REGISTER sip:a\rb SIP/2.0\r\n"), bytes.SplitN(register(phoneLines...), []byte("\r\n"), 2)[1]...), ""},
		{"cseq 2**31", register(replace(phoneLines, 5, "CSeq: 2147483648 REGISTER")...), ""},
		{"cseq of 23 digits", register(replace(phoneLines, 5, "CSeq: 99999999999999999999999 REGISTER")...), ""},
		{"cseq 2**31-1 with leading zeros", register(replace(phoneLines, 5, "CSeq: 0002147483647 REGISTER")...), "app.u1"},
		// sipgo's response builder sets the top Via's first rport and
		// received; the scan would add a second received, or fill another
		// rport than the first.
		{"received in the top Via", register(replace(phoneLines, 0, "Via: SIP/2.0/UDP 192.168.1.20:5060;received=6.6.6.6;branch=z9hG4bK-1;rport")...), ""},
		{"rport twice", register(replace(phoneLines, 0, "Via: SIP/2.0/UDP 192.168.1.20:5060;rport;branch=z9hG4bK-1;rport")...), ""},
		{"rport with a value, then without", register(replace(phoneLines, 0, "Via: SIP/2.0/UDP 192.168.1.20:5060;rport=7;branch=z9hG4bK-1;rport")...), ""},
		{"an invite", invite(doorLines...), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			user := ""
			if h, ok := scanRegister(tt.data); ok {
				user, _ = toUser(h.to)
			}
			if d := cmp.Diff(tt.user, user); d != "" {
				t.Errorf("user (-want +got):\n%s", d)
			}
		})
	}
}

// A scanned challenge is the 401 the registrar sends through sipgo, but
// for its To tag.
func TestScannedChallenge(t *testing.T) {
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	for _, data := range [][]byte{
		register(phoneLines...),
		register(replace(phoneLines, 0, "Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK-1")...), // no rport: to the Via's port
		register(replace(phoneLines, 0, "Via: SIP/2.0/UDP 192.168.1.20;branch=z9hG4bK-1")...),      // no port: 5060
		register(replace(phoneLines, 0, "v: SIP/2.0/UDP 10.0.0.9:5062;branch=z9hG4bK-p;rport", "Via: SIP/2.0/UDP 10.0.0.8;branch=z9hG4bK-q")...),
		register(replace(phoneLines, 0, "Via: SIP/2.0/UDP [::1]:5070;rport;branch=z9hG4bK-1")...),
		register(replace(phoneLines, 0, "Via: SIP/2.0/UDP 127.0.0.1:5070;oc;branch=z9hG4bK-1;rport")...), // oc: carried back as it came
		register(replace(phoneLines, 3, "t:   <sip:app.u1@bench.example>  ")...),
	} {
		h, ok := scanRegister(data)
		if !ok {
			t.Fatalf("not scanned:\n%s", data)
		}
		var buf bytes.Buffer
		h.challenge(&buf, benchChallenges, src.String())
		msg, err := sip.ParseMessage(buf.Bytes())
		if err != nil {
			t.Fatalf("%v\n%s", err, buf.Bytes())
		}
		got := msg.(*sip.Response)
		parsed, err := sip.ParseMessage(data)
		if err != nil {
			t.Fatal(err)
		}
		req := parsed.(*sip.Request)
		req.SetSource(src.String())
		want := sip.NewResponseFromRequest(req, sip.StatusUnauthorized, "Unauthorized", nil)
		for _, c := range benchChallenges {
			want.AppendHeader(sip.NewHeader("WWW-Authenticate", c))
		}
		view := func(r *sip.Response) []string {
			out := []string{r.StartLine()}
			for _, v := range r.GetHeaders("Via") {
				out = append(out, "Via: "+v.Value())
			}
			for _, name := range []string{"From", "Call-ID", "CSeq"} {
				out = append(out, name+": "+r.GetHeader(name).Value())
			}
			out = append(out, "To: "+r.To().Address.String())
			for _, v := range r.GetHeaders("WWW-Authenticate") {
				out = append(out, "WWW-Authenticate: "+v.Value())
			}
			if cl := r.ContentLength(); cl != nil {
				out = append(out, "Content-Length: "+cl.Value())
			}
			return out
		}
		if d := cmp.Diff(view(want), view(got)); d != "" {
			t.Errorf("scanned challenge (-parsed +scanned):\n%s", d)
		}
		if tag, ok := got.To().Params.Get("tag"); !ok || tag == "" {
			t.Errorf("no To tag: %q", got.To().Value())
		}
		if d := cmp.Diff(responseDest(req, src).String(), h.dest(src).String()); d != "" {
			t.Errorf("destination (-parsed +scanned):\n%s", d)
		}
	}
}

// Register answers a REGISTER without credentials from the scan, never
// reaching the handler; with credentials, or when the challenge function
// declines (a throttled source), the handler answers it.
func TestRegisterChallengeScanned(t *testing.T) {
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	var handled []string
	r := NewRegister(func(req *sip.Request, tx sip.ServerTransaction) {
		handled = append(handled, req.CSeq().Value())
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil))
	})
	defer r.Close()
	var asked []string
	challenges := benchChallenges
	r.Challenge(func(user, source string) []string {
		asked = append(asked, user+" "+source)
		return challenges
	})
	conn := &recorder{}
	if !r.Serve(conn, register(phoneLines...), src) {
		t.Fatal("REGISTER without credentials not served")
	}
	// Each a transaction of its own (a branch of its own): the 403 is
	// remembered for its retransmissions.
	lines := func(branch, cseq string) []string {
		return replace(replace(phoneLines, 5, "CSeq: "+cseq+" REGISTER"), 0, "Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK-"+branch+";rport")
	}
	withCredentials := register(append(lines("2", "2"), `Authorization: Digest username="app.u1", realm="bench.example", nonce="abc", uri="sip:bench.example", response="00"`)...)
	if !r.Serve(conn, withCredentials, src) {
		t.Fatal("REGISTER with credentials not served")
	}
	challenges = nil // the source is throttled: the handler refuses it
	if !r.Serve(conn, register(lines("3", "3")...), src) {
		t.Fatal("REGISTER of a throttled source not served")
	}
	if d := cmp.Diff([]string{"app.u1 127.0.0.1:40000", "app.u1 127.0.0.1:40000"}, asked); d != "" {
		t.Errorf("challenges asked (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"2 REGISTER", "3 REGISTER"}, handled); d != "" {
		t.Errorf("handled (-want +got):\n%s", d)
	}
	var status []string
	for _, b := range conn.sent {
		status = append(status, string(b[:bytes.Index(b, []byte("\r\n"))]))
	}
	if d := cmp.Diff([]string{"SIP/2.0 401 Unauthorized", "SIP/2.0 403 Forbidden", "SIP/2.0 403 Forbidden"}, status); d != "" {
		t.Errorf("sent (-want +got):\n%s", d)
	}
}

// Whatever the scan answers with a challenge, the parser reads as a
// REGISTER without credentials or Require, registering the same user
// name, from the same Call-ID, answered at the same address; and the
// challenge parses.
func FuzzScanRegister(f *testing.F) {
	f.Add(register(phoneLines...))
	f.Add(register("v: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK-2", "f: <sip:a@b>;tag=x", "t: sip:c@d;x=y", "i:  abc ", "cseq: 7 REGISTER"))
	f.Add(register(replace(phoneLines, 0, "Via: SIP/2.0/UDP [::1]:5072;rport;branch=z9hG4bK-1", "Via: SIP/2.0/UDP a:1")...))
	f.Add(register(replace(phoneLines, 3, `To: "a b" <sips:+1@[::1]:5061;transport=tls>`)...))
	f.Add(register(append(phoneLines, `Authorization: Digest username="app.u1"`)...))
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, ok := scanRegister(data)
		if !ok {
			return
		}
		// Serve skips the scan of a REGISTER with such a line.
		if credentialsLine(data) {
			t.Fatalf("scanned for a challenge, with a line of credentials:\n%q", data)
		}
		user, ok := toUser(h.to)
		if !ok {
			return
		}
		// Framed as the receiver reads it, whether or not the parser
		// takes the request (refuse.go copies malformed values as they
		// came, but not a line's end).
		var buf bytes.Buffer
		h.challenge(&buf, benchChallenges, src.String())
		if n := bytes.Count(buf.Bytes(), []byte("\r\n")); bytes.Count(buf.Bytes(), []byte("\r")) != n || bytes.Count(buf.Bytes(), []byte("\n")) != n {
			t.Fatalf("the challenge has a CR or LF outside a CRLF:\n%q\nto\n%q", buf.Bytes(), data)
		}
		msg, err := sip.ParseMessage(data)
		if err != nil {
			return // malformed: see refuse.go
		}
		req, isReq := msg.(*sip.Request)
		if !isReq || req.Method != sip.REGISTER || req.To() == nil || req.CallID() == nil || req.Via() == nil {
			t.Fatalf("scanned, but the parser reads no REGISTER with To, Call-ID and Via:\n%q", data)
		}
		if req.GetHeader("Authorization") != nil || req.GetHeader("Proxy-Authorization") != nil || req.GetHeader("Require") != nil {
			t.Fatalf("scanned as without credentials or Require, but the parser reads some:\n%q", data)
		}
		if got, want := user, req.To().Address.User; got != want {
			t.Fatalf("user %q, the parser's %q:\n%q", got, want, data)
		}
		agreesWithParser(t, h, req, src, data, "challenge", buf.Bytes())
	})
}

// The cost of challenging a desk phone's REGISTER: parsed (sipgo's
// parser, sipgo's response builder and writer) and scanned
// (scanRegister, challenge); the send is the same for both.
func BenchmarkChallenge(b *testing.B) {
	data := register(phoneLines...)
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	var buf bytes.Buffer
	b.Run("parsed", func(b *testing.B) {
		p := sip.NewParser()
		b.ReportAllocs()
		for b.Loop() {
			msg, err := p.ParseSIP(data)
			if err != nil {
				b.Fatal(err)
			}
			req := msg.(*sip.Request)
			req.SetSource(src.String())
			res := sip.NewResponseFromRequest(req, sip.StatusUnauthorized, "Unauthorized", nil)
			for _, c := range benchChallenges {
				res.AppendHeader(sip.NewHeader("WWW-Authenticate", c))
			}
			buf.Reset()
			res.StringWrite(&buf)
		}
	})
	b.Run("scanned", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h, ok := scanRegister(data)
			if !ok {
				b.Fatal("not scanned")
			}
			if _, ok := toUser(h.to); !ok {
				b.Fatal("no user")
			}
			buf.Reset()
			h.challenge(&buf, benchChallenges, sourceOf(src))
		}
	})
}
