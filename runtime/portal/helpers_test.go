package portal

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/runtime/audio"
	"switchboard/runtime/clock/clocktest"
	"switchboard/runtime/events"
	"switchboard/runtime/registrar"
	"switchboard/runtime/store/storetest"
	"switchboard/runtime/voicemail"
)

func TestMain(m *testing.M) {
	// Cheap hashes: the scheme and the count of hashes are what the tests
	// check, not the cost.
	hashParams = argonParams{Time: 1, Memory: 64, Threads: 1}
	os.Exit(storetest.Run(m))
}

var epoch = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// fakePasswords are derived portal passwords, as credentials.Lookup
// gives them.
type fakePasswords map[string]string

func (f fakePasswords) PortalPassword(user string) (string, bool) {
	pw, ok := f[user]
	return pw, ok
}

func (f fakePasswords) InstallerPortalPassword() (string, bool) {
	pw, ok := f[""]
	return pw, ok
}

var derived = fakePasswords{
	"mary": "MaryPortal23456789ab", "john": "JohnPortal23456789ab", "aoife": "AoifePortal3456789ab", "": "InstallerPortal45678",
}

// emails of the test site's logins, by user ("" the installer).
var emails = map[string]string{"mary": "mary@example.com", "john": "john@example.com", "aoife": "aoife@example.com", "": "support@dds.example"}

// env is a portal over the Harbour View program (mary the owner, aoife an
// admin here, john a user), with voicemail on disk and a fake clock.
type env struct {
	t     *testing.T
	prog  *ir.Program
	clk   *clocktest.Fake
	bus   *events.Bus
	vm    *voicemail.Service
	p     *Portal
	srv   *httptest.Server
	dir   string
	binds map[string][]registrar.Binding
	site  *fakeSite
}

// fakeSite answers as serve's SiteFiles would, recording the resends.
type fakeSite struct {
	mu      sync.Mutex
	resent  []string
	rang    []string
	refuse  error
	invites map[string]string
}

func (f *fakeSite) Invitations() (map[string]string, error) { return f.invites, nil }

func (f *fakeSite) ResendInvitation(_ context.Context, user string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse != nil {
		return "", f.refuse
	}
	f.resent = append(f.resent, user)
	return "invitation sent again to " + user + "@example.com (no password changed)", nil
}

func (f *fakeSite) HandoverHTML() ([]byte, error) {
	return []byte("<!doctype html><title>Handover sheet</title><h1>Handover sheet: Harbour View</h1>"), nil
}

func (f *fakeSite) Commissioning() (*Checklist, error) {
	return &Checklist{Updated: epoch, Cases: []CheckCase{
		{Name: "Front gate button rings Mary", Status: "passed"},
		{Name: "Lobby rings John", Origin: "users.pbx.hcl:12", Status: "failed", Detail: "nobody answered"},
		{Name: "Mary's DDI", Status: "open", Detail: "her phone is off"},
	}}, nil
}

// ringTest answers as the site's would: mary's app answers and keys 5.
func (f *fakeSite) ringTest(_ context.Context, user string) (RingResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rang = append(f.rang, user)
	if user != "mary" {
		return RingResult{Rang: []string{}, Reason: "none of " + user + "'s endpoints is registered"}, nil
	}
	return RingResult{Rang: []string{"app.mary", "device.monitor-1a"}, Answered: "app.mary", Digits: "5", Confirmed: true}, nil
}

func (f *fakeSite) ringTests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rang)
}

func (f *fakeSite) resends() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.resent)
}

