package sipstack

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"
)

// authLines are a desk phone's REGISTER with credentials.
var authLines = []string{
	"Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK-2;rport",
	"Max-Forwards: 70",
	"From: \"Desk phone\" <sip:app.u1@bench.example>;tag=1",
	"To: \"Desk phone\" <sip:app.u1@bench.example>",
	"Call-ID: 1-2@192.168.1.20",
	"CSeq: 2 REGISTER",
	"Contact: <sip:app.u1@192.168.1.20:5060;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-00155d000001>\"",
	`Authorization: Digest username="app.u1", realm="bench.example", nonce="abc", uri="sip:bench.example", response="0123", algorithm=MD5, cnonce="c1", qop=auth, nc=00000001`,
	"Expires: 300",
	"Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, OPTIONS, INFO",
	"Supported: path, replaces",
	"User-Agent: Yealink SIP-T54W 96.86.0.70",
}

// sippLines are SIPp's REGISTER with credentials, as the benchmark sends
// it.
var sippLines = []string{
	"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-0;rport",
	"Max-Forwards: 70",
	"From: <sip:app.u1@bench.example>;tag=1SIPpTag001",
	"To: <sip:app.u1@bench.example>",
	"Call-ID: 1-1@127.0.0.1",
	"CSeq: 2 REGISTER",
	"Contact: <sip:app.u1@127.0.0.1:5061>",
	`Authorization: Digest username="app.u1",realm="bench.example",cnonce="6b8b4567",nc=00000001,qop=auth,uri="sip:127.0.0.1:5060",nonce="n",response="00",algorithm=MD5`,
	"Expires: 3600",
}

// TestScanAuthRegister: the scan is sure of the REGISTERs phones send
// with credentials, and reads them as the parser does; everything out of
// the ordinary goes the parsed way.
func TestScanAuthRegister(t *testing.T) {
	for _, tt := range []struct {
		name    string
		data    []byte
		scanned bool
	}{
		{"phone", register(authLines...), true},
		{"sipp", register(sippLines...), true},
		{"compact", register(append([]string{"v: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-0", "f: <sip:app.u1@bench.example>;tag=x", "t: <sip:app.u1@bench.example>", "i: 1-1@127.0.0.1", "m: <sip:app.u1@127.0.0.1:5061>"}, sippLines[5], sippLines[7], "l: 0")...), true},
		{"two contacts", register(append(sippLines, "m: <sip:app.u1@10.0.0.1:5062>;expires=600")...), true},
		{"two contacts in a line", register(replace(sippLines, 6, "Contact: <sip:app.u1@127.0.0.1:5061>, <sip:app.u1@10.0.0.1>")...), true},
		{"no Expires", register(replace(sippLines, 8)...), true},
		{"wildcard", register(replace(sippLines, 6, "Contact: *")...), false},
		{"no contact", register(replace(sippLines, 6)...), false},
		{"two Authorization lines", register(append(sippLines, `Authorization: Digest username="app.u1"`)...), false},
		{"Proxy-Authorization", register(append(sippLines, `Proxy-Authorization: Digest username="app.u1"`)...), false},
		{"Path", register(append(sippLines, "Path: <sip:edge.example;lr>")...), false},
		{"Require", register(append(sippLines, "Require: path")...), false},
		{"Route", register(append(sippLines, "Route: <sip:edge.example;lr>")...), false},
		{"a body", append(bytes.TrimSuffix(register(sippLines...), []byte("Content-Length: 0\r\n\r\n")), "Content-Length: 2\r\n\r\nhi"...), false},
		{"two Vias", register(append([]string{"Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-p"}, sippLines...)...), false},
		{"IPv6 Via", register(replace(sippLines, 0, "Via: SIP/2.0/UDP [::1]:5061;branch=z9hG4bK-1-0;rport")...), false},
		{"RFC 2543 branch", register(replace(sippLines, 0, "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=1;rport")...), false},
		{"Via port with a leading zero", register(replace(sippLines, 0, "Via: SIP/2.0/UDP 127.0.0.1:05061;branch=z9hG4bK-1")...), false},
		{"lower-case transport", register(replace(sippLines, 0, "Via: SIP/2.0/udp 127.0.0.1:5061;branch=z9hG4bK-1")...), false},
		{"Via parameters with spaces", register(replace(sippLines, 0, "Via: SIP/2.0/UDP 127.0.0.1:5061 ; branch=z9hG4bK-1")...), false},
		{"From without brackets", register(replace(sippLines, 2, "From: sip:app.u1@bench.example;tag=1")...), false},
		{"display name unquoted", register(replace(sippLines, 2, "From: Desk <sip:app.u1@bench.example>;tag=1")...), false},
		{"To tag", register(replace(sippLines, 3, "To: <sip:app.u1@bench.example>;tag=2")...), false},
		{"escaped user", register(replace(sippLines, 3, "To: <sip:app%2Eu1@bench.example>")...), false},
		{"CSeq with a leading zero", register(replace(sippLines, 5, "CSeq: 02 REGISTER")...), false},
		{"CSeq of INVITE", register(replace(sippLines, 5, "CSeq: 2 INVITE")...), false},
		{"folded", register(append(sippLines, "User-Agent: a", " b")...), false},
		{"bare CR", register(replace(sippLines, 4, "Call-ID: 1\rWWW-Authenticate: x")...), false},
		{"bare LF", register(replace(sippLines, 4, "Call-ID: 1\nWWW-Authenticate: x")...), false},
		{"NUL in a value", register(replace(sippLines, 4, "Call-ID: 1\x002")...), false},
		{"non-token name", register(append(sippLines, "Via\u00a0: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-p")...), false},
		{"bad Max-Forwards", register(replace(sippLines, 1, "Max-Forwards: x")...), false},
		{"too many lines", register(append(sippLines, strings.Split(strings.Repeat("X-Pad: 1\n", maxScannedLines), "\n")[:maxScannedLines]...)...), false},
		{"SIP/1.0", bytes.Replace(register(sippLines...), []byte("SIP/2.0\r\n"), []byte("SIP/1.0\r\n"), 1), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var s ScannedRegister
			got := scanAuthRegister(tt.data, &s)
			if got != tt.scanned {
				t.Fatalf("scanned %v, want %v:\n%s", got, tt.scanned, tt.data)
			}
			if got {
				agreesWithParsedRegister(t, &s, tt.data)
			}
		})
	}
}

