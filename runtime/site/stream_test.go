package site

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/events"
	"switchboard/runtime/store"
)

// A restart of the server on the same store keeps the journal: the
// events of the run before are there under the same epoch, a client
// resumes after the last ID it saw, the calls in progress before are not
// in progress now, and no keyed digits were stored.
func TestJournalSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	run := func(publish []events.Event, check func(s *Site)) {
		t.Helper()
		db, err := store.Open(store.Options{Dir: dir, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		bus := events.NewBus(nil)
		s, err := New(swapConfig(t, "a", "alice", "password-a"), Options{Services: &b2bua.Services{}, Logger: quiet, AdminToken: testAdminToken, Events: bus, Store: db})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range publish {
			bus.Publish(e)
		}
		check(s)
		s.Close()
	}
	at := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	first := []events.Event{
		{Time: at, Kind: events.ProvisionFetch, Account: "device.gate", Path: "/gate.cfg"},
		{Time: at, Kind: events.CallStarted, Call: "c1", From: "device.gate", To: "1"},
		{Time: at, Kind: events.DTMF, Call: "c1", Digits: "1234"},
		{Time: at, Kind: events.DoorOpened, Call: "c1", Device: "gate", Relay: "door", Digits: "#"},
	}
	var epoch string
	run(first, func(s *Site) {
		// Wait until all are stored: a page after the last of them.
		p, _ := s.Events(context.Background(), "", 0, 0)
		for p.Next < uint64(len(first)) {
			p, _ = s.Events(context.Background(), p.Epoch, p.Next, 10*time.Second)
		}
		epoch = p.Epoch
	})
	run([]events.Event{{Time: at, Kind: events.CallEnded, Call: "c2"}}, func(s *Site) {
		p, ok := s.Events(context.Background(), epoch, 0, 0)
		if !ok {
			t.Fatal("no journal")
		}
		var got []Entry
		got = append(got, p.Events...)
		for len(got) < 5 {
			p, _ = s.Events(context.Background(), epoch, p.Next, 10*time.Second)
			got = append(got, p.Events...)
		}
		want := []Entry{
			{ID: 1, Event: first[0]},
			{ID: 2, Event: first[1]},
			{ID: 3, Event: events.Event{Time: at, Kind: events.DTMF, Call: "c1"}},
			{ID: 4, Event: events.Event{Time: at, Kind: events.DoorOpened, Call: "c1", Device: "gate", Relay: "door"}},
			{ID: 5, Event: events.Event{Time: at, Kind: events.CallEnded, Call: "c2"}},
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("journal after a restart (-want +got):\n%s", d)
		}
		if p.Epoch != epoch {
			t.Errorf("epoch after restart %q, before %q", p.Epoch, epoch)
		}
		if p, _ := s.Events(context.Background(), epoch, 2, 0); len(p.Events) != 3 || p.Events[0].ID != 3 {
			t.Errorf("resuming after ID 2: %+v", p.Events)
		}
		rep, _ := s.Accounts()
		if len(rep.Calls) != 0 {
			t.Errorf("calls of the run before still in progress: %+v", rep.Calls)
		}
	})
}

// The portal's door log is read from the event stream: after a restart on
// the same store, the owner still sees the door opened before it.
func TestPortalDoorLogSurvivesRestart(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	cfg := func() Config {
		c := swapConfig(t, "a", "alice", "password-a")
		c.Program.Users = []ir.User{{Name: "mary", DisplayName: "Mary", Email: "mary@example.com", Role: "owner"}}
		c.Secrets = portalSecrets{c.Secrets.(passwordMap), "MaryFirst23456789abc"}
		return c
	}
	run := func(publish *events.Event, check func(s *Site, base string, client *http.Client)) {
		t.Helper()
		db, err := store.Open(store.Options{Dir: dir, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		bus := events.NewBus(nil)
		s, err := New(cfg(), Options{Services: &b2bua.Services{}, Logger: quiet, Events: bus, Store: db, DataDir: data})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if publish != nil {
			changed := s.portal.HistoryChanged()
			bus.Publish(*publish)
			<-changed
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- s.ServeWeb(ctx, l, nil) }()
		defer func() { cancel(); <-served }()
		jar, _ := cookiejar.New(nil)
		check(s, "http://"+l.Addr().String(), &http.Client{Jar: jar})
	}
	door := events.Event{Time: time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC), Kind: events.DoorOpened, Device: "gate", Relay: "side-door-7", Account: "app.mary", Call: "c1", Digits: "#"}
	run(&door, func(*Site, string, *http.Client) {})
	run(nil, func(s *Site, base string, client *http.Client) {
		res, err := client.PostForm(base+"/portal/login", url.Values{"email": {"mary@example.com"}, "password": {"MaryFirst23456789abc"}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		page := func() string {
			res, err := client.Get(base + "/portal/site/doors")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != 200 {
				t.Fatalf("GET /portal/site/doors: %d", res.StatusCode)
			}
			return string(body)
		}
		// The history reads the stream in the background: wait for it.
		for {
			changed := s.portal.HistoryChanged()
			if strings.Contains(page(), "side-door-7") {
				break
			}
			select {
			case <-changed:
			case <-time.After(10 * time.Second):
				t.Fatalf("the door log after a restart does not show the door opened before it:\n%s", page())
			}
		}
	})
}
