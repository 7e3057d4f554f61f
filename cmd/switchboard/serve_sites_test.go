package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/events"
	"switchboard/simulate/device"
)

// TestServeSites runs the real binary on two sites and a broken one: the
// broken one is reported (file and line) and skipped; each good site's
// devices register and call within their own domain; an account sent with
// the other site's domain is refused; the admin endpoints answer per site;
// a reload of one site (admin endpoint) and a SIGHUP on which the other's
// files are broken leave the registrations and calls of both as they
// were; SIGTERM stops all with status 0.
func TestServeSites(t *testing.T) {
	t.Parallel()
	bin := buildSwitchboard(t)
	home, office := copyExample(t, "family-home"), copyExample(t, "small-office")
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "site.pbx.hcl"), []byte("site \"broken\" {\n  country = \"IE\"\n  timezone = Europe/Dublin\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "SWITCHBOARD_SITE_KEY="+testSiteKey, "NO_COLOR=1")
	creds := func(dir string) map[string]string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), serveTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "credentials", "-json", dir)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("credentials -json %s: %v", dir, err)
		}
		var list []struct{ Name, Password string }
		if err := json.Unmarshal(out, &list); err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, c := range list {
			m[c.Name] = c.Password
		}
		return m
	}
	homeCreds, officeCreds := creds(home), creds(office)
	eventsFile := filepath.Join(t.TempDir(), "events.jsonl")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := startServe(t, exec.CommandContext(ctx, bin, "serve", "-listen", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", "127.0.0.1:0",
		"-tcp", "127.0.0.1:0", "-events", eventsFile,
		// Its own media ports: once, in a run of the whole package, every
		// port of the default range on 127.0.0.1 was taken.
		"-rtp-ports", "41000-41999", home, broken, office), env)
	s.waitLine("the broken site's diagnostic", regexp.MustCompile(`^  on .*site\.pbx\.hcl line 3, in site "broken":$`))
	s.waitLine("the broken site skipped", regexp.MustCompile(`^switchboard serve: `+regexp.QuoteMeta(broken)+`: not served: its configuration has errors`))
	ready := s.waitLine("ready line", regexp.MustCompile(`^switchboard serve: ready: 2 sites \(pbx\.brightwater\.example, whitfield-home\.example\.net\), sip udp (127\.0\.0\.1:\d+), sip tcp 127\.0\.0\.1:\d+, http (127\.0\.0\.1:\d+), admin http (127\.0\.0\.1:\d+), media 127\.0\.0\.1$`))
	sipAddr, adminAddr := ready[1], ready[3]
	const homeDomain, officeDomain = "whitfield-home.example.net", "pbx.brightwater.example"

	var plan struct {
		Entries []struct{ Device, Code string }
	}
	readJSON(t, filepath.Join(home, ".switchboard", "build", "dialplan.json"), &plan)
	code := ""
	for _, e := range plan.Entries {
		if e.Device == "gate" {
			code = e.Code
		}
	}
	register := func(account, password, domain string) (*device.Device, int) {
		t.Helper()
		d, err := device.New(device.Config{Account: account, Password: password, Domain: domain, Server: sipAddr})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), serveTimeout)
		defer cancel()
		status, err := d.Register(ctx, time.Hour)
		if err != nil {
			t.Fatalf("register %s at %s: %v", account, domain, err)
		}
		return d, status
	}
	gate, st1 := register("device.gate", homeCreds["device.gate"], homeDomain)
	sarah, st2 := register("app.sarah", homeCreds["app.sarah"], homeDomain)
	officeApp := ""
	for name := range officeCreds {
		if strings.HasPrefix(name, "app.") && (officeApp == "" || name < officeApp) {
			officeApp = name
		}
	}
	_, st3 := register(officeApp, officeCreds[officeApp], officeDomain)
	if st1 != 200 || st2 != 200 || st3 != 200 {
		t.Fatalf("REGISTER: gate %d, sarah %d, %s of the office %d; want 200 each", st1, st2, officeApp, st3)
	}
	if _, st := register("app.sarah", homeCreds["app.sarah"], officeDomain); st < 400 {
		t.Errorf("the home's app.sarah registered with the office's domain: %d", st)
	}
	sarah.SetAnswer(device.Pickup, 0)
	call := func(what string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), serveTimeout)
		defer cancel()
		before := sarah.IncomingCount()
		c, err := gate.Dial(ctx, code)
		if err != nil {
			t.Fatalf("%s: the gate's call: %v", what, err)
		}
		if sarah.IncomingCount() != before+1 {
			t.Errorf("%s: sarah was not rung", what)
		}
		if err := c.Hangup(ctx); err != nil {
			t.Errorf("%s: hang-up: %v", what, err)
		}
	}
	call("first call")

	// Each site has its admin token in its own directory, as one site
	// does; one site's does not open another's endpoints.
	tokens := map[string]string{}
	for domain, dir := range map[string]string{homeDomain: home, officeDomain: office} {
		data, err := os.ReadFile(filepath.Join(dir, ".switchboard", "admin-token"))
		if err != nil {
			t.Fatal(err)
		}
		tokens[domain] = strings.TrimSpace(string(data))
	}
	if tokens[homeDomain] == tokens[officeDomain] {
		t.Error("the two sites have one admin token")
	}
	adminAs := func(token, method, path string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+adminAddr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	admin := func(domain, method, path string) (int, string) {
		t.Helper()
		return adminAs(tokens[domain], method, path)
	}
	registered := func(domain string) int {
		t.Helper()
		status, body := admin(domain, "GET", "/sites/"+domain+"/admin/status")
		var health struct {
			Site       string
			Registered int
		}
		if err := json.Unmarshal([]byte(body), &health); status != 200 || err != nil {
			t.Fatalf("status of %s: %d %s", domain, status, body)
		}
		return health.Registered
	}
	if got := registered(homeDomain); got != 2 {
		t.Errorf("%s has %d accounts registered, want 2", homeDomain, got)
	}
	if status, _ := adminAs(tokens[homeDomain], "GET", "/sites/"+officeDomain+"/admin/status"); status != 401 {
		t.Errorf("the home's token on the office's admin endpoints: %d, want 401", status)
	}
	if status, _ := admin(homeDomain, "GET", "/admin/status"); status != 404 {
		t.Errorf("GET /admin/status with several sites: %d, want 404 (each is under /sites/DOMAIN/)", status)
	}

	// switchboard status finds its site among several.
	statusCmd := exec.CommandContext(ctx, bin, "status", "-admin", adminAddr, office)
	statusCmd.Env = env
	out, err := statusCmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), officeApp) {
		t.Errorf("status of the office: %v\n%s", err, out)
	}

	// The office alone reloads; the home's registrations and calls are
	// untouched.
	if status, body := admin(officeDomain, "POST", "/sites/"+officeDomain+"/admin/reload"); status != 200 {
		t.Fatalf("reload of the office: %d %s", status, body)
	}
	if got := registered(homeDomain); got != 2 {
		t.Errorf("after the office's reload %s has %d accounts registered, want 2", homeDomain, got)
	}
	call("call after the office's reload")

	// The home's files break; SIGHUP reloads both: the home keeps its
	// running configuration, the office takes its own.
	people := filepath.Join(home, "people.pbx.hcl")
	good, err := os.ReadFile(people)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(people, append(good, "\nuser \"grace\" {\n  residence = residence.nowhere\n}\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGHUP)
	s.waitLine("the home's reload rejected", regexp.MustCompile(`reload rejected.*site=`+regexp.QuoteMeta(homeDomain)+`|site=`+regexp.QuoteMeta(homeDomain)+`.*reload rejected`))
	s.waitLine("the office reloaded", regexp.MustCompile(`site=`+regexp.QuoteMeta(officeDomain)+`.*msg=reloaded|msg=reloaded.*site=`+regexp.QuoteMeta(officeDomain)))
	if got := registered(homeDomain); got != 2 {
		t.Errorf("after a rejected reload %s has %d accounts registered, want 2", homeDomain, got)
	}
	call("call after the home's rejected reload")

	s.stop()

	// One event file for both, each line naming its site: the
	// registrations are each site's own.
	data, err := os.ReadFile(eventsFile)
	if err != nil {
		t.Fatal(err)
	}
	regs := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e struct{ Site, Kind, Account string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("event line %q: %v", line, err)
		}
		if e.Site == "" {
			t.Errorf("event line without its site: %s", line)
		}
		if e.Kind == string(events.Registered) {
			regs[e.Site+" "+e.Account] = true
		}
	}
	want := map[string]bool{homeDomain + " device.gate": true, homeDomain + " app.sarah": true, officeDomain + " " + officeApp: true}
	if diff := cmp.Diff(want, regs); diff != "" {
		t.Errorf("registered events by site (-want +got):\n%s", diff)
	}
}

