package site

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/runtime/b2bua"
)

// The derived passwords a generation caches are that generation's: after
// a reload changes an account's password, every digest check asks with
// the new one, though the old one was cached; names outside the program
// are never cached.
func TestPasswordCacheFollowsReload(t *testing.T) {
	config := func(password string) Config {
		p := &ir.Program{
			Site:     ir.Site{Name: "d", Domain: "d.test"},
			Accounts: []ir.Account{{Name: "app.alice", Kind: ir.AccountApp, Username: "app.alice", AuthName: "app.alice"}},
		}
		return Config{Program: p, Secrets: passwordMap{"app.alice": password, "app.stranger": "s"}}
	}
	s, err := New(config("old"), Options{Services: &b2bua.Services{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ask := func() map[string]string {
		got := map[string]string{}
		for _, a := range []string{"app.alice", "app.stranger", "app.nobody"} {
			// Twice: the second answer is the cached one.
			for range 2 {
				pw, ok := s.gen.Load().secrets.SIPPassword(a)
				if cur, curOK := (currentSecrets{s}).SIPPassword(a); cur != pw || curOK != ok {
					t.Errorf("%s: the current secrets answer %v, the generation %v", a, curOK, ok)
				}
				if ok {
					got[a] = pw
				}
			}
		}
		return got
	}
	if diff := cmp.Diff(map[string]string{"app.alice": "old", "app.stranger": "s"}, ask()); diff != "" {
		t.Errorf("before the reload (-want +got):\n%s", diff)
	}
	if err := s.Swap(config("new")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"app.alice": "new", "app.stranger": "s"}, ask()); diff != "" {
		t.Errorf("after a reload changed the password (-want +got):\n%s", diff)
	}
	pw := s.gen.Load().pw
	pw.mu.Lock()
	cached := len(pw.derived)
	pw.mu.Unlock()
	if cached != 1 {
		t.Errorf("%d passwords cached, want 1 (the program's one account)", cached)
	}
}

// BenchmarkSIPPassword is the password a digest check asks for: derived
// from the site key each time ("derive", what every check paid before
// the cache) and from a generation's passwords ("generation").
func BenchmarkSIPPassword(b *testing.B) {
	key, err := credentials.KeyFromBytes([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	p := irtest.HarbourView()
	lookup := credentials.NewLookup(key, p)
	pw := &passwords{program: p, cur: lookup}
	for _, bc := range []struct {
		name    string
		secrets b2bua.Secrets
	}{{"derive", lookup}, {"generation", pw}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, ok := bc.secrets.SIPPassword("app.mary"); !ok {
					b.Fatal("no password for app.mary")
				}
			}
		})
	}
}
