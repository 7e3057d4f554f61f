package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/rogpeppe/go-internal/testscript"
)

// emulatorProcess is a "switchboard emulate" running as its own process.
type emulatorProcess struct {
	cmd   *exec.Cmd
	url   string      // the address it printed
	end   chan error  // its exit
	lines chan string // lines it prints, for waitLine (dropped when nobody waits)

	mu  sync.Mutex
	out *bytes.Buffer // everything it printed
}

// launchEmulator runs "switchboard emulate akuvox ARGS" and returns once
// it has printed the address it listens on. Leading NAME=VALUE arguments
// are set in its environment instead.
func launchEmulator(args ...string) (*emulatorProcess, error) {
	var env []string
	for len(args) > 0 && strings.Contains(args[0], "=") && !strings.HasPrefix(args[0], "-") {
		env, args = append(env, args[0]), args[1:]
	}
	return launchEnv(env, `^Emulating an Akuvox .* at (http://\S+)$`, append([]string{"emulate", "akuvox"}, args...)...)
}

// launch runs the switchboard command with args as a process of its own
// and returns once a line of its standard output or error matches ready;
// the first group of ready, if any, is the process's url.
func launch(ready string, args ...string) (*emulatorProcess, error) {
	return launchEnv(nil, ready, args...)
}

// launchEnv is launch with env added to the process's environment.
func launchEnv(env []string, ready string, args ...string) (*emulatorProcess, error) {
	bin, err := exec.LookPath("switchboard") // the test binary, put on PATH by testscript.Main
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	e := &emulatorProcess{cmd: cmd, out: &bytes.Buffer{}, end: make(chan error, 1), lines: make(chan string, 64)}
	found := make(chan string, 1)
	go func() {
		e.end <- cmd.Wait()
		pw.Close()
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		re := regexp.MustCompile(ready)
		seen := false
		for sc.Scan() {
			e.mu.Lock()
			e.out.WriteString(sc.Text() + "\n")
			e.mu.Unlock()
			select {
			case e.lines <- sc.Text():
			default:
			}
			if m := re.FindStringSubmatch(sc.Text()); m != nil && !seen {
				seen = true
				found <- append(m, "")[1]
			}
		}
		close(found)
	}()
	select {
	case url, ok := <-found:
		if !ok {
			err := <-e.end
			e.end <- err
			return nil, fmt.Errorf("switchboard %s ended (%v) before it was ready:\n%s", args[0], err, e.output())
		}
		e.url = url
	case <-time.After(30 * time.Second):
		e.kill()
		return nil, fmt.Errorf("switchboard %s was not ready in time:\n%s", args[0], e.output())
	}
	return e, nil
}

// output is everything the process printed so far.
func (e *emulatorProcess) output() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.out.String()
}

// waitLine waits for a line the process prints from now on that matches
// re, and returns it.
func (e *emulatorProcess) waitLine(t *testing.T, re string) string {
	t.Helper()
	want := regexp.MustCompile(re)
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l := <-e.lines:
			if want.MatchString(l) {
				return l
			}
		case <-timeout:
			t.Fatalf("no line matching %s:\n%s", re, e.output())
		}
	}
}

// startEmulator is launchEmulator for a Go test, which kills the
// emulator at the end if it still runs.
func startEmulator(t *testing.T, args ...string) *emulatorProcess {
	t.Helper()
	e, err := launchEmulator(args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.kill() })
	return e
}

// kill ends the process if it still runs.
func (e *emulatorProcess) kill() {
	e.cmd.Process.Kill()
	err := <-e.end
	e.end <- err
}

// halt sends sig and returns what the emulator printed; an error unless
// it shut down cleanly (exit status 0).
func (e *emulatorProcess) halt(sig os.Signal) (string, error) {
	if err := e.cmd.Process.Signal(sig); err != nil {
		return "", err
	}
	select {
	case err := <-e.end:
		e.end <- err
		if err != nil {
			return e.output(), fmt.Errorf("switchboard emulate after %s: %v", sig, err)
		}
	case <-time.After(30 * time.Second):
		return e.output(), fmt.Errorf("switchboard emulate did not stop on %s", sig)
	}
	return e.output(), nil
}

