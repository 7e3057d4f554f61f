package registrar

import (
	"hash/maphash"
	"testing"
)

// keyHash hashes what persistKey makes: Put, Remove, Expire and Share
// find a binding's record by one or the other.
func TestKeyHashIsPersistKeys(t *testing.T) {
	seed := maphash.MakeSeed()
	for _, c := range [][2]string{{"app.mary", "sip:app.mary@192.0.2.1:5060"}, {"", ""}, {"a\x00b", "c"}, {"a", "\x00bc"}, {"device.door", "<urn:uuid:1>"}} {
		if got, want := keyHash(seed, c[0], c[1]), maphash.String(seed, persistKey(c[0], c[1])); got != want {
			t.Errorf("keyHash(%q, %q) = %x, want %x", c[0], c[1], got, want)
		}
	}
}
