package registrar_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
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
	// eve's key is kept for twice her interval: loading must read her
	// expiry from the value.
	kv, err := db.KV(context.Background(), "registrations", "harbour")
	if err != nil {
		t.Fatal(err)
	}
	all, err := kv.All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := all["app.eve\x00sip:eve@10.0.0.7"]; !ok {
		t.Errorf("eve's key is no longer in the bucket, so the test proves nothing; keys: %q", slices.Collect(maps.Keys(all)))
	}
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

// recorder is a Bucket in memory that records each write.
type recorder struct {
	mu     sync.Mutex
	values map[string][]byte
	writes []string // "put <account>/<key> <ttl>" or "delete <account>/<key>"
}

func (r *recorder) Put(_ context.Context, key string, value []byte, ttl time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.values[key] = value
	r.writes = append(r.writes, fmt.Sprintf("put %s %v", shown(key), ttl))
	return nil
}

func (r *recorder) Delete(_ context.Context, key string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.values, key)
	r.writes = append(r.writes, "delete "+shown(key))
	return nil
}

func (r *recorder) All(context.Context) (map[string][]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.values), nil
}

// shown is a bucket key as a write shows it: "account/key".
func shown(key string) string { return strings.ReplaceAll(key, "\x00", "/") }

// take returns the writes so far and forgets them.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.writes
	r.writes = nil
	return w
}