// stop is halt for a Go test.
func (e *emulatorProcess) stop(t *testing.T, sig os.Signal) string {
	t.Helper()
	out, err := e.halt(sig)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// cmdEmulator runs "switchboard emulate akuvox" beside a script and stops
// it by a signal, waiting on what it prints rather than on time:
//
//	emulator start NAME [ARGS...]   start it with the script's
//	                                SWITCHBOARD_DEVICE_USER and _PASSWORD;
//	                                sets NAME to its URL once it listens
//	emulator stop NAME INT|TERM     signal it, wait for a clean exit (exit
//	                                status 0) and print its output on
//	                                stdout
func cmdEmulator(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: emulator start NAME [ARGS...] | emulator stop NAME INT|TERM")
	}
	procs := scriptEmulators(ts)
	switch args[0] {
	case "start":
		// The script's login, as apply in the script sees it.
		var env []string
		for _, k := range []string{"SWITCHBOARD_DEVICE_USER", "SWITCHBOARD_DEVICE_PASSWORD"} {
			env = append(env, k+"="+ts.Getenv(k))
		}
		e, err := launchEmulator(append(env, args[2:]...)...)
		ts.Check(err)
		ts.Defer(e.kill)
		procs[args[1]] = e
		ts.Setenv(args[1], e.url)
	case "stop":
		e := procs[args[1]]
		if e == nil || len(args) != 3 {
			ts.Fatalf("usage: emulator stop NAME INT|TERM (after emulator start NAME)")
		}
		sig := map[string]os.Signal{"INT": syscall.SIGINT, "TERM": syscall.SIGTERM}[args[2]]
		if sig == nil {
			ts.Fatalf("emulator stop: signal INT or TERM, not %q", args[2])
		}
		out, err := e.halt(sig)
		fmt.Fprint(ts.Stdout(), out)
		ts.Check(err)
	default:
		ts.Fatalf("emulator: unknown subcommand %q", args[0])
	}
}

// scriptEmulators are the emulators of each running script.
var scriptEmulators = func() func(ts *testscript.TestScript) map[string]*emulatorProcess {
	var mu sync.Mutex
	all := map[*testscript.TestScript]map[string]*emulatorProcess{}
	return func(ts *testscript.TestScript) map[string]*emulatorProcess {
		mu.Lock()
		defer mu.Unlock()
		if all[ts] == nil {
			all[ts] = map[string]*emulatorProcess{}
			ts.Defer(func() {
				mu.Lock()
				delete(all, ts)
				mu.Unlock()
			})
		}
		return all[ts]
	}
}()

// TestEmulateRehearsesApply is the rehearsal an installer runs: one
// emulator per Akuvox device of the family-home example, an apply of the
// example against them, then each emulator stopped by a signal.
func TestEmulateRehearsesApply(t *testing.T) {
	t.Parallel()
	gate := startEmulator(t, "SWITCHBOARD_DEVICE_PASSWORD=gate-test-pw")
	monitor := startEmulator(t, "SWITCHBOARD_DEVICE_PASSWORD=monitor-test-pw", "-user", "installer")

	mb := &scriptMailbox{}
	mail := smtp.NewServer(mb)
	mail.Domain = "mail.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go mail.Serve(ln)
	t.Cleanup(func() { mail.Close() })

	dir := filepath.Join(t.TempDir(), "family-home")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "family-home", "*.pbx.hcl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example files: %v", err)
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
	runOK(t, "init", "-key", dir)

	// The logins go in the URLs: the test runs in parallel with others,
	// so it sets no environment variable.
	withLogin := func(url, user, pw string) string {
		return strings.Replace(url, "http://", "http://"+user+":"+pw+"@", 1)
	}
	out := runOK(t, "apply", "-auto-approve", "-smtp", ln.Addr().String(),
		"-device", "gate="+withLogin(gate.url, "admin", "gate-test-pw"),
		"-device", "hall-monitor="+withLogin(monitor.url, "installer", "monitor-test-pw"),
		dir)
	for _, want := range []string{
		`(?m)^  ✓ device "gate".*: set and verified \(firmware R20K 220\.30\.3\.1\)$`,
		`(?m)^  ✓ device "hall-monitor".*: set and verified \(firmware R20K 220\.30\.3\.1\)$`,
		`(?m)^Apply complete!`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("apply did not say %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "gate-test-pw") || strings.Contains(out, "monitor-test-pw") {
		t.Errorf("apply printed a device login:\n%s", out)
	}

	stopped := regexp.MustCompile(`(?m)^Stopped \((interrupt|terminated)\): [1-9][0-9]* API requests, [1-9][0-9]* settings writes, 0 refused logins, 0 connections dropped\.$`)
	for _, s := range []struct {
		e   *emulatorProcess
		sig os.Signal
	}{{gate, syscall.SIGINT}, {monitor, syscall.SIGTERM}} {
		if got := s.e.stop(t, s.sig); !stopped.MatchString(got) {
			t.Errorf("emulator output after %s:\n%s", s.sig, got)
		}
	}
}

