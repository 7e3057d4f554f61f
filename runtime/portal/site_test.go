package portal

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/events"
	"switchboard/runtime/registrar"
)

// visitors of the site's pages: "-" nobody, "" the installer.
var siteVisitors = []string{"-", "", "john", "aoife", "mary"}

// TestEverySitePage tries every page and action of the site with every
// role and with no session. The wanted statuses are written out, not
// derived from ir.Roles: a change to the roles table shows here.
func TestEverySitePage(t *testing.T) {
	e := newEnv(t)
	// by visitor: nobody, installer, john (user), aoife (admin), mary (owner)
	gets := []struct {
		path string
		want [5]int
	}{
		{"/portal/site/people", [5]int{303, 200, 403, 200, 200}},
		{"/portal/site/doors", [5]int{303, 200, 403, 200, 200}},
		{"/portal/site/calls", [5]int{303, 200, 403, 200, 200}},
		{"/portal/site/requests", [5]int{303, 200, 403, 200, 200}},
		{"/portal/site/handover", [5]int{303, 403, 403, 403, 200}},
		{"/portal/operator", [5]int{303, 200, 403, 403, 403}},
		// The stream answers 401 without a session (a browser's
		// EventSource stops reconnecting), not a redirect to a page.
		{"/portal/operator/events", [5]int{401, 200, 403, 403, 403}},
	}
	posts := []struct {
		path string
		form url.Values
		want [5]int
	}{
		{"/portal/site/people/john/invite", nil, [5]int{401, 200, 403, 200, 200}},
		// A ring test starts and answers at once: 303 to its result page.
		{"/portal/site/people/mary/ring", nil, [5]int{401, 303, 403, 303, 303}},
		{"/portal/site/requests", url.Values{"kind": {"remove"}, "user": {"john"}}, [5]int{401, 200, 403, 200, 200}},
	}
	resends := 0
	for i, who := range siteVisitors {
		c := e.client()
		tok := ""
		if who != "-" {
			c.login(who)
			home := "/portal/installer"
			if who != "" {
				home = "/portal/u/" + who + "/"
			}
			tok = c.csrf(home)
		}
		for _, g := range gets {
			got := 0
			if g.path == "/portal/operator/events" {
				got = c.streamStatus(g.path)
			} else {
				got = c.get(g.path).status
			}
			if got != g.want[i] {
				t.Errorf("%q GET %s: %d, want %d", who, g.path, got, g.want[i])
			}
		}
		for _, p := range posts {
			// Without the CSRF token: refused whoever asks.
			form := url.Values{}
			for k, v := range p.form {
				form[k] = v
			}
			want := http.StatusForbidden
			if who == "-" {
				want = http.StatusUnauthorized
			}
			if a := c.post(p.path, form); a.status != want {
				t.Errorf("%q POST %s without CSRF: %d, want %d", who, p.path, a.status, want)
			}
			form.Set("csrf", tok)
			if a := c.post(p.path, form); a.status != p.want[i] {
				t.Errorf("%q POST %s: %d, want %d", who, p.path, a.status, p.want[i])
			} else if p.want[i] == 200 && strings.HasSuffix(p.path, "/invite") {
				resends++
			} else if strings.HasSuffix(p.path, "/ring") && a.status == http.StatusSeeOther {
				// Its result page: the people managers' alone.
				e.p.rings.wg.Wait()
				for j, viewer := range siteVisitors {
					v := e.client()
					if viewer != "-" {
						v.login(viewer)
					}
					want := [5]int{303, 200, 403, 200, 200}[j]
					if got := v.get(a.location).status; got != want {
						t.Errorf("%q GET the ring test %q started: %d, want %d", viewer, who, got, want)
					}
				}
			}
		}
	}
	if diff := cmp.Diff([]string{"mary", "mary", "mary"}, e.site.ringTests()); diff != "" {
		t.Errorf("ring tests run (-want +got):\n%s", diff)
	}
	if got := len(e.site.resends()); got != resends {
		t.Errorf("%d resends reached the site, want %d", got, resends)
	}
	reqs, err := ReadRequests(RequestsDir(e.p.cfg.Dir))
	if err != nil {
		t.Fatal(err)
	}
	var by []string
	for _, r := range reqs {
		by = append(by, r.By+" "+r.Kind+" "+r.User)
	}
	want := []string{"support@dds.example remove john", "aoife@example.com remove john", "mary@example.com remove john"}
	if diff := cmp.Diff(want, by); diff != "" {
		t.Errorf("recorded requests (-want +got):\n%s", diff)
	}
}

