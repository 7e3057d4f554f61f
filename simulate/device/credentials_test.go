package device

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/icholy/digest"
)

// credentialsValue writes what icholy/digest's Credentials.String does,
// for every combination of the optional parameters.
func TestCredentialsValueMatchesDigest(t *testing.T) {
	base := digest.Credentials{
		Username: "app.u1", Realm: "tower.example.net", Nonce: "4ab1c0ffee", URI: "sip:1@192.0.2.1:5060",
		Response: "6629fae49393a05397450978507c4ef1",
	}
	var cases []digest.Credentials
	for _, alg := range []string{"", "MD5", "SHA-256"} {
		for _, qop := range []string{"", "auth"} {
			for _, opaque := range []string{"", "op\"aque"} {
				for _, nc := range []int{1, 0x1f, 0xabcdef12} {
					for _, userhash := range []bool{false, true} {
						c := base
						c.Algorithm, c.QOP, c.Opaque, c.Nc, c.Userhash = alg, qop, opaque, nc, userhash
						if qop != "" {
							c.Cnonce = "0a4f113b"
						}
						cases = append(cases, c)
					}
				}
			}
		}
	}
	odd := base
	odd.Username, odd.URI = `name with "quotes" and \ and é`, "sip:\x01@h"
	cases = append(cases, odd)
	for _, c := range cases {
		if diff := cmp.Diff(c.String(), credentialsValue(&c)); diff != "" {
			t.Errorf("%+v: (-want +got)\n%s", c, diff)
		}
	}
}
