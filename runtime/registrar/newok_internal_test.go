package registrar

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"
)

// newOK writes what sip.NewResponseFromRequest writes for a REGISTER's
// 200, but for the To tag's value.
func TestNewOKAsSipgo(t *testing.T) {
	tagRE := regexp.MustCompile(`(To: [^\r]*;tag=)[^;\r]*`)
	for _, head := range []string{
		"Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK-1;rport",
		"Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK-1",
		"v: SIP/2.0/UDP 10.0.0.9:5062;rport;branch=z9hG4bK-p\r\nVia: SIP/2.0/UDP 10.0.0.8;branch=z9hG4bK-q;rport",
		"Via: SIP/2.0/UDP 10.0.0.9:5062;branch=z9hG4bK-p, SIP/2.0/TCP 10.0.0.8;branch=z9hG4bK-q",
	} {
		for _, to := range []string{"To: \"Desk\" <sip:app.u1@bench.example>", "t: <sip:app.u1@bench.example>;tag=abc;x=y"} {
			text := "REGISTER sip:bench.example SIP/2.0\r\n" + head + "\r\n" +
				"From: <sip:app.u1@bench.example>;tag=1\r\n" + to + "\r\nCall-ID: c-1\r\nCSeq: 2 REGISTER\r\n" +
				"Contact: <sip:app.u1@192.168.1.20:5060>\r\nContent-Length: 0\r\n\r\n"
			msg, err := sip.ParseMessage([]byte(text))
			if err != nil {
				t.Fatal(err)
			}
			req := msg.(*sip.Request)
			req.SetSource("203.0.113.5:40000")
			req.SetTransport("TCP")
			want := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
			got := newOK(req)
			norm := func(r *sip.Response) string { return tagRE.ReplaceAllString(r.String(), "${1}T") }
			if d := cmp.Diff(norm(want), norm(got)); d != "" {
				t.Errorf("%s / %s (-sipgo +newOK):\n%s", head, to, d)
			}
			if tag, _ := got.To().Params.Get("tag"); tag == "" {
				t.Errorf("no To tag: %s", got.To().Value())
			}
			if strings.Contains(to, "tag=abc") {
				if tag, _ := got.To().Params.Get("tag"); tag != "abc" {
					t.Errorf("To tag %q, want the request's", tag)
				}
			}
			if got.Transport() != want.Transport() || got.Destination() != want.Destination() {
				t.Errorf("sent over %s to %s, sipgo's over %s to %s", got.Transport(), got.Destination(), want.Transport(), want.Destination())
			}
		}
	}
}

// writeOK writes the bytes sipgo's writer makes of ok's 200, but for the
// To tag's value: Vias with and without rport, compact names, a To with
// and without a tag and parameters, several contacts, Path.
func TestWriteOKAsOK(t *testing.T) {
	tagRE := regexp.MustCompile(`(To: [^\r]*;tag=)[^;\r]*`)
	now := time.Date(2026, 12, 6, 1, 2, 3, 0, time.UTC)
	current := []Binding{
		{Contact: "<sip:app.u1@192.168.1.20:5060;transport=udp>;+sip.instance=\"<urn:uuid:1>\"", Expires: now.Add(3600 * time.Second)},
		{Contact: "<sip:app.u1@10.0.0.8:5062>", Expires: now.Add(1500*time.Millisecond + 59*time.Second)},
	}
	for _, head := range []string{
		"Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK-1;rport",
		"Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK-1",
		"v: SIP/2.0/UDP 10.0.0.9:5062;rport;branch=z9hG4bK-p\r\nVia: SIP/2.0/UDP 10.0.0.8;branch=z9hG4bK-q;rport",
		"Via: SIP/2.0/UDP 10.0.0.9:5062;branch=z9hG4bK-p, SIP/2.0/TCP 10.0.0.8;branch=z9hG4bK-q",
	} {
		for _, to := range []string{"To: \"Desk\" <sip:app.u1@bench.example>", "t: <sip:app.u1@bench.example>;tag=abc;x=y", "To: sip:app.u1@bench.example;x=y"} {
			for _, more := range []string{"", "Path: <sip:edge.example;lr>\r\nSupported: path\r\n", "Path: <sip:edge.example;lr>\r\n"} {
				text := "REGISTER sip:bench.example SIP/2.0\r\n" + head + "\r\n" +
					"From: \"Desk\" <sip:app.u1@bench.example>;tag=1\r\n" + to + "\r\nCall-ID: c-1@host\r\ni: ignored\r\nCSeq: 2 REGISTER\r\n" + more +
					"Contact: <sip:app.u1@192.168.1.20:5060>\r\nContent-Length: 0\r\n\r\n"
				msg, err := sip.ParseMessage([]byte(text))
				if err != nil {
					t.Fatal(err)
				}
				req := msg.(*sip.Request)
				req.SetSource("203.0.113.5:40000")
				req.SetTransport("UDP")
				hs := scan(req)
				for _, bs := range [][]Binding{nil, current[:1], current} {
					want := (&Registrar{}).ok(req, &hs, bs, now).String()
					var buf bytes.Buffer
					writeOK(&buf, req, &hs, bs, now)
					norm := func(s string) string { return tagRE.ReplaceAllString(s, "${1}T") }
					if d := cmp.Diff(norm(want), norm(buf.String())); d != "" {
						t.Errorf("%q / %q / %q (-ok +writeOK):\n%s", head, to, more, d)
					}
					if got := buf.String(); !strings.Contains(to, "tag=abc") && !tagRE.MatchString(got) {
						t.Errorf("no To tag:\n%s", got)
					}
				}
			}
		}
	}
}

