package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/icholy/digest"

	"switchboard/runtime/events"
	"switchboard/simulate/device"
)

// serveTimeout bounds each step of TestServe that waits on the server.
const serveTimeout = 20 * time.Second

// buildSwitchboard builds the command into a scratch directory.
func buildSwitchboard(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("SKIPPING: no go command to build switchboard with")
	}
	bin := filepath.Join(t.TempDir(), "switchboard")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, gobin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// served is a running `switchboard serve`, with its standard error read
// line by line.
//
// The reader never waits for the test: it keeps every line, however many
// come before a test looks for one. A reader that handed lines over a
// bounded channel stopped reading when the test did not take them, and
// serve then blocked writing its log once the pipe was full; and the
// cleanup, which waits for the process to be reaped, waited for ever.
type served struct {
	t   *testing.T
	cmd *exec.Cmd

	mu     sync.Mutex
	stderr strings.Builder
	lines  []string      // every line so far
	ended  bool          // standard error is closed: no more lines
	more   chan struct{} // closed when a line comes or standard error ends

	exit   chan error
	gone   chan struct{} // closed once the process has been waited for
	read   int           // lines waitLine has looked at (waitLine's goroutine only)
	passed []string      // lines waitLine read past (waitLine's goroutine only)
}

// waitLine reads standard error until a line matching re, and returns its
// submatches.
func (s *served) waitLine(what string, re *regexp.Regexp) []string {
	s.t.Helper()
	return s.waitLineWithin(what, re, serveTimeout)
}

// waitLineWithin is waitLine, waiting at most d.
func (s *served) waitLineWithin(what string, re *regexp.Regexp, d time.Duration) []string {
	s.t.Helper()
	m, err := s.nextLine(re, d)
	if err != nil {
		s.t.Fatalf("%s: %v\nstderr:\n%s", what, err, s.log())
	}
	return m
}

// nextLine reads standard error until a line matching re, for at most d,
// and returns its submatches; the error says serve ended first, or the
// wait ran out. Only one goroutine at a time may wait on s.
func (s *served) nextLine(re *regexp.Regexp, d time.Duration) ([]string, error) {
	// A line read while waiting for another counts too: serve's lines
	// from different goroutines (the ready line, a trunk registering)
	// come in either order.
	for i, l := range s.passed {
		if m := re.FindStringSubmatch(l); m != nil {
			s.passed = append(s.passed[:i], s.passed[i+1:]...)
			return m, nil
		}
	}
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		lines, ended, more := s.lines[s.read:], s.ended, s.more
		s.read = len(s.lines)
		s.mu.Unlock()
		for i, l := range lines {
			if m := re.FindStringSubmatch(l); m != nil {
				s.passed = append(s.passed, lines[i+1:]...)
				return m, nil
			}
			s.passed = append(s.passed, l)
		}
		if ended {
			return nil, errors.New("serve ended")
		}
		select {
		case <-more:
		case <-deadline.C:
			return nil, fmt.Errorf("not within %s", d)
		}
	}
}

// testEventsMaxBytes is the event stream limit startServe gives serve.
const testEventsMaxBytes = 64 << 20

// startServe starts cmd (a switchboard serve) with env and reads its
// standard error line by line; the test's cleanup kills it.
func startServe(t *testing.T, cmd *exec.Cmd, env []string) *served {
	t.Helper()
	// serve's admin listener defaults to the fixed port 8089: two tests
	// running at once would fight over it. Each says where it wants it
	// (127.0.0.1:0) or that it needs none ("").
	if !slices.ContainsFunc(cmd.Args, func(a string) bool { return a == "-admin" || strings.HasPrefix(a, "-admin=") }) {
		t.Fatalf("startServe %q: give -admin 127.0.0.1:0 (or -admin \"\"), not the fixed default port", cmd.Args)
	}
	// Each site's event stream reserves its byte limit against three
	// quarters of the free disk: the default 2 GiB a site let a test
	// machine with 4.6 GB free serve one site of two ("insufficient
	// storage resources available"). A test's events take kilobytes.
	if len(cmd.Args) > 1 && cmd.Args[1] == "serve" && !slices.ContainsFunc(cmd.Args, func(a string) bool { return strings.HasPrefix(strings.TrimLeft(a, "-"), "events-max-bytes") }) {
		cmd.Args = slices.Insert(cmd.Args, 2, "-events-max-bytes", strconv.Itoa(testEventsMaxBytes))
	}
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	dieWithTest(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &served{t: t, cmd: cmd, more: make(chan struct{}), exit: make(chan error, 1), gone: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			s.addLine(sc.Text())
		}
		if err := sc.Err(); err != nil {
			// A line too long to scan: the rest is kept unsplit, and
			// still read, so that serve never blocks on its log.
			rest, _ := io.ReadAll(stderr)
			s.addLine(fmt.Sprintf("(reading serve's stderr: %v) %s", err, rest))
		}
		s.mu.Lock()
		s.ended = true
		close(s.more)
		s.mu.Unlock()
		s.exit <- cmd.Wait()
		close(s.gone)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		// Wait for the process to be gone before the next subtest starts
		// a serve on the same site: its -data lock is released only at
		// exit (CI once saw "in use by another process" here).
		select {
		case <-s.gone:
		case <-time.After(30 * time.Second):
			t.Errorf("serve did not exit within 30 s of SIGKILL")
		}
		if t.Failed() {
			t.Logf("serve's stderr:\n%s", s.log())
		}
	})
	return s
}

