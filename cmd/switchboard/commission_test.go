package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"switchboard/runtime/events"
	"switchboard/runtime/site"
	"switchboard/simulate/device"
)

// live is a running `serve` of examples/family-home for the commission
// tests, with the installer's own copy of the site files beside it.
type live struct {
	t                  *testing.T
	ctx                context.Context
	bin                string
	served, files      string // what the server runs; the installer's files
	env                []string
	s                  *served
	sipAddr, adminAddr string
	token, tokenFile   string
	creds              map[string]string
	devices            map[string]*device.Device
	ended              int
	after              uint64
}

func startLive(t *testing.T) *live {
	t.Helper()
	l := &live{t: t, bin: buildSwitchboard(t), served: copyExample(t, "family-home"), files: copyExample(t, "family-home"),
		env: append(os.Environ(), "SWITCHBOARD_SITE_KEY="+testSiteKey, "NO_COLOR=1", "TZ=UTC"), devices: map[string]*device.Device{}}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	l.ctx = ctx
	l.creds = l.passwords()
	l.s = startServe(t, exec.CommandContext(ctx, l.bin, "serve", "-listen", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", "127.0.0.1:0", l.served), l.env)
	ready := l.s.waitLine("ready line", regexp.MustCompile(`^switchboard serve: ready: site "[^"]+", sip udp (127\.0\.0\.1:\d+), http 127\.0\.0\.1:\d+, admin http (127\.0\.0\.1:\d+), media 127\.0\.0\.1$`))
	l.sipAddr, l.adminAddr = ready[1], ready[2]
	l.tokenFile = filepath.Join(l.served, ".switchboard", "admin-token")
	tokenData, err := os.ReadFile(l.tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	l.token = strings.TrimSpace(string(tokenData))
	return l
}

// run runs the switchboard binary and returns its stdout and exit status.
func (l *live) run(args ...string) (string, int) {
	l.t.Helper()
	cmd := exec.CommandContext(l.ctx, l.bin, args...)
	cmd.Env = l.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		l.t.Fatalf("%v: %v", args, err)
	}
	if stderr.Len() > 0 {
		l.t.Logf("%s stderr:\n%s", args[0], stderr.String())
	}
	return string(out), code
}

// passwords are the served site's SIP passwords, by account.
func (l *live) passwords() map[string]string {
	l.t.Helper()
	out, code := l.run("credentials", "-json", l.served)
	if code != 0 {
		l.t.Fatalf("credentials -json: exit %d", code)
	}
	var list []struct{ Name, Password string }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		l.t.Fatal(err)
	}
	m := map[string]string{}
	for _, c := range list {
		m[c.Name] = c.Password
	}
	return m
}

// waitCalls waits, on the admin endpoints' event journal, until n calls
// have ended: the server has told all there is to tell of them.
func (l *live) waitCalls(n int) {
	l.t.Helper()
	for l.ended < n {
		req, _ := http.NewRequestWithContext(l.ctx, "GET", fmt.Sprintf("http://%s/admin/events?after=%d&wait=10", l.adminAddr, l.after), nil)
		req.Header.Set("Authorization", "Bearer "+l.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			l.t.Fatal(err)
		}
		var page site.EventPage
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if err != nil || len(page.Events) == 0 {
			l.t.Fatalf("events: %v, %d events (%d of %d calls ended)", err, len(page.Events), l.ended, n)
		}
		for _, e := range page.Events {
			l.after = e.ID
			if e.Kind == events.CallEnded {
				l.ended++
			}
		}
	}
}

// register registers a simulated device for account.
func (l *live) register(account string) *device.Device {
	l.t.Helper()
	d, err := device.New(device.Config{Account: account, Password: l.creds[account], Domain: "whitfield-home.example.net", Server: l.sipAddr})
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { d.Close() })
	rctx, cancel := context.WithTimeout(l.ctx, serveTimeout)
	defer cancel()
	if status, err := d.Register(rctx, time.Hour); err != nil || status != 200 {
		l.t.Fatalf("register %s: %d %v", account, status, err)
	}
	l.devices[account] = d
	return d
}

// code is what the gate's button dials, as the served build says.
func (l *live) code() string {
	l.t.Helper()
	var plan struct {
		Entries []struct{ Device, Code string }
	}
	readJSON(l.t, filepath.Join(l.served, ".switchboard", "build", "dialplan.json"), &plan)
	for _, e := range plan.Entries {
		if e.Device == "gate" {
			return e.Code
		}
	}
	l.t.Fatal("the gate has no entry")
	return ""
}

// commissionDocument is what the tests read of commission -json.
type commissionDocument struct {
	Passed, Failed, Open int
	Cases                []struct {
		Name, Status, Detail string
		Evidence             []uint64
		Ladder               []string
	}
}

// commission runs commission -once -json on the installer's files.
func (l *live) commission(wantExit int, args ...string) commissionDocument {
	l.t.Helper()
	out, code := l.run(append(append([]string{"commission", "-once", "-json", "-admin", l.adminAddr, "-token-file", l.tokenFile}, args...), l.files)...)
	var d commissionDocument
	if err := json.Unmarshal([]byte(out), &d); err != nil || code != wantExit {
		l.t.Fatalf("commission: exit %d (want %d), %v:\n%s", code, wantExit, err, out)
	}
	return d
}

