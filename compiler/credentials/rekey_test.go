package credentials_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"switchboard/compiler/credentials"
)

func TestRekeyKeepsPreviousForGrace(t *testing.T) {
	dir := t.TempDir()
	k, _ := credentials.NewKey()
	if _, err := credentials.WriteKeyFile(dir, k); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC)
	next, prev, err := credentials.Rekey(dir, nil, 7*24*time.Hour, now, false)
	if err != nil {
		t.Fatal(err)
	}
	if next.Fingerprint() == k.Fingerprint() || prev.Key.Fingerprint() != k.Fingerprint() {
		t.Fatalf("new %s, previous %s, old %s", next.Fingerprint(), prev.Key.Fingerprint(), k.Fingerprint())
	}
	if !prev.Until.Equal(now.Add(7 * 24 * time.Hour)) {
		t.Errorf("until %s", prev.Until)
	}
	loaded, err := credentials.LoadKey(dir, nil)
	if err != nil || loaded.Fingerprint() != next.Fingerprint() {
		t.Fatalf("LoadKey after rekey: %v, %s", err, loaded.Fingerprint())
	}
	path := filepath.Join(dir, filepath.FromSlash(credentials.PreviousKeyFile))
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("previous key file: %v, %v", fi, err)
	}
	got, ok, err := credentials.LoadPrevious(dir, now.Add(6*24*time.Hour))
	if err != nil || !ok || got.Key.Fingerprint() != k.Fingerprint() {
		t.Fatalf("inside the window: %v %v", ok, err)
	}
	// A second rekey inside the window is refused without force.
	if _, _, err := credentials.Rekey(dir, nil, time.Hour, now.Add(time.Hour), false); !errors.Is(err, credentials.ErrPreviousInGrace) {
		t.Errorf("second rekey inside the window: %v", err)
	}
	// After the window the next load destroys it.
	if _, ok, err := credentials.LoadPrevious(dir, now.Add(7*24*time.Hour)); ok || err != nil {
		t.Fatalf("after the window: %v %v", ok, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the previous key survived its window: %v", err)
	}
}

func TestRekeyRefusesEnvironmentKey(t *testing.T) {
	dir := t.TempDir()
	env := []string{credentials.EnvVar + "=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"}
	_, _, err := credentials.Rekey(dir, env, time.Hour, time.Now(), false)
	if err == nil || !strings.Contains(err.Error(), credentials.EnvVar) {
		t.Errorf("rekey of an environment key: %v", err)
	}
	if strings.Contains(err.Error(), "0001020304") {
		t.Error("the error shows the key")
	}
}

func TestLoadKeyDestroysExpiredPrevious(t *testing.T) {
	dir := t.TempDir()
	k, _ := credentials.NewKey()
	credentials.WriteKeyFile(dir, k)
	if _, _, err := credentials.Rekey(dir, nil, time.Hour, time.Now().Add(-2*time.Hour), false); err != nil {
		t.Fatal(err)
	}
	if _, err := credentials.LoadKey(dir, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(credentials.PreviousKeyFile))); !os.IsNotExist(err) {
		t.Errorf("LoadKey left an expired previous key: %v", err)
	}
}

func TestFingerprintRevealsNothing(t *testing.T) {
	k, _ := credentials.NewKey()
	fp := k.Fingerprint()
	if !strings.HasPrefix(fp, "sha256:") || strings.Contains(fp, k.Encode()) || len(fp) != len("sha256:")+35 {
		t.Errorf("fingerprint %q", fp)
	}
	if (credentials.Key{}).Fingerprint() != "" {
		t.Error("the zero key has a fingerprint")
	}
}
