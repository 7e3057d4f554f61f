package portal

import (
	"bytes"
	"crypto/tls"
	"html/template"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/runtime/events"
	"switchboard/runtime/registrar"
)

// TestLoginIndistinguishable: an unknown e-mail and a wrong password get
// the same status and the same page, and each costs exactly one
// password hash, as a right password does.
func TestLoginIndistinguishable(t *testing.T) {
	e := newEnv(t)
	try := func(email, password string) (answer, int64) {
		before := e.p.hashes.Load()
		a := e.client().post("/portal/login", url.Values{"email": {email}, "password": {password}})
		return a, e.p.hashes.Load() - before
	}
	unknown, unknownHashes := try("nobody@example.com", "JohnPortal23456789ab")
	wrong, wrongHashes := try("john@example.com", "NotJohnsPassword2345")
	right, rightHashes := try("john@example.com", derived["john"])
	// The address each sent is echoed back into the form; the rest must
	// be equal byte for byte.
	norm := func(s string) string {
		return strings.NewReplacer("nobody@example.com", "EMAIL", "john@example.com", "EMAIL").Replace(s)
	}
	if unknown.status != http.StatusUnauthorized || wrong.status != http.StatusUnauthorized {
		t.Errorf("statuses: unknown e-mail %d, wrong password %d; want 401 for both", unknown.status, wrong.status)
	}
	if d := cmp.Diff(norm(unknown.body), norm(wrong.body)); d != "" {
		t.Errorf("unknown e-mail and wrong password answer differently (-unknown +wrong):\n%s", d)
	}
	if right.status != http.StatusSeeOther {
		t.Errorf("right password: %d, want 303", right.status)
	}
	if d := cmp.Diff([]int64{1, 1, 1}, []int64{unknownHashes, wrongHashes, rightHashes}); d != "" {
		t.Errorf("hashes per login (unknown, wrong, right) (-want +got):\n%s", d)
	}

	// With a chosen password (a stored hash), the same: one hash each.
	c := e.client()
	c.login("mary")
	tok := c.csrf("/portal/u/mary/settings")
	a := c.post("/portal/u/mary/password", url.Values{"csrf": {tok}, "current": {derived["mary"]}, "new": {"a long new password"}, "new_again": {"a long new password"}})
	if a.status != http.StatusOK {
		t.Fatalf("changing the password: %d %s", a.status, a.body)
	}
	chosenWrong, n1 := try("mary@example.com", derived["mary"])
	chosenRight, n2 := try("mary@example.com", "a long new password")
	if chosenWrong.status != http.StatusUnauthorized || chosenRight.status != http.StatusSeeOther {
		t.Errorf("after the change: old password %d (want 401), new %d (want 303)", chosenWrong.status, chosenRight.status)
	}
	if d := cmp.Diff(norm(unknown.body), strings.ReplaceAll(chosenWrong.body, "mary@example.com", "EMAIL")); d != "" {
		t.Errorf("a wrong password against a chosen one answers differently (-unknown +wrong):\n%s", d)
	}
	if n1 != 1 || n2 != 1 {
		t.Errorf("hashes with a chosen password: wrong %d, right %d; want 1 each", n1, n2)
	}
	// The chosen password is stored only as a hash.
	data, err := os.ReadFile(filepath.Join(e.dir, "portal", "passwords.json"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("a long new password")) || !bytes.Contains(data, []byte(`"argon2id"`)) {
		t.Errorf("passwords.json holds the password, or no argon2id hash:\n%s", data)
	}
}

// TestLoginThrottle: after the per-user limit of failures, even the right
// password is refused with 429 for the window; another e-mail from the
// same address still logs in.
func TestLoginThrottle(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	for i := range loginLimits.PerUser {
		if a := c.post("/portal/login", url.Values{"email": {"john@example.com"}, "password": {"wrong password " + string(rune('a'+i))}}); a.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, a.status)
		}
	}
	a := c.post("/portal/login", url.Values{"email": {"john@example.com"}, "password": {derived["john"]}})
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Errorf("right password after %d failures: %d (Retry-After %q), want 429 with Retry-After", loginLimits.PerUser, a.status, a.header.Get("Retry-After"))
	}
	e.client().login("mary")
	e.clk.Advance(loginLimits.Window)
	e.client().login("john")
}

