package apply_test

import (
	"context"
	"errors"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/apply"
	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/compiler/plan"
	"switchboard/compiler/provision"
	"switchboard/compiler/provision/akuvox"
	"switchboard/compiler/state"
	"switchboard/email"
	"switchboard/email/emailtest"
	"switchboard/simulate/emulator"
)

func testKey(t testing.TB) credentials.Key {
	t.Helper()
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(i)
	}
	k, err := credentials.KeyFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// site is one compiled site with its state on disk.
type site struct {
	p     *ir.Program
	k     credentials.Key
	b     *provision.Bundle
	d     *plan.Desired
	store *state.Store
	out   string
}

func newSite(t *testing.T, p *ir.Program, invites map[string]string) *site {
	t.Helper()
	k := testKey(t)
	b, diags := provision.Render(p, credentials.NewSource(k, p))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	dir := t.TempDir()
	return &site{
		p: p, k: k, b: b,
		d:     plan.NewDesired(plan.Input{Program: p, Bundle: b, Key: k, Invites: invites}),
		store: state.NewStore(filepath.Join(dir, "state.json")),
		out:   filepath.Join(dir, "build"),
	}
}

func (s *site) plan(t *testing.T) (*plan.Plan, *state.State) {
	t.Helper()
	st, _, err := s.store.Read(s.p.Site.Name)
	if err != nil {
		t.Fatal(err)
	}
	return plan.Diff(s.d, st), st
}

