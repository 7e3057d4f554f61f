package main

import (
	"testing"
	"time"

	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
)

// A reload that raises an account's rotation keeps its old password for
// provisioning during the grace, and only then; accounts not rotated have
// none; a grace of 0 keeps nothing.
func TestRotationGrace(t *testing.T) {
	key, err := credentials.KeyFromBytes([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	site := func(rotation int) *servedSite {
		p := irtest.HarbourView()
		p.Accounts = append([]ir.Account(nil), p.Accounts...)
		for i := range p.Accounts {
			if p.Accounts[i].Name == "device.front-gate" {
				p.Accounts[i].Rotation = rotation
			}
		}
		return &servedSite{program: p, secrets: credentials.NewLookup(key, p)}
	}
	before, after := site(0), site(1)
	oldPW, _ := before.secrets.SIPPassword("device.front-gate")
	newPW, _ := after.secrets.SIPPassword("device.front-gate")
	if oldPW == newPW {
		t.Fatal("the rotation did not change the password")
	}

	now := time.Unix(1_800_000_000, 0)
	s := &swappableSecrets{grace: time.Hour, now: func() time.Time { return now }}
	s.set(before)
	if _, ok := s.PreviousSIPPassword("device.front-gate"); ok {
		t.Error("a previous password before any rotation")
	}
	s.set(after)
	if pw, ok := s.PreviousSIPPassword("device.front-gate"); !ok || pw != oldPW {
		t.Errorf("during the grace: %v, want the old password", ok)
	}
	if cur, _ := s.SIPPassword("device.front-gate"); cur != newPW {
		t.Error("SIPPassword is not the new password")
	}
	if _, ok := s.PreviousSIPPassword("app.mary"); ok {
		t.Error("an account that was not rotated has a previous password")
	}
	now = now.Add(30 * time.Minute)
	s.set(site(1)) // another reload, no new rotation: the grace runs on
	if _, ok := s.PreviousSIPPassword("device.front-gate"); !ok {
		t.Error("a reload without a rotation ended the grace")
	}
	now = now.Add(31 * time.Minute)
	if _, ok := s.PreviousSIPPassword("device.front-gate"); ok {
		t.Error("the old password still works after the grace")
	}

	off := &swappableSecrets{now: func() time.Time { return now }}
	off.set(before)
	off.set(after)
	if _, ok := off.PreviousSIPPassword("device.front-gate"); ok {
		t.Error("-rotation-grace 0 kept the old password")
	}
}
