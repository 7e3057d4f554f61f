package site

import (
	"testing"
	"time"

	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/runtime/clock/clocktest"
)

// A reload that raises an account's rotation keeps its old password for
// provisioning during the grace, and only then; accounts not rotated have
// none; a grace of 0 keeps nothing.
func TestRotationGrace(t *testing.T) {
	key, err := credentials.KeyFromBytes([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	config := func(rotation int) Config {
		p := irtest.HarbourView()
		p.Accounts = append([]ir.Account(nil), p.Accounts...)
		for i := range p.Accounts {
			if p.Accounts[i].Name == "device.front-gate" {
				p.Accounts[i].Rotation = rotation
			}
		}
		return Config{Program: p, Secrets: credentials.NewLookup(key, p)}
	}
	before, after := config(0), config(1)
	oldPW, _ := before.Secrets.SIPPassword("device.front-gate")
	newPW, _ := after.Secrets.SIPPassword("device.front-gate")
	if oldPW == newPW {
		t.Fatal("the rotation did not change the password")
	}

	clk := clocktest.New(time.Unix(1_800_000_000, 0))
	s := &Site{o: Options{RotationGrace: time.Hour}, clk: clk}
	set := func(c Config) { s.gen.Store(s.next(c)) }
	previous := func(account string) (string, bool) { return s.gen.Load().pw.PreviousSIPPassword(account) }
	set(before)
	if _, ok := previous("device.front-gate"); ok {
		t.Error("a previous password before any rotation")
	}
	set(after)
	if pw, ok := previous("device.front-gate"); !ok || pw != oldPW {
		t.Errorf("during the grace: %v, want the old password", ok)
	}
	if cur, _ := s.gen.Load().secrets.SIPPassword("device.front-gate"); cur != newPW {
		t.Error("SIPPassword is not the new password")
	}
	if _, ok := previous("app.mary"); ok {
		t.Error("an account that was not rotated has a previous password")
	}
	clk.Advance(30 * time.Minute)
	set(config(1)) // another reload, no new rotation: the grace runs on
	if _, ok := previous("device.front-gate"); !ok {
		t.Error("a reload without a rotation ended the grace")
	}
	clk.Advance(31 * time.Minute)
	if _, ok := previous("device.front-gate"); ok {
		t.Error("the old password still works after the grace")
	}

	off := &Site{clk: clk}
	off.gen.Store(off.next(before))
	off.gen.Store(off.next(after))
	if _, ok := off.gen.Load().pw.PreviousSIPPassword("device.front-gate"); ok {
		t.Error("-rotation-grace 0 kept the old password")
	}
}

// A rekey changes every account's password: each keeps the previous key's
// for provisioning until the rekey's grace ends — from the first
// generation on (serve started after the rekey) and across reloads — and
// SIP takes only the new one.
func TestRekeyGrace(t *testing.T) {
	oldKey, _ := credentials.KeyFromBytes([]byte("0123456789abcdef0123456789abcdef"))
	newKey, _ := credentials.KeyFromBytes([]byte("fedcba9876543210fedcba9876543210"))
	p := irtest.HarbourView()
	clk := clocktest.New(time.Unix(1_800_000_000, 0))
	until := clk.Now().Add(7 * 24 * time.Hour)
	cfg := Config{Program: p, Secrets: credentials.NewLookup(newKey, p), Previous: credentials.NewLookup(oldKey, p), PreviousUntil: until}
	s := &Site{clk: clk} // no rotation grace: the rekey's is its own
	s.gen.Store(s.next(cfg))
	for _, a := range p.Accounts {
		old, _ := credentials.NewLookup(oldKey, p).SIPPassword(a.Name)
		cur, _ := s.gen.Load().secrets.SIPPassword(a.Name)
		if cur == old {
			t.Fatalf("%s: the new key gives the old password", a.Name)
		}
		if got, ok := s.gen.Load().pw.PreviousSIPPassword(a.Name); !ok || got != old {
			t.Errorf("%s: during the grace the old key's password is not accepted for provisioning", a.Name)
		}
	}
	clk.Advance(6 * 24 * time.Hour)
	s.gen.Store(s.next(cfg)) // a reload inside the window keeps it
	if _, ok := s.gen.Load().pw.PreviousSIPPassword("device.front-gate"); !ok {
		t.Error("a reload inside the window ended the rekey's grace")
	}
	clk.Advance(24 * time.Hour)
	if _, ok := s.gen.Load().pw.PreviousSIPPassword("device.front-gate"); ok {
		t.Error("the old key's password still fetches files after the window")
	}
	s.gen.Store(s.next(cfg))
	if len(s.gen.Load().pw.prev) != 0 {
		t.Error("a reload after the window remembered the old key's passwords")
	}
}