// TestEmulatePhoneRehearsesApply rehearses an apply of Yealink and
// Grandstream phones: serve runs the site, one emulator per phone
// registers with it and fetches its files, apply asks serve for a
// check-sync of each, and each emulator fetches its files again.
func TestEmulatePhoneRehearsesApply(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "studio")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "site.pbx.hcl"), []byte(phoneRehearsalSite), 0o644); err != nil {
		t.Fatal(err)
	}
	runOK(t, "init", "-key", dir)

	serve, err := launch(`^switchboard serve: ready: .*sip udp (\S+), http (\S+), admin http (\S+),`,
		"serve", "-listen", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", "127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(serve.kill)
	m := regexp.MustCompile(`sip udp (\S+), http (\S+), admin http (\S+),`).FindStringSubmatch(serve.output())
	sip, http, admin := m[1], m[2], m[3]

	phones := map[string]*emulatorProcess{}
	for name, family := range map[string]string{"desk-ana": "yealink", "desk-ben": "grandstream"} {
		e, err := launch(`^started: `, "emulate", family, "-server", sip, "-provision", "http://"+http, dir, name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.kill)
		phones[name] = e
		if !strings.Contains(e.output(), "Emulating the ") || !strings.Contains(e.output(), "registered with serve at "+sip+" as device."+name) {
			t.Errorf("%s's banner:\n%s", name, e.output())
		}
	}

	out := runOK(t, "apply", "-auto-approve", "-serve", admin, dir)
	for _, want := range []string{`(?m)^  ✓ device "desk-ana".*: check-sync sent`, `(?m)^  ✓ device "desk-ben".*: check-sync sent`, `(?m)^Apply complete!`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("apply did not say %s:\n%s", want, out)
		}
	}
	phones["desk-ana"].waitLine(t, `^check-sync: fetched 805ec0000301\.boot \([0-9]+ bytes\), 805ec0000301\.cfg \([0-9]+ bytes\)$`)
	phones["desk-ben"].waitLine(t, `^check-sync: fetched cfg000b82000302\.xml \([0-9]+ bytes\)$`)

	for name, e := range phones {
		got := e.stop(t, syscall.SIGTERM)
		if !regexp.MustCompile(`(?m)^Stopped \(terminated\): 1 check-syncs, [1-9][0-9]* files fetched\.$`).MatchString(got) {
			t.Errorf("%s after SIGTERM:\n%s", name, got)
		}
		if strings.Contains(got, "could not fetch") {
			t.Errorf("%s could not fetch a file:\n%s", name, got)
		}
	}
}

// phoneRehearsalSite has one Yealink and one Grandstream phone.
const phoneRehearsalSite = `
site "studio" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "studio.example.net"
  installer {
    company = "Studio Installers"
    email   = "installer@studio.example"
  }
}

user "ana" {
  email     = "ana@example.com"
  role      = "owner"
  extension = 200
}

user "ben" {
  email     = "ben@example.com"
  extension = 201
}

device "desk-ana" {
  model = "yealink-t54w"
  mac   = "80:5E:C0:00:03:01"
  user  = user.ana
}

device "desk-ben" {
  model = "grandstream-grp2612"
  mac   = "00:0B:82:00:03:02"
  user  = user.ben
}
`