// TestSessionCookie: HttpOnly, SameSite=Strict, path /portal/, Secure
// under HTTPS; logout ends the session.
func TestSessionCookie(t *testing.T) {
	e := newEnv(t)
	tlsSrv := httptest.NewTLSServer(e.p)
	defer tlsSrv.Close()
	for _, srv := range []*httptest.Server{e.srv, tlsSrv} {
		cl := srv.Client()
		cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		res, err := cl.PostForm(srv.URL+"/portal/login", url.Values{"email": {"john@example.com"}, "password": {derived["john"]}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		cookies := res.Cookies()
		if len(cookies) != 1 {
			t.Fatalf("%d cookies", len(cookies))
		}
		ck := cookies[0]
		secure := srv.TLS != nil
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/portal/" || ck.Secure != secure || len(ck.Value) < 40 {
			t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/portal/, Secure=%v, a long random value", ck, secure)
		}
	}
	_ = tls.VersionTLS12

	c := e.client()
	c.login("john")
	tok := c.csrf("/portal/u/john/")
	if a := c.post("/portal/logout", url.Values{"csrf": {tok}}); a.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", a.status)
	}
	if a := c.get("/portal/u/john/"); a.status != http.StatusSeeOther || a.location != "/portal/login" {
		t.Errorf("after logout: %d to %q, want 303 to the login", a.status, a.location)
	}
}

// TestSessionIdle: a session unused for SessionIdle ends; one in use
// lives on until SessionMax.
func TestSessionIdle(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.login("john")
	e.clk.Advance(SessionIdle - 1)
	if a := c.get("/portal/u/john/"); a.status != http.StatusOK {
		t.Fatalf("within the idle time: %d", a.status)
	}
	e.clk.Advance(SessionIdle)
	if a := c.get("/portal/u/john/"); a.status != http.StatusSeeOther {
		t.Errorf("after the idle time: %d, want 303 to the login", a.status)
	}
	c.login("john")
	started := e.clk.Now()
	for e.clk.Now().Before(started.Add(SessionMax)) {
		e.clk.Advance(SessionIdle / 2)
		c.get("/portal/u/john/")
	}
	if a := c.get("/portal/u/john/"); a.status != http.StatusSeeOther {
		t.Errorf("after SessionMax: %d, want 303 to the login", a.status)
	}
}

// TestSessionsBounded: the table never holds more than MaxSessions; the
// least recently used goes.
func TestSessionsBounded(t *testing.T) {
	e := newEnv(t)
	ss := e.p.sessions
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/portal/", nil)
	first := ss.start(w, r, "john", "john", "john@example.com")
	for range MaxSessions {
		ss.start(httptest.NewRecorder(), r, "mary", "mary", "mary@example.com")
	}
	if n := ss.count(); n != MaxSessions {
		t.Errorf("%d sessions, want %d", n, MaxSessions)
	}
	req := httptest.NewRequest("GET", "/portal/", nil)
	req.AddCookie(w.Result().Cookies()[0])
	if ss.get(req) != nil || first == nil {
		t.Error("the least recently used session survived")
	}
}

