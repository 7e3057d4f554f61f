package sipstack

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"
)

// invite is an INVITE with the given header lines and an SDP body.
func invite(lines ...string) []byte {
	body := "v=0\r\no=door 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
	return []byte("INVITE sip:R1@127.0.0.1:5060 SIP/2.0\r\n" + strings.Join(lines, "\r\n") +
		"\r\nContent-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

var doorLines = []string{
	"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport",
	"Max-Forwards: 70",
	"From: <sip:device.door@bench.example>;tag=1",
	"To: <sip:R1@bench.example>",
	"Call-ID: 1-2@127.0.0.1",
	"CSeq: 1 INVITE",
	"Contact: <sip:device.door@127.0.0.1:5070>",
}

func replace(lines []string, i int, with ...string) []string {
	out := append([]string{}, lines[:i]...)
	out = append(out, with...)
	return append(out, lines[i+1:]...)
}

// The scan is sure of plain new INVITEs, in long or compact form, and
// leaves everything else to the parser.
func TestScanInvite(t *testing.T) {
	type got struct {
		OK     bool
		CallID string
		Vias   int
		Port   int
		Rport  bool
	}
	tests := []struct {
		name string
		data []byte
		want got
	}{
		{"a door station's INVITE", invite(doorLines...), got{true, "1-2@127.0.0.1", 1, 5070, true}},
		{"compact forms, odd case, no rport", invite("v: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK-2", "f: <sip:a@b>;tag=x", "t: <sip:c@d>", "i:  abc ", "cseq: 7 INVITE"),
			got{true, "abc", 1, 5062, false}},
		{"three Vias", invite(replace(doorLines, 0, "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-p", "v: SIP/2.0/UDP 10.0.0.8;branch=z9hG4bK-q", "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1")...),
			got{true, "1-2@127.0.0.1", 3, 5060, false}},
		{"two Vias in one line", invite(replace(doorLines, 0, "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-p, SIP/2.0/UDP 10.0.0.8;branch=z9hG4bK-q")...), got{}},
		{"an IPv6 sent-by", invite(replace(doorLines, 0, "Via: SIP/2.0/UDP [::1]:5072;branch=z9hG4bK-1")...), got{true, "1-2@127.0.0.1", 1, 5072, false}},
		{"a sent-by without a port", invite(replace(doorLines, 0, "Via: SIP/2.0/UDP door.example;branch=z9hG4bK-1")...), got{true, "1-2@127.0.0.1", 1, 0, false}},
		{"space among the top Via's parameters", invite(replace(doorLines, 0, "Via: SIP/2.0/UDP 127.0.0.1:5070;rport ;branch=z9hG4bK-1")...), got{}},
		{"in a dialog: To has a tag", invite(replace(doorLines, 3, "To: <sip:R1@bench.example>;tag=abc")...), got{}},
		{"a tag in To's URI", invite(replace(doorLines, 3, "To: <sip:R1@bench.example;tag=abc>")...), got{}},
		{"a folded line", invite(replace(doorLines, 4, "Call-ID:", " 1-2@127.0.0.1")...), got{}},
		{"Call-ID twice", invite(append(doorLines, "i: other")...), got{}},
		{"no CSeq", invite(replace(doorLines, 5)...), got{}},
		{"a CSeq of another method", invite(replace(doorLines, 5, "CSeq: 1 ACK")...), got{}},
		{"over TCP", invite(replace(doorLines, 0, "Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK-1")...), got{}},
		{"too many Vias", invite(append(doorLines, "v: SIP/2.0/UDP a:1", "v: SIP/2.0/UDP a:2", "v: SIP/2.0/UDP a:3", "v: SIP/2.0/UDP a:4")...), got{}},
		{"a port out of range", invite(replace(doorLines, 0, "Via: SIP/2.0/UDP 127.0.0.1:70000;branch=z9hG4bK-1")...), got{}},
		{"no end of the header", []byte("INVITE sip:R1@x SIP/2.0\r\nVia: SIP/2.0/UDP a:1\r\n"), got{}},
		{"bare line feeds", bytes.ReplaceAll(invite(doorLines...), []byte("\r\n"), []byte("\n")), got{}},
		{"a bare CR in a line", invite(replace(doorLines, 4, "Call-ID: 1-2\rRetry-After: 86400")...), got{}},
		{"a CSeq of 2**31", invite(replace(doorLines, 5, "CSeq: 2147483648 INVITE")...), got{}},
		{"received in the top Via", invite(replace(doorLines, 0, "Via: SIP/2.0/UDP 127.0.0.1:5070;received=6.6.6.6;branch=z9hG4bK-1;rport")...), got{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, ok := scanInvite(tt.data)
			g := got{OK: ok}
			if ok {
				g = got{true, string(h.callID), h.nvia, h.port, h.rport}
			}
			if d := cmp.Diff(tt.want, g); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// The scanned refusal says what the parsed one says (Admission.Refusal):
// the same status, Vias in order, From, To (with a stateless tag of its
// own), Call-ID, CSeq and Retry-After; and goes where a parsed response
// would (responseDest).
func TestScannedRefusal(t *testing.T) {
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	a := newAdmission(1, 0, 0, time.Now)
	for _, data := range [][]byte{
		invite(doorLines...),
		invite(replace(doorLines, 0, "v: SIP/2.0/UDP 10.0.0.9:5062;branch=z9hG4bK-p", "Via: SIP/2.0/UDP 10.0.0.8;branch=z9hG4bK-q", "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1")...),
		invite(replace(doorLines, 3, "t:   \"Flat 1\" <sip:R1@bench.example>  ")...),
		invite(replace(doorLines, 0, "Via: SIP/2.0/UDP 127.0.0.1:5070;rport;branch=z9hG4bK-1", "Via: SIP/2.0/UDP 10.0.0.8;branch=z9hG4bK-q")...),
		invite(replace(doorLines, 0, "Via: SIP/2.0/UDP [::1]:5070;branch=z9hG4bK-1;rport")...),
		invite(replace(doorLines, 0, "Via: SIP/2.0/UDP 127.0.0.1:5070;oc=20;branch=z9hG4bK-1")...), // a value: no advertisement
	} {
		h, ok := scanInvite(data)
		if !ok {
			t.Fatalf("not scanned:\n%s", data)
		}
		var buf bytes.Buffer
		h.refusal(&buf, a.retryAfter, src, ocFeedback{})
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
		want := a.Refusal(req)
		view := func(r *sip.Response) []string {
			out := []string{r.StartLine()}
			for _, v := range r.GetHeaders("Via") {
				out = append(out, "Via: "+v.Value())
			}
			to := r.To().Address.String()
			for _, name := range []string{"From", "Call-ID", "CSeq", "Retry-After", "Content-Length"} {
				out = append(out, name+": "+r.GetHeader(name).Value())
			}
			return append(out, "To: "+to)
		}
		if d := cmp.Diff(view(want), view(got)); d != "" {
			t.Errorf("scanned refusal (-parsed +scanned):\n%s", d)
		}
		if tag, _ := got.To().Params.Get("tag"); !strings.HasPrefix(tag, statelessTag) {
			t.Errorf("To tag %q, want one starting %q", tag, statelessTag)
		}
		if d := cmp.Diff(responseDest(req, src).String(), h.dest(src).String()); d != "" {
			t.Errorf("destination (-parsed +scanned):\n%s", d)
		}
	}
}

// A client that advertised RFC 7339 support (a bare oc in its top Via)
// gets feedback there (§5.3): oc with the reduction, oc-algo (the
// client's list replaced by the one chosen, or added), oc-validity and
// oc-seq; the other Vias as they came. Compared as text: sipgo's parser
// misreads a quoted Via parameter (oc-algo="loss").
func TestScannedRefusalOverloadControl(t *testing.T) {
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	fb := ocFeedback{reduction: 40, seq: "1800000000.250"}
	tests := []struct {
		name string
		vias []string
		want []string // the refusal's Via lines
	}{
		{"rport, oc and an algorithm list",
			[]string{`Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport;oc;oc-algo="loss"`},
			[]string{`Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport=40000;oc=40;oc-algo="loss";received=127.0.0.1;oc-validity=1000;oc-seq=1800000000.250`}},
		{"oc before rport, the list first",
			[]string{`Via: SIP/2.0/UDP 127.0.0.1:5070;oc-algo="loss";oc;rport;branch=z9hG4bK-1`},
			[]string{`Via: SIP/2.0/UDP 127.0.0.1:5070;oc-algo="loss";oc=40;rport=40000;branch=z9hG4bK-1;received=127.0.0.1;oc-validity=1000;oc-seq=1800000000.250`}},
		{"oc without a list, only in the top Via counts",
			[]string{"Via: SIP/2.0/UDP 10.0.0.1:5062;OC;branch=z9hG4bK-2", "Via: SIP/2.0/UDP 10.0.0.8;branch=z9hG4bK-q;oc"},
			[]string{`Via: SIP/2.0/UDP 10.0.0.1:5062;OC=40;branch=z9hG4bK-2;oc-algo="loss";oc-validity=1000;oc-seq=1800000000.250`, "Via: SIP/2.0/UDP 10.0.0.8;branch=z9hG4bK-q;oc"}},
		{"no oc: nothing added",
			[]string{"Via: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK-2"},
			[]string{"Via: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK-2"}},
		{"oc with a value is no advertisement",
			[]string{"Via: SIP/2.0/UDP 10.0.0.1:5062;oc=20;branch=z9hG4bK-2"},
			[]string{"Via: SIP/2.0/UDP 10.0.0.1:5062;oc=20;branch=z9hG4bK-2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, ok := scanInvite(invite(replace(doorLines, 0, tc.vias...)...))
			if !ok {
				t.Fatal("not scanned")
			}
			var buf bytes.Buffer
			h.refusal(&buf, "2", src, fb)
			var got []string
			for _, l := range strings.Split(buf.String(), "\r\n") {
				if strings.HasPrefix(l, "Via: ") {
					got = append(got, l)
				}
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Vias (-want +got):\n%s", d)
			}
			if _, err := sip.ParseMessage(buf.Bytes()); err != nil {
				t.Errorf("the refusal does not parse: %v\n%s", err, buf.Bytes())
			}
		})
	}
}

// Whatever the scan is sure of and sipgo's parser reads, the parser reads
// the same way: an INVITE, no To tag, the same Call-ID, the response
// going to the same place; and the scanned refusal parses.
func FuzzScanInvite(f *testing.F) {
	f.Add(invite(doorLines...))
	f.Add(invite("v: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK-2", "f: <sip:a@b>;tag=x", "t: <sip:c@d>", "i:  abc ", "cseq: 7 INVITE"))
	f.Add(invite(replace(doorLines, 0, "Via: SIP/2.0/UDP [::1]:5072;rport;branch=z9hG4bK-1", "Via: SIP/2.0/UDP a:1")...))
	f.Add(invite(replace(doorLines, 3, "To: <sip:R1@bench.example>;tag=abc")...))
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, ok := scanInvite(data)
		if !ok {
			return
		}
		// Framed as the receiver reads it, whether or not the parser
		// takes the request (refuse.go copies malformed values as they
		// came, but not a line's end).
		var buf bytes.Buffer
		h.refusal(&buf, "2", src, ocFeedback{reduction: 40, seq: "1700000000.123"})
		if n := bytes.Count(buf.Bytes(), []byte("\r\n")); bytes.Count(buf.Bytes(), []byte("\r")) != n || bytes.Count(buf.Bytes(), []byte("\n")) != n {
			t.Fatalf("the refusal has a CR or LF outside a CRLF:\n%q\nto\n%q", buf.Bytes(), data)
		}
		msg, err := sip.ParseMessage(data)
		if err != nil {
			return // malformed: see refuse.go
		}
		req, isReq := msg.(*sip.Request)
		if !isReq || req.Method != sip.INVITE || req.To() == nil || req.CallID() == nil || req.Via() == nil {
			t.Fatalf("scanned, but the parser reads no INVITE with To, Call-ID and Via:\n%q", data)
		}
		agreesWithParser(t, h, req, src, data, "refusal", buf.Bytes())
	})
}

// agreesWithParser fails t unless what the scan read of data (h) is what
// sipgo's parser read (req): a new request (no To tag), the same Call-ID,
// answered at the same address; and the answer the scan wrote (what,
// answer) parses.
func agreesWithParser(t *testing.T, h requestHead, req *sip.Request, src net.Addr, data []byte, what string, answer []byte) {
	t.Helper()
	if _, tagged := req.To().Params.Get("tag"); tagged {
		t.Fatalf("scanned as new, but the parser reads a To tag:\n%q", data)
	}
	if got, want := string(h.callID), req.CallID().Value(); got != want {
		t.Fatalf("Call-ID %q, the parser's %q:\n%q", got, want, data)
	}
	req.SetSource(src.String())
	if got, want := h.dest(src).String(), responseDest(req, src).String(); got != want {
		t.Fatalf("response to %s, the parser's to %s:\n%q", got, want, data)
	}
	if _, err := sip.ParseMessage(answer); err != nil {
		t.Fatalf("the %s does not parse: %v\n%q\nto\n%q", what, err, answer, data)
	}
}

// The cost of refusing a door station's INVITE: parsed (sipgo's parser,
// Admission.Refusal, sipgo's writer) and scanned (scanInvite, refusal);
// the send is the same for both.
func BenchmarkRefusal(b *testing.B) {
	data := invite(append(doorLines, "User-Agent: SIPp door")...)
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	a := newAdmission(1, 0, 0, time.Now)
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
			buf.Reset()
			a.Refusal(req).StringWrite(&buf)
		}
	})
	b.Run("scanned", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h, ok := scanInvite(data)
			if !ok {
				b.Fatal("not scanned")
			}
			buf.Reset()
			h.refusal(&buf, a.retryAfter, src, ocFeedback{})
		}
	})
}

// A stateless answer's tag is drawn as sip.GenerateTagN draws one: of
// tagChars, every byte of it, and not the same twice.
func TestRandomTag(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		var tag [16]byte
		randomTag(tag[:])
		for _, c := range tag {
			if !strings.ContainsRune(tagChars, rune(c)) {
				t.Fatalf("tag %q has %q", tag[:], c)
			}
		}
		if seen[string(tag[:])] {
			t.Fatalf("tag %q drawn twice", tag[:])
		}
		seen[string(tag[:])] = true
	}
}
