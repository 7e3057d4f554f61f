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
	cmd *exec.Cmd
	url string        // the address it printed
	out *bytes.Buffer // everything it printed, once it has ended
	end chan error    // its exit
}

// launchEmulator runs "switchboard emulate akuvox ARGS" and returns once
// it has printed the address it listens on.
func launchEmulator(args ...string) (*emulatorProcess, error) {
	bin, err := exec.LookPath("switchboard") // the test binary, put on PATH by testscript.Main
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, append([]string{"emulate", "akuvox"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	e := &emulatorProcess{cmd: cmd, out: &bytes.Buffer{}, end: make(chan error, 1)}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		addr := regexp.MustCompile(`^Emulating an Akuvox .* at (http://\S+)$`)
		for sc.Scan() {
			e.out.WriteString(sc.Text() + "\n")
			if m := addr.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		io.Copy(io.Discard, stdout)
		e.end <- cmd.Wait()
		close(found)
	}()
	select {
	case url, ok := <-found:
		if !ok {
			return nil, fmt.Errorf("switchboard emulate ended without an address:\n%s%s", e.out, stderr.String())
		}
		e.url = url
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-e.end
		return nil, fmt.Errorf("switchboard emulate printed no address:\n%s", stderr.String())
	}
	return e, nil
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

// kill ends the emulator if it still runs.
func (e *emulatorProcess) kill() {
	if e.cmd.ProcessState == nil {
		e.cmd.Process.Kill()
		<-e.end
	}
}

// halt sends sig and returns what the emulator printed; an error unless
// it shut down cleanly (exit status 0).
func (e *emulatorProcess) halt(sig os.Signal) (string, error) {
	if err := e.cmd.Process.Signal(sig); err != nil {
		return "", err
	}
	select {
	case err := <-e.end:
		if err != nil {
			return e.out.String(), fmt.Errorf("switchboard emulate after %s: %v", sig, err)
		}
	case <-time.After(30 * time.Second):
		return e.out.String(), fmt.Errorf("switchboard emulate did not stop on %s", sig)
	}
	return e.out.String(), nil
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
//	emulator start NAME [ARGS...]   start it; sets NAME to its URL once it
//	                                listens
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
		e, err := launchEmulator(args[2:]...)
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
	gate := startEmulator(t, "-password", "gate-test-pw")
	monitor := startEmulator(t, "-user", "installer", "-password", "monitor-test-pw")

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
		`✓ device "gate": set and verified (firmware R20K 220.30.3.1)`,
		`✓ device "hall-monitor": set and verified (firmware R20K 220.30.3.1)`,
		"Apply complete!",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("apply did not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "gate-test-pw") || strings.Contains(out, "monitor-test-pw") {
		t.Errorf("apply printed a device login:\n%s", out)
	}

	stopped := regexp.MustCompile(`(?m)^Stopped \((interrupt|terminated)\): [1-9][0-9]* API requests, 1 settings writes, 0 refused logins, 0 connections dropped\.$`)
	for _, s := range []struct {
		e   *emulatorProcess
		sig os.Signal
	}{{gate, syscall.SIGINT}, {monitor, syscall.SIGTERM}} {
		if got := s.e.stop(t, s.sig); !stopped.MatchString(got) {
			t.Errorf("emulator output after %s:\n%s", s.sig, got)
		}
	}
}
