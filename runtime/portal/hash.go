package portal

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/crypto/argon2"

	"switchboard/atomicfile"
)

// The argon2id cost of a password hash: RFC 9106's second recommended
// option scaled to a small server (OWASP's 19 MiB, 2 passes, 1 lane).
// Tests lower it.
var hashParams = argonParams{Time: 2, Memory: 19 * 1024, Threads: 1}

type argonParams struct {
	Time    uint32 `json:"time"`
	Memory  uint32 `json:"memory_kib"`
	Threads uint8  `json:"threads"`
}

// hashRecord is one chosen password, as passwords.json keeps it.
type hashRecord struct {
	Scheme string `json:"scheme"` // "argon2id"
	argonParams
	Salt string `json:"salt"` // base64, 16 random bytes
	Hash string `json:"hash"` // base64, 32 bytes
}

func newHashRecord(password string) hashRecord {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	sum := argon2.IDKey([]byte(password), salt, hashParams.Time, hashParams.Memory, hashParams.Threads, 32)
	return hashRecord{Scheme: "argon2id", argonParams: hashParams,
		Salt: base64.StdEncoding.EncodeToString(salt), Hash: base64.StdEncoding.EncodeToString(sum)}
}

// matches computes the hash of password with r's salt and cost, always
// (so a malformed record costs what a good one does), and compares.
func (r hashRecord) matches(password string) bool {
	salt, err1 := base64.StdEncoding.DecodeString(r.Salt)
	want, err2 := base64.StdEncoding.DecodeString(r.Hash)
	pr := r.argonParams
	if pr.Time == 0 || pr.Time > 16 || pr.Memory < 8 || pr.Memory > 256*1024 || pr.Threads == 0 {
		pr = hashParams
	}
	got := argon2.IDKey([]byte(password), salt, pr.Time, pr.Memory, pr.Threads, 32)
	return err1 == nil && err2 == nil && r.Scheme == "argon2id" && len(want) == 32 && subtle.ConstantTimeCompare(got, want) == 1
}

// hashStore is passwords.json: the chosen passwords' hashes by identity.
// It is written whole through atomicfile at every change.
type hashStore struct {
	path string
	mu   sync.Mutex
	m    map[string]hashRecord
}

func openHashStore(path string) (*hashStore, error) {
	s := &hashStore{path: path, m: map[string]hashRecord{}}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	if err := json.Unmarshal(data, &s.m); err != nil {
		return nil, fmt.Errorf("portal: %s: %w", path, err)
	}
	return s, nil
}

func (s *hashStore) get(id string) (hashRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[id]
	return r, ok
}

func (s *hashStore) set(id string, r hashRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make(map[string]hashRecord, len(s.m)+1)
	for k, v := range s.m {
		next[k] = v
	}
	next[id] = r
	data, _ := json.MarshalIndent(next, "", "  ")
	if err := atomicfile.Write(s.path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("portal: %w", err)
	}
	s.m = next
	return nil
}
