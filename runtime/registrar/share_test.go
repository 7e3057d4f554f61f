package registrar_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"switchboard/runtime/registrar"
	"switchboard/runtime/store"
	"switchboard/runtime/store/storetest"
)

// sharer is one node's Persistent over a cluster's bucket, with the
// changes it takes in from the others as a channel of account names.
type sharer struct {
	p       *registrar.Persistent
	applied chan string
}

func share(t *testing.T, db *store.Store) *sharer {
	t.Helper()
	kv, err := db.KV(context.Background(), "registrations", "shared")
	if err != nil {
		t.Fatal(err)
	}
	p, err := registrar.NewPersistent(kv, time.Now, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s := &sharer{p: p, applied: make(chan string, 64)}
	registrar.OnApplied(p, func(account string) { s.applied <- account })
	if err := p.Share(); err != nil {
		t.Fatal(err)
	}
	return s
}

// await waits until s has taken in a change of account from another node.
func (s *sharer) await(t *testing.T, account string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case a := <-s.applied:
			if a == account {
				return
			}
		case <-deadline:
			t.Fatalf("no change of %s arrived", account)
		}
	}
}

func (s *sharer) binding(account string) (registrar.Binding, bool) {
	bs := s.p.Lookup(account)
	if len(bs) != 1 {
		return registrar.Binding{}, false
	}
	return bs[0], true
}

// Three nodes share their registrations: a binding one stores appears in
// the others' memory, its refreshes left unwritten do not make the others
// drop it early, its removal and its key's expiry remove it everywhere,
// a node's own writes are not taken in again, and with one node of three
// gone the other two still share.
func TestSharedRegistrations(t *testing.T) {
	nodes := storetest.Cluster(t, 3)
	s := []*sharer{share(t, nodes.Stores[0]), share(t, nodes.Stores[1]), share(t, nodes.Stores[2])}
	for _, x := range s {
		t.Cleanup(x.p.Close)
	}
	now := time.Now()
	mary := registrar.Binding{Account: "app.mary", Contact: "<sip:mary@10.0.0.5:5060>", Key: "instance <urn:uuid:1>", CallID: "c1", CSeq: 1,
		Expires: now.Add(time.Hour), Source: "10.0.0.5:5060", Transport: "UDP", Since: now}
	// Node 1 stores mary's binding, then refreshes it at once: the
	// refresh is not written (the bucket keeps the key for two hours).
	s[0].p.Put(mary)
	refreshed := mary
	refreshed.CSeq, refreshed.Expires = 2, now.Add(90*time.Minute)
	s[0].p.Put(refreshed)
	s[1].await(t, "app.mary")
	s[2].await(t, "app.mary")
	got, ok := s[1].binding("app.mary")
	if !ok || got.Contact != mary.Contact || got.Expires.Before(mary.Expires) {
		t.Fatalf("node 2 holds %+v, want mary's binding until at least %v", got, mary.Expires)
	}
	// The others keep the binding past the expiry written, and do not
	// report it expired: node 1 may have refreshed it unwritten.
	if out := s[1].p.Expire(mary.Expires.Add(time.Second)); len(out) != 0 {
		t.Errorf("node 2 reports another node's binding expired: %+v", out)
	}
	if _, ok := s[1].binding("app.mary"); !ok {
		t.Error("node 2 dropped mary's binding at the expiry last written, while node 1 refreshed it")
	}

	// Node 1's own write comes back through its watch after the refresh,
	// and before a change of node 3's: had it been taken in, node 1 would
	// hold another expiry than the refresh's.
	bob := registrar.Binding{Account: "app.bob", Contact: "<sip:bob@10.0.0.6>", Key: "sip:bob@10.0.0.6", Expires: now.Add(time.Hour), Since: now}
	s[2].p.Put(bob)
	s[0].await(t, "app.bob")
	if got, _ := s[0].binding("app.mary"); !got.Expires.Equal(refreshed.Expires) {
		t.Errorf("node 1's own write was taken in again: mary expires %v, want %v", got.Expires, refreshed.Expires)
	}

	// The device unregisters through node 2: gone everywhere.
	if _, ok := s[1].p.Remove("app.mary", mary.Key); !ok {
		t.Fatal("node 2 has no binding of mary to remove")
	}
	s[0].await(t, "app.mary")
	s[2].await(t, "app.mary")
	if _, ok := s[0].binding("app.mary"); ok {
		t.Error("node 1 still holds mary's binding removed on node 2")
	}

	// A binding whose key's time runs out (1 s, kept 2×1+5 s) goes from
	// the other nodes' memory when the bucket drops it.
	eve := registrar.Binding{Account: "app.eve", Contact: "<sip:eve@10.0.0.7>", Key: "sip:eve@10.0.0.7", Expires: time.Now().Add(time.Second), Since: now}
	s[0].p.Put(eve)
	s[1].await(t, "app.eve") // stored
	s[1].await(t, "app.eve") // expired
	if _, ok := s[1].binding("app.eve"); ok {
		t.Error("node 2 still holds eve's binding after its key expired")
	}

	// Node 1 goes; nodes 2 and 3 still share.
	s[0].p.Close()
	nodes.Stop(0)
	carol := registrar.Binding{Account: "app.carol", Contact: "<sip:carol@10.0.0.8>", Key: "sip:carol@10.0.0.8", Expires: time.Now().Add(time.Hour), Since: now}
	s[1].p.Put(carol)
	s[2].await(t, "app.carol")
	if _, ok := s[2].binding("app.carol"); !ok {
		t.Error("node 3 does not hold carol's binding written on node 2 with node 1 gone")
	}
}