// find returns the status, detail and evidence of the case matching re.
func (l *live) find(d commissionDocument, re string) (string, string, []uint64) {
	l.t.Helper()
	for _, k := range d.Cases {
		if regexp.MustCompile(re).MatchString(k.Name) {
			return k.Status, k.Detail, k.Evidence
		}
	}
	l.t.Fatalf("no case matches %s", re)
	return "", "", nil
}

// TestCommissionLive walks a live site the way an installer does, against
// the real binary: `serve` runs examples/family-home; simulated devices
// register — the gate and the four apps, while the hall monitor stays
// switched off — and the gate's button is pressed: Sarah answers and keys
// the gate's code. `status` shows who is registered and who is not;
// `commission -once` ticks Sarah's case, and leaves the monitor's open
// because it is not registered, and the ring case open because nobody let
// the gate ring out. Then the server is reloaded with site files that
// differ from the installer's (the gate's button reaches a new residence
// that took the "Whitfield" label): the next press rings Grace, and the
// resumed run fails the cases of the button, saying who rang and who was
// expected. The handover sheet shows the results.
func TestCommissionLive(t *testing.T) {
	t.Parallel()
	l := startLive(t)
	ctx, devices, served, files := l.ctx, l.devices, l.served, l.files
	adminAddr, tokenFile, token, s := l.adminAddr, l.tokenFile, l.token, l.s
	run, register, waitCalls, code, commission, find := l.run, l.register, l.waitCalls, l.code, l.commission, l.find
	gate := register("device.gate")
	for _, a := range []string{"app.sarah", "app.david", "app.chloe", "app.jack"} {
		register(a)
	}
	// press: a visitor presses the gate's button; who answers keys the
	// gate's code; the gate hears it (the door opened) and hangs up.
	press := func(answerer string) {
		t.Helper()
		d := devices[answerer]
		d.SetAnswer(device.Pickup, 0)
		defer d.SetAnswer(device.Ring, 0)
		cctx, cancel := context.WithTimeout(ctx, serveTimeout)
		defer cancel()
		call, err := gate.Dial(cctx, code())
		if err != nil {
			t.Fatalf("the gate's call: %v", err)
		}
		in := d.Incoming()
		if len(in) == 0 || !in[len(in)-1].Answered {
			t.Fatalf("%s did not answer: %+v", answerer, in)
		}
		answered := d.Answered(in[len(in)-1].CallID)
		if answered == nil {
			t.Fatalf("%s has no call %s", answerer, in[len(in)-1].CallID)
		}
		if err := answered.SendDTMF("#"); err != nil {
			t.Fatal(err)
		}
		if err := call.WaitDigits(cctx, "#"); err != nil {
			t.Fatalf("the gate did not receive its code: %v", err)
		}
		if err := call.Hangup(cctx); err != nil {
			t.Fatal(err)
		}
	}
	press("app.sarah")
	waitCalls(1)

	out, code1 := run("status", "-admin", adminAddr, "-token-file", tokenFile, served)
	for _, re := range []string{
		`(?m)^Site whitfield-home: 5 of 6 accounts registered$`,
		`(?m)^app\.sarah +yes +\d\d:\d\d:\d\d +127\.0\.0\.1:\d+/udp`,
		`(?m)^device\.hall-monitor +no +`,
		`(?m)^Calls in progress: 0$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("status (exit %d) lacks %s:\n%s", code1, re, out)
		}
	}

	first := commission(0)
	st, detail, sarahEv := find(first, `^gate button 1 → .* → sarah answers and opens "gate"$`)
	if st != "passed" || len(sarahEv) == 0 {
		t.Fatalf("sarah's case: %s %q, evidence %v", st, detail, sarahEv)
	}
	if st, detail, _ := find(first, `→ hall-monitor answers`); st != "open" || !strings.Contains(detail, "hall-monitor not registered") {
		t.Errorf("the monitor's case: %s %q", st, detail)
	}
	if st, detail, _ := find(first, `^gate button 1 → .* rings together`); st != "open" || detail != "not called yet" {
		t.Errorf("the ring case: %s %q", st, detail)
	}

	// No visitor calls David's extension: the server rings his app, he
	// answers and keys a digit, and his cases pass. Only his (-run):
	// everybody else's stay as they were.
	david := devices["app.david"]
	david.SetAnswer(device.Pickup, 0)
	keyed := make(chan error, 1)
	// The wait for the ring ends when commission does: before the ring
	// test commission reads the site and the server's state, which under
	// -race on a loaded machine took longer than a fixed bound (CI:
	// "context deadline exceeded" after 20 s); its own ring window bounds
	// the rest.
	ringCtx, ringDone := context.WithCancel(ctx)
	go func() {
		wctx, cancel := context.WithTimeout(ringCtx, 5*time.Minute)
		defer cancel()
		before := len(david.Incoming())
		in, err := david.WaitIncoming(wctx, func(in []device.Incoming) bool { return len(in) > before && in[len(in)-1].Answered })
		if err != nil {
			keyed <- err
			return
		}
		call := david.Answered(in[len(in)-1].CallID)
		if call == nil {
			keyed <- fmt.Errorf("david has no call %s", in[len(in)-1].CallID)
			return
		}
		keyed <- call.SendDTMF("1")
	}()
	rung := commission(0, "-ring-test", "40s", "-run", "calls david on")
	ringDone()
	if err := <-keyed; err != nil {
		t.Fatalf("david's answer to the ring test: %v (commission's cases: %+v)", err, rung.Cases)
	}
	david.SetAnswer(device.Ring, 0)
	for _, k := range rung.Cases {
		if k.Status != "passed" || k.Detail != "ring test: david answered and keyed 1" {
			t.Errorf("after the ring test, %q: %s %q", k.Name, k.Status, k.Detail)
		}
	}
	if len(rung.Cases) < 2 {
		t.Errorf("-run david: %d cases", len(rung.Cases))
	}

	// The server's site files now differ from the installer's: the label
	// "Whitfield", which the gate's button dials, is a new residence's.
	edit := func(file, old, new string) {
		t.Helper()
		path := filepath.Join(served, file)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), old) {
			t.Fatalf("%s has no %q", file, old)
		}
		if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edit("site.pbx.hcl", `label        = "Whitfield"`, `label        = "Main house"`)
	edit("devices.pbx.hcl", `calls = residence.home`, `calls = residence.annex`)
	edit("people.pbx.hcl", `user "sarah" {`, `residence "annex" {
  label = "Whitfield"
}

user "grace" {
  first_name = "Grace"
  last_name  = "Ashworth"
  email      = "grace@example.com"
  residence  = residence.annex
  extension  = 205
  app        = true
}

user "sarah" {`)
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+adminAddr+"/admin/reload", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("reload: %s\n%s", res.Status, s.log())
	}
	l.creds = l.passwords()
	register("app.grace")
	press("app.grace")
	waitCalls(2)

	junit := filepath.Join(t.TempDir(), "commission.xml")
	page := filepath.Join(t.TempDir(), "commission.html")
	second := commission(1, "-junit", junit, "-html", page)
	report, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"switchboard commission</title>", "rang grace; expected also sarah, david, chloe and jack", "open: "} {
		if !strings.Contains(string(html), w) {
			t.Errorf("the -html page lacks %q", w)
		}
	}
	for _, w := range []string{`<testsuite name="whitfield-home"`, `<failure message="rang grace; expected also sarah, david, chloe and jack" type="CallPathFailed">`, `<skipped message="open: `} {
		if !strings.Contains(string(report), w) {
			t.Errorf("the JUnit report lacks %s:\n%s", w, report)
		}
	}
	// The failure's call, drawn from the SIP messages the server kept of
	// it: the gate's INVITE, the leg to Grace's app, in the page and in
	// the JSON's ladder lines.
	for _, re := range []string{
		`<svg class="ladder" `,
		`<g class="msg request" data-from="device.gate" data-to="server"><title>1\. device\.gate → server: INVITE \(device\.gate → [^)]+\)</title>`,
		`<g class="msg request" data-from="server" data-to="app.grace"><title>[0-9]+\. server → app\.grace: INVITE \(device\.gate → app\.grace\)</title>`,
		`<g class="msg provisional" data-from="app.grace" data-to="server">`,
	} {
		if !regexp.MustCompile(re).Match(html) {
			t.Errorf("the -html page lacks %s", re)
		}
	}
	for _, k := range second.Cases {
		if k.Status != "failed" {
			continue
		}
		lines := strings.Join(k.Ladder, "\n")
		if !strings.HasPrefix(lines, "server ← device.gate INVITE (device.gate → ") || !strings.Contains(lines, "server → app.grace INVITE (device.gate → app.grace)") {
			t.Errorf("%q: ladder\n%s", k.Name, lines)
		}
	}
	want := "rang grace; expected also sarah, david, chloe and jack"
	st, detail, ev := find(second, `^gate button 1 → .* → sarah answers and opens "gate"$`)
	if st != "failed" || detail != want {
		t.Errorf("sarah's case after the reload: %s %q, want failed %q", st, detail, want)
	}
	// The resumed run judged the new call only: its evidence follows the
	// first's.
	if len(ev) == 0 || ev[0] <= sarahEv[len(sarahEv)-1] {
		t.Errorf("evidence of the failure %v, of the first pass %v", ev, sarahEv)
	}
	if st, _, _ := find(second, `^gate button 1 → .* rings together`); st != "failed" {
		t.Errorf("the ring case after the reload: %s", st)
	}

	if st, detail, _ := find(second, `calls david on extension`); st != "passed" {
		t.Errorf("david's case, decided by the ring test of an earlier run: %s %q", st, detail)
	}

	// The results are in the state; the handover sheet shows them.
	out, code2 := run("handover", files)
	for _, s := range []string{"Commissioning (", `failed: ` + want + `.`} {
		if code2 != 0 || !strings.Contains(out, s) {
			t.Errorf("handover (exit %d) lacks %q:\n%s", code2, s, out)
		}
	}
}