func (s *site) apply(t *testing.T, set func(*apply.Options)) *apply.Result {
	t.Helper()
	pl, st := s.plan(t)
	o := apply.Options{
		Plan: pl, Desired: s.d, Program: s.p, Bundle: s.b, Key: s.k, State: st, Store: s.store,
		Publish:       func() error { return s.b.WriteDir(filepath.Join(s.out, "provision")) },
		DeviceTimeout: 2 * time.Second,
	}
	if set != nil {
		set(&o)
	}
	res, err := apply.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func outcomes(res *apply.Result) map[string]string {
	out := map[string]string{}
	for _, s := range res.Steps {
		out[s.Address] = s.Outcome
	}
	return out
}

// fakeServe is serve's admin endpoints, recording calls.
type fakeServe struct {
	mu         sync.Mutex
	calls      []string
	failReload bool
	srv        *httptest.Server
	// phones are emulated phones that fetch their files when the server
	// is asked to send them check-sync, as real phones do on the NOTIFY.
	phones map[string]*emulator.Device
}

func startServe(t *testing.T) *fakeServe {
	f := &fakeServe{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.Method != http.MethodPost {
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+fakeServeToken {
			http.Error(w, "wrong admin token", http.StatusUnauthorized)
			return
		}
		f.calls = append(f.calls, r.URL.RequestURI())
		if r.URL.Path == "/admin/reload" && f.failReload {
			http.Error(w, "the site has errors", http.StatusUnprocessableEntity)
		}
		if phone := f.phones[r.URL.Query().Get("device")]; r.URL.Path == "/admin/check-sync" && phone != nil {
			// A phone that cannot fetch still got the NOTIFY: the
			// read-back is what finds out.
			phone.CheckSync(r.Context())
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// fakeServeToken is the fake serve's admin token.
const fakeServeToken = "fake-serve-admin-token-0123456789abcdef"

func (f *fakeServe) server(t *testing.T) apply.Server {
	s, err := apply.NewHTTPServer(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	s.Token = fakeServeToken
	return s
}

func (f *fakeServe) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func startEmulator(t *testing.T, mode emulator.Mode) *emulator.Device {
	t.Helper()
	d, err := emulator.Start(emulator.WithCredentials("admin", "device-secret"), emulator.WithMode(mode))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func target(d *emulator.Device) apply.Target {
	return apply.Target{URL: d.URL(), User: "admin", Password: "device-secret"}
}

// fileKeys is the AutoP settings of a device's bundle file.
func (s *site) fileKeys(t *testing.T, device string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range s.b.DeviceFiles(device) {
		kvs, err := akuvox.Parse(f.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range kvs {
			out[kv.Key] = kv.Value
		}
	}
	return out
}

// TestVerdicts pushes three Akuvox devices in different emulator modes and
// a fourth that is unreachable; the other vendors get check-sync.
func TestVerdicts(t *testing.T) {
	t.Parallel()
	s := newSite(t, irtest.HarbourView(), nil)
	gate := startEmulator(t, emulator.Normal)
	lobby := startEmulator(t, emulator.DropWrites)
	monitor := startEmulator(t, emulator.UnsupportedFirmware)
	serve := startServe(t)
	targets := map[string]apply.Target{"front-gate": target(gate), "lobby": target(lobby), "monitor-1a": target(monitor)}

	res := s.apply(t, func(o *apply.Options) { o.Targets = targets; o.Server = serve.server(t) })
	got := outcomes(res)
	for dev, want := range map[string]string{
		"front-gate": "set and verified",
		"lobby":      "did not stick",
		"monitor-1a": "unsupported firmware",
		"side-gate":  "check-sync sent",
		"desk-101":   "check-sync sent",
	} {
		if got["device."+dev] != want {
			t.Errorf("%s: %q, want %q", dev, got["device."+dev], want)
		}
	}
	if res.Complete() {
		t.Error("an apply with failed devices says it is complete")
	}
	if res.Reload != "reloaded" {
		t.Errorf("reload: %s", res.Reload)
	}
	calls := serve.called()
	if calls[0] != "/admin/reload" || !slices.Contains(calls, "/admin/check-sync?device=side-gate") || slices.Contains(calls, "/admin/check-sync?device=front-gate") {
		t.Errorf("serve calls %v", calls)
	}
	// The device that took its settings has exactly the file's settings.
	keys := gate.Keys()
	for k, v := range s.fileKeys(t, "front-gate") {
		if keys[k] != v {
			t.Errorf("front-gate %s not set", k)
		}
	}
	// What did not succeed is what the next plan shows.
	pl, st := s.plan(t)
	var left []string
	for _, c := range pl.Changes {
		left = append(left, c.Address)
	}
	if d := cmp.Diff([]string{"device.lobby", "device.monitor-1a"}, left); d != "" {
		t.Errorf("left to do (-want +got):\n%s", d)
	}
	if o := st.Object("device.front-gate"); o == nil || o.Delivery == nil || o.Delivery.Method != "api" || o.Delivery.Firmware == "" || o.InProgress {
		t.Errorf("front-gate state %+v", o)
	}
	// A device that failed stays marked in progress.
	if o := st.Object("device.lobby"); o == nil || !o.InProgress || len(o.Attributes) != 0 {
		t.Errorf("lobby state %+v", o)
	}

	// The devices are fixed; the next apply finishes, and a third finds
	// every device already set.
	lobby.SetMode(emulator.Normal)
	monitor.SetMode(emulator.Normal)
	res = s.apply(t, func(o *apply.Options) { o.Targets = targets; o.Server = serve.server(t) })
	if !res.Complete() {
		t.Errorf("second apply incomplete: %v", outcomes(res))
	}
	if pl, _ := s.plan(t); pl.HasChanges() {
		t.Errorf("changes left: %v", pl.Summary)
	}
	before := gate.Stats().Sets
	st, _, _ = s.store.Read("")
	for _, dev := range []string{"front-gate", "lobby"} {
		st.Remove("device." + dev)
	}
	s.store.Write(st)
	res = s.apply(t, func(o *apply.Options) { o.Targets = targets; o.Server = serve.server(t) })
	if got := outcomes(res); got["device.front-gate"] != "already set" || got["device.lobby"] != "already set" {
		t.Errorf("re-push: %v", got)
	}
	if gate.Stats().Sets != before {
		t.Error("an already-set device was written")
	}

	// Unreachable: the connection closes unanswered.
	gate.SetMode(emulator.Unreachable)
	st, _, _ = s.store.Read("")
	st.Remove("device.front-gate")
	s.store.Write(st)
	res = s.apply(t, func(o *apply.Options) { o.Targets = targets; o.Server = serve.server(t) })
	if got := outcomes(res)["device.front-gate"]; got != "unreachable" {
		t.Errorf("unreachable device: %q", got)
	}
}

func TestWrongDevicePassword(t *testing.T) {
	t.Parallel()
	s := newSite(t, irtest.HarbourView(), nil)
	gate := startEmulator(t, emulator.Normal)
	tg := target(gate)
	tg.Password = "wrong"
	res := s.apply(t, func(o *apply.Options) { o.Targets = map[string]apply.Target{"front-gate": tg} })
	for _, st := range res.Steps {
		if st.Address == "device.front-gate" {
			if st.Outcome != "unreachable" || !strings.Contains(st.Detail, "refused the API login") {
				t.Errorf("wrong password: %s: %s", st.Outcome, st.Detail)
			}
		}
	}
}

// TestNoServerConfigured: without a server nothing tells a device to fetch
// its published files, so no device is reached: each says so, is not
// recorded as applied, and the apply is incomplete.
func TestNoServerConfigured(t *testing.T) {
	t.Parallel()
	s := newSite(t, irtest.HarbourView(), nil)
	res := s.apply(t, nil)
	if !strings.HasPrefix(res.Reload, "no server configured") {
		t.Errorf("reload: %s", res.Reload)
	}
	recorded, _, err := s.store.Read(s.d.Site)
	if err != nil {
		t.Fatal(err)
	}
	devices := 0
	for _, st := range res.Steps {
		if st.Kind != plan.KindDevice {
			if st.Reach != "" {
				t.Errorf("%s has a reach %q; only devices do", st.Address, st.Reach)
			}
			continue
		}
		devices++
		if st.Reach != apply.NotReached || st.Done || st.Outcome != "no server configured" {
			t.Errorf("%s: %s, %s, done %v", st.Address, st.Reach, st.Outcome, st.Done)
		}
		if o := recorded.Object(st.Address); o == nil || !o.InProgress {
			t.Errorf("%s is recorded as applied: %+v", st.Address, o)
		}
	}
	if devices == 0 {
		t.Fatal("no device steps")
	}
	if res.Complete() {
		t.Error("complete, though no device was reached")
	}
	for _, f := range s.b.Files {
		if _, err := os.Stat(filepath.Join(s.out, "provision", f.Path)); err != nil {
			t.Errorf("not published: %v", err)
		}
	}
}

func TestReloadFailureRecordsOnlyDevices(t *testing.T) {
	t.Parallel()
	s := newSite(t, irtest.HarbourView(), nil)
	serve := startServe(t)
	serve.failReload = true
	res := s.apply(t, func(o *apply.Options) { o.Server = serve.server(t) })
	if res.ReloadOK || !strings.Contains(res.Reload, "the site has errors") {
		t.Errorf("reload: %s", res.Reload)
	}
	for _, st := range res.Steps {
		if st.Kind == plan.KindUser && st.Done {
			t.Errorf("%s recorded although the server did not reload", st.Address)
		}
	}
	pl, _ := s.plan(t)
	for _, c := range pl.Changes {
		if c.Kind == plan.KindDevice {
			t.Errorf("device %s left to do", c.Address)
		}
	}
}

func TestInvitations(t *testing.T) {
	t.Parallel()
	p := irtest.HarbourView()
	invites := map[string]string{"mary": "mary.work@example.com", "john": p.User("john").Email}
	s := newSite(t, p, invites)
	mb := emailtest.Start(t)
	serve := startServe(t)
	installer := "support@dds.example"
	res := s.apply(t, func(o *apply.Options) {
		o.Server = serve.server(t)
		o.Mailer = &email.SMTPMailer{Addr: mb.Addr}
		o.From = "noreply@harbour-view.example.net"
		o.Installer, o.InstallerLogin = "Dublin Door Systems", installer
		o.App = "Linphone"
	})
	if !res.Complete() {
		t.Fatalf("incomplete: %+v", res.Steps)
	}
	mail := mb.Received()
	if len(mail) != 2 {
		t.Fatalf("%d mails", len(mail))
	}
	creds := credentials.List(s.p, s.k)
	password := func(name string) string {
		for _, c := range creds {
			if c.Name == name {
				return c.Password
			}
		}
		t.Fatalf("no credential %s", name)
		return ""
	}
	for _, m := range mail {
		body := decode(t, m.Data)
		if strings.Contains(strings.ToLower(m.Data+body), installer) {
			t.Errorf("mail to %v shows the installer's login", m.To)
		}
		switch m.To[0] {
		case "mary.work@example.com":
			for _, want := range []string{"Hello Mary,", "Linphone", "mary@example.com", password("portal.mary"), password("app.mary"), "Dublin Door Systems"} {
				if !strings.Contains(body, want) {
					t.Errorf("Mary's invitation lacks %q:\n%s", want, body)
				}
			}
			if strings.Contains(body, password("portal.john")) {
				t.Error("Mary's invitation holds John's password")
			}
		case p.User("john").Email:
		default:
			t.Errorf("mail to %v", m.To)
		}
	}
	// Nothing left: a re-apply sends nothing.
	if pl, _ := s.plan(t); pl.HasChanges() {
		t.Errorf("after apply: %v", pl.Summary)
	}
}

func TestInvitationWithoutMailServerStaysDue(t *testing.T) {
	t.Parallel()
	s := newSite(t, irtest.HarbourView(), map[string]string{"mary": "mary@example.com"})
	serve := startServe(t)
	res := s.apply(t, func(o *apply.Options) { o.Server = serve.server(t) })
	if res.Complete() {
		t.Error("complete without sending the invitation")
	}
	pl, _ := s.plan(t)
	if len(pl.Changes) != 1 || pl.Changes[0].Address != "user.mary" {
		t.Fatalf("left: %v", pl.Summary)
	}
	if d := cmp.Diff([]string{"Mary Byrne: invitation will be sent to mary@example.com"}, pl.Summary); d != "" {
		t.Errorf("summary (-want +got):\n%s", d)
	}
	mb := emailtest.Start(t)
	res = s.apply(t, func(o *apply.Options) { o.Server, o.Mailer = serve.server(t), &email.SMTPMailer{Addr: mb.Addr} })
	if !res.Complete() || len(mb.Received()) != 1 {
		t.Errorf("second apply: %+v, %d mails", res.Steps, len(mb.Received()))
	}
}

func TestComposeRefusesInstallerLogin(t *testing.T) {
	inv := apply.Invitation{To: "a@example.com", Name: "A B", SiteName: "S", PortalUser: "a@example.com", PortalPassword: "x"}
	if _, err := apply.Compose(inv, "support@dds.example", "Support@DDS.example", time.Now()); !errors.Is(err, apply.ErrInstallerLogin) {
		t.Errorf("sender = installer login: %v", err)
	}
	if _, err := apply.Compose(inv, "noreply@s.example", "support@dds.example", time.Now()); err != nil {
		t.Error(err)
	}
}

func TestParseTargets(t *testing.T) {
	got, err := apply.ParseTargets("# devices\ngate http://u:p@192.0.2.10/\n\nlobby https://192.0.2.11:8443\n", "admin", "dflt")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]apply.Target{
		"gate":  {URL: "http://192.0.2.10", User: "u", Password: "p"},
		"lobby": {URL: "https://192.0.2.11:8443", User: "admin", Password: "dflt"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	for _, bad := range []string{"gate", "gate ftp://x", "gate http://a\ngate http://b"} {
		if _, err := apply.ParseTargets(bad, "", ""); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := apply.ParseTargets("gate :://u:secret@x", "", ""); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("bad URL error shows the password: %v", err)
	}
}

// The state after an apply holds no password.
func TestStateHoldsNoSecret(t *testing.T) {
	t.Parallel()
	s := newSite(t, irtest.HarbourView(), map[string]string{"mary": "mary@example.com"})
	gate := startEmulator(t, emulator.Normal)
	mb := emailtest.Start(t)
	s.apply(t, func(o *apply.Options) {
		o.Targets = map[string]apply.Target{"front-gate": target(gate)}
		o.Mailer = &email.SMTPMailer{Addr: mb.Addr}
	})
	data, err := os.ReadFile(s.store.Path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := state.Parse(data); err != nil {
		t.Fatal(err)
	}
	for _, c := range credentials.List(s.p, s.k) {
		if strings.Contains(string(data), c.Password) {
			t.Errorf("the state holds the password of %s", c.Name)
		}
	}
	if strings.Contains(string(data), "device-secret") {
		t.Error("the state holds the device's API password")
	}
}

func decode(t *testing.T, data string) string {
	t.Helper()
	_, body, _ := strings.Cut(data, "\r\n\r\n")
	b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

// TestRefreshFindsDrift: a refresh reads applied Akuvox devices back and
// names each setting changed on the device since the apply; devices of
// vendors without read-back, and devices without an address, say so. A
// plan with the drift applies the device again, and it matches after.
func TestRefreshFindsDrift(t *testing.T) {
	t.Parallel()
	s := newSite(t, irtest.HarbourView(), nil)
	serve := startServe(t)
	gate, lobby := startEmulator(t, emulator.Normal), startEmulator(t, emulator.Normal)
	apis := map[string]apply.Target{"front-gate": target(gate), "lobby": target(lobby)}
	res := s.apply(t, func(o *apply.Options) { o.Server, o.Targets = serve.server(t), apis })
	if !res.Complete() {
		t.Fatalf("first apply: %+v", res.Steps)
	}
	keys := s.fileKeys(t, "front-gate")
	const relayKey = "Config.DoorSetting.DTMF.Code1"
	if keys[relayKey] == "" {
		t.Fatalf("the gate's file has no %s", relayKey)
	}
	gate.SetKey(relayKey, "9")

	_, st := s.plan(t)
	refresh := func() map[string]apply.Drift {
		out := map[string]apply.Drift{}
		for _, d := range apply.Refresh(context.Background(), apply.RefreshOptions{State: st, Targets: map[string]apply.Target{"front-gate": target(gate), "lobby": target(lobby)}, Timeout: 2 * time.Second}) {
			out[d.Name] = d
		}
		return out
	}
	got := refresh()
	if d := cmp.Diff([]apply.SettingDrift{{Key: relayKey, Applied: keys[relayKey], Device: "9"}}, got["front-gate"].Settings); d != "" || got["front-gate"].Status != apply.Drifted {
		t.Errorf("front-gate: %s (-want +got):\n%s", got["front-gate"].Status, d)
	}
	if got["lobby"].Status != apply.InSync {
		t.Errorf("lobby: %+v", got["lobby"])
	}
	if d := got["desk-101"]; d.Status != apply.NotRead || !strings.Contains(d.Detail, "-device desk-101=URL") {
		t.Errorf("desk-101: %+v", d)
	}
	if d := got["monitor-1a"]; d.Status != apply.NotRead || !strings.Contains(d.Detail, "-device monitor-1a=URL") {
		t.Errorf("monitor-1a: %+v", d)
	}
	for name, d := range got {
		for _, set := range d.Settings {
			if strings.HasSuffix(set.Key, "Pwd") || strings.HasSuffix(set.Key, "Password") {
				t.Errorf("%s: a secret setting is compared: %s", name, set.Key)
			}
		}
	}

	// The drifted gate is in the plan again; applying puts it back.
	pl := plan.WithDrift(plan.Diff(s.d, st), s.d, st, []string{"device.front-gate"})
	if len(pl.Changes) != 1 || !pl.Changes[0].Drifted || pl.Changes[0].Address != "device.front-gate" {
		t.Fatalf("plan with drift: %v", pl.Summary)
	}
	res, err := apply.Run(context.Background(), apply.Options{
		Plan: pl, Desired: s.d, Program: s.p, Bundle: s.b, Key: s.k, State: st, Store: s.store,
		Publish: func() error { return nil }, Server: serve.server(t), Targets: apis, DeviceTimeout: 2 * time.Second,
	})
	if err != nil || !res.Complete() || res.Steps[0].Reach != apply.Verified {
		t.Fatalf("re-apply: %v, %+v", err, res.Steps)
	}
	if d := refresh()["front-gate"]; d.Status != apply.InSync {
		t.Errorf("after the re-apply: %+v", d)
	}
}

// TestPhoneReadBack: Yealink and Grandstream phones with an address are
// told to fetch their files (check-sync), then read back through their web
// API: verified when they show the files' settings, "did not stick" when
// they keep old ones, and a refresh finds a setting changed on the phone.
func TestPhoneReadBack(t *testing.T) {
	t.Parallel()
	s := newSite(t, irtest.HarbourView(), nil)
	prov := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(s.out, "provision"))))
	t.Cleanup(prov.Close)
	phone := func(v emulator.Vendor, device string) *emulator.Device {
		d, err := emulator.Start(emulator.WithVendor(v), emulator.WithCredentials("admin", "device-secret"),
			emulator.WithMAC(s.p.Device(device).MAC), emulator.WithProvisioning(prov.URL+"/"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	yl, gs := phone(emulator.Yealink, "desk-101"), phone(emulator.Grandstream, "desk-103")
	serve := startServe(t)
	serve.phones = map[string]*emulator.Device{"desk-101": yl, "desk-103": gs}
	targets := map[string]apply.Target{"desk-101": target(yl), "desk-103": target(gs)}
	run := func() *apply.Result {
		return s.apply(t, func(o *apply.Options) {
			o.Server, o.Targets = serve.server(t), targets
			o.VerifyWait, o.VerifyPoll = 300*time.Millisecond, 20*time.Millisecond
		})
	}

	res := run()
	reach := map[string]apply.Reach{}
	for _, st := range res.Steps {
		reach[st.Name] = st.Reach
	}
	got := outcomes(res)
	for dev, want := range map[string]string{"desk-101": "set and verified", "desk-103": "set and verified", "desk-102": "check-sync sent"} {
		if got["device."+dev] != want {
			t.Errorf("%s: %q, want %q", dev, got["device."+dev], want)
		}
	}
	if reach["desk-101"] != apply.Verified || reach["desk-103"] != apply.Verified || reach["desk-102"] != apply.Unverified {
		t.Errorf("reach %v", reach)
	}
	if yl.Keys()["account.1.display_name"] != "Mary Byrne" || gs.Keys()["P3"] != "Aoife Kelly" {
		t.Errorf("the phones did not fetch their files: %v %v", yl.Keys()["account.1.display_name"], gs.Keys()["P3"])
	}

	// A refresh reads both back; a name changed at the phone is drift.
	_, st := s.plan(t)
	gs.SetKey("P3", "Someone Else")
	drift := map[string]apply.Drift{}
	for _, d := range apply.Refresh(context.Background(), apply.RefreshOptions{State: st, Targets: targets, Timeout: 2 * time.Second}) {
		drift[d.Name] = d
	}
	if d := drift["desk-101"]; d.Status != apply.InSync || !strings.Contains(d.Detail, "settings compared") {
		t.Errorf("desk-101: %+v", d)
	}
	if d := cmp.Diff([]apply.SettingDrift{{Key: "P3", Applied: "Aoife Kelly", Device: "Someone Else"}}, drift["desk-103"].Settings); d != "" {
		t.Errorf("desk-103 drift (-want +got):\n%s", d)
	}

	// Phones that keep their old settings: the read-back says so, and the
	// devices stay in the plan.
	yl.SetKey("account.1.display_name", "Old Name")
	yl.SetMode(emulator.DropWrites)
	gs.SetMode(emulator.DropWrites)
	st, _, _ = s.store.Read("")
	st.Remove("device.desk-101")
	st.Remove("device.desk-103")
	s.store.Write(st)
	res = run()
	got = outcomes(res)
	for _, dev := range []string{"desk-101", "desk-103"} {
		if got["device."+dev] != "did not stick" {
			t.Errorf("%s: %q, want did not stick", dev, got["device."+dev])
		}
	}
	for _, step := range res.Steps {
		if step.Name == "desk-101" && (step.Reach != apply.NotReached || !strings.Contains(step.Detail, "account.1.display_name")) {
			t.Errorf("desk-101 step %+v", step)
		}
	}
	pl, _ := s.plan(t)
	var left []string
	for _, c := range pl.Changes {
		left = append(left, c.Address)
	}
	if d := cmp.Diff([]string{"device.desk-101", "device.desk-103"}, left); d != "" {
		t.Errorf("left to do (-want +got):\n%s", d)
	}
}

// TestMonitorContacts: apply gives an Akuvox monitor its unlock code and
// makes its contact list the residents and the directory — removing one
// entered by hand — and a monitor that drops contact writes is "did not
// stick".
func TestMonitorContacts(t *testing.T) {
	t.Parallel()
	s := newSite(t, irtest.HarbourView(), nil)
	mon := startEmulator(t, emulator.Normal)
	mon.AddContact("Old Tenant", "199")
	serve := startServe(t)
	res := s.apply(t, func(o *apply.Options) {
		o.Server, o.Targets = serve.server(t), map[string]apply.Target{"monitor-1a": target(mon)}
	})
	if got := outcomes(res)["device.monitor-1a"]; got != "set and verified" {
		t.Fatalf("monitor: %q %+v", got, res.Steps)
	}
	d := s.p.Device("monitor-1a")
	if got := mon.Keys()[akuvox.UnlockKey]; got != d.UnlockDTMF || got == "" {
		t.Errorf("unlock code %q, want %q", got, d.UnlockDTMF)
	}
	var got, want []string
	for _, c := range mon.Contacts() {
		got = append(got, c.Name+" "+c.Phone)
	}
	for _, c := range d.Contacts {
		want = append(want, c.Name+" "+c.Number)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("contacts (-want +got):\n%s", diff)
	}

	// A refresh compares the list too: one entered by hand is drift.
	refresh := func() apply.Drift {
		_, st := s.plan(t)
		for _, d := range apply.Refresh(context.Background(), apply.RefreshOptions{State: st, Targets: map[string]apply.Target{"monitor-1a": target(mon)}, Timeout: 2 * time.Second}) {
			if d.Name == "monitor-1a" {
				return d
			}
		}
		t.Fatal("the monitor was not refreshed")
		return apply.Drift{}
	}
	if d := refresh(); d.Status != apply.InSync {
		t.Errorf("right after the apply: %+v", d)
	}
	// Entered again by hand on a monitor that now ignores writes.
	mon.AddContact("Old Tenant", "199")
	if d := refresh(); d.Status != apply.Drifted || !cmp.Equal(d.Settings, []apply.SettingDrift{{Key: "contact", Device: "Old Tenant <199>", Extra: true}}) {
		t.Errorf("a contact entered by hand: %+v", d)
	}
	mon.SetMode(emulator.DropWrites)
	st, _, _ := s.store.Read("")
	st.Remove("device.monitor-1a")
	s.store.Write(st)
	res = s.apply(t, func(o *apply.Options) {
		o.Server, o.Targets = serve.server(t), map[string]apply.Target{"monitor-1a": target(mon)}
	})
	for _, step := range res.Steps {
		if step.Name == "monitor-1a" && (step.Outcome != "did not stick" || !strings.Contains(step.Detail, "contacts")) {
			t.Errorf("monitor step %+v", step)
		}
	}
}