// streamStatus opens an event stream and returns its status, closing it
// once the headers are in.
func (c *client) streamStatus(path string) int {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.e.srv.URL+path, nil)
	res, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestPeoplePage: the admin sees everyone with their invitation status
// and devices online, and a resend's outcome, refused or sent.
func TestPeoplePage(t *testing.T) {
	e := newEnv(t)
	e.binds["app.john"] = e.binds["app.mary"]
	c := e.client()
	c.login("aoife")
	a := c.get("/portal/site/people")
	for _, s := range []string{"Mary Byrne", "sent to mary@example.com", "held: device &#34;lobby&#34; was not reached", "not applied yet", "Resend invitation"} {
		if !strings.Contains(a.body, s) {
			t.Errorf("people page lacks %q", s)
		}
	}
	if strings.Contains(a.body, "handover") {
		t.Error("an admin is offered the handover sheet, which is the owner's")
	}
	tok := c.csrf("/portal/site/people")
	e.site.refuse = errors.New("no mail server configured")
	if a := c.post("/portal/site/people/john/invite", url.Values{"csrf": {tok}}); a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, "no mail server configured") {
		t.Errorf("refused resend: %d, body lacks the reason", a.status)
	}
	e.site.refuse = nil
	if a := c.post("/portal/site/people/nobody/invite", url.Values{"csrf": {tok}}); a.status != http.StatusNotFound {
		t.Errorf("resend to nobody: %d, want 404", a.status)
	}
	if a := c.post("/portal/site/people/john/invite", url.Values{"csrf": {tok}}); a.status != http.StatusOK || !strings.Contains(a.body, "no password changed") {
		t.Errorf("resend: %d", a.status)
	}
	if diff := cmp.Diff([]string{"john"}, e.site.resends()); diff != "" {
		t.Errorf("resends (-want +got):\n%s", diff)
	}
	result := func(name string) answer {
		t.Helper()
		a := c.post("/portal/site/people/"+name+"/ring", url.Values{"csrf": {tok}})
		if a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, "/portal/site/ring/") {
			t.Fatalf("ring test of %s: %d %q", name, a.status, a.location)
		}
		e.p.rings.wg.Wait()
		return c.get(a.location)
	}
	r := result("mary")
	for _, s := range []string{"Ring test: Mary Byrne", "Mary Byrne (app)", "Answered by <strong>Mary Byrne (app)</strong>", "Confirmed"} {
		if !strings.Contains(r.body, s) {
			t.Errorf("ring test result lacks %q", s)
		}
	}
	if strings.Contains(r.body, `http-equiv="refresh"`) {
		t.Error("the page of a finished ring test refreshes itself")
	}
	r = result("john")
	if !strings.Contains(r.body, "Not confirmed: none of john&#39;s endpoints is registered") {
		t.Errorf("ring test of john: %d, no reason shown", r.status)
	}
	m := e.client()
	m.login("mary")
	h := m.get("/portal/site/handover")
	if h.status != http.StatusOK || !strings.Contains(h.header.Get("Content-Disposition"), "attachment") || !strings.Contains(h.body, "Handover sheet") {
		t.Errorf("handover: %d %q", h.status, h.header.Get("Content-Disposition"))
	}
}

