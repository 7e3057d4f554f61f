package site

import (
	"regexp"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/runtime/auth"
	"switchboard/runtime/b2bua"
)

// TestDigestOffersFollowGeneration: the site challenges each account with
// the algorithms its own configuration gives it, a reload's list taking
// effect with the reload, and Options.DigestAlgorithms (serve -digest)
// overriding every account's.
func TestDigestOffersFollowGeneration(t *testing.T) {
	config := func(appDigest []string) Config {
		p := &ir.Program{
			Site: ir.Site{Name: "d", Domain: "d.test", Digest: appDigest},
			Accounts: []ir.Account{
				{Name: "app.alice", Kind: ir.AccountApp, Username: "app.alice", AuthName: "app.alice", Digest: appDigest},
				{Name: "device.door", Kind: ir.AccountDevice, Username: "device.door", AuthName: "device.door", Digest: []string{ir.DigestMD5}},
			},
		}
		return Config{Program: p, Secrets: passwordMap{"app.alice": "a", "device.door": "d"}}
	}
	offered := func(t *testing.T, s *Site, user string) string {
		t.Helper()
		var ruri sip.Uri
		if err := sip.ParseUri("sip:d.test", &ruri); err != nil {
			t.Fatal(err)
		}
		req := sip.NewRequest(sip.REGISTER, ruri)
		req.AppendHeader(sip.NewHeader("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1"))
		req.AppendHeader(sip.NewHeader("From", "<sip:"+user+"@d.test>;tag=1"))
		req.AppendHeader(sip.NewHeader("To", "<sip:"+user+"@d.test>"))
		req.AppendHeader(sip.NewHeader("Call-ID", "c"))
		req.AppendHeader(sip.NewHeader("CSeq", "1 REGISTER"))
		_, res := genAuth{s.auth, s.gen.Load().secrets}.Check(req, "192.0.2.1:5060", false)
		var algs []string
		for _, h := range res.GetHeaders("WWW-Authenticate") {
			algs = append(algs, algorithmRE.FindStringSubmatch(h.Value())[1])
		}
		return strings.Join(algs, ",")
	}
	sha := []string{ir.DigestSHA256, ir.DigestMD5}

	s, err := New(config(nil), Options{Services: &b2bua.Services{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := map[string]string{}
	for _, u := range []string{"app.alice", "device.door", "app.nobody"} {
		got[u] = offered(t, s, u)
	}
	if diff := cmp.Diff(map[string]string{"app.alice": "MD5", "device.door": "MD5", "app.nobody": "MD5"}, got); diff != "" {
		t.Errorf("before the reload (-want +got):\n%s", diff)
	}
	if err := s.Swap(config(sha)); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"app.alice", "device.door", "app.nobody"} {
		got[u] = offered(t, s, u)
	}
	if diff := cmp.Diff(map[string]string{"app.alice": "SHA-256,MD5", "device.door": "MD5", "app.nobody": "SHA-256,MD5"}, got); diff != "" {
		t.Errorf("after a reload asking SHA-256 for apps (-want +got):\n%s", diff)
	}

	o, err := New(config(sha), Options{Services: &b2bua.Services{}, DigestAlgorithms: []auth.Algorithm{auth.MD5}})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if got := offered(t, o, "app.alice"); got != "MD5" {
		t.Errorf("with -digest md5, app.alice is offered %s", got)
	}
}

var algorithmRE = regexp.MustCompile(`algorithm=([A-Z0-9-]+)`)