// FuzzWriteOK checks writeOK against ok for any REGISTER sipgo parses:
// the same bytes but for the To tag each draws.
func FuzzWriteOK(f *testing.F) {
	f.Add("Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK-1;rport\r\nFrom: <sip:app.u1@bench.example>;tag=1\r\nTo: <sip:app.u1@bench.example>\r\nCall-ID: c-1\r\nCSeq: 2 REGISTER\r\n")
	f.Add("v: SIP/2.0/UDP 10.0.0.9:5062;rport;branch=z9hG4bK-p, SIP/2.0/TCP 10.0.0.8;branch=q\r\nf: \"A;tag=x\" <sip:a@b>;tag=1\r\nt: \"B;tag=y\" <sip:c@d;x=y>;p\r\ni: c\r\nCSeq: 7 REGISTER\r\nPath: <sip:e;lr>\r\nk: path\r\n")
	f.Add("Via: SIP/2.0/UDP [::1]:5072;branch=z9hG4bK-1;rport=9;received=x\r\nFrom: sip:a@b;tag=1\r\nTo: sip:a@b;tag=2\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n")
	now := time.Date(2026, 12, 6, 1, 2, 3, 0, time.UTC)
	current := []Binding{
		{Contact: "<sip:app.u1@192.168.1.20:5060;transport=udp>;+sip.instance=\"<urn:uuid:1>\"", Expires: now.Add(3600 * time.Second)},
		{Contact: "<sip:app.u1@10.0.0.8:5062>", Expires: now.Add(1500 * time.Millisecond)},
	}
	f.Fuzz(func(t *testing.T, head string) {
		msg, err := sip.ParseMessage([]byte("REGISTER sip:bench.example SIP/2.0\r\n" + head + "Content-Length: 0\r\n\r\n"))
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			return
		}
		req.SetSource("203.0.113.5:40000")
		req.SetTransport("UDP")
		hs := scan(req)
		res := (&Registrar{}).ok(req, &hs, current, now)
		want := res.String()
		var buf bytes.Buffer
		writeOK(&buf, req, &hs, current, now)
		got := buf.String()
		if to := req.To(); to != nil && !to.Params.Has("tag") {
			// Each drew a tag of its own (16 characters), after the To's
			// value.
			line := "To: " + to.Value() + ";tag="
			tag, _ := res.To().Params.Get("tag")
			want = strings.Replace(want, line+tag+"\r\n", line+"T\r\n", 1)
			i := strings.Index(got, line)
			if i < 0 || len(got) < i+len(line)+16 {
				t.Fatalf("no %q in writeOK's 200:\n%q", line, got)
			}
			got = got[:i+len(line)] + "T" + got[i+len(line)+16:]
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("(-ok +writeOK):\n%s", d)
		}
	})
}
