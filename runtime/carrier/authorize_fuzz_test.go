package carrier

import (
	"errors"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	ourdigest "switchboard/runtime/digest"
)

// FuzzAuthorize answers challenges a carrier (or anyone spoofing one) sends:
// one or two WWW-Authenticate or Proxy-Authenticate values, fuzzed. Whatever
// they say, Authorize answers with exactly one credentials header or
// errNoChallenge; the credentials never carry the password; they parse
// with the server's own parser (runtime/digest) and name the realm and
// nonce of a challenge sent; and, for the algorithms and qop the server
// implements, the server's verifier accepts them with the password —
// icholy/digest's hashing (the client's) and ours agree.
func FuzzAuthorize(f *testing.F) {
	for _, s := range [][2]string{
		{`Digest realm="carrier", nonce="n1", qop="auth", algorithm=SHA-256`, `Digest realm="carrier", nonce="n1", qop="auth", algorithm=MD5`},
		{`Digest realm="sip.carrier.example",nonce="5f2a",algorithm=MD5`, ``},
		{`Digest realm="r", nonce="n", qop="auth,auth-int", opaque="o", stale=TRUE`, ``},
		{`Digest realm="r", nonce="n", algorithm=AKAv1-MD5`, `Digest realm="r", nonce="n", algorithm=md5`},
		{`Digest realm="a\"b", nonce="x y", algorithm=sha-256, qop=auth`, `Basic realm="x"`},
		{`Digest realm=, nonce`, `Digest`},
		{`Digest realm="r", nonce="n", algorithm=MD5-sess, qop="auth-int"`, ``},
	} {
		f.Add(uint8(0), s[0], s[1])
		f.Add(uint8(1), s[0], s[1])
	}
	const password = "carrier-secret-7f3a"
	f.Fuzz(func(t *testing.T, proxy uint8, ch1, ch2 string) {
		status, chName, crName := 401, "WWW-Authenticate", "Authorization"
		if proxy&1 == 1 {
			status, chName, crName = 407, "Proxy-Authenticate", "Proxy-Authorization"
		}
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "+15550100", Host: "sip.carrier.example"})
		req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
		res := sip.NewResponseFromRequest(req, status, "Challenge", nil)
		for _, v := range []string{ch1, ch2} {
			if v != "" {
				res.AppendHeader(sip.NewHeader(chName, v))
			}
		}
		err := Authorize(req, res, Credentials{"harbour", password})
		hs := req.GetHeaders(crName)
		if err != nil {
			if !errors.Is(err, errNoChallenge) || len(hs) != 0 {
				t.Fatalf("error %v with %d %s headers", err, len(hs), crName)
			}
			return
		}
		if len(hs) != 1 {
			t.Fatalf("%d %s headers", len(hs), crName)
		}
		v := hs[0].Value()
		if strings.Contains(v, password) {
			t.Fatalf("the password is in the credentials: %s", v)
		}
		c, err := ourdigest.ParseCredentials(v)
		if err != nil {
			// icholy/digest writes what the challenge said, quoted
			// as given; a value with a quote or backslash in it does
			// not come back the same. The server would refuse it.
			if strings.ContainsAny(ch1+ch2, "\"\\") {
				return
			}
			t.Fatalf("our credentials %q do not parse: %v", v, err)
		}
		if c.Username != "harbour" {
			t.Fatalf("username %q", c.Username)
		}
		if strings.Contains(ch1+ch2, `\`) || strings.ContainsFunc(ch1+ch2, func(r rune) bool { return r < ' ' || r > '~' }) {
			// icholy/digest keeps a challenge's escapes as they are and
			// writes them back, where the server's parser unescapes; it
			// writes control characters and non-ASCII quoted as Go does.
			return
		}
		if !strings.Contains(ch1+ch2, c.Realm) || !strings.Contains(ch1+ch2, c.Nonce) {
			t.Fatalf("realm %q or nonce %q is in no challenge sent", c.Realm, c.Nonce)
		}
		alg := ourdigest.ParseAlgorithm(c.Algorithm)
		if alg == "" || (c.QOP != "" && c.QOP != "auth") {
			return
		}
		if !ourdigest.Verify(alg, &c, c.Realm, string(sip.INVITE), password) {
			t.Fatalf("the server's verifier refuses the client's credentials %s", v)
		}
	})
}
