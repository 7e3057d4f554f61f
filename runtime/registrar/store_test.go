package registrar_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/registrar"
)

// TestMemoryExpire checks that Expire returns exactly the bindings due,
// whatever order they were written in: it skips a shard while nothing in
// it is due, and must not skip one that has.
func TestMemoryExpire(t *testing.T) {
	at := func(s int) time.Time { return epoch.Add(time.Duration(s) * time.Second) }
	s := registrar.NewMemory()
	put := func(account, key string, expires int) {
		s.Put(registrar.Binding{Account: account, Key: key, Expires: at(expires)})
	}
	expire := func(now int) []string {
		var out []string
		for _, b := range s.Expire(at(now)) {
			out = append(out, b.Account+"/"+b.Key)
		}
		slices.Sort(out)
		return out
	}
	put("a", "1", 100)
	put("a", "2", 50)
	put("b", "1", 300)
	put("c", "1", 20)
	put("c", "1", 200) // refreshed: no longer due at 20
	s.Remove("a", "2")
	for _, step := range []struct {
		now  int
		want []string
	}{
		{10, nil},
		{20, nil},
		{60, nil},
		{100, []string{"a/1"}},
		{150, nil},
		{250, []string{"c/1"}},
		{300, []string{"b/1"}},
		{400, nil},
	} {
		if diff := cmp.Diff(step.want, expire(step.now)); diff != "" {
			t.Errorf("Expire(%d) (-want +got):\n%s", step.now, diff)
		}
	}
	put("d", "1", 500)
	if diff := cmp.Diff([]string{"d/1"}, expire(500)); diff != "" {
		t.Errorf("after the store emptied, Expire(500) (-want +got):\n%s", diff)
	}
	if got := s.Accounts(); len(got) != 0 {
		t.Errorf("accounts left: %v", got)
	}
}

// TestMemoryRoundTrip checks that a binding comes back from the store as
// it went in, however many the account has and whichever is removed.
func TestMemoryRoundTrip(t *testing.T) {
	s := registrar.NewMemory()
	mk := func(key string, cseq uint32) registrar.Binding {
		return registrar.Binding{
			Account: "app.mary", Contact: "<sip:app.mary@10.0.0.5:5060>;+sip.instance=\"<urn:uuid:" + key + ">\"",
			Key: "instance <urn:uuid:" + key + ">", CallID: "call-" + key, CSeq: cseq,
			Expires: epoch.Add(time.Duration(cseq) * time.Second), Source: "203.0.113.9:40000", Transport: "TLS",
		}
	}
	a, b, c := mk("a", 1), mk("b", 2), mk("c", 3)
	b.Path = []string{"<sip:edge.example;lr>"}
	for _, x := range []registrar.Binding{a, b, c} {
		s.Put(x)
	}
	c.CSeq = 9
	s.Put(c) // replaces
	keys := func() []registrar.Binding {
		got := s.Lookup("app.mary")
		slices.SortFunc(got, func(x, y registrar.Binding) int { return strings.Compare(x.Key, y.Key) })
		return got
	}
	if diff := cmp.Diff([]registrar.Binding{a, b, c}, keys()); diff != "" {
		t.Errorf("Lookup (-want +got):\n%s", diff)
	}
	for _, step := range []struct {
		remove string
		want   []registrar.Binding
	}{
		{a.Key, []registrar.Binding{b, c}},
		{"instance <urn:uuid:none>", []registrar.Binding{b, c}},
		{c.Key, []registrar.Binding{b}},
		{b.Key, nil},
	} {
		got, ok := s.Remove("app.mary", step.remove)
		if ok && got.Key != step.remove {
			t.Errorf("Remove(%q) removed %q", step.remove, got.Key)
		}
		if diff := cmp.Diff(step.want, keys()); diff != "" {
			t.Errorf("after Remove(%q) (-want +got):\n%s", step.remove, diff)
		}
	}
	if got := s.Accounts(); len(got) != 0 {
		t.Errorf("accounts left: %v", got)
	}
}