// TestRingTestProgress: a ring test's POST answers at once; its page
// shows the progress from the site's events and refreshes itself while
// the test runs, then the result; a test of the same person running is
// that page again; past the bound a start is refused; a wrong id is 404.
func TestRingTestProgress(t *testing.T) {
	e := newEnv(t)
	e.binds["app.mary"] = []registrar.Binding{{UserAgent: "app"}}
	e.binds["device.desk-101"] = []registrar.Binding{{UserAgent: "desk"}}
	proceed := make(chan struct{})
	started := make(chan string, 4)
	// As the site's would: the test's events, then the wait for a key.
	e.p.cfg.RingTest = func(ctx context.Context, user string) (RingResult, error) {
		call := "ring-test-" + user
		started <- user
		e.bus.Publish(events.Event{Kind: events.CallStarted, Call: call, From: "ring-test", Target: "user." + user, Cause: "ring test"})
		e.bus.Publish(events.Event{Kind: events.LegRinging, Call: call, Leg: "app." + user})
		e.bus.Publish(events.Event{Kind: events.LegRinging, Call: call, Leg: "device.desk-101"})
		e.bus.Publish(events.Event{Kind: events.LegAnswered, Call: call, Leg: "app." + user})
		select {
		case <-proceed:
		case <-ctx.Done():
			return RingResult{Rang: []string{"app." + user}, Answered: "app." + user, Reason: "the ring test was stopped"}, nil
		}
		e.bus.Publish(events.Event{Kind: events.DTMF, Call: call, Account: "app." + user, Digits: "5"})
		return RingResult{Rang: []string{"app." + user, "device.desk-101"}, Answered: "app." + user, Digits: "5", Confirmed: true}, nil
	}
	c := e.client()
	c.login("aoife")
	tok := c.csrf("/portal/site/people")
	a := c.post("/portal/site/people/mary/ring", url.Values{"csrf": {tok}})
	if a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, "/portal/site/ring/") {
		t.Fatalf("starting: %d %q", a.status, a.location)
	}
	if id := strings.TrimPrefix(a.location, "/portal/site/ring/"); len(id) != 43 {
		t.Errorf("the test's id %q is not a 256-bit token", id)
	}
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	run := e.p.rings.get(strings.TrimPrefix(a.location, "/portal/site/ring/"), e.clk.Now())
	// The answer is the last event before the wait for the key.
	for {
		run.mu.Lock()
		n, changed := len(run.steps), run.changed
		run.mu.Unlock()
		if n == 4 {
			break
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("%d steps", n)
		}
	}
	page := c.get(a.location)
	for _, want := range []string{
		`<meta http-equiv="refresh" content="2">`,
		`data-state="running"`,
		`<li data-step="start">Ringing Mary Byrne&#39;s 2 devices…</li>`,
		`<li data-step="ringing">Ringing on Mary Byrne (app)…</li>`,
		`<li data-step="ringing">Ringing on Mary Byrne (device)…</li>`,
		`<li data-step="answered">Answered by Mary Byrne (app). Waiting for them to key a digit…</li>`,
	} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the running test's page lacks %s", want)
		}
	}
	if again := c.post("/portal/site/people/mary/ring", url.Values{"csrf": {tok}}); again.location != a.location {
		t.Errorf("a second test of mary while hers runs: %d %q, want %q", again.status, again.location, a.location)
	}
	// The bound: with one place, john's test waits for mary's to end.
	e.p.rings.max = 1
	if r := c.post("/portal/site/people/john/ring", url.Values{"csrf": {tok}}); r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "ring tests are running") {
		t.Errorf("a ring test past the bound: %d", r.status)
	}
	close(proceed)
	e.p.rings.wg.Wait()
	page = c.get(a.location)
	for _, want := range []string{`data-state="done"`, `<li data-step="confirmed">They keyed a digit: confirmed.</li>`, "Answered by <strong>Mary Byrne (app)</strong>", "Confirmed: they keyed a digit."} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the ended test's page lacks %s", want)
		}
	}
	if strings.Contains(page.body, "refresh") || strings.Contains(page.body, ">5<") {
		t.Error("the ended test's page refreshes itself or shows the digit")
	}
	if r := c.get("/portal/site/ring/" + randomToken()); r.status != http.StatusNotFound {
		t.Errorf("an unknown ring test: %d, want 404", r.status)
	}
	// Kept ringKeepFor after it ended, then gone.
	e.clk.Advance(ringKeepFor)
	c.login("aoife")
	if r := c.get(a.location); r.status != http.StatusNotFound {
		t.Errorf("the ring test %v after it ended: %d, want 404", ringKeepFor, r.status)
	}
}