// addLine keeps a line of serve's standard error and wakes waitLine.
func (s *served) addLine(l string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stderr.WriteString(l + "\n")
	s.lines = append(s.lines, l)
	close(s.more)
	s.more = make(chan struct{})
}

func (s *served) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// kill ends serve (SIGKILL) and waits until it is gone: what it held
// (its ports, its -data lock) is free when kill returns.
func (s *served) kill() {
	s.t.Helper()
	s.cmd.Process.Kill()
	select {
	case <-s.gone:
	case <-time.After(30 * time.Second):
		s.t.Fatalf("serve did not exit within 30 s of SIGKILL")
	}
}

// stop sends SIGTERM and waits for serve to exit with status 0.
func (s *served) stop() {
	s.t.Helper()
	s.signal(syscall.SIGTERM)
	s.waitExit()
}

// waitExit waits for serve to exit (after a signal) with status 0.
func (s *served) waitExit() {
	s.t.Helper()
	select {
	case err := <-s.exit:
		if err != nil {
			s.t.Fatalf("serve after SIGTERM: %v, want exit status 0\nstderr:\n%s", err, s.log())
		}
	case <-time.After(serveTimeout):
		s.t.Fatalf("serve still running %s after SIGTERM", serveTimeout)
	}
}

func (s *served) signal(sig os.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}