// TestCSRF: a state-changing POST without the session's token, with
// another session's, or from another origin is refused and changes
// nothing.
func TestCSRF(t *testing.T) {
	e := newEnv(t)
	mary := e.client()
	mary.login("mary")
	john := e.client()
	john.login("john")
	johnTok := john.csrf("/portal/u/john/")
	cases := []struct {
		name   string
		form   url.Values
		header map[string]string
	}{
		{"no token", url.Values{}, nil},
		{"empty token", url.Values{"csrf": {""}}, nil},
		{"another session's token", url.Values{"csrf": {johnTok}}, nil},
		{"cross-site", url.Values{"csrf": {mary.csrf("/portal/u/mary/")}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.srv.URL+"/portal/u/mary/voicemail/1/delete", strings.NewReader(tc.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			if a := mary.do(req); a.status != http.StatusForbidden {
				t.Errorf("%d, want 403", a.status)
			}
		})
	}
	if msgs, _ := e.vm.Messages("mary"); len(msgs) != 1 {
		t.Errorf("mary has %d messages after refused deletes, want 1", len(msgs))
	}
	// A login posted from another site (login CSRF) is refused before
	// any password is checked.
	before := e.p.hashes.Load()
	req, _ := http.NewRequest("POST", e.srv.URL+"/portal/login", strings.NewReader(url.Values{"email": {"john@example.com"}, "password": {derived["john"]}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if a := e.client().do(req); a.status != http.StatusForbidden || e.p.hashes.Load() != before {
		t.Errorf("a cross-origin login: %d after %d hashes, want 403 after none", a.status, e.p.hashes.Load()-before)
	}
	// The same form with her own token works.
	if a := mary.post("/portal/u/mary/voicemail/1/delete", url.Values{"csrf": {mary.csrf("/portal/u/mary/voicemail")}}); a.status != http.StatusSeeOther {
		t.Errorf("with the token: %d, want 303", a.status)
	}
	if msgs, _ := e.vm.Messages("mary"); len(msgs) != 0 {
		t.Errorf("mary has %d messages after her delete, want 0", len(msgs))
	}
}

// TestEveryPage tries every page and action with every role and with no
// session. A person's pages are theirs alone: john (a user), aoife (an
// admin), mary (the owner) and the installer are all refused mary's.
func TestEveryPage(t *testing.T) {
	e := newEnv(t)
	e.bus.Publish(ir0DoorEvent())
	type visitor struct {
		name string
		user string // "" installer; "-" nobody
	}
	visitors := []visitor{{"nobody", "-"}, {"installer", ""}, {"john", "john"}, {"aoife", "aoife"}, {"mary", "mary"}}
	gets := []string{"/", "voicemail", "voicemail/1.wav", "settings", "doors", "devices", "calls", "requests"}
	posts := []string{"voicemail/1/heard", "pin", "password", "greeting", "voicemail/1/delete", "requests"}
	for _, v := range visitors {
		c := e.client()
		tok := ""
		if v.user != "-" {
			c.login(v.user)
			home := "/portal/installer"
			if v.user != "" {
				home = "/portal/u/" + v.user + "/"
			}
			tok = c.csrf(home)
		}
		for _, g := range gets {
			path := "/portal/u/mary/" + strings.TrimPrefix(g, "/")
			a := c.get(path)
			var want int
			switch v.user {
			case "-":
				want = http.StatusSeeOther
			case "mary":
				want = http.StatusOK
			default:
				want = http.StatusForbidden
			}
			if a.status != want {
				t.Errorf("%s GET %s: %d, want %d", v.name, path, a.status, want)
			}
		}
		for _, pth := range posts {
			path := "/portal/u/mary/" + pth
			if v.user == "mary" {
				continue // mary's own actions are tried in their tests
			}
			a := c.post(path, url.Values{"csrf": {tok}, "pin": {"4711"}, "pin_again": {"4711"}})
			want := http.StatusForbidden
			if v.user == "-" {
				want = http.StatusUnauthorized
			}
			if a.status != want {
				t.Errorf("%s POST %s: %d, want %d", v.name, path, a.status, want)
			}
		}
		// Their own pages.
		if v.user != "-" && v.user != "" {
			for _, g := range gets {
				path := "/portal/u/" + v.user + "/" + strings.TrimPrefix(g, "/")
				want := http.StatusOK
				if strings.HasPrefix(g, "voicemail") && e.prog.User(v.user).Mailbox == "" {
					want = http.StatusNotFound // aoife has no box
				}
				if a := c.get(path); a.status != want {
					t.Errorf("%s GET own %s: %d, want %d", v.name, path, a.status, want)
				}
			}
		}
		a := c.get("/portal/installer")
		want := map[string]int{"-": http.StatusSeeOther, "": http.StatusOK}[v.user]
		if v.user == "mary" || v.user == "aoife" {
			want = http.StatusOK // see the whole site: the owner and admins hold it
		}
		if v.user == "john" {
			want = http.StatusForbidden
		}
		if a.status != want {
			t.Errorf("%s GET /portal/installer: %d, want %d", v.name, a.status, want)
		}
	}
	if msgs, _ := e.vm.Messages("mary"); len(msgs) != 1 || msgs[0].Folder != "new" {
		t.Errorf("mary's box after everyone else tried: %+v", msgs)
	}
}

// TestDecide is the access decision as a table.
func TestDecide(t *testing.T) {
	cases := []struct {
		role        ir.Role
		user, owner string
		right       ir.Right
		want        decision
	}{
		{ir.RoleUser, "john", "john", ir.RightOwnSettings, allow},
		{ir.RoleUser, "john", "mary", ir.RightOwnSettings, forbidden},
		{ir.RoleOwner, "mary", "john", ir.RightOwnSettings, forbidden},
		{ir.RoleAdmin, "aoife", "john", ir.RightAnswer, forbidden},
		{ir.RoleInstaller, "", "mary", ir.RightOwnSettings, forbidden},
		{ir.RoleInstaller, "", "", ir.RightSeeSite, allow},
		{ir.RoleInstaller, "", "", ir.RightAnswer, forbidden},
		{ir.RoleUser, "john", "", ir.RightSeeSite, forbidden},
		{ir.RoleAdmin, "aoife", "", ir.RightSeeSite, allow},
		{"", "john", "john", ir.RightAnswer, forbidden},
	}
	for _, tc := range cases {
		if got := decide(tc.role, tc.user, tc.owner, tc.right); got != tc.want {
			t.Errorf("decide(%s, %q, %q, %s) = %v, want %v", tc.role, tc.user, tc.owner, tc.right, got, tc.want)
		}
	}
}

// TestVoicemailActions: play (audio/wav, PCM, ranges), download, mark
// heard and delete, each telling the box's watchers at once (the
// message-waiting lights).
func TestVoicemailActions(t *testing.T) {
	e := newEnv(t)
	changed := make(chan string, 4)
	stop := e.vm.Watch(func(box string) { changed <- box })
	defer stop()
	c := e.client()
	c.login("mary")
	a := c.get("/portal/u/mary/voicemail/1.wav")
	if a.status != http.StatusOK || a.header.Get("Content-Type") != "audio/wav" || !strings.HasPrefix(a.body, "RIFF") {
		t.Fatalf("audio: %d %q", a.status, a.header.Get("Content-Type"))
	}
	if len(a.body) != 44+2*8000 && len(a.body) != 46+2*8000 {
		t.Errorf("audio of %d bytes, want a second of PCM16", len(a.body))
	}
	if d := c.get("/portal/u/mary/voicemail/1.wav?download=1"); !strings.HasPrefix(d.header.Get("Content-Disposition"), "attachment") {
		t.Errorf("download: Content-Disposition %q", d.header.Get("Content-Disposition"))
	}
	if nf := c.get("/portal/u/mary/voicemail/9.wav"); nf.status != http.StatusNotFound {
		t.Errorf("a message that does not exist: %d", nf.status)
	}
	tok := c.csrf("/portal/u/mary/voicemail")
	if a := c.post("/portal/u/mary/voicemail/1/heard", url.Values{"csrf": {tok}}); a.status != http.StatusSeeOther {
		t.Fatalf("mark heard: %d", a.status)
	}
	waitChanged(t, changed, "mary")
	if msgs, _ := e.vm.Messages("mary"); msgs[0].Folder != "saved" {
		t.Errorf("folder %q after mark heard", msgs[0].Folder)
	}
	if a := c.post("/portal/u/mary/voicemail/1/delete", url.Values{"csrf": {tok}}); a.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", a.status)
	}
	waitChanged(t, changed, "mary")
	if a := c.post("/portal/u/mary/voicemail/1/delete", url.Values{"csrf": {tok}}); a.status != http.StatusNotFound {
		t.Errorf("deleting it again: %d, want 404", a.status)
	}
}

// TestGreetingUpload: a valid WAV becomes the greeting; a file that is no
// WAV, too short or too large is refused with the reason.
func TestGreetingUpload(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.login("mary")
	tok := c.csrf("/portal/u/mary/voicemail")
	upload := func(data []byte) answer {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("csrf", tok)
		fw, _ := mw.CreateFormFile("greeting", "greeting.wav")
		fw.Write(data)
		mw.Close()
		req, _ := http.NewRequest("POST", e.srv.URL+"/portal/u/mary/greeting", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		return c.do(req)
	}
	cases := []struct {
		name string
		data []byte
		want int
	}{
		{"not a WAV", []byte("hello, this is not audio"), http.StatusUnprocessableEntity},
		{"too short", pcmWAV(t, tone(100)), http.StatusUnprocessableEntity},
		{"too large", make([]byte, maxUpload+1), http.StatusRequestEntityTooLarge},
		{"good", pcmWAV(t, tone(3*8000)), http.StatusOK},
	}
	for _, tc := range cases {
		if a := upload(tc.data); a.status != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, a.status, tc.want)
		}
	}
	if _, ok, err := e.vm.GreetingPCM("mary"); !ok || err != nil {
		t.Errorf("no greeting after the upload: %v", err)
	}
	if a := c.get("/portal/u/mary/greeting.wav"); a.status != http.StatusOK || a.header.Get("Content-Type") != "audio/wav" {
		t.Errorf("greeting audio: %d %q", a.status, a.header.Get("Content-Type"))
	}
}

// TestGreetingRecorder: the voicemail page carries the recorder hidden
// (greeting.js shows it where there is a microphone) with the service's
// greeting limit, beside the upload form the recording is saved through;
// the policy lets the recorder play back what it recorded (blob:) and
// nothing else new.
func TestGreetingRecorder(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.login("mary")
	a := c.get("/portal/u/mary/voicemail")
	for _, want := range []string{
		`<div id="recorder" class="recorder" data-max-seconds="60" hidden>`,
		`<form method="post" action="/portal/u/mary/greeting" enctype="multipart/form-data" id="greeting-form">`,
		`<script src="/portal/static/greeting.js"></script>`,
	} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the voicemail page lacks %s", want)
		}
	}
	if csp := a.header.Get("Content-Security-Policy"); !strings.Contains(csp, "media-src 'self' blob:;") || !strings.Contains(csp, "script-src 'self';") {
		t.Errorf("policy: %s", csp)
	}
	if js := c.get("/portal/static/greeting.js"); js.status != http.StatusOK || !strings.Contains(js.body, "createScriptProcessor") {
		t.Errorf("greeting.js: %d", js.status)
	}
}