// TestChangeRequests: a resident asks only about their own residence;
// what they ask is recorded, the site files untouched; the count is
// bounded.
func TestChangeRequests(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.login("john")
	tok := c.csrf("/portal/u/john/requests")
	ask := func(form url.Values) answer {
		form.Set("csrf", tok)
		return c.post("/portal/u/john/requests", form)
	}
	cases := []struct {
		form url.Values
		want int
	}{
		{url.Values{"kind": {"add"}, "first_name": {"Ciara"}, "last_name": {"Byrne"}, "email": {"ciara@example.com"}}, 200},
		{url.Values{"kind": {"add"}, "residence": {"apt-1b"}, "first_name": {"X"}, "last_name": {"Y"}}, 422}, // not his residence
		{url.Values{"kind": {"remove"}, "user": {"aoife"}}, 422},                                             // not his residence
		{url.Values{"kind": {"rename"}, "user": {"mary"}, "first_name": {"Máire"}, "last_name": {"Byrne"}}, 200},
		{url.Values{"kind": {"rename"}, "user": {"mary"}, "first_name": {"Máire"}}, 422},
		{url.Values{"kind": {"explode"}}, 422},
		{url.Values{"kind": {"add"}, "first_name": {strings.Repeat("a", 201)}, "last_name": {"B"}}, 422},
	}
	for i, tc := range cases {
		if a := ask(tc.form); a.status != tc.want {
			t.Errorf("case %d: %d, want %d", i, a.status, tc.want)
		}
	}
	reqs, err := ReadRequests(RequestsDir(e.p.cfg.Dir))
	if err != nil {
		t.Fatal(err)
	}
	type short struct {
		ID                               int
		Kind, User, Residence, First, By string
	}
	var got []short
	for _, r := range reqs {
		got = append(got, short{r.ID, r.Kind, r.User, r.Residence, r.FirstName, r.By})
	}
	want := []short{{1, "add", "ciara", "apt-1a", "Ciara", "john@example.com"}, {2, "rename", "mary", "apt-1a", "Máire", "john@example.com"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	// Bounded: past MaxRequests, refused until some are dealt with.
	for i := len(reqs); i < MaxRequests; i++ {
		if _, err := e.p.requests.add(ChangeRequest{Kind: RequestRemove, User: "mary"}); err != nil {
			t.Fatal(err)
		}
	}
	if a := ask(url.Values{"kind": {"remove"}, "user": {"mary"}}); a.status != http.StatusServiceUnavailable {
		t.Errorf("request past the bound: %d, want 503", a.status)
	}
	if ents, _ := os.ReadDir(RequestsDir(e.p.cfg.Dir)); len(ents) != MaxRequests {
		t.Errorf("%d request files, want %d", len(ents), MaxRequests)
	}
}

// TestOperatorStream: events arrive with ids; a reconnect with
// Last-Event-ID resumes after it; the number of streams is bounded.
func TestOperatorStream(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.login("")
	open := func(last string) (*bufio.Reader, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/portal/operator/events", nil)
		if last != "" {
			req.Header.Set("Last-Event-ID", last)
		}
		res, err := c.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
		return bufio.NewReader(res.Body), func() { cancel(); res.Body.Close() }
	}
	// next reads the next event's id and data lines.
	next := func(r *bufio.Reader) (id, data string) {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended: %v", err)
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case strings.HasPrefix(line, "id: "):
				id = line[4:]
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			case line == "" && data != "" && id != "":
				return id, data
			}
		}
	}
	// waitOpen waits until n streams are open.
	waitOpen := func(n int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for {
			got, left := e.p.stream.count()
			if got == n {
				return
			}
			select {
			case <-left:
			case <-ctx.Done():
				t.Fatalf("%d streams open, want %d", got, n)
			}
		}
	}
	r, stop := open("")
	e.bus.Publish(events.Event{Kind: events.Registered, Account: "app.mary"})
	e.bus.Publish(events.Event{Kind: events.DoorOpened, Device: "front-gate", Digits: "4711"})
	id1, d1 := next(r)
	id2, d2 := next(r)
	stop()
	if id1 != "1" || id2 != "2" || !strings.Contains(d1, `"registered"`) || !strings.Contains(d2, `"door_opened"`) {
		t.Errorf("events: %s %s, %s %s", id1, d1, id2, d2)
	}
	if strings.Contains(d2, "4711") {
		t.Error("the stream carries the digits keyed")
	}
	waitOpen(0)
	e.bus.Publish(events.Event{Kind: events.Unregistered, Account: "app.mary"})
	r, stop = open("2")
	id3, d3 := next(r)
	if id3 != "3" || !strings.Contains(d3, `"unregistered"`) {
		t.Errorf("resumed after 2: %s %s", id3, d3)
	}
	// Bounded: MaxStreams at once, one more is refused.
	var stops []func()
	for i := 1; i < MaxStreams; i++ {
		_, s := open("3")
		stops = append(stops, s)
	}
	if got := c.streamStatus("/portal/operator/events"); got != http.StatusServiceUnavailable {
		t.Errorf("stream past the bound: %d, want 503", got)
	}
	stop()
	for _, s := range stops {
		s()
	}
	waitOpen(0)
	// Logged out: the stream ends at its next event.
	tok := c.csrf("/portal/installer")
	r, stop = open("3")
	c.post("/portal/logout", url.Values{"csrf": {tok}})
	e.bus.Publish(events.Event{Kind: events.Registered, Account: "app.john"})
	type read struct {
		b   []byte
		err error
	}
	rest := make(chan read, 1)
	go func() { b, err := io.ReadAll(r); rest <- read{b, err} }()
	select {
	case got := <-rest:
		if got.err != nil || strings.Contains(string(got.b), "app.john") {
			t.Errorf("the stream after logout: %q %v", got.b, got.err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the stream went on after logout")
	}
	stop()
	waitOpen(0)
	c.login("")
	// Idle: a stream that sent nothing for StreamIdle ends; the browser
	// reconnects. It resumes after the last event (4, app.john's), so it
	// has nothing to send and arms its idle timer once: one that resumed
	// earlier would send and re-arm, possibly after the clock moved.
	pending := e.clk.Pending()
	r, stop = open("4")
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.clk.WaitPending(ctx, pending+1); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(StreamIdle)
	if _, err := io.ReadAll(r); err != nil {
		t.Fatalf("idle stream: %v", err)
	}
	waitOpen(0)
}

// TestOperatorStreamSessionExpiry: an open event stream does not keep
// its session alive, not even through reconnects; when the session idles
// out the stream ends with an "expired" event, and a reconnect is refused.
// A page opened meanwhile keeps session and stream alive.
func TestOperatorStreamSessionExpiry(t *testing.T) {
	e := newEnv(t)
	e.p.sessions.idle = time.Minute // shorter than StreamIdle: no idle end first
	c := e.client()
	c.login("")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// open opens a stream and waits until it armed its timers (the idle
	// end and the session's watch).
	open := func() (io.ReadCloser, func()) {
		t.Helper()
		pending := e.clk.Pending()
		sctx, stop := context.WithCancel(ctx)
		req, _ := http.NewRequestWithContext(sctx, "GET", e.srv.URL+"/portal/operator/events", nil)
		res, err := c.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK {
			t.Fatalf("stream: %d", res.StatusCode)
		}
		if err := e.clk.WaitPending(ctx, pending+2); err != nil {
			t.Fatal(err)
		}
		return res.Body, func() { stop(); res.Body.Close() }
	}
	// ends reads the stream to its end and wants the expired event last.
	ends := func(body io.Reader) {
		t.Helper()
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatalf("the stream: %v", err)
		}
		if !strings.HasSuffix(string(b), expiredEvent) {
			t.Errorf("the stream ended without the expired event: %q", b)
		}
	}

	// closed waits until no stream is open (its timers stopped).
	closed := func() {
		t.Helper()
		for {
			n, left := e.p.stream.count()
			if n == 0 {
				return
			}
			select {
			case <-left:
			case <-ctx.Done():
				t.Fatalf("%d streams still open", n)
			}
		}
	}

	// Used by a page at 0s, the stream opened at 40s and reopened at 50s
	// (a reconnect): the session still ends at 60s.
	e.clk.Advance(40 * time.Second)
	_, stop := open()
	stop()
	closed()
	e.clk.Advance(10 * time.Second)
	body, stop := open()
	defer stop()
	e.clk.Advance(10 * time.Second)
	ends(body)
	if a := c.get("/portal/installer"); a.status != http.StatusSeeOther {
		t.Errorf("the page after the session idled out: %d, want 303 to the login", a.status)
	}
	if got := c.streamStatus("/portal/operator/events"); got != http.StatusUnauthorized {
		t.Errorf("a reconnect after the session idled out: %d, want 401", got)
	}

	// A page opened while the stream is open keeps both alive: the watch
	// falls due at the old end, finds the session used, and waits again.
	closed()
	c.login("")
	body, stop = open()
	defer stop()
	e.clk.Advance(40 * time.Second)
	if a := c.get("/portal/installer"); a.status != http.StatusOK {
		t.Fatalf("the installer's page: %d", a.status)
	}
	e.clk.Advance(30 * time.Second) // 70s: past the first end, not the second
	e.bus.Publish(events.Event{Kind: events.Registered, Account: "app.mary"})
	r := bufio.NewReader(body)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("the stream ended before the event: %v", err)
		}
		if strings.Contains(line, "app.mary") {
			break
		}
	}
	e.clk.Advance(30 * time.Second) // 100s: the session idled out
	ends(r)
}

