package registrar_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/registrar"
	"switchboard/runtime/store"
	"switchboard/runtime/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Run(m)) }

// A Persistent store keeps, across a restart on the same directory, the
// bindings that have not expired, as they were last written; removed and
// expired ones are gone.
func TestPersistentSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().Truncate(time.Second)
	clock := func() time.Time { return now }
	quiet := slog.New(slog.DiscardHandler)
	open := func() (*store.Store, *registrar.Persistent) {
		t.Helper()
		db, err := store.Open(store.Options{Dir: dir, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		kv, err := db.KV(context.Background(), "registrations", "harbour")
		if err != nil {
			t.Fatal(err)
		}
		p, err := registrar.NewPersistent(kv, clock, quiet)
		if err != nil {
			t.Fatal(err)
		}
		return db, p
	}
	mary := registrar.Binding{Account: "app.mary", Contact: "<sip:mary@10.0.0.5:5060>", Key: "instance <urn:uuid:1>", CallID: "c1", CSeq: 7,
		Expires: now.Add(time.Hour), Source: "10.0.0.5:5060", Transport: "UDP", UserAgent: "Phone 1", Since: now.Add(-time.Hour), Path: []string{"<sip:edge;lr>"}}
	db, p := open()
	p.Put(mary)
	refreshed := mary
	refreshed.CSeq, refreshed.Expires = 8, now.Add(2*time.Hour)
	p.Put(refreshed) // the latest state is what is kept
	p.Put(registrar.Binding{Account: "app.bob", Key: "sip:bob@10.0.0.6:5060", Contact: "<sip:bob@10.0.0.6:5060>", Expires: now.Add(time.Hour)})
	p.Remove("app.bob", "sip:bob@10.0.0.6:5060")
	p.Put(registrar.Binding{Account: "app.eve", Key: "sip:eve@10.0.0.7", Contact: "<sip:eve@10.0.0.7>", Expires: now.Add(30 * time.Second)})
	p.Close()
	db.Close()

	now = now.Add(time.Minute) // eve's binding has expired meanwhile
	db, p = open()
	defer db.Close()
	defer p.Close()
	want := refreshed
	want.Expires = want.Expires.Local()
	want.Since = want.Since.Local()
	got := p.Lookup("app.mary")
	for i := range got {
		got[i].Expires, got[i].Since = got[i].Expires.Local(), got[i].Since.Local()
	}
	if d := cmp.Diff([]registrar.Binding{want}, got); d != "" {
		t.Errorf("mary after restart (-want +got):\n%s", d)
	}
	if b := p.Lookup("app.bob"); b != nil {
		t.Errorf("bob's removed binding came back: %+v", b)
	}
	if b := p.Lookup("app.eve"); b != nil {
		t.Errorf("eve's expired binding came back: %+v", b)
	}
}