// newEnv is a portal of Harbour View with a message in Mary's box and one
// in John's; vmOpts change the voicemail service's configuration.
func newEnv(t *testing.T, vmOpts ...func(*voicemail.Config)) *env {
	t.Helper()
	prog := irtest.HarbourView()
	for i := range prog.Users {
		if prog.Users[i].Name == "aoife" {
			prog.Users[i].Role = "admin"
		}
	}
	prog.Site.Installer = &ir.Installer{Company: "Dublin Door Systems", Email: "support@dds.example"}
	e := &env{t: t, prog: prog, clk: clocktest.New(epoch), dir: t.TempDir(), binds: map[string][]registrar.Binding{},
		site: &fakeSite{invites: map[string]string{"mary": "sent to mary@example.com", "john": "held: device \"lobby\" was not reached"}}}
	e.bus = events.NewBus(e.clk.Now)
	writeMessage(t, filepath.Join(e.dir, "voicemail"), "mary", 1, "Front gate")
	writeMessage(t, filepath.Join(e.dir, "voicemail"), "john", 1, "Lobby")
	var err error
	vc := voicemail.Config{Program: func() *ir.Program { return e.prog }, Dir: filepath.Join(e.dir, "voicemail"), Clock: e.clk, Events: e.bus}
	for _, f := range vmOpts {
		f(&vc)
	}
	e.vm, err = voicemail.Open(vc)
	if err != nil {
		t.Fatal(err)
	}
	e.p, err = New(Config{
		Program: func() *ir.Program { return e.prog }, Passwords: func() Passwords { return derived },
		Voicemail: e.vm, Bindings: func(a string) []registrar.Binding { return e.binds[a] },
		Events: e.bus, Dir: filepath.Join(e.dir, "portal"), Clock: e.clk,
		Site: e.site, RingTest: e.site.ringTest, Trunks: func() []Trunk { return []Trunk{{Name: "carrier", Registered: true}} },
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.p)
	t.Cleanup(func() { e.srv.Close(); e.p.Close(); e.vm.Close() })
	return e
}

// writeMessage puts a one-second µ-law message in box, as a deposit
// leaves it.
func writeMessage(t *testing.T, dir, box string, id int, from string) {
	t.Helper()
	d := filepath.Join(dir, box)
	if err := os.MkdirAll(d, 0o750); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(d, voicemailName(id)+".wav"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := audio.NewWAVWriter(f, audio.FormatULaw)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WritePCM(tone(audio.Rate)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	meta, _ := json.Marshal(voicemail.Message{ID: id, Box: box, Folder: voicemail.FolderNew, Time: epoch, DurationMS: 1000, Codec: "PCMU", From: voicemail.From{Display: from}})
	if err := os.WriteFile(filepath.Join(d, voicemailName(id)+".json"), meta, 0o600); err != nil {
		t.Fatal(err)
	}
}

func voicemailName(id int) string { return voicemail.Message{ID: id}.Name() }

// tone is n samples of a 400 Hz square-ish wave: audible, not silence.
func tone(n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		if (i/10)%2 == 0 {
			out[i] = 8000
		} else {
			out[i] = -8000
		}
	}
	return out
}

// pcmWAV is a PCM16 WAV of samples.
func pcmWAV(t *testing.T, samples []int16) []byte {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "*.wav")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := audio.NewWAVWriter(f, audio.FormatPCM)
	if err == nil {
		err = w.WritePCM(samples)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// client is a browser: a cookie jar that does not follow redirects.
type client struct {
	t *testing.T
	e *env
	c *http.Client
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: e.t, e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	status   int
	body     string
	location string
	header   http.Header
}

func (c *client) do(req *http.Request) answer {
	c.t.Helper()
	res, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, body: string(b), location: res.Header.Get("Location"), header: res.Header}
}

func (c *client) get(path string) answer {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.e.srv.URL+path, nil)
	return c.do(req)
}

func (c *client) post(path string, form url.Values) answer {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// login logs in as user ("" the installer) with password (empty: the
// derived one) and fails the test unless it succeeds.
func (c *client) login(user string) {
	c.t.Helper()
	a := c.post("/portal/login", url.Values{"email": {emails[user]}, "password": {derived[user]}})
	if a.status != http.StatusSeeOther {
		c.t.Fatalf("login as %q: %d %s", user, a.status, a.body)
	}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the token of the forms on path.
func (c *client) csrf(path string) string {
	c.t.Helper()
	a := c.get(path)
	m := csrfRE.FindStringSubmatch(a.body)
	if m == nil {
		c.t.Fatalf("no CSRF token on %s (%d)", path, a.status)
	}
	return m[1]
}

// ir0DoorEvent is the front gate opened by mary's app.
func ir0DoorEvent() events.Event {
	return events.Event{Kind: events.DoorOpened, Device: "front-gate", Relay: "door", Account: "app.mary", Call: "c1"}
}

// publish publishes ev on the site's bus and waits until the portal's
// history has read it.
func (e *env) publish(t *testing.T, ev events.Event) {
	t.Helper()
	changed := e.p.history.Changed()
	e.bus.Publish(ev)
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("the portal did not read the event")
	}
}