// TestOperatorPage: the installer sees every account's registrations,
// the trunks, and the commissioning checklist with what is not passed,
// the failed first.
func TestOperatorPage(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.login("")
	a := c.get("/portal/operator")
	if a.status != http.StatusOK {
		t.Fatalf("operator page: %d", a.status)
	}
	for _, s := range []string{"app.mary", "device.front-gate", "carrier: registered", "1 of 3 cases passed, 1 failed, 1 open"} {
		if !strings.Contains(a.body, s) {
			t.Errorf("operator page lacks %q", s)
		}
	}
	failed, open := strings.Index(a.body, "Lobby rings John"), strings.Index(a.body, "Mary&#39;s DDI")
	if failed < 0 || open < 0 || failed > open {
		t.Errorf("the checklist's failed case is not listed before the open one (%d, %d)", failed, open)
	}
	if strings.Contains(a.body, "Front gate button rings Mary") {
		t.Error("a passed case is listed among those to do")
	}
}

// TestSiteDoorsAndCalls: the site's door log holds every door opened or
// refused; live calls are those started and not ended, with who answered.
func TestSiteDoorsAndCalls(t *testing.T) {
	e := newEnv(t)
	e.publish(t, events.Event{Kind: events.DoorOpened, Device: "front-gate", Relay: "door", Account: "app.mary", Call: "c1"})
	e.publish(t, events.Event{Kind: events.DoorRefused, Device: "side-gate", Relay: "bins", Account: "app.john", Call: "c2"})
	e.publish(t, events.Event{Kind: events.CallStarted, Call: "c3", From: "device.lobby", To: "1B", Target: "residence.apt-1b"})
	e.publish(t, events.Event{Kind: events.CallEnded, Call: "c3", Cause: "no answer"})
	e.publish(t, events.Event{Kind: events.CallStarted, Call: "c4", From: "app.mary", To: "103", Target: "user.aoife"})
	e.publish(t, events.Event{Kind: events.LegAnswered, Call: "c4", Leg: "app.aoife"})
	c := e.client()
	c.login("aoife")
	doors := c.get("/portal/site/doors").body
	for _, s := range []string{"opened", "refused", "Mary Byrne (app)", "John Byrne (app)"} {
		if !strings.Contains(doors, s) {
			t.Errorf("the site's door log lacks %q", s)
		}
	}
	calls := c.get("/portal/site/calls").body
	if !strings.Contains(calls, "Mary Byrne (app)") || !strings.Contains(calls, "user.aoife") || !strings.Contains(calls, "Aoife Kelly (app)") {
		t.Errorf("the live calls lack mary's call to aoife, answered:\n%s", calls)
	}
	if strings.Contains(calls, "residence.apt-1b") {
		t.Error("an ended call is listed as live")
	}
}
