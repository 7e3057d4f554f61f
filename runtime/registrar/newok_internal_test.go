package registrar

import (
	"regexp"
	"strings"
	"testing"

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