// TestServeSitesKeepAcrossRestart: several sites under -data share one
// embedded store, each with its own bucket: after a restart each site
// still has its own devices' registrations (and not the other's).
func TestServeSitesKeepAcrossRestart(t *testing.T) {
	t.Parallel()
	bin := buildSwitchboard(t)
	home, office := copyExample(t, "family-home"), copyExample(t, "small-office")
	data := t.TempDir()
	env := append(os.Environ(), "SWITCHBOARD_SITE_KEY="+testSiteKey, "NO_COLOR=1")
	homeCreds, officeCreds := serveCredentials(t, bin, home, env), serveCredentials(t, bin, office, env)
	const homeDomain, officeDomain = "whitfield-home.example.net", "pbx.brightwater.example"
	officeApp := ""
	for name := range officeCreds {
		if strings.HasPrefix(name, "app.") && (officeApp == "" || name < officeApp) {
			officeApp = name
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := func() (s *served, sipAddr, adminAddr string) {
		t.Helper()
		s = startServe(t, exec.CommandContext(ctx, bin, "serve", "-listen", "127.0.0.1:0", "-http", "", "-admin", "127.0.0.1:0",
			"-rtp-ports", "42000-42999", "-data", data, home, office), env)
		ready := s.waitLine("ready line", regexp.MustCompile(`^switchboard serve: ready: 2 sites .*, sip udp (127\.0\.0\.1:\d+), admin http (127\.0\.0\.1:\d+), media 127\.0\.0\.1$`))
		return s, ready[1], ready[2]
	}
	registered := func(adminAddr, dir, domain string) []string {
		t.Helper()
		tok, err := os.ReadFile(filepath.Join(dir, ".switchboard", "admin-token"))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", "http://"+adminAddr+"/sites/"+domain+"/admin/accounts", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var r struct {
			Accounts []struct {
				Name       string
				Registered bool
			}
		}
		if err := json.NewDecoder(res.Body).Decode(&r); err != nil || res.StatusCode != 200 {
			t.Fatalf("GET accounts of %s: %d, %v", domain, res.StatusCode, err)
		}
		var names []string
		for _, a := range r.Accounts {
			if a.Registered {
				names = append(names, a.Name)
			}
		}
		return names
	}

	s, sipAddr, _ := start()
	for _, r := range []struct{ account, password, domain string }{
		{"app.sarah", homeCreds["app.sarah"], homeDomain},
		{officeApp, officeCreds[officeApp], officeDomain},
	} {
		d, err := device.New(device.Config{Account: r.account, Password: r.password, Domain: r.domain, Server: sipAddr})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		rctx, rcancel := context.WithTimeout(ctx, serveTimeout)
		status, err := d.Register(rctx, time.Hour)
		rcancel()
		if err != nil || status != 200 {
			t.Fatalf("REGISTER %s: %d, %v", r.account, status, err)
		}
	}
	s.stop()
	if _, err := os.Stat(filepath.Join(data, "jetstream")); err != nil {
		t.Fatalf("no store under -data: %v", err)
	}
	s, _, adminAddr := start()
	defer s.stop()
	if diff := cmp.Diff([]string{"app.sarah"}, registered(adminAddr, home, homeDomain)); diff != "" {
		t.Errorf("the home's registrations after a restart (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{officeApp}, registered(adminAddr, office, officeDomain)); diff != "" {
		t.Errorf("the office's registrations after a restart (-want +got):\n%s", diff)
	}
}