// Which changes of a binding Persistent writes to the bucket at once: a
// refresh that changes nothing but the expiry and CSeq waits while the
// key outlives it (Close writes it); anything else is written.
func TestPersistentWrites(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const key = "app.mary/instance <urn:uuid:1>"
	mary := registrar.Binding{Account: "app.mary", Contact: "<sip:mary@10.0.0.5:5060>", Key: "instance <urn:uuid:1>", CallID: "c1", CSeq: 2,
		Source: "203.0.113.5:5060", Transport: "UDP", UserAgent: "Phone 1", Since: start}
	// at: seconds after start; the binding is mary with CSeq and Expires
	// (seconds after at) set, then change applied.
	type step struct {
		at      int
		expires int // 0: Remove
		change  func(*registrar.Binding)
		want    []string // the writes once the writer is done
	}
	tests := []struct {
		name  string
		steps []step
		// close is the writes of Close.
		close []string
	}{
		{
			name: "refreshes at half the interval: one in three written",
			steps: []step{
				{at: 0, expires: 300, want: []string{"put " + key + " 10m5s"}},
				{at: 150, expires: 300},
				{at: 300, expires: 300},
				{at: 450, expires: 300, want: []string{"put " + key + " 10m5s"}},
				{at: 600, expires: 300},
			},
			close: []string{"put " + key + " 10m5s"},
		},
		{
			name: "a refresh that shortens the binding is written",
			steps: []step{
				{at: 0, expires: 3600, want: []string{"put " + key + " 2h0m5s"}},
				{at: 10, expires: 60, want: []string{"put " + key + " 2m5s"}},
			},
		},
		{
			name: "a de-registration is written at once",
			steps: []step{
				{at: 0, expires: 300, want: []string{"put " + key + " 10m5s"}},
				{at: 150, expires: 300},
				{at: 160, expires: 0, want: []string{"delete " + key}},
				{at: 170, expires: 300, want: []string{"put " + key + " 10m5s"}},
			},
		},
		{
			name: "a changed contact, source, transport, user agent or Call-ID is written",
			steps: []step{
				{at: 0, expires: 300, want: []string{"put " + key + " 10m5s"}},
				{at: 10, expires: 300, change: func(b *registrar.Binding) { b.Contact = "<sip:mary@10.0.0.6:5060>" },
					want: []string{"put " + key + " 10m5s"}},
				{at: 20, expires: 300, change: func(b *registrar.Binding) { b.Contact, b.Source = "<sip:mary@10.0.0.6:5060>", "203.0.113.6:5060" },
					want: []string{"put " + key + " 10m5s"}},
				{at: 30, expires: 300, change: func(b *registrar.Binding) {
					b.Contact, b.Source, b.Transport = "<sip:mary@10.0.0.6:5060>", "203.0.113.6:5060", "TCP"
				}, want: []string{"put " + key + " 10m5s"}},
				{at: 40, expires: 300, change: func(b *registrar.Binding) {
					b.Contact, b.Source, b.Transport, b.UserAgent = "<sip:mary@10.0.0.6:5060>", "203.0.113.6:5060", "TCP", "Phone 2"
				}, want: []string{"put " + key + " 10m5s"}},
				{at: 50, expires: 300, change: func(b *registrar.Binding) {
					b.Contact, b.Source, b.Transport, b.UserAgent, b.CallID = "<sip:mary@10.0.0.6:5060>", "203.0.113.6:5060", "TCP", "Phone 2", "c2"
				}, want: []string{"put " + key + " 10m5s"}},
				{at: 60, expires: 300, change: func(b *registrar.Binding) {
					b.Contact, b.Source, b.Transport, b.UserAgent, b.CallID = "<sip:mary@10.0.0.6:5060>", "203.0.113.6:5060", "TCP", "Phone 2", "c2"
				}},
			},
			close: []string{"put " + key + " 10m5s"},
		},
		{
			name: "an expired binding is forgotten: registered again, it is written",
			steps: []step{
				{at: 0, expires: 300, want: []string{"put " + key + " 10m5s"}},
				{at: 301, expires: 300, want: []string{"put " + key + " 10m5s"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := start
			rec := &recorder{values: map[string][]byte{}}
			p, err := registrar.NewPersistent(rec, func() time.Time { return now }, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			var last registrar.Binding
			for i, s := range tt.steps {
				now = start.Add(time.Duration(s.at) * time.Second)
				p.Expire(now) // the registrar's sweep
				if s.expires == 0 {
					p.Remove(mary.Account, mary.Key)
				} else {
					b := mary
					b.CSeq = uint32(2 * (i + 1))
					b.Expires = now.Add(time.Duration(s.expires) * time.Second)
					if s.change != nil {
						s.change(&b)
					}
					p.Put(b)
					last = b
				}
				p.Sync()
				if d := cmp.Diff(s.want, rec.take()); d != "" {
					t.Errorf("step %d (at %ds): writes (-want +got):\n%s", i, s.at, d)
				}
			}
			p.Close()
			if d := cmp.Diff(tt.close, rec.take()); d != "" {
				t.Errorf("Close: writes (-want +got):\n%s", d)
			}
			// What a restart loads is the latest state, exactly.
			var want []registrar.Binding
			if tt.steps[len(tt.steps)-1].expires != 0 {
				want = []registrar.Binding{last}
			}
			again, err := registrar.NewPersistent(rec, func() time.Time { return now }, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer again.Close()
			got := again.Lookup(mary.Account)
			for i := range got {
				got[i].Expires, got[i].Since = got[i].Expires.UTC(), got[i].Since.UTC()
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("after restart (-want +got):\n%s", d)
			}
		})
	}
}

// A stored binding is read back field for field, also as the JSON the
// first version wrote.
func TestPersistentEncoding(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	quiet := slog.New(slog.DiscardHandler)
	full := registrar.Binding{Account: "app.mary", Contact: `<sip:mary@10.0.0.5:5060;transport=tcp>;+sip.instance="<urn:uuid:1>"`,
		Key: "instance <urn:uuid:1>", CallID: "c1@10.0.0.5", CSeq: 1<<32 - 1, Expires: now.Add(time.Hour + time.Nanosecond),
		Source: "[2001:db8::5]:5060", Transport: "TCP", UserAgent: "Phone \"1\" é\x00", Since: now.Add(-time.Hour),
		Path: []string{"<sip:edge1;lr>", "", "<sip:edge2;lr>"}}
	bare := registrar.Binding{Account: "app.bob", Key: "sip:bob@10.0.0.6", Contact: "<sip:bob@10.0.0.6>", Expires: now.Add(time.Minute)}
	legacy, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		stored func(rec *recorder)
		want   registrar.Binding
	}{
		{"every field", func(rec *recorder) { put(t, rec, full, now) }, full},
		{"no Since, no Path, CSeq 0", func(rec *recorder) { put(t, rec, bare, now) }, bare},
		{"JSON of the first version", func(rec *recorder) { rec.values["app.mary\x00instance <urn:uuid:1>"] = legacy }, full},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{values: map[string][]byte{}}
			tt.stored(rec)
			p, err := registrar.NewPersistent(rec, func() time.Time { return now }, quiet)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			got := p.Lookup(tt.want.Account)
			for i := range got {
				got[i].Expires, got[i].Since = got[i].Expires.UTC(), got[i].Since.UTC()
			}
			if d := cmp.Diff([]registrar.Binding{tt.want}, got); d != "" {
				t.Errorf("loaded (-want +got):\n%s", d)
			}
		})
	}
}

// put stores b in rec as a Persistent does.
func put(t testing.TB, rec *recorder, b registrar.Binding, now time.Time) {
	t.Helper()
	p, err := registrar.NewPersistent(rec, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	p.Put(b)
	p.Close()
}

// Whatever a bucket holds, loading it does not panic, and a binding it
// loads is stored and loaded again unchanged.
func FuzzPersistentLoad(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	quiet := slog.New(slog.DiscardHandler)
	const key = "app.mary\x00k"
	seed := &recorder{values: map[string][]byte{}}
	put(f, seed, registrar.Binding{Account: "app.mary", Key: "k", Contact: "<sip:mary@h>", CSeq: 3, Expires: now.Add(time.Hour),
		Since: now, Path: []string{"<sip:p;lr>"}}, now)
	f.Add(seed.values[key])
	f.Add([]byte(`{"Account":"app.mary","Key":"k","Expires":"2026-03-01T13:00:00Z"}`))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, v []byte) {
		rec := &recorder{values: map[string][]byte{key: v}}
		p, err := registrar.NewPersistent(rec, func() time.Time { return now }, quiet)
		if err != nil {
			t.Fatal(err)
		}
		got := p.Lookup("app.mary")
		p.Close()
		if len(got) != 1 {
			return
		}
		again := &recorder{values: map[string][]byte{}}
		put(t, again, got[0], now)
		q, err := registrar.NewPersistent(again, func() time.Time { return now }, quiet)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		if d := cmp.Diff(got, q.Lookup("app.mary"), cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); d != "" {
			t.Errorf("stored and loaded again (-first +second):\n%s", d)
		}
	})
}
