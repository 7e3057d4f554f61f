package site

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/b2bua"
	"switchboard/runtime/events"
	"switchboard/runtime/sipstack"
	"switchboard/runtime/store"
	"switchboard/runtime/store/storetest"
)

// The journal numbers events from 1, hands out at most a page after the ID
// asked for, reads an ID older than it holds from the stream, starts
// again from the oldest it holds for an ID of another epoch, and a long
// poll returns as soon as an event arrives.
func TestJournalPages(t *testing.T) {
	bus := events.NewBus(nil)
	j := testJournal(t, bus)
	ctx := context.Background()

	got := make(chan EventPage)
	go func() { got <- j.page(ctx, "", 0, 10*time.Second) }()
	bus.Publish(events.Event{Kind: events.CallStarted, Call: "c1", From: "device.gate", To: "1"})
	p := <-got
	if len(p.Events) != 1 || p.Events[0].ID != 1 || p.Events[0].Call != "c1" || p.Next != 1 {
		t.Fatalf("long poll: %+v", p)
	}

	total := journalSize + 10
	for i := 2; i <= total; i++ {
		bus.Publish(events.Event{Kind: events.DTMF, Call: fmt.Sprint("c", i)})
		if i%1000 != 0 && i != total {
			continue
		}
		// Wait until the journal has them all (a poll after the one
		// before returns when it is in), so that none is lost to a
		// full subscription.
		p = j.page(ctx, "", uint64(i-1), 10*time.Second)
		if len(p.Events) != 1 || p.Events[0].ID != uint64(i) || p.Missed != 0 {
			t.Fatalf("event %d: %d events, missed %d", i, len(p.Events), p.Missed)
		}
	}
	p = j.page(ctx, "", 1, 0)
	if diff := cmp.Diff(struct {
		Missed, First uint64
		N             int
	}{Missed: 0, First: 2, N: journalPage}, struct {
		Missed, First uint64
		N             int
	}{p.Missed, p.Events[0].ID, len(p.Events)}); diff != "" {
		t.Errorf("a page after an ID older than the journal holds, read from the stream (-want +got):\n%s", diff)
	}
	if p.Next != p.Events[len(p.Events)-1].ID {
		t.Errorf("next %d, last handed out %d", p.Next, p.Events[len(p.Events)-1].ID)
	}
	if p = j.page(ctx, "another run", uint64(total), 0); len(p.Events) == 0 || p.Events[0].ID != 11 {
		t.Errorf("an ID of another run: %d events, missed %d", len(p.Events), p.Missed)
	}
	if p = j.page(ctx, "", uint64(total), 0); len(p.Events) != 0 || p.Next != uint64(total) {
		t.Errorf("nothing new, no wait: %+v", p)
	}
}

