package voicemail

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"switchboard/runtime/throttle"
)

// PIN lengths.
const (
	MinPIN = 4
	MaxPIN = 6
)

// ValidPIN reports whether pin is 4 to 6 digits.
func ValidPIN(pin string) bool {
	if len(pin) < MinPIN || len(pin) > MaxPIN {
		return false
	}
	for _, c := range []byte(pin) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// pinScheme is the one hashing scheme: PBKDF2 with HMAC-SHA-256.
const pinScheme = "pbkdf2-sha256"

// pinIterations is the PBKDF2 cost of new hashes (tests lower it). A PIN
// has at most a million values, so no cost stops an offline search of a
// stolen file; the hash keeps the digits out of backups and sight, and
// the throttle guards the phone line.
var pinIterations = 100_000

const maxPINIterations = 10_000_000

// pinRecord is pin.json.
type pinRecord struct {
	Scheme     string `json:"scheme"`
	Iterations int    `json:"iterations"`
	Salt       string `json:"salt"` // base64, 16 random bytes
	Hash       string `json:"hash"` // base64, 32 bytes
}

func hashPIN(pin string) (pinRecord, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return pinRecord{}, err
	}
	h, err := pbkdf2.Key(sha256.New, pin, salt, pinIterations, sha256.Size)
	if err != nil {
		return pinRecord{}, err
	}
	return pinRecord{Scheme: pinScheme, Iterations: pinIterations,
		Salt: base64.StdEncoding.EncodeToString(salt), Hash: base64.StdEncoding.EncodeToString(h)}, nil
}

func parsePINRecord(data []byte) (pinRecord, error) {
	var r pinRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("voicemail: %s: %w", pinFile, err)
	}
	if r.Scheme != pinScheme || r.Iterations < 1 || r.Iterations > maxPINIterations {
		return r, fmt.Errorf("voicemail: %s: unknown scheme %q with %d iterations", pinFile, r.Scheme, r.Iterations)
	}
	salt, err1 := base64.StdEncoding.DecodeString(r.Salt)
	h, err2 := base64.StdEncoding.DecodeString(r.Hash)
	if err1 != nil || err2 != nil || len(salt) == 0 || len(h) != sha256.Size {
		return r, fmt.Errorf("voicemail: %s: malformed salt or hash", pinFile)
	}
	return r, nil
}

func (r pinRecord) matches(pin string) bool {
	salt, err1 := base64.StdEncoding.DecodeString(r.Salt)
	want, err2 := base64.StdEncoding.DecodeString(r.Hash)
	if err1 != nil || err2 != nil || r.Iterations < 1 || r.Iterations > maxPINIterations {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, pin, salt, r.Iterations, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// setPIN stores a new PIN, hashed.
func (b *box) setPIN(pin string) error {
	if !ValidPIN(pin) {
		return errors.New("voicemail: a PIN has 4 to 6 digits")
	}
	r, err := hashPIN(pin)
	if err != nil {
		return err
	}
	data, _ := json.MarshalIndent(r, "", "  ")
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sh.write(b.name, pinFile, append(data, '\n'))
}

// checkPIN reports whether pin opens the box: the stored PIN when the
// owner set one, else the initial one.
func (s *Service) checkPIN(b *box, pin string) bool {
	if !ValidPIN(pin) {
		return false
	}
	data, err := b.sh.read(b.name, pinFile)
	switch {
	case err == nil:
		r, err := parsePINRecord(data)
		if err != nil {
			// Refuse rather than fall back to the initial PIN: the owner
			// still gets in from their own devices and can set a new one.
			s.log.Error("voicemail: unreadable PIN file", "box", b.name, "error", err)
			return false
		}
		return r.matches(pin)
	case !errors.Is(err, fs.ErrNotExist):
		s.log.Error("voicemail: reading the PIN", "box", b.name, "error", err)
		return false
	}
	if s.cfg.PINs == nil {
		return false
	}
	initial, ok := s.cfg.PINs.VoicemailPIN(b.name)
	return ok && ValidPIN(initial) && subtle.ConstantTimeCompare([]byte(initial), []byte(pin)) == 1
}

// pinThrottle counts wrong PINs per box and per source address.
type pinThrottle struct {
	mu      sync.Mutex
	boxes   throttle.Table[string]
	sources throttle.Table[string]
}

// maxTracked bounds each table: past it the oldest windows are evicted
// (throttle.Table) and new boxes or sources are still counted.
const maxTracked = 100_000

func (t *pinThrottle) init() {
	t.boxes = throttle.New[string](maxTracked)
	t.sources = throttle.New[string](maxTracked)
}

// locked reports whether box or source has reached its limit, and for how
// much longer.
func (s *Service) locked(box, source string) (time.Duration, bool) {
	now, l := s.clk.Now(), s.cfg.Throttle
	t := &s.throttle
	t.mu.Lock()
	defer t.mu.Unlock()
	if box != "" {
		if n, closes := t.boxes.Count(box, now, l.Window); n >= l.BoxFailures {
			return closes.Sub(now), true
		}
	}
	if source != "" {
		if n, closes := t.sources.Count(source, now, l.Window); n >= l.SourceFailures {
			return closes.Sub(now), true
		}
	}
	return 0, false
}

// fail counts a wrong PIN; it reports which limit (if any) this failure
// reached: "box" or "source".
func (s *Service) fail(box, source string) string {
	now, l := s.clk.Now(), s.cfg.Throttle
	t := &s.throttle
	t.mu.Lock()
	defer t.mu.Unlock()
	var perBox, perSource int
	if box != "" {
		perBox = t.boxes.Add(box, now, l.Window)
	}
	if source != "" {
		perSource = t.sources.Add(source, now, l.Window)
	}
	switch {
	case perBox == l.BoxFailures:
		return "box"
	case perSource == l.SourceFailures:
		return "source"
	}
	return ""
}

// forgive clears a box's count after its PIN was given.
func (s *Service) forgive(box string) {
	t := &s.throttle
	t.mu.Lock()
	t.boxes.Forget(box)
	t.mu.Unlock()
}