// TestChangePIN follows the voicemail service's rule: 4 to 6 digits,
// typed twice; the PIN is stored hashed.
func TestChangePIN(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.login("john")
	tok := c.csrf("/portal/u/john/settings")
	cases := []struct {
		pin, again string
		want       int
	}{
		{"12", "12", http.StatusUnprocessableEntity},
		{"1234567", "1234567", http.StatusUnprocessableEntity},
		{"12a4", "12a4", http.StatusUnprocessableEntity},
		{"4711", "4712", http.StatusUnprocessableEntity},
		{"4711", "4711", http.StatusOK},
	}
	for _, tc := range cases {
		if a := c.post("/portal/u/john/pin", url.Values{"csrf": {tok}, "pin": {tc.pin}, "pin_again": {tc.again}}); a.status != tc.want {
			t.Errorf("PIN %q/%q: %d, want %d", tc.pin, tc.again, a.status, tc.want)
		}
	}
	data, err := os.ReadFile(filepath.Join(e.dir, "voicemail", "john", "pin.json"))
	if err != nil || bytes.Contains(data, []byte("4711")) {
		t.Errorf("pin.json: %v %s", err, data)
	}
}

// TestLimits: an oversized form and too many fields are refused.
func TestLimits(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	if a := c.post("/portal/login", url.Values{"email": {strings.Repeat("a", maxForm)}}); a.status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized login form: %d, want 413", a.status)
	}
	many := url.Values{}
	for i := range 20 {
		many.Set("f"+string(rune('a'+i)), "x")
	}
	if a := c.post("/portal/login", many); a.status != http.StatusBadRequest {
		t.Errorf("20 fields: %d, want 400", a.status)
	}
}