// agreesWithParsedRegister fails t unless s, scanned from data, is what
// the parser reads of data: every field the registrar reads, the
// transaction key, and the lines a 200 echoes, byte for byte as sipgo's
// writer writes them.
func agreesWithParsedRegister(t *testing.T, s *ScannedRegister, data []byte) {
	t.Helper()
	msg, err := sip.ParseMessage(data)
	if err != nil {
		t.Fatalf("scanned, but the parser refuses it: %v\n%q", err, data)
	}
	req, ok := msg.(*sip.Request)
	if !ok || req.Method != sip.REGISTER {
		t.Fatalf("scanned, but the parser reads no REGISTER:\n%q", data)
	}
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	req.SetSource(src.String())
	key, err := sip.ServerTxKeyMake(req)
	if err != nil {
		t.Fatalf("scanned, but sipgo makes no transaction key: %v\n%q", err, data)
	}
	type view struct {
		Key, Recipient, ToUser, CallID string
		CSeq                           uint32
		Authorization                  []string
		Contacts                       []string
		Expires                        []string
		UserAgent                      string
		Forbidden                      []string
		Head                           string
		Dest                           string
	}
	values := func(name string) []string {
		var out []string
		for _, h := range req.Headers() {
			if strings.EqualFold(h.Name(), name) {
				out = append(out, h.Value())
			}
		}
		return out
	}
	want := view{Key: key, Recipient: req.Recipient.String(), ToUser: req.To().Address.User, CallID: req.CallID().Value(),
		CSeq: req.CSeq().SeqNo, Authorization: values("Authorization"), Contacts: values("Contact"), Expires: values("Expires"),
		Dest: responseDest(req, src).String()}
	if ua := values("User-Agent"); len(ua) > 0 {
		want.UserAgent = ua[0]
	}
	for _, name := range []string{"Require", "Proxy-Require", "Path", "Proxy-Authorization", "Route"} {
		want.Forbidden = append(want.Forbidden, values(name)...)
	}
	// The head of the 200 as the registrar writes it from the parsed
	// request (writeOK): the Vias, the top one with rport's value and
	// received, From, To with a tag, Call-ID and CSeq.
	var head strings.Builder
	head.WriteString("SIP/2.0 200 OK\r\n")
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	for _, name := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
		for _, h := range res.Headers() {
			if h.Name() == name {
				h.StringWrite(&head)
				head.WriteString("\r\n")
			}
		}
	}
	want.Head = untagged(head.String())
	got := view{Key: string(s.key), Recipient: s.Recipient.String(), ToUser: s.ToUser, CallID: s.CallID, CSeq: s.CSeq,
		Authorization: []string{s.Authorization}, UserAgent: s.UserAgent, Dest: s.head.dest(src).String()}
	for _, c := range s.Contacts {
		got.Contacts = append(got.Contacts, c.Value())
	}
	if s.HasExpires {
		got.Expires = []string{s.Expires}
	}
	var buf bytes.Buffer
	s.head.writeHead(&buf, "200 OK", "x", src.String(), ocFeedback{})
	got.Head = untagged(buf.String())
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("scanned (-parsed +scanned):\n%s\n%q", d, data)
	}
	if n := bytes.Count(buf.Bytes(), []byte("\r\n")); bytes.Count(buf.Bytes(), []byte("\r")) != n || bytes.Count(buf.Bytes(), []byte("\n")) != n {
		t.Fatalf("the head has a CR or LF outside a CRLF:\n%q\nto\n%q", buf.Bytes(), data)
	}
}

