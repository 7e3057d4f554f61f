// Package credentials derives every password of a site from one site key.
//
// No password is ever written in a site's config or in its IR. Each SIP,
// app and portal credential is computed with HMAC-SHA-256 keyed by the site
// key over the account's identity (site name, account kind, account name,
// purpose) and its rotation counter. The same key and config always give
// the same passwords (builds are reproducible); a new key changes every
// password; raising one account's rotation counter changes only that
// account's password.
//
// The site key is 32 random bytes kept outside git. It is read, in order,
// from:
//
//  1. the environment variable SWITCHBOARD_SITE_KEY, holding the key as hex
//     (a value made only of hex digits, of even length) or else as base64
//     (standard or URL alphabet, padded or not); it must decode to at least
//     32 bytes;
//  2. the key file <site dir>/.switchboard/site.key, which `switchboard
//     init` creates (WriteKeyFile): the key in standard base64 and a
//     newline, mode 0600, in a directory of mode 0700. The file accepts the
//     same encodings as the variable.
//
// When neither exists LoadKey fails with an error wrapping ErrNoKey that
// says how to create one.
//
// The package imports only the standard library and the IR, so the runtime
// can use it to check the passwords the compiler handed out.
package credentials

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"switchboard/atomicfile"
)

// EnvVar is the environment variable holding the site key.
const EnvVar = "SWITCHBOARD_SITE_KEY"

// KeyDir and KeyFile locate the key file inside a site directory.
const (
	KeyDir  = ".switchboard"
	KeyFile = ".switchboard/site.key"
)

// KeySize is the size of a generated key; MinKeySize the smallest accepted.
const (
	KeySize    = 32
	MinKeySize = 32
)

// ErrNoKey means that neither SWITCHBOARD_SITE_KEY nor the key file exists.
var ErrNoKey = errors.New("no site key")

// Key is a site key. Its String method never reveals it; use Encode to
// write it out.
type Key struct {
	b      []byte
	source string
	// macs holds HMAC-SHA-256 states keyed with b, for the derivations:
	// keying one costs as much as the derivation's message (a server
	// derives every account's password after a start, issue 19). Shared
	// by the key's copies; nil in the zero Key.
	macs *sync.Pool
}

// newKey is the key of bytes b, from source.
func newKey(b []byte, source string) Key {
	return Key{b: b, source: source, macs: &sync.Pool{New: func() any { return hmac.New(sha256.New, b) }}}
}

// NewKey returns a fresh random key of KeySize bytes, for `switchboard init`.
func NewKey() (Key, error) {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		return Key{}, fmt.Errorf("generating site key: %w", err)
	}
	return newKey(b, "new key"), nil
}

// KeyFromBytes makes a key from raw bytes (at least MinKeySize of them). It
// is meant for tests, which need a fixed key.
func KeyFromBytes(b []byte) (Key, error) {
	if len(b) < MinKeySize {
		return Key{}, fmt.Errorf("site key is %d bytes, need at least %d", len(b), MinKeySize)
	}
	return newKey(bytes.Clone(b), "bytes"), nil
}

// ParseKey decodes a key written as hex or base64 (see the package
// documentation). Surrounding white space is ignored.
func ParseKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Key{}, errors.New("site key is empty")
	}
	var b []byte
	if isHex(s) {
		b, _ = hex.DecodeString(s)
	} else {
		var err error
		b, err = decodeBase64(s)
		if err != nil {
			return Key{}, errors.New("site key is neither hex nor base64")
		}
	}
	if len(b) < MinKeySize {
		return Key{}, fmt.Errorf("site key decodes to %d bytes, need at least %d (generate one with `openssl rand -base64 32`, or use the key file that `switchboard init -key DIR` creates)", len(b), MinKeySize)
	}
	return newKey(b, ""), nil
}

// initKeyCommand is the command that creates the key file of the site in
// dir, quoted for a shell where needed.
func initKeyCommand(dir string) string {
	if dir == "" || dir == "." {
		return "switchboard init -key"
	}
	if strings.ContainsAny(dir, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		dir = "'" + strings.ReplaceAll(dir, "'", `'\''`) + "'"
	}
	return "switchboard init -key " + dir
}

