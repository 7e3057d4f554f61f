package site

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"switchboard/atomicfile"
)

// minAdminToken is the shortest admin token accepted, in characters: a
// token given by the operator must be as hard to guess as the one
// AdminToken makes (256 bits, 64 hex digits) would be, give or take; 32
// characters of a password generator are well past what can be guessed
// at a few tries a second.
const minAdminToken = 32

// AdminToken returns the admin endpoints' bearer token kept in path,
// making one — 256 random bits as 64 hex digits, readable by the owner
// only (0600) — when there is none yet; created says it was made now. A
// file that others may read, or a token shorter than 32 characters, is
// refused: either would let someone other than the operator in.
func AdminToken(path string) (token string, created bool, err error) {
	token, err = readAdminToken(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return token, false, err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", false, err
	}
	token = hex.EncodeToString(b[:])
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", false, err
	}
	// Create, not Write: two servers starting at once must not each write
	// a token and leave one of them holding the wrong one.
	if err := atomicfile.Create(path, []byte(token+"\n"), 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			token, err = readAdminToken(path)
			return token, false, err
		}
		return "", false, err
	}
	return token, true, nil
}

func readAdminToken(path string) (string, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("admin token %s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("admin token %s may be read by others (mode %#o); make it readable by its owner only: chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	token := strings.TrimSpace(string(data))
	if err := CheckAdminToken(token); err != nil {
		return "", fmt.Errorf("admin token %s: %w", path, err)
	}
	return token, nil
}

// CheckAdminToken says why token cannot be the admin endpoints' token:
// too short to resist guessing, or not one line of printable ASCII (it
// travels in an HTTP header).
func CheckAdminToken(token string) error {
	if len(token) < minAdminToken {
		return fmt.Errorf("the token has %d characters; it needs at least %d", len(token), minAdminToken)
	}
	for _, r := range token {
		if r <= ' ' || r > '~' {
			return errors.New("the token must be printable ASCII without spaces")
		}
	}
	return nil
}