// untagged is a response's head with the To line's tag taken out: each
// answer draws its own.
func untagged(head string) string {
	lines := strings.Split(head, "\r\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "To: ") {
			if j := strings.LastIndex(l, ";tag="); j >= 0 {
				lines[i] = l[:j]
			}
		}
	}
	return strings.Join(lines, "\r\n")
}

// FuzzScanAuthRegister: whatever the scan is sure of, the parser takes,
// and reads as the scan did (agreesWithParsedRegister); no answer has a
// CR or LF outside a CRLF.
func FuzzScanAuthRegister(f *testing.F) {
	f.Add(register(authLines...))
	f.Add(register(sippLines...))
	f.Add(register(append(sippLines, "m: <sip:app.u1@10.0.0.1:5062>;expires=600", "l: 0")...))
	f.Add(register(replace(sippLines, 6, "Contact: <sip:app.u1@127.0.0.1:5061>, \"x\" <sip:a@b;lr>;q=0.5")...))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s ScannedRegister
		if !scanAuthRegister(data, &s) {
			return
		}
		agreesWithParsedRegister(t, &s, data)
	})
}

// The cost of reading a desk phone's REGISTER with credentials: parsed
// (sipgo's parser) and scanned (scanAuthRegister, the Contacts through
// sipgo's header parser).
func BenchmarkScanAuthRegister(b *testing.B) {
	data := register(authLines...)
	b.Run("parsed", func(b *testing.B) {
		p := sip.NewParser()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.ParseSIP(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("scanned", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var s ScannedRegister
			if !scanAuthRegister(data, &s) {
				b.Fatal("not scanned")
			}
		}
	})
}

// countingRecorder is a recorder that notes RegistersScanned as each
// answer is written.
type countingRecorder struct {
	recorder
	counted []uint64
}

func (c *countingRecorder) WriteTo(b []byte, to net.Addr) (int, error) {
	c.counted = append(c.counted, RegistersScanned())
	return c.recorder.WriteTo(b, to)
}

// A REGISTER answered from the scan is counted before its answer leaves:
// a client that has the 200 sees it counted (TestRegisterRetransmission
// read the count between the send and the count, one run in four).
func TestScannedRegisterCountedBeforeItsAnswer(t *testing.T) {
	r := NewRegister(func(req *sip.Request, tx sip.ServerTransaction) {
		t.Errorf("parsed: %s", req.StartLine())
	})
	defer r.Close()
	r.Scanned(func(s *ScannedRegister) bool {
		if err := s.RespondOK([]byte("Content-Length: 0\r\n\r\n")); err != nil {
			t.Error(err)
		}
		return true
	})
	conn := &countingRecorder{}
	before := RegistersScanned()
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	if !r.Serve(conn, register(authLines...), src) {
		t.Fatal("not served")
	}
	if d := cmp.Diff([]uint64{before + 1}, conn.counted); d != "" {
		t.Errorf("RegistersScanned as the answer was written (-want +got):\n%s", d)
	}
	if got := RegistersScanned(); got != before+1 {
		t.Errorf("RegistersScanned %d after, want %d", got, before+1)
	}
}