// TestServe runs the real binary: `serve` on a copy of examples/family-home
// with ports chosen by the kernel, read from the ready line. A simulated
// gate calls the family and Sarah's simulated app answers; a broken
// configuration on SIGHUP is rejected and the old one keeps serving calls;
// a fixed one (with a new user) is swapped in on the next SIGHUP while a
// call is up — the call continues, and the new user can register; the gate
// fetches its provisioning file over HTTP digest, and only its own; SIGTERM
// stops the server with status 0; the event file records all of it.
func TestServe(t *testing.T) {
	t.Parallel()
	bin := buildSwitchboard(t)
	dir := copyExample(t, "family-home")
	env := append(os.Environ(), "SWITCHBOARD_SITE_KEY="+testSiteKey, "NO_COLOR=1")
	passwords := func() map[string]string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), serveTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "credentials", "-json", dir)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("credentials -json: %v", err)
		}
		var list []struct{ Name, Username, Password, Domain string }
		if err := json.Unmarshal(out, &list); err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, c := range list {
			sip := strings.HasPrefix(c.Name, "app.") || strings.HasPrefix(c.Name, "device.")
			if sip && c.Username != c.Name {
				t.Errorf("SIP account %s has user name %q", c.Name, c.Username)
			}
			m[c.Name] = c.Password
		}
		return m
	}
	creds := passwords()

	eventsFile := filepath.Join(t.TempDir(), "events.jsonl")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := startServe(t, exec.CommandContext(ctx, bin, "serve", "-listen", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-events", eventsFile, dir), env)

	// serve makes the admin token and says where it is, not what it is.
	tokenFile := filepath.Join(dir, ".switchboard", "admin-token")
	s.waitLine("admin token line", regexp.MustCompile(`^switchboard serve: admin token in `+regexp.QuoteMeta(tokenFile)+` \(new\)`))
	ready := s.waitLine("ready line", regexp.MustCompile(`^switchboard serve: ready: site "([^"]+)", sip udp (127\.0\.0\.1:\d+), http (127\.0\.0\.1:\d+), admin http (127\.0\.0\.1:\d+), media 127\.0\.0\.1$`))
	sipAddr, httpAddr, adminAddr := ready[2], ready[3], ready[4]

	// The build serve wrote says which code the gate's button dials and
	// which file is the gate's.
	build := filepath.Join(dir, ".switchboard", "build")
	var plan struct {
		Site    struct{ Domain string }
		Entries []struct{ Device, Code string }
	}
	readJSON(t, filepath.Join(build, "dialplan.json"), &plan)
	code := ""
	for _, e := range plan.Entries {
		if e.Device == "gate" {
			code = e.Code
		}
	}
	var manifest struct {
		Files []struct{ Path, Device string }
	}
	readJSON(t, filepath.Join(build, "provision", "manifest.json"), &manifest)
	gateFile, monitorFile := "", ""
	for _, f := range manifest.Files {
		switch f.Device {
		case "gate":
			gateFile = f.Path
		case "hall-monitor":
			monitorFile = f.Path
		}
	}
	if code == "" || gateFile == "" || monitorFile == "" {
		t.Fatalf("the build has no gate entry (%q) or no gate/monitor files (%q, %q)", code, gateFile, monitorFile)
	}

	newDevice := func(account, password string) *device.Device {
		t.Helper()
		d, err := device.New(device.Config{Account: account, Password: password, Domain: plan.Site.Domain, Server: sipAddr})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	register := func(d *device.Device) int {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), serveTimeout)
		defer cancel()
		status, err := d.Register(ctx, time.Hour)
		if err != nil {
			t.Fatalf("register %s: %v", d.Account(), err)
		}
		return status
	}
	gate := newDevice("device.gate", creds["device.gate"])
	sarah := newDevice("app.sarah", creds["app.sarah"])
	sarah.SetAnswer(device.Pickup, 0)
	for _, d := range []*device.Device{gate, sarah} {
		if status := register(d); status != 200 {
			t.Fatalf("register %s: %d", d.Account(), status)
		}
	}
	dial := func(what string) *device.Call {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), serveTimeout)
		defer cancel()
		before := len(sarah.Incoming())
		call, err := gate.Dial(ctx, code)
		if err != nil {
			t.Fatalf("%s: the gate's call: %v", what, err)
		}
		in := sarah.Incoming()
		if len(in) != before+1 || !in[len(in)-1].Answered {
			t.Fatalf("%s: sarah's calls: %+v", what, in)
		}
		return call
	}
	hangup := func(what string, call *device.Call) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), serveTimeout)
		defer cancel()
		if err := call.Hangup(ctx); err != nil {
			t.Fatalf("%s: hangup: %v", what, err)
		}
	}
	doorCall := func(what string) { hangup(what, dial(what)) }
	doorCall("first call")

	// A broken configuration is rejected; the running one keeps serving.
	people := filepath.Join(dir, "people.pbx.hcl")
	good, err := os.ReadFile(people)
	if err != nil {
		t.Fatal(err)
	}
	broken := append(append([]byte{}, good...), "\nuser \"grace\" {\n  residence = residence.nowhere\n}\n"...)
	if err := os.WriteFile(people, broken, 0o644); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGHUP)
	s.waitLine("reload rejection", regexp.MustCompile(`reload rejected`))
	// This call stays up across the next reload.
	open := dial("call after a rejected reload")

	// An operator's health check sees it, and who is registered, on the
	// admin address with the admin token; without it, or on the
	// provisioning address, nothing.
	tokenData, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tokenData))
	if strings.Contains(s.log(), token) {
		t.Error("serve printed its admin token")
	}
	for addr, want := range map[string]int{adminAddr: 401, httpAddr: 404} {
		res, err := http.Get("http://" + addr + "/admin/status")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET /admin/status on %s without the token: %d, want %d", addr, res.StatusCode, want)
		}
	}
	req, err := http.NewRequest("GET", "http://"+adminAddr+"/admin/status", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var health struct {
		Site                        string
		Listeners                   map[string]string
		Registered, Accounts, Calls int
	}
	err = json.NewDecoder(res.Body).Decode(&health)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /admin/status: %d %s, %v", res.StatusCode, res.Header.Get("Content-Type"), err)
	}
	if health.Site != "whitfield-home" || health.Listeners["UDP"] != sipAddr || health.Registered < 2 || health.Accounts < health.Registered || health.Calls != 1 {
		t.Errorf("status %+v: want site whitfield-home, UDP on %s, the gate and sarah registered, one call", health, sipAddr)
	}

	// The fixed configuration, with a new user, is swapped in.
	fixed := append(append([]byte{}, good...), `
user "grace" {
  first_name = "Grace"
  last_name  = "Whitfield"
  email      = "grace.whitfield@example.com"
  residence  = residence.home
  extension  = 205
  app        = true
}
`...)
	if err := os.WriteFile(people, fixed, 0o644); err != nil {
		t.Fatal(err)
	}
	grace := newDevice("app.grace", "not-yet-a-password")
	if status := register(grace); status == 200 {
		t.Fatal("app.grace registered before the configuration that adds her was loaded")
	}
	s.signal(syscall.SIGHUP)
	s.waitLine("reload", regexp.MustCompile(`msg=reloaded`))
	hangup("call across the reload", open)
	creds = passwords()
	if creds["app.grace"] == "" {
		t.Fatal("credentials -json lists no app.grace")
	}
	grace = newDevice("app.grace", creds["app.grace"])
	if status := register(grace); status != 200 {
		t.Errorf("app.grace after the reload: %d, want 200", status)
	}
	doorCall("call after the reload")

	// The gate fetches its own file over HTTP digest, and nothing else.
	get := func(user, password, file string) (int, string) {
		t.Helper()
		client := &http.Client{Timeout: serveTimeout, Transport: &digest.Transport{Username: user, Password: password}}
		res, err := client.Get("http://" + httpAddr + "/" + file)
		if err != nil {
			t.Fatalf("GET %s as %s: %v", file, user, err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	status, body := get("device.gate", creds["device.gate"], gateFile)
	want, err := os.ReadFile(filepath.Join(build, "provision", gateFile))
	if err != nil {
		t.Fatal(err)
	}
	if status != 200 || body != string(want) {
		t.Errorf("the gate's own file: %d, %d bytes (want 200, the %d bytes of %s)", status, len(body), len(want), gateFile)
	}
	if status, _ := get("device.gate", creds["device.gate"], monitorFile); status != 404 {
		t.Errorf("the monitor's file fetched by the gate: %d, want 404", status)
	}
	if status, _ := get("device.gate", "guess", gateFile); status != 401 {
		t.Errorf("a wrong password: %d, want 401", status)
	}

	// The installer rotates the gate's password. After the reload SIP
	// takes only the new one, but the gate — told to fetch its file, still
	// holding the old password — fetches the file that carries the new
	// one (-rotation-grace, an hour by default).
	devicesFile := filepath.Join(dir, "devices.pbx.hcl")
	devs, err := os.ReadFile(devicesFile)
	if err != nil {
		t.Fatal(err)
	}
	rotated := strings.Replace(string(devs), `location = "Driveway gate"`, `location = "Driveway gate"
  rotation = 1`, 1)
	if rotated == string(devs) {
		t.Fatal("could not add a rotation to the gate")
	}
	if err := os.WriteFile(devicesFile, []byte(rotated), 0o644); err != nil {
		t.Fatal(err)
	}
	old := creds["device.gate"]
	s.signal(syscall.SIGHUP)
	s.waitLine("reload after the rotation", regexp.MustCompile(`msg=reloaded`))
	creds = passwords()
	if creds["device.gate"] == old {
		t.Fatal("rotation = 1 did not change the gate's password")
	}
	status, body = get("device.gate", old, gateFile)
	if status != 200 || !strings.Contains(body, creds["device.gate"]) {
		t.Errorf("the gate's file with its old password after the rotation: %d (carries the new password: %v), want 200, carrying it", status, strings.Contains(body, creds["device.gate"]))
	}
	if status, _ := get("device.gate", creds["device.gate"], gateFile); status != 200 {
		t.Errorf("the gate's file with its new password: %d, want 200", status)
	}
	if status := register(newDevice("device.gate", old)); status == 200 {
		t.Error("the gate registered over SIP with its old password after the rotation")
	}
	if status := register(newDevice("device.gate", creds["device.gate"])); status != 200 {
		t.Errorf("the gate with its new password: %d, want 200", status)
	}

	s.stop()

	// The event file has the whole story, each event tied to the site.
	data, err := os.ReadFile(eventsFile)
	if err != nil {
		t.Fatal(err)
	}
	count := map[events.Kind]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e events.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("event line %q: %v", line, err)
		}
		count[e.Kind]++
		if e.Kind == events.ProvisionFetch && (e.Device != "gate" || e.Path == "" || e.Origin.IsZero()) {
			t.Errorf("provision_fetch = %+v", e)
		}
	}
	for k, n := range map[events.Kind]int{
		events.Registered: 3, events.CallStarted: 3, events.LegAnswered: 3, events.CallEnded: 3,
		events.ReloadFailed: 1, events.Reloaded: 2, events.ProvisionFetch: 3,
	} {
		if count[k] < n {
			t.Errorf("%d %s events, want at least %d (all: %v)", count[k], k, n, count)
		}
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// copyExample copies the site files of examples/NAME into a directory of
// the test's own, for a server that writes beside them (its build, its
// admin token, its voicemail).
func copyExample(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("..", "..", "examples", name)
	files, err := filepath.Glob(filepath.Join(src, "*.pbx.hcl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no site files in %s: %v", src, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
