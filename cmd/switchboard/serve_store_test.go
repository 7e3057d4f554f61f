package main

import (
	"context"
	"encoding/json"
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

// TestServeRestartKeepsEvents runs the real binary twice on the same data
// directory: the event journal of the first run (a door call) is there in
// the second, under the same epoch and IDs, so a client resumes after the
// last ID it saw; the digits keyed during the call were not stored; and
// the registrations were kept: a door call in the second run reaches the
// app that registered in the first, which did not register again.
func TestServeRestartKeepsEvents(t *testing.T) {
	t.Parallel()
	bin := buildSwitchboard(t)
	dir := copyExample(t, "family-home")
	data := t.TempDir()
	env := append(os.Environ(), "SWITCHBOARD_SITE_KEY="+testSiteKey, "NO_COLOR=1")
	creds := serveCredentials(t, bin, dir, env)
	var plan struct {
		Site    struct{ Domain string }
		Entries []struct{ Device, Code string }
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	token := ""
	start := func() (s *served, sipAddr, adminAddr string) {
		t.Helper()
		s = startServe(t, exec.CommandContext(ctx, bin, "serve", "-listen", "127.0.0.1:0", "-http", "", "-admin", "127.0.0.1:0", "-data", data, dir), env)
		ready := s.waitLine("ready line", regexp.MustCompile(`^switchboard serve: ready: site "[^"]+", sip udp (127\.0\.0\.1:\d+), admin http (127\.0\.0\.1:\d+), media 127\.0\.0\.1$`))
		if token == "" {
			tok, err := os.ReadFile(filepath.Join(dir, ".switchboard", "admin-token"))
			if err != nil {
				t.Fatal(err)
			}
			token = strings.TrimSpace(string(tok))
			readJSON(t, filepath.Join(dir, ".switchboard", "build", "dialplan.json"), &plan)
		}
		return s, ready[1], ready[2]
	}
	eventsPage := func(adminAddr, epoch string, after uint64, wait int) site.EventPage {
		t.Helper()
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s/admin/events?epoch=%s&after=%d&wait=%d", adminAddr, epoch, after, wait), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var p site.EventPage
		if err := json.NewDecoder(res.Body).Decode(&p); err != nil || res.StatusCode != 200 {
			t.Fatalf("GET /admin/events: %d, %v", res.StatusCode, err)
		}
		return p
	}
	// until reads the journal from after until an event of kind k.
	until := func(adminAddr, epoch string, after uint64, k events.Kind) (string, []site.Entry) {
		t.Helper()
		var all []site.Entry
		for {
			p := eventsPage(adminAddr, epoch, after, 10)
			if len(p.Events) == 0 {
				t.Fatalf("no %s event in the journal: %+v", k, all)
			}
			all = append(all, p.Events...)
			epoch, after = p.Epoch, p.Next
			for _, e := range p.Events {
				if e.Kind == k {
					return epoch, all
				}
			}
		}
	}
	newDevice := func(sipAddr, account string) *device.Device {
		t.Helper()
		d, err := device.New(device.Config{Account: account, Password: creds[account], Domain: plan.Site.Domain, Server: sipAddr})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}

	s, sipAddr, adminAddr := start()
	gate, sarah := newDevice(sipAddr, "device.gate"), newDevice(sipAddr, "app.sarah")
	sarah.SetAnswer(device.Pickup, 0)
	for _, d := range []*device.Device{gate, sarah} {
		rctx, rcancel := context.WithTimeout(ctx, serveTimeout)
		status, err := d.Register(rctx, time.Hour)
		rcancel()
		if err != nil || status != 200 {
			t.Fatalf("register %s: %d, %v", d.Account(), status, err)
		}
	}
	code := ""
	for _, e := range plan.Entries {
		if e.Device == "gate" {
			code = e.Code
		}
	}
	call := func(what string) {
		t.Helper()
		cctx, ccancel := context.WithTimeout(ctx, serveTimeout)
		defer ccancel()
		before := len(sarah.Incoming())
		c, err := gate.Dial(cctx, code)
		if err != nil {
			t.Fatalf("%s: the gate's call: %v", what, err)
		}
		if in := sarah.Incoming(); len(in) != before+1 || !in[len(in)-1].Answered {
			t.Fatalf("%s: sarah's calls: %+v", what, in)
		}
		if err := c.Hangup(cctx); err != nil {
			t.Fatalf("%s: hangup: %v", what, err)
		}
	}
	call("first run")
	epoch, before := until(adminAddr, "", 0, events.CallEnded)
	s.stop()

	_, sipAddr, adminAddr = start()
	// The whole first run, from the start, under the same epoch.
	gotEpoch, after := until(adminAddr, epoch, 0, events.CallEnded)
	if gotEpoch != epoch {
		t.Errorf("epoch after the restart %q, before %q", gotEpoch, epoch)
	}
	ids := func(es []site.Entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, fmt.Sprintf("%d %s %s", e.ID, e.Kind, e.Call))
		}
		return out
	}
	if b, a := ids(before), ids(after[:min(len(after), len(before))]); strings.Join(b, "\n") != strings.Join(a, "\n") {
		t.Errorf("the journal after the restart differs:\nbefore:\n%s\nafter:\n%s", strings.Join(b, "\n"), strings.Join(a, "\n"))
	}
	for _, e := range after {
		if e.Digits != "" && !(e.Kind == events.DTMF && e.Target != "") {
			t.Errorf("event %d (%s) kept the digits keyed", e.ID, e.Kind)
		}
	}

	// The server listens on another port now: a gate that knows it
	// calls; sarah's binding of the first run is what rings her.
	gate = newDevice(sipAddr, "device.gate")
	call("second run, without registering again")
}

// serveCredentials returns the site's passwords by account, from
// switchboard credentials.
func serveCredentials(t *testing.T, bin, dir string, env []string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), serveTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "credentials", "-json", dir)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("credentials -json: %v", err)
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

// registerAt registers account at domain through the server at sipAddr
// for an hour, and returns the final status.
func registerAt(t *testing.T, sipAddr, account, password, domain string) int {
	t.Helper()
	d, err := device.New(device.Config{Account: account, Password: password, Domain: domain, Server: sipAddr})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), serveTimeout)
	defer cancel()
	status, err := d.Register(ctx, time.Hour)
	if err != nil {
		t.Fatalf("REGISTER %s at %s: %v", account, domain, err)
	}
	return status
}
