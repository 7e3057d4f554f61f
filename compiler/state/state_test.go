package state_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
	for _, data := range []string{`{"format_version": 2, "lineage": "x"}`, `not json`, `{"format_version": 1}`, `{"format_version": 1, "lineage": "x", "extra": 1}`} {
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
	// The lock is held by a live process (us): a second Lock fails.
	_, err = s.Lock("plan")
	var locked *state.LockedError
	if !errors.As(err, &locked) {
		t.Fatalf("second Lock = %v", err)
	}
	if locked.Info.ID != l.Info.ID || locked.Info.Operation != "apply" || !strings.Contains(err.Error(), "the state is locked: apply by ") {
		t.Errorf("LockedError %+v: %v", locked.Info, err)
	}
	// ForceUnlock needs the right ID.
	if _, err := s.ForceUnlock("nope"); err == nil {
		t.Error("ForceUnlock with a wrong ID succeeded")
	}
	if _, err := s.ForceUnlock(l.Info.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ForceUnlock(l.Info.ID); !errors.Is(err, state.ErrNotLocked) {
		t.Errorf("ForceUnlock of no lock = %v", err)
	}
	// Unlocking a lock someone else took since is a no-op.
	l2, err := s.Lock("apply")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadLock(); err != nil {
		t.Error("an old lock's Unlock removed a newer lock")
	}
	l2.Unlock()
	if _, err := s.ReadLock(); !errors.Is(err, state.ErrNotLocked) {
		t.Errorf("after Unlock: %v", err)
	}
}

// A lock left by a dead process of this host is broken and reported.
func TestStaleLockBroken(t *testing.T) {
	t.Parallel()
	s := state.NewStore(filepath.Join(t.TempDir(), "state.json"))
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true command:", err)
	}
	host, _ := os.Hostname()
	dead := state.LockInfo{ID: "deadbeef", Operation: "apply", Who: "x@" + host, Host: host, PID: cmd.ProcessState.Pid()}
	data, _ := json.Marshal(dead)
	if err := os.WriteFile(s.LockPath(), data, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := s.Lock("apply")
	if err != nil {
		t.Fatalf("Lock over a dead owner's lock: %v", err)
	}
	if l.Broken == nil || l.Broken.ID != "deadbeef" {
		t.Errorf("Broken = %+v", l.Broken)
	}
	l.Unlock()

	// Another host's lock is never taken over.
	other := dead
	other.Host = "elsewhere"
	data, _ = json.Marshal(other)
	os.WriteFile(s.LockPath(), data, 0o644)
	if _, err := s.Lock("apply"); err == nil {
		t.Error("took over another host's lock")
	}
}
