package credentials

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A key's pooled HMAC states derive what an HMAC keyed afresh for each
// block does, whatever derivation ran on them before.
func TestPooledMACsDeriveAlike(t *testing.T) {
	k, err := KeyFromBytes([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	fresh := Key{b: k.b} // no pool: keyed for each block
	var want, got []string
	for i := range 100 {
		id := Identity{Site: "harbour-view", Kind: "app", Name: fmt.Sprintf("app.u%d", i), Purpose: PurposeSIP, Rotation: i % 3}
		want = append(want, fresh.Password(id), fresh.PIN(id, 6))
		got = append(got, k.Password(id), k.PIN(id, 6))
	}
	src, fsrc := &Source{key: k, site: "s"}, &Source{key: fresh, site: "s"}
	want = append(want, string(fsrc.FlowTokenKey()))
	got = append(got, string(src.FlowTokenKey()))
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("pooled (-fresh +pooled):\n%s", d)
	}
}

// The stream is HMAC-SHA-256(key, message || attempt || block), the
// message each field length-prefixed, whether the message fits in the
// stream's own room or not (a long account name), for the first blocks of
// two attempts.
func TestStreamIsTheHMAC(t *testing.T) {
	k, err := KeyFromBytes([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"app.mary", strings.Repeat("n", 100), strings.Repeat("long", 300)} {
		id := Identity{Site: "harbour-view", Kind: "app", Name: name, Purpose: PurposeSIP, Rotation: 7}
		var msg []byte
		for _, f := range []string{domain, id.Site, id.Kind, id.Name, string(id.Purpose), strconv.Itoa(id.Rotation)} {
			msg = binary.BigEndian.AppendUint32(msg, uint32(len(f)))
			msg = append(msg, f...)
		}
		for attempt := range uint32(2) {
			var want, got []byte
			for block := range uint32(3) {
				m := hmac.New(sha256.New, k.b)
				m.Write(msg)
				m.Write(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, attempt), block))
				want = m.Sum(want)
			}
			s := k.stream(id)
			s.attempt = attempt
			for range len(want) {
				got = append(got, s.next())
			}
			if !hmac.Equal(want, got) {
				t.Errorf("name of %d bytes, attempt %d: the stream is not the HMAC", len(name), attempt)
			}
		}
	}
}
