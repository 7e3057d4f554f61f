package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"switchboard/compiler/provision/akuvox"
	"switchboard/compiler/state"
	"switchboard/simulate/emulator"
)

// TestApplyKilledConverges builds the real binary, starts apply against
// emulated devices (slow enough to be caught mid-way) and kills it with
// SIGKILL at random moments, again and again. After every kill the state
// file is whole, the next plan runs (the dead apply's lock is stale), and
// every device the state records as done holds its settings. A final apply
// finishes; the plan is then empty and every device agrees with the state.
func TestApplyKilledConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it about twenty times")
	}
	t.Parallel()
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the binary with")
	}
	work := t.TempDir()
	bin := filepath.Join(work, "switchboard")
	build := exec.Command(gocmd, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// A site of six door stations and a monitor, and six people who get
	// invitations. Each round applies the other of two variants (relay
	// codes and login rotations differ), so every apply has work to do.
	const doors = 6
	site := filepath.Join(work, "site")
	var devices []string
	for i := 1; i <= doors; i++ {
		devices = append(devices, fmt.Sprintf("door-%d", i))
	}
	devices = append(devices, "monitor")

	emus := map[string]*emulator.Device{}
	var lines []string
	for _, name := range devices {
		d, err := emulator.Start(emulator.WithCredentials("admin", "pw"), emulator.WithLatency(15*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		emus[name] = d
		lines = append(lines, name+" "+d.URL())
	}
	devFile := filepath.Join(work, "devices.txt")
	os.WriteFile(devFile, []byte(strings.Join(lines, "\n")+"\n"), 0o644)

	mb := &scriptMailbox{}
	srv := smtp.NewServer(mb)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	env := append(os.Environ(), "SWITCHBOARD_SITE_KEY="+testSiteKey, "SWITCHBOARD_DEVICE_PASSWORD=pw", "NO_COLOR=1")
	run := func(args ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return 0, string(out)
	}

	// The files every device should end up with, per variant.
	want := [2]map[string]map[string]string{}
	for v := range 2 {
		writeKillSite(t, site, doors, v)
		ref := filepath.Join(work, fmt.Sprintf("ref%d", v))
		if code, out := run("build", "-o", ref, site); code != 0 {
			t.Fatalf("build: %s", out)
		}
		want[v] = map[string]map[string]string{}
		for _, name := range devices {
			want[v][name] = deviceFileKeys(t, ref, name)
		}
	}
	statePath := filepath.Join(site, ".switchboard", "state.json")
	applyArgs := []string{"apply", "-auto-approve", "-parallelism", "2", "-devices", devFile, "-smtp", ln.Addr().String(), site}

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	killed, finished, variant := 0, 0, 0
	for round := 0; round < 16; round++ {
		variant = round % 2
		writeKillSite(t, site, doors, variant)
		cmd := exec.Command(bin, applyArgs...)
		cmd.Env = env
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// A random moment to kill apply at, which is what this test is
		// about: it waits for nothing to happen.
		time.Sleep(time.Duration(20+rng.IntN(450)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed++
		} else {
			finished++
		}

		// The state is whole (never half written) and claims nothing a
		// device does not have: a device the state records as done (not
		// in progress) holds exactly what the state says.
		if data, err := os.ReadFile(statePath); err == nil {
			st, err := state.Parse(data)
			if err != nil {
				t.Fatalf("round %d: the state is damaged: %v", round, err)
			}
			for _, name := range devices {
				o := st.Object("device." + name)
				if o == nil || o.InProgress {
					continue
				}
				recorded := 0
				// A door's relay code, or the unlock code a monitor sends it.
				if o.Attributes["relays[door].dtmf"] == `"*"` || o.Attributes["unlock_dtmf"] == `"*"` {
					recorded = 1
				}
				if !holds(emus[name], want[recorded][name]) {
					t.Errorf("round %d: %s is recorded with variant %d, but the device does not hold it", round, name, recorded)
				}
			}
		}
		// The next plan runs: the killed apply's lock is stale.
		if code, out := run("plan", "-detailed-exitcode", site); code != 0 && code != 2 {
			t.Fatalf("round %d: plan after a kill: exit %d\n%s", round, code, out)
		}
	}
	t.Logf("%d applies killed mid-way, %d finished before the kill", killed, finished)
	if killed == 0 {
		t.Error("no apply was caught mid-way: the test proves nothing")
	}

	if code, out := run(applyArgs...); code != 0 {
		t.Fatalf("final apply: exit %d\n%s", code, out)
	}
	if code, out := run("plan", "-detailed-exitcode", site); code != 0 {
		t.Fatalf("after the final apply the plan is not empty: exit %d\n%s", code, out)
	}
	data, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range devices {
		o := st.Object("device." + name)
		if o == nil || o.Delivery == nil || o.Delivery.Method != "api" {
			t.Errorf("%s: state %+v", name, o)
		}
		if !holds(emus[name], want[variant][name]) {
			t.Errorf("%s does not hold its settings after the final apply", name)
		}
	}
	// Every person got an invitation (at least one: a kill between the
	// mail and the state write sends it again).
	got := map[string]bool{}
	for _, m := range mb.received() {
		got[m.to[0]] = true
	}
	for i := 1; i <= doors; i++ {
		if to := fmt.Sprintf("person%d@example.com", i); !got[to] {
			t.Errorf("no invitation reached %s", to)
		}
	}
}

// holds reports whether the device holds every setting of want.
func holds(d *emulator.Device, want map[string]string) bool {
	keys := d.Keys()
	for k, v := range want {
		if keys[k] != v {
			return false
		}
	}
	return true
}

// deviceFileKeys reads a device's AutoP file from a build's manifest.
func deviceFileKeys(t *testing.T, out, device string) map[string]string {
	t.Helper()
	var m struct {
		Files []struct{ Path, Device string }
	}
	data, err := os.ReadFile(filepath.Join(out, "provision", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Files {
		if f.Device != device || !strings.HasSuffix(f.Path, ".cfg") {
			continue // a monitor's contact list is not AutoP settings
		}
		data, err := os.ReadFile(filepath.Join(out, "provision", filepath.FromSlash(f.Path)))
		if err != nil {
			t.Fatal(err)
		}
		kvs, err := akuvox.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		keys := map[string]string{}
		for _, kv := range kvs {
			keys[kv.Key] = kv.Value
		}
		return keys
	}
	t.Fatalf("no file for %s", device)
	return nil
}

// writeKillSite writes the site; variant 1 has other relay codes and
// rotated logins.
func writeKillSite(t *testing.T, dir string, doors, variant int) {
	t.Helper()
	var b strings.Builder
	b.WriteString(`site "kill-test" {
  name     = "Kill Test Court"
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "kill-test.example.net"

  installer {
    company = "Dublin Door Systems"
    email   = "support@dds.example"
  }
}

device "monitor" {
  model     = "akuvox-c315"
  mac       = "0C:11:05:10:00:FF"
  residence = residence.flat-1
}
`)
	for i := 1; i <= doors; i++ {
		role := "user"
		if i == 1 {
			role = "owner"
		}
		fmt.Fprintf(&b, `
residence "flat-%[1]d" {
  label = "%[1]d"
}

user "person%[1]d" {
  first_name       = "Person"
  last_name        = "Number%[1]d"
  email            = "person%[1]d@example.com"
  mobile           = "+35387100%04[1]d"
  residence        = residence.flat-%[1]d
  role             = "%[2]s"
  extension        = %[3]d
  app              = true
  send_credentials = true
  rotation         = %[4]d
}

device "door-%[1]d" {
  model = "akuvox-r20k"
  mac   = "0C:11:05:10:00:%02[1]X"

  button "1" {
    calls = residence.flat-%[1]d
  }

  relay "door" {
    dtmf = "%[5]s"
  }
}
`, i, role, 300+i, variant, []string{"#", "*"}[variant])
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "site.pbx.hcl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