func isHex(s string) bool {
	if len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// Encode writes the key in standard base64, the key file's format.
func (k Key) Encode() string { return base64.StdEncoding.EncodeToString(k.b) }

// Fingerprint identifies the key without revealing it: the first 16
// bytes of SHA-256 over a domain string and the key, in hex groups
// ("sha256:1a2b3c4d-…"). Printed on the handover sheet and recorded in
// the state, so two copies of a key can be compared and a new key noticed.
func (k Key) Fingerprint() string {
	if k.IsZero() {
		return ""
	}
	h := sha256.New()
	h.Write([]byte("switchboard site key fingerprint v1\x00"))
	h.Write(k.b)
	x := hex.EncodeToString(h.Sum(nil)[:16])
	return "sha256:" + x[0:8] + "-" + x[8:16] + "-" + x[16:24] + "-" + x[24:32]
}

// IsZero reports whether k holds no key.
func (k Key) IsZero() bool { return len(k.b) == 0 }

// Source says where the key was read from, for messages: the environment
// variable or the key file's path.
func (k Key) Source() string { return k.source }

// String never prints the key.
func (k Key) String() string { return "credentials.Key(redacted)" }

// GoString never prints the key.
func (k Key) GoString() string { return k.String() }

// Format never prints the key, whatever the verb.
func (k Key) Format(f fmt.State, verb rune) { fmt.Fprint(f, k.String()) }

// LoadKey reads the site key of the site in dir: SWITCHBOARD_SITE_KEY from
// environ (os.Environ-style "NAME=value" entries; the last one wins) if set
// and non-empty, else the key file. A malformed key is an error, never a
// fallback to the other source.
//
// A previous key a rekey left (PreviousKeyFile) whose grace has ended is
// destroyed here: every command that loads the key ends it.
func LoadKey(dir string, environ []string) (Key, error) {
	if _, err := ExpirePrevious(dir, time.Now()); err != nil {
		return Key{}, err
	}
	if v, ok := lookupEnv(environ, EnvVar); ok && strings.TrimSpace(v) != "" {
		k, err := ParseKey(v)
		if err != nil {
			return Key{}, fmt.Errorf("%s: %w", EnvVar, err)
		}
		k.source = "environment variable " + EnvVar
		return k, nil
	}
	path := filepath.Join(dir, filepath.FromSlash(KeyFile))
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		// "init -key": plain "switchboard init" refuses a directory that
		// already holds a site.
		return Key{}, fmt.Errorf("%w: set %s or run `%s` to create %s", ErrNoKey, EnvVar, initKeyCommand(dir), path)
	}
	if err != nil {
		return Key{}, fmt.Errorf("reading site key: %w", err)
	}
	k, err := ParseKey(string(data))
	if err != nil {
		return Key{}, fmt.Errorf("%s: %w", path, err)
	}
	k.source = path
	return k, nil
}

func lookupEnv(environ []string, name string) (string, bool) {
	var val string
	found := false
	for _, kv := range environ {
		if n, v, ok := strings.Cut(kv, "="); ok && n == name {
			val, found = v, true
		}
	}
	return val, found
}

// WriteKeyFile writes k to <dir>/.switchboard/site.key with mode 0600,
// creating .switchboard with mode 0700. It refuses to overwrite an existing
// key file: losing a site key changes every password of the site. It returns
// the file's path.
func WriteKeyFile(dir string, k Key) (string, error) {
	if k.IsZero() {
		return "", errors.New("writing site key: empty key")
	}
	kd := filepath.Join(dir, KeyDir)
	if err := os.MkdirAll(kd, 0o700); err != nil {
		return "", fmt.Errorf("writing site key: %w", err)
	}
	path := filepath.Join(dir, filepath.FromSlash(KeyFile))
	err := atomicfile.Create(path, []byte(k.Encode()+"\n"), 0o600)
	if errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("writing site key: %s already exists; a new key would change every password of the site (switchboard rekey replaces it, giving the devices a grace window to fetch their new files)", path)
	}
	if err != nil {
		return "", fmt.Errorf("writing site key: %w", err)
	}
	return path, nil
}
