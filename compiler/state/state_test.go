package state_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/state"
)

func TestWriteReadRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := state.NewStore(filepath.Join(dir, ".switchboard", "state.json"))
	st, exists, err := s.Read("home")
	if err != nil || exists {
		t.Fatalf("Read of no file = %v, %v", exists, err)
	}
	if st.Serial != 0 || st.Lineage == "" || st.Site != "home" {
		t.Fatalf("new state %+v", st)
	}
	st.Put(state.Object{Address: "user.b", Attributes: map[string]string{"x": `"1"`}})
	st.Put(state.Object{Address: "device.a", Attributes: map[string]string{}, Delivery: &state.Delivery{Method: "api", Outcome: "set and verified"}})
	st.Put(state.Object{Address: "user.b", Attributes: map[string]string{"x": `"2"`}})
	if err := s.Write(st); err != nil {
		t.Fatal(err)
	}
	if st.Serial != 1 {
		t.Errorf("serial %d after one write", st.Serial)
	}
	got, exists, err := s.Read("home")
	if err != nil || !exists {
		t.Fatal(exists, err)
	}
	if d := cmp.Diff(st, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	if o := got.Object("user.b"); o == nil || o.Attributes["x"] != `"2"` {
		t.Errorf("Object(user.b) = %+v", o)
	}
	got.Remove("user.b")
	if got.Object("user.b") != nil || len(got.Objects) != 1 {
		t.Error("Remove left the object")
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(filepath.Dir(s.Path))
	for _, e := range entries {
		if e.Name() != "state.json" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	// Another site's state is refused.
	if _, _, err := s.Read("other"); err == nil || !strings.Contains(err.Error(), `belongs to site "home"`) {
		t.Errorf("other site: %v", err)
	}
}

func TestParseRefusesOtherVersions(t *testing.T) {
	for _, data := range []string{
		`{"format_version": 3, "lineage": "x"}`, `not json`, `{"format_version": 2}`, `{"format_version": 1}`,
		`{"format_version": 2, "lineage": "x", "extra": 1}`, `{"format_version": 1, "lineage": "x", "extra": 1}`,
		`{"format_version": 2, "lineage": "x", "objects": [{"address": "user.a", "attributes": {"x": 1 2}}]}`,
		`{"format_version": 1, "lineage": "x", "objects": [{"address": "user.a", "attributes": {"x": "not json"}}]}`,
	} {
		if _, err := state.Parse([]byte(data)); err == nil {
			t.Errorf("Parse(%s) succeeded", data)
		}
	}
}

func TestLock(t *testing.T) {
	t.Parallel()
	s := state.NewStore(filepath.Join(t.TempDir(), "state.json"))
	l, err := s.Lock("apply")
	if err != nil {
		t.Fatal(err)
	}
	if l.Broken != nil {
		t.Error("fresh lock broke something")
	}
	// The kernel lock is held (by another open file of ours): a second
	// Lock fails at once and names the owner.
	_, err = s.Lock("plan")
	var locked *state.LockedError
	if !errors.As(err, &locked) {
		t.Fatalf("second Lock = %v", err)
	}
	if diff := cmp.Diff(l.Info, locked.Info); diff != "" || !strings.Contains(err.Error(), "the state is locked: apply by ") {
		t.Errorf("LockedError %v; owner (-want +got):\n%s", err, diff)
	}
	if got, err := s.ReadLock(); err != nil || got.ID != l.Info.ID {
		t.Errorf("ReadLock = %+v, %v; want the lock %s", got, err, l.Info.ID)
	}
	// ForceUnlock cannot take a lock from a running process: it says so.
	if _, err := s.ForceUnlock("nope"); err == nil || !strings.Contains(err.Error(), "the lock's ID is "+l.Info.ID) {
		t.Errorf("ForceUnlock with a wrong ID = %v", err)
	}
	var held *state.HeldError
	if _, err := s.ForceUnlock(l.Info.ID); !errors.As(err, &held) || !strings.Contains(err.Error(), "the kernel releases it") {
		t.Errorf("ForceUnlock of a held lock = %v, want a HeldError", err)
	}
	if _, err := s.ReadLock(); err != nil {
		t.Errorf("the lock is gone after a refused ForceUnlock: %v", err)
	}

	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadLock(); !errors.Is(err, state.ErrNotLocked) {
		t.Errorf("ReadLock after Unlock = %v", err)
	}
	if _, err := s.ForceUnlock(l.Info.ID); !errors.Is(err, state.ErrNotLocked) {
		t.Errorf("ForceUnlock of no lock = %v", err)
	}
	// A lock released by Unlock leaves nothing to report.
	l2, err := s.Lock("apply")
	if err != nil {
		t.Fatal(err)
	}
	if l2.Broken != nil {
		t.Errorf("Broken = %+v after a clean Unlock", l2.Broken)
	}
	// Unlocking twice does not release a lock taken since.
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ReadLock(); err != nil || got.ID != l2.Info.ID {
		t.Errorf("ReadLock = %+v, %v after an old lock's second Unlock", got, err)
	}
	l2.Unlock()
}

// holderEnv, in the environment of a process TestKilledHolder starts, names
// the state file whose lock it takes; it prints the lock's ID and waits to
// be killed.
const holderEnv = "STATE_TEST_LOCK_HOLDER"

func TestMain(m *testing.M) {
	if path := os.Getenv(holderEnv); path != "" {
		l, err := state.NewStore(path).Lock("apply")
		if err != nil {
			os.Stderr.WriteString(err.Error())
			os.Exit(3)
		}
		os.Stdout.WriteString(l.Info.ID + "\n")
		io.Copy(io.Discard, os.Stdin) // until killed
		os.Exit(4)
	}
	os.Exit(m.Run())
}

// A process killed with -9 while holding the lock does not keep it: the
// kernel releases it, and the next Lock reports the record it left.
func TestKilledHolder(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.json")
	s := state.NewStore(path)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), holderEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	id, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("the holder said %q: %v", id, err)
	}
	id = strings.TrimSpace(id)

	_, err = s.Lock("apply")
	var locked *state.LockedError
	if !errors.As(err, &locked) || locked.Info.ID != id || locked.Info.PID != cmd.Process.Pid {
		t.Fatalf("Lock while the holder runs = %v, want the holder's lock %s", err, id)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	l, err := s.Lock("apply")
	if err != nil {
		t.Fatalf("Lock after the holder was killed: %v", err)
	}
	defer l.Unlock()
	if l.Broken == nil || l.Broken.ID != id {
		t.Errorf("Broken = %+v, want the killed holder's lock %s", l.Broken, id)
	}
}

// An owner record with no process holding the lock (left by any crash, on
// any host) is no lock.
func TestLeftRecordIsNoLock(t *testing.T) {
	t.Parallel()
	s := state.NewStore(filepath.Join(t.TempDir(), "state.json"))
	left := state.LockInfo{ID: "deadbeef", Operation: "apply", Who: "x@elsewhere", Host: "elsewhere", PID: 1}
	data, _ := json.Marshal(left)
	if err := os.WriteFile(s.LockPath(), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadLock(); !errors.Is(err, state.ErrNotLocked) {
		t.Errorf("ReadLock = %v, want ErrNotLocked", err)
	}
	l, err := s.Lock("apply")
	if err != nil {
		t.Fatalf("Lock over a left record: %v", err)
	}
	if l.Broken == nil || l.Broken.ID != "deadbeef" {
		t.Errorf("Broken = %+v", l.Broken)
	}
	l.Unlock()
}

// TestNativeValues: the file holds attribute values as JSON values, not
// JSON strings holding JSON, and the same state always gives the same
// bytes.
func TestNativeValues(t *testing.T) {
	t.Parallel()
	st := &state.State{Lineage: "l", Serial: 3, Site: "home", Objects: []state.Object{
		{Address: "user.b", Attributes: map[string]string{"number": `"8100"`, "port": `5060`, "list": `["a","b"]`, "on": `true`}},
		{Address: "trunk.c", Attributes: map[string]string{"username": `{"from":"var.trunk_user"}`}},
	}}
	data, err := state.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"number": "8100"`, `"port": 5060`, `"on": true`, `"from": "var.trunk_user"`, `"format_version": 2`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("state file lacks %s:\n%s", want, data)
		}
	}
	if strings.Contains(string(data), `\"`) {
		t.Errorf("state file has JSON inside JSON strings:\n%s", data)
	}
	got, err := state.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	st.FormatVersion = state.FormatVersion
	// Objects are sorted by address on the way.
	st.Objects[0], st.Objects[1] = st.Objects[1], st.Objects[0]
	if d := cmp.Diff(st, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	again, err := state.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(data), string(again)); d != "" {
		t.Errorf("the same state gave other bytes (-want +got):\n%s", d)
	}
}

// TestReadsVersion1: a version 1 file (values as JSON strings holding
// JSON) is read with nothing lost; a trunk's username and password, which
// it recorded as the variable names, become references; it is written
// back as version 2.
func TestReadsVersion1(t *testing.T) {
	t.Parallel()
	old := `{
  "format_version": 1,
  "lineage": "abc",
  "serial": 7,
  "site": "home",
  "objects": [
    {
      "address": "conference.mary",
      "attributes": {"number": "\"8101\"", "owner": "\"user.mary\""},
      "applied_at": "2026-01-02T03:04:05Z"
    },
    {
      "address": "device.gate",
      "attributes": {"port": "5060", "files": "[\"a.cfg\",\"b.cfg\"]", "label": "\"A \u003c B\""},
      "applied_at": "2026-01-02T03:04:05Z",
      "delivery": {"method": "api", "outcome": "set and verified", "firmware": "R29 1.0"},
      "in_progress": true
    },
    {
      "address": "device.phone",
      "attributes": {"vendor": "\"yealink\""},
      "applied_at": "2026-01-02T03:04:05Z",
      "delivery": {"method": "published", "outcome": "check-sync: no server configured"}
    },
    {
      "address": "trunk.carrier",
      "attributes": {"username": "\"var.trunk_user\"", "password": "\"var.trunk_password\"", "login": "\"var.not-a-ref-here\"", "host": "\"sip.example\""},
      "applied_at": "2026-01-02T03:04:05Z"
    }
  ]
}
`
	got, err := state.Parse([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	at := got.Objects[0].AppliedAt
	want := &state.State{FormatVersion: state.FormatVersion, Lineage: "abc", Serial: 7, Site: "home", Objects: []state.Object{
		{Address: "conference.mary", AppliedAt: at, Attributes: map[string]string{"number": `"8101"`, "owner": `"user.mary"`}},
		{Address: "device.gate", AppliedAt: at, InProgress: true, Delivery: &state.Delivery{Method: "api", Outcome: "set and verified", Firmware: "R29 1.0"},
			Attributes: map[string]string{"port": `5060`, "files": `["a.cfg","b.cfg"]`, "label": `"A \u003c B"`}},
		// Published with no server to tell it: never reached, so in progress.
		{Address: "device.phone", AppliedAt: at, InProgress: true, Delivery: &state.Delivery{Method: "published", Outcome: "check-sync: no server configured"},
			Attributes: map[string]string{"vendor": `"yealink"`}},
		{Address: "trunk.carrier", AppliedAt: at, Attributes: map[string]string{
			"username": `{"from":"var.trunk_user"}`, "password": `{"from":"var.trunk_password"}`,
			"login": `"var.not-a-ref-here"`, "host": `"sip.example"`}},
	}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("version 1 read (-want +got):\n%s", d)
	}
	s := state.NewStore(filepath.Join(t.TempDir(), "state.json"))
	if err := s.Write(got); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		FormatVersion int `json:"format_version"`
		Objects       []struct {
			Attributes map[string]any `json:"attributes"`
		} `json:"objects"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if file.FormatVersion != 2 || file.Objects[0].Attributes["number"] != "8101" || file.Objects[1].Attributes["port"] != 5060.0 {
		t.Errorf("written back as:\n%s", data)
	}
}

// The commissioning results survive a write and a read: a run that stops
// resumes with them.
func TestCommissioningRoundTrip(t *testing.T) {
	st := state.New("x")
	st.Commissioning = &state.Commissioning{
		Updated: time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC), Epoch: "e1", After: 42,
		Cases: []state.CommissionedCase{
			{Name: "gate button 1 → residence A rings together, then hangup", Origin: "site.pbx.hcl:12", Status: "passed", At: time.Date(2026, 12, 5, 13, 59, 0, 0, time.UTC), Evidence: []uint64{3, 4, 7}, Epoch: "e1"},
			{Name: "mary calls bob on extension 102", Status: "open", Detail: "not called yet"},
		},
	}
	data, err := state.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	got, err := state.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(st.Commissioning, got.Commissioning); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
