package site

import (
	"fmt"
	"sync"
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
	cached := 0
	for i := range pw.derived.state {
		if pw.derived.state[i].Load() == slotReady {
			cached++
		}
	}
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

// The cached password of every account of the example site is the one
// the site key derives, whether asked once or again, by many digest checks
// at once (run with -race); a name the program lacks gets cur's answer
// and no slot.
func TestPasswordCacheIsTheDerivation(t *testing.T) {
	key, err := credentials.KeyFromBytes([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	p := irtest.HarbourView()
	lookup := credentials.NewLookup(key, p)
	pw := &passwords{program: p, cur: lookup}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 2 {
				for _, a := range p.Accounts {
					want, _ := lookup.SIPPassword(a.Name)
					got, ok := pw.SIPPassword(a.Name)
					if !ok || got != want {
						t.Errorf("%s: the cache answers a different password (ok %v)", a.Name, ok)
					}
				}
			}
		})
	}
	wg.Wait()
	for i := range p.Accounts {
		if pw.derived.state[i].Load() != slotReady {
			t.Errorf("%s: not cached", p.Accounts[i].Name)
		}
	}
	if _, ok := pw.SIPPassword("app.nobody"); ok {
		t.Error("a password for a name the program lacks")
	}
}

// A rekey reload (the same program, a new site key) serves the new key's
// passwords at once, though the old ones were cached: the cache goes with
// the generation.
func TestPasswordCacheDroppedOnRekey(t *testing.T) {
	oldKey, err := credentials.KeyFromBytes([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := credentials.KeyFromBytes([]byte("fedcba9876543210fedcba9876543210"))
	if err != nil {
		t.Fatal(err)
	}
	p := irtest.HarbourView()
	s, err := New(Config{Program: p, Secrets: credentials.NewLookup(oldKey, p)}, Options{Services: &b2bua.Services{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, a := range p.Accounts {
		if _, ok := s.gen.Load().secrets.SIPPassword(a.Name); !ok {
			t.Fatalf("%s: no password", a.Name)
		}
	}
	if err := s.Swap(Config{Program: p, Secrets: credentials.NewLookup(newKey, p)}); err != nil {
		t.Fatal(err)
	}
	fresh := credentials.NewLookup(newKey, p)
	stale := credentials.NewLookup(oldKey, p)
	for _, a := range p.Accounts {
		got, _ := s.gen.Load().secrets.SIPPassword(a.Name)
		if old, _ := stale.SIPPassword(a.Name); got == old {
			t.Errorf("%s: the old key's password is served after the rekey", a.Name)
		}
		if want, _ := fresh.SIPPassword(a.Name); got != want {
			t.Errorf("%s: not the new key's password", a.Name)
		}
	}
}

// BenchmarkFirstPassword is the password of an account asked for the
// first time in its generation, as in a registration burst of distinct
// accounts, then once more (a refresh), over a program of 30 000 accounts.
func BenchmarkFirstPassword(b *testing.B) {
	key, err := credentials.KeyFromBytes([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	p := &ir.Program{Site: ir.Site{Name: "d", Domain: "d.test"}}
	for i := range 30000 {
		n := fmt.Sprintf("app.u%06d", i)
		p.Accounts = append(p.Accounts, ir.Account{Name: n, Kind: ir.AccountApp, Username: n, AuthName: n})
	}
	lookup := credentials.NewLookup(key, p)
	b.ReportAllocs()
	pw := newBenchPasswords(p, lookup)
	i := 0
	for b.Loop() {
		if i == len(p.Accounts) {
			b.StopTimer()
			pw, i = newBenchPasswords(p, lookup), 0
			b.StartTimer()
		}
		a := p.Accounts[i].Name
		for range 2 {
			if _, ok := pw.SIPPassword(a); !ok {
				b.Fatal("no password")
			}
		}
		i++
	}
}

func newBenchPasswords(p *ir.Program, cur b2bua.Secrets) *passwords {
	return &passwords{program: p, cur: cur}
}
