package credentials

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"switchboard/atomicfile"
)

// PreviousKeyFile is where Rekey keeps the key it replaced, next to the
// key file, for the grace window.
const PreviousKeyFile = ".switchboard/site.key.previous"

// DefaultGrace is how long a replaced key still lets devices fetch their
// files: a week covers a device that is off over a weekend or a holiday.
const DefaultGrace = 7 * 24 * time.Hour

// Previous is the key a rekey replaced, and until when it is honoured.
type Previous struct {
	Key   Key
	Until time.Time
}

// ErrPreviousInGrace is returned by Rekey when the key before the current
// one is still in its grace window.
var ErrPreviousInGrace = errors.New("the previous site key is still in its grace window")

// Rekey replaces the key file of the site in dir with a new random key and
// keeps the current one in PreviousKeyFile until now+grace: devices fetch
// their new files with passwords of the old key meanwhile (serve accepts
// them for provisioning only) and then switch. It refuses a key that comes
// from SWITCHBOARD_SITE_KEY (it cannot rewrite the environment), and a
// rekey while an earlier previous key is still in its grace unless force
// (devices not yet moved off that key would lose their way back).
//
// The previous key is written first and the new key after it, each
// atomically: a crash between the two leaves the current key twice, which
// changes nothing.
func Rekey(dir string, environ []string, grace time.Duration, now time.Time, force bool) (Key, Previous, error) {
	if v, ok := lookupEnv(environ, EnvVar); ok && strings.TrimSpace(v) != "" {
		return Key{}, Previous{}, fmt.Errorf("the site key comes from %s: rekey rewrites the key file, so unset %s and keep the key in %s, or replace the variable's value yourself", EnvVar, EnvVar, filepath.Join(dir, filepath.FromSlash(KeyFile)))
	}
	if grace <= 0 {
		return Key{}, Previous{}, errors.New("the grace window must be positive: devices need time to fetch their new files with the old password")
	}
	cur, err := LoadKey(dir, nil)
	if err != nil {
		return Key{}, Previous{}, err
	}
	if old, ok, err := LoadPrevious(dir, now); err != nil {
		return Key{}, Previous{}, err
	} else if ok && !force {
		return Key{}, Previous{}, fmt.Errorf("%w (key %s, until %s): devices may still be fetching with it; rekey again after that, or with -force", ErrPreviousInGrace, old.Key.Fingerprint(), old.Until.UTC().Format(time.RFC3339))
	}
	next, err := NewKey()
	if err != nil {
		return Key{}, Previous{}, err
	}
	prev := Previous{Key: cur, Until: now.Add(grace).UTC().Truncate(time.Second)}
	if err := writePrevious(dir, prev, now); err != nil {
		return Key{}, Previous{}, err
	}
	path := filepath.Join(dir, filepath.FromSlash(KeyFile))
	if err := atomicfile.Write(path, []byte(next.Encode()+"\n"), 0o600); err != nil {
		return Key{}, Previous{}, fmt.Errorf("writing the new site key: %w", err)
	}
	next.source = path
	prev.Key.source = filepath.Join(dir, filepath.FromSlash(PreviousKeyFile))
	return next, prev, nil
}

func writePrevious(dir string, p Previous, now time.Time) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# The site key `switchboard rekey` replaced on %s (fingerprint %s).\n", now.UTC().Format(time.RFC3339), p.Key.Fingerprint())
	fmt.Fprintf(&b, "# Devices may fetch their files with passwords derived from it until the\n# time below; after that the next command that reads it destroys this file.\n")
	fmt.Fprintf(&b, "until %s\n", p.Until.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "key %s\n", p.Key.Encode())
	if err := os.MkdirAll(filepath.Join(dir, KeyDir), 0o700); err != nil {
		return fmt.Errorf("writing the previous site key: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, filepath.FromSlash(PreviousKeyFile)), []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("writing the previous site key: %w", err)
	}
	return nil
}

// LoadPrevious reads the key a rekey replaced. ok is false when there is
// none. A previous key whose grace has ended at now is destroyed (the file
// removed) and reported as none.
func LoadPrevious(dir string, now time.Time) (Previous, bool, error) {
	path := filepath.Join(dir, filepath.FromSlash(PreviousKeyFile))
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Previous{}, false, nil
	}
	if err != nil {
		return Previous{}, false, fmt.Errorf("reading the previous site key: %w", err)
	}
	defer f.Close()
	var p Previous
	var haveKey, haveUntil bool
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, _ := strings.Cut(line, " ")
		switch name {
		case "until":
			t, err := time.Parse(time.RFC3339, strings.TrimSpace(value))
			if err != nil {
				return Previous{}, false, fmt.Errorf("%s: until: %w", path, err)
			}
			p.Until, haveUntil = t, true
		case "key":
			k, err := ParseKey(value)
			if err != nil {
				return Previous{}, false, fmt.Errorf("%s: %w", path, err)
			}
			p.Key, haveKey = k, true
		default:
			return Previous{}, false, fmt.Errorf("%s: unknown line %q", path, name)
		}
	}
	if err := sc.Err(); err != nil {
		return Previous{}, false, fmt.Errorf("reading the previous site key: %w", err)
	}
	if !haveKey || !haveUntil {
		return Previous{}, false, fmt.Errorf("%s: needs an until line and a key line", path)
	}
	p.Key.source = path
	if !now.Before(p.Until) {
		if err := destroy(path); err != nil {
			return Previous{}, false, err
		}
		return Previous{}, false, nil
	}
	return p, true, nil
}

// ExpirePrevious destroys the previous key of the site in dir when its
// grace has ended at now; it reports whether it did.
func ExpirePrevious(dir string, now time.Time) (bool, error) {
	path := filepath.Join(dir, filepath.FromSlash(PreviousKeyFile))
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	_, ok, err := LoadPrevious(dir, now)
	if err != nil {
		return false, err
	}
	if ok {
		return false, nil
	}
	_, err = os.Stat(path)
	return errors.Is(err, fs.ErrNotExist), nil
}

// destroy overwrites the previous key file's bytes before removing it, so
// the key does not linger in the file's old blocks where the file system
// rewrites in place.
func destroy(path string) error {
	if fi, err := os.Stat(path); err == nil {
		_ = os.WriteFile(path, make([]byte, fi.Size()), 0o600)
	}
	if err := atomicfile.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("destroying the previous site key: %w", err)
	}
	return nil
}