// GET /admin/events and /admin/accounts answer only with the admin token;
// the accounts name every account of the site, registered or not, and the
// calls in progress; a wrong wait is a 400.
func TestAdminAccountsAndEvents(t *testing.T) {
	a := swapConfig(t, "a", "alice", "password-a")
	bus := events.NewBus(nil)
	s, err := New(a, Options{Services: &b2bua.Services{}, Logger: quiet, AdminToken: testAdminToken, Events: bus})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	admin := httptest.NewServer(s.AdminHandler())
	defer admin.Close()
	get := func(path, token string, v any) int {
		t.Helper()
		req, _ := http.NewRequest("GET", admin.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if v != nil && res.StatusCode == 200 {
			if err := json.NewDecoder(res.Body).Decode(v); err != nil {
				t.Fatal(err)
			}
		}
		return res.StatusCode
	}
	for _, path := range []string{"/admin/events", "/admin/accounts", "/admin/calls/c1/sip"} {
		if code := get(path, "", nil); code != 401 {
			t.Errorf("%s without the token: %d", path, code)
		}
	}
	if code := get("/admin/events?wait=31", testAdminToken, nil); code != 400 {
		t.Errorf("wait=31: %d", code)
	}
	bus.Publish(events.Event{Kind: events.CallStarted, Call: "c1", From: "device.gate", To: "1", Target: "residence.a"})
	var page EventPage
	if code := get("/admin/events?after=0&wait=10", testAdminToken, &page); code != 200 || len(page.Events) != 1 || page.Events[0].Kind != events.CallStarted {
		t.Fatalf("events: %d %+v", code, page)
	}
	var rep AccountsReport
	if code := get("/admin/accounts", testAdminToken, &rep); code != 200 {
		t.Fatalf("accounts: %d", code)
	}
	var names []string
	for _, a := range rep.Accounts {
		if a.Registered {
			t.Errorf("%s registered", a.Name)
		}
		names = append(names, a.Name)
	}
	if len(names) == 0 || rep.Epoch != page.Epoch {
		t.Errorf("accounts %v, epoch %q (events' %q)", names, rep.Epoch, page.Epoch)
	}
	if diff := cmp.Diff([]CallState{{Call: "c1", From: "device.gate", To: "1", Target: "residence.a", Started: page.Events[0].Time}}, rep.Calls); diff != "" {
		t.Errorf("calls in progress (-want +got):\n%s", diff)
	}

	// A call's SIP messages, by the call its events name (a Call-ID may
	// hold '/' and '@'), as they crossed the server's socket.
	if code := get("/admin/calls/c1/sip", testAdminToken, nil); code != 404 {
		t.Errorf("the SIP messages of a call the server did not trace: %d, want 404", code)
	}
	const id = "a/b@127.0.0.1"
	s.trace.Begin(id, "device.gate")
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	invite := "INVITE sip:1@site SIP/2.0\r\nFrom: <sip:device.gate@site>;tag=1\r\nTo: <sip:1@site>\r\nCall-ID: " + id +
		"\r\nCSeq: 2 INVITE\r\nProxy-Authorization: Digest response=\"secret\"\r\nContent-Length: 0\r\n\r\n"
	if _, err := sipstack.TracePacketConn(udp, s.trace).WriteTo([]byte(invite), udp.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	var ct sipstack.CallTrace
	if code := get("/admin/calls/"+url.PathEscape(id)+"/sip", testAdminToken, &ct); code != 200 {
		t.Fatalf("GET /admin/calls/{id}/sip: %d", code)
	}
	want := sipstack.CallTrace{Call: id, Messages: []sipstack.TracedMessage{{Peer: "device.gate", Addr: udp.LocalAddr().String(),
		FirstLine: "INVITE sip:1@site SIP/2.0", CSeq: "2 INVITE", From: "device.gate", To: "1"}}}
	if diff := cmp.Diff(want, ct); diff != "" {
		t.Errorf("a call's SIP messages (-want +got):\n%s", diff)
	}
	if code := get("/admin/calls/"+url.PathEscape(id)+"/sap", testAdminToken, nil); code != 404 {
		t.Errorf("/admin/calls/{id}/sap: %d, want 404", code)
	}

	// A ring test is a POST, names a person, and waits a bounded time.
	post := func(query string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", admin.URL+"/admin/ring-test"+query, nil)
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for query, want := range map[string]int{
		"":                           400,
		"?user=alice&ring=0":         400,
		"?user=alice&confirm=61":     400,
		"?user=nobody":               409,
		"?user=alice&ring=x":         400,
		"?user=alice&ring=5&confirm": 409, // no media of its own in this site: said, not hung
	} {
		if got := post(query); got != want {
			t.Errorf("POST /admin/ring-test%s: %d, want %d", query, got, want)
		}
	}
	if code := get("/admin/ring-test?user=alice", testAdminToken, nil); code != 405 {
		t.Errorf("GET /admin/ring-test: %d, want 405", code)
	}
}

// testJournal is a journal of the events published on bus, stored in the
// shared test store.
func testJournal(t *testing.T, bus *events.Bus) *journal {
	t.Helper()
	log, err := storetest.Shared(t).EventLog(context.Background(), storetest.Site(t), storetest.Limits)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(bus, log, quiet)
	t.Cleanup(rec.close)
	j, err := newJournal(log, func(string) bool { return false }, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(j.close)
	return j
}

// Events the recorder lost are counted as missed by the
// pages after which they were lost, and by no other.
func TestJournalGaps(t *testing.T) {
	j := newJournalState(func(string) bool { return false })
	j.add(store.Record{Seq: 1, Event: events.Event{Kind: events.DTMF}})
	j.add(store.Record{Seq: 2, Lost: 3, Event: events.Event{Kind: events.DTMF}}) // 3 lost before event 2
	j.add(store.Record{Seq: 3, Event: events.Event{Kind: events.DTMF}})
	for _, tc := range []struct{ after, missed uint64 }{{0, 3}, {1, 3}, {2, 0}} {
		if p := j.pageLocked(tc.after); p.Missed != tc.missed {
			t.Errorf("after %d: missed %d, want %d", tc.after, p.Missed, tc.missed)
		}
	}
}

// An ID older than the stream keeps (its limits) counts what went as
// missed; the stream's epoch is the journal's.
func TestJournalStreamLimits(t *testing.T) {
	log, err := storetest.Shared(t).EventLog(context.Background(), storetest.Site(t), store.Limits{MaxMsgs: 100, MaxBytes: storetest.Limits.MaxBytes})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 150 {
		if _, err := log.Append(context.Background(), events.Event{Kind: events.DTMF, Call: fmt.Sprint("c", i+1)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	j, err := newJournal(log, func(string) bool { return false }, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	p := j.page(context.Background(), log.Epoch(), 10, 0)
	if p.Epoch != log.Epoch() || p.Missed != 40 || len(p.Events) != 100 || p.Events[0].ID != 51 || p.Next != 150 {
		t.Errorf("after 10 of 150, the last 100 kept: epoch %q missed %d, %d events from %d, next %d", p.Epoch, p.Missed, len(p.Events), p.Events[0].ID, p.Next)
	}
}
