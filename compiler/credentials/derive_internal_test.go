package credentials

import (
	"fmt"
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