// waitChanged waits for the box's watchers to be told of box.
func waitChanged(t *testing.T, changed <-chan string, box string) {
	t.Helper()
	select {
	case got := <-changed:
		if got != box {
			t.Errorf("watchers told of %q, want %q", got, box)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the watchers were not told of %s's change (the message-waiting lights would not follow)", box)
	}
}

// TestDoorsCallsDevices: a person sees the doors that ring them open (not
// others'), the calls that involved them, and their devices with since
// when and which app or phone.
func TestDoorsCallsDevices(t *testing.T) {
	e := newEnv(t)
	e.publish(t, events.Event{Kind: events.DoorOpened, Device: "front-gate", Relay: "door", Account: "app.mary", Call: "c1"})
	e.publish(t, events.Event{Kind: events.DoorOpened, Device: "side-gate", Relay: "bins", Account: "app.aoife", Call: "c2"})
	e.publish(t, events.Event{Kind: events.CallStarted, Call: "c3", From: "device.lobby", To: "1B", Target: "residence.apt-1b"})
	e.publish(t, events.Event{Kind: events.LegAnswered, Call: "c3", Leg: "app.aoife"})
	e.publish(t, events.Event{Kind: events.CallEnded, Call: "c3", Cause: "callee hung up"})
	e.publish(t, events.Event{Kind: events.CallStarted, Call: "c4", From: "app.mary", To: "103", Target: "user.aoife"})
	e.binds["app.mary"] = []registrar.Binding{{Account: "app.mary", Transport: "TLS", Source: "198.51.100.7:5061", UserAgent: "SmartPlus/6.1 (iPhone)", Since: epoch.Add(-time.Hour)}}

	mary, aoife := e.client(), e.client()
	mary.login("mary")
	aoife.login("aoife")
	cases := []struct {
		c             *client
		path          string
		want, wantNot []string
	}{
		{mary, "/portal/u/mary/doors", []string{"Front gate", "Mary Byrne (app)"}, []string{"bins", "Aoife"}},
		{aoife, "/portal/u/aoife/doors", []string{"bins", "Aoife Kelly (app)"}, []string{"Mary Byrne"}},
		{aoife, "/portal/u/aoife/calls", []string{"From Lobby", "Aoife Kelly (app)", "callee hung up", "From Mary Byrne (app)", "in progress"}, nil},
		{mary, "/portal/u/mary/calls", []string{"To 103", "in progress"}, []string{"Lobby"}},
		{mary, "/portal/u/mary/devices", []string{"online", "SmartPlus/6.1 (iPhone)", "1 Mar 2026 08:00 UTC", "TLS from 198.51.100.7:5061", "offline", "yealink-t54w"}, nil},
	}
	for _, tc := range cases {
		a := tc.c.get(tc.path)
		if a.status != http.StatusOK {
			t.Errorf("%s: %d", tc.path, a.status)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(a.body, template.HTMLEscapeString(w)) {
				t.Errorf("%s does not say %q", tc.path, w)
			}
		}
		for _, w := range tc.wantNot {
			if strings.Contains(a.body, w) {
				t.Errorf("%s says %q, which is not theirs", tc.path, w)
			}
		}
	}
}

// TestChangePassword: the current password is checked, the new one must
// be long enough and typed twice, and a change ends the person's other
// sessions but not this one.
func TestChangePassword(t *testing.T) {
	e := newEnv(t)
	other := e.client()
	other.login("john")
	c := e.client()
	c.login("john")
	tok := c.csrf("/portal/u/john/settings")
	change := func(cur, next, again string) int {
		return c.post("/portal/u/john/password", url.Values{"csrf": {tok}, "current": {cur}, "new": {next}, "new_again": {again}}).status
	}
	cases := []struct {
		name             string
		cur, next, again string
		want             int
	}{
		{"wrong current", "not my password at all", "a good new password", "a good new password", http.StatusUnprocessableEntity},
		{"too short", derived["john"], "short", "short", http.StatusUnprocessableEntity},
		{"differ", derived["john"], "a good new password", "a good new passw0rd", http.StatusUnprocessableEntity},
		{"good", derived["john"], "a good new password", "a good new password", http.StatusOK},
	}
	for _, tc := range cases {
		if got := change(tc.cur, tc.next, tc.again); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	if a := c.get("/portal/u/john/"); a.status != http.StatusOK {
		t.Errorf("this session after the change: %d, want 200", a.status)
	}
	if a := other.get("/portal/u/john/"); a.status != http.StatusSeeOther {
		t.Errorf("the other session after the change: %d, want 303 to the login", a.status)
	}
}
