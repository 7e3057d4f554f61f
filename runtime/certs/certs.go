// Package certs owns serve's TLS certificates: the key pairs given on the
// command line, read again when their files change, and chosen for each
// handshake by the name the client asks for (SNI). Every TLS listener
// (SIP over TLS, HTTPS) takes its certificate from one Store through
// tls.Config.GetCertificate, so that an ACME renewal every 60–90 days
// needs no restart and one server answers for several domains.
package certs

import (
	"bytes"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultInterval is how often, at most, a handshake looks at the files:
// a renewal is served within seconds, and a busy listener costs two
// stat calls per pair per interval, not per handshake.
const DefaultInterval = 5 * time.Second

// maxFile bounds what is read of a certificate or key file: a chain of a
// few certificates is a few KiB, and a file that is not one must not
// fill the memory.
const maxFile = 1 << 20

// Pair is one certificate (PEM, the leaf first, then its chain) and its
// private key (PEM), as files.
type Pair struct {
	CertFile, KeyFile string
}

// Options are a Store's; the zero value logs nowhere, reads the clock and
// checks every DefaultInterval.
type Options struct {
	Logger *slog.Logger
	// Now is the clock a handshake reads to decide whether to look at
	// the files again (tests drive it).
	Now func() time.Time
	// Interval is how long after a check a handshake checks again; 0 is
	// DefaultInterval, negative never (only Check looks at the files).
	Interval time.Duration
}

// Store serves the key pairs of its Pairs. Safe for concurrent use.
type Store struct {
	pairs    []Pair
	log      *slog.Logger
	now      func() time.Time
	interval time.Duration

	cur       atomic.Pointer[set]
	lastCheck atomic.Int64 // Now at the last check, in Unix nanoseconds

	checkMu sync.Mutex // one check at a time; guards loaded and failed
	loaded  []stamp    // the files as they were when their pair was read
	failed  []string   // the files' state and error the last failed check of a pair logged, so it is logged once
}

// set is what a handshake reads: the certificates in the order given and
// the names they answer.
type set struct {
	certs []*tls.Certificate
	exact map[string]int // a DNS name → the first pair that has it
	wild  map[string]int // "example.com" of "*.example.com" → the first pair that has it
}

// stamp is a pair's files as stat saw them: a renewal changes the size,
// the modification time or (a rename over the old file) the file itself.
type stamp struct {
	cert, key os.FileInfo
}

func (a stamp) String() string {
	if a.cert == nil {
		return "-"
	}
	return fmt.Sprintf("%d@%d %d@%d", a.cert.Size(), a.cert.ModTime().UnixNano(), a.key.Size(), a.key.ModTime().UnixNano())
}

func (a stamp) same(b stamp) bool {
	return a.cert != nil && b.cert != nil && sameFile(a.cert, b.cert) && sameFile(a.key, b.key)
}

func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// New reads every pair; an error names the file that cannot be used. The
// first pair is the default, for a client that names no server or a name
// no certificate has.
func New(pairs []Pair, o Options) (*Store, error) {
	if len(pairs) == 0 {
		return nil, errors.New("certs: no certificate")
	}
	s := &Store{
		pairs: pairs, log: o.Logger, now: o.Now, interval: o.Interval,
		loaded: make([]stamp, len(pairs)), failed: make([]string, len(pairs)),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.interval == 0 {
		s.interval = DefaultInterval
	}
	certs := make([]*tls.Certificate, len(pairs))
	for i, p := range pairs {
		st, err := statPair(p)
		if err != nil {
			return nil, err
		}
		if certs[i], err = load(p); err != nil {
			return nil, err
		}
		s.loaded[i] = st
	}
	s.cur.Store(index(certs))
	s.lastCheck.Store(s.now().UnixNano())
	return s, nil
}

// Config is a server's TLS configuration that takes its certificates from
// s (TLS 1.2 at least).
func (s *Store) Config() *tls.Config {
	return &tls.Config{GetCertificate: s.GetCertificate, MinVersion: tls.VersionTLS12}
}

// GetCertificate is tls.Config's: the pair whose certificate names the
// server the client asks for exactly, else one with a wildcard for it,
// else the first. It never fails: a renewal that cannot be read leaves the
// certificate before it serving.
func (s *Store) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.maybeCheck()
	return s.cur.Load().pick(hello.ServerName), nil
}

// Certificate is the certificate a handshake for serverName gets now.
func (s *Store) Certificate(serverName string) *tls.Certificate {
	return s.cur.Load().pick(serverName)
}

// maybeCheck checks the files when Interval has passed since the last
// check; of the handshakes that find it has, one checks, the others go on
// with the certificates as they are.
func (s *Store) maybeCheck() {
	if s.interval < 0 {
		return
	}
	now := s.now().UnixNano()
	last := s.lastCheck.Load()
	if now-last < int64(s.interval) || !s.lastCheck.CompareAndSwap(last, now) {
		return
	}
	s.Check()
}

// Check looks at every pair's files and reads again those that changed
// (SIGHUP calls it, and a handshake every Interval). A pair that fails to
// read — a key that does not match, a file half written — keeps its
// certificate before serving, and the error is logged with the files,
// once until they change again. It returns how many pairs it replaced.
func (s *Store) Check() int {
	s.checkMu.Lock()
	defer s.checkMu.Unlock()
	cur := s.cur.Load()
	var next []*tls.Certificate
	for i, p := range s.pairs {
		st, err := statPair(p)
		if err == nil && st.same(s.loaded[i]) {
			continue
		}
		var c *tls.Certificate
		if err == nil {
			c, err = load(p)
		}
		if err != nil {
			// Logged once per state of the files: a renewal that stays
			// broken is read again at every check, not logged again.
			if msg := st.String() + " " + err.Error(); msg != s.failed[i] {
				s.failed[i] = msg
				s.log.Error("TLS certificate not reloaded: the one read before keeps serving", "cert", p.CertFile, "key", p.KeyFile, "err", err)
			}
			continue
		}
		if next == nil {
			next = append([]*tls.Certificate(nil), cur.certs...)
		}
		next[i], s.loaded[i], s.failed[i] = c, st, ""
	}
	if next == nil {
		return 0
	}
	// Stored before it is logged: a handshake after the line gets the
	// new certificate.
	s.cur.Store(index(next))
	n := 0
	for i, c := range next {
		if c == cur.certs[i] {
			continue
		}
		n++
		s.log.Info("TLS certificate reloaded", "cert", s.pairs[i].CertFile, "names", strings.Join(names(c), ","),
			"serial", c.Leaf.SerialNumber.Text(16), "not_after", c.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return n
}

func statPair(p Pair) (stamp, error) {
	c, err := os.Stat(p.CertFile)
	if err != nil {
		return stamp{}, err
	}
	k, err := os.Stat(p.KeyFile)
	if err != nil {
		return stamp{}, err
	}
	return stamp{cert: c, key: k}, nil
}

// load reads a pair; its errors name the file at fault, or both.
func load(p Pair) (*tls.Certificate, error) {
	certPEM, err := readFile(p.CertFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := readFile(p.KeyFile)
	if err != nil {
		return nil, err
	}
	return KeyPair(p, certPEM, keyPEM)
}

func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFile {
		return nil, fmt.Errorf("%s: larger than %d bytes: not a certificate or key file", name, maxFile)
	}
	return b, nil
}

// KeyPair makes a pair's certificate of the contents of its files, p
// naming them in its errors.
func KeyPair(p Pair, certPEM, keyPEM []byte) (*tls.Certificate, error) {
	// What a half-written or wrong file lacks is said of that file; what
	// crypto/tls finds wrong after that (a key of another certificate)
	// is said of both.
	if !hasBlock(certPEM, func(t string) bool { return t == "CERTIFICATE" }) {
		return nil, fmt.Errorf("%s: no PEM CERTIFICATE in it (empty or half written?)", p.CertFile)
	}
	if !hasBlock(keyPEM, func(t string) bool { return strings.HasSuffix(t, "PRIVATE KEY") }) {
		return nil, fmt.Errorf("%s: no PEM PRIVATE KEY in it (empty or half written?)", p.KeyFile)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s with key %s: %w", p.CertFile, p.KeyFile, err)
	}
	if c.Leaf == nil {
		return nil, fmt.Errorf("%s: its certificate cannot be parsed", p.CertFile)
	}
	return &c, nil
}

// hasBlock reports whether data holds a whole PEM block whose type ok
// accepts.
func hasBlock(data []byte, ok func(string) bool) bool {
	for len(bytes.TrimSpace(data)) > 0 {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return false
		}
		if ok(b.Type) {
			return true
		}
	}
	return false
}

// names are the DNS names a certificate answers: its subject alternative
// names, else (an old certificate) its common name.
func names(c *tls.Certificate) []string {
	if len(c.Leaf.DNSNames) > 0 {
		return c.Leaf.DNSNames
	}
	if cn := c.Leaf.Subject.CommonName; cn != "" && !strings.ContainsAny(cn, " :/") {
		return []string{cn}
	}
	return nil
}

// index makes the set of certs: a name goes to the first pair that has it,
// as the order of -cert says.
func index(certs []*tls.Certificate) *set {
	s := &set{certs: certs, exact: map[string]int{}, wild: map[string]int{}}
	for i, c := range certs {
		for _, n := range names(c) {
			n = strings.ToLower(strings.TrimSuffix(n, "."))
			m, key := s.exact, n
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				m, key = s.wild, rest
			}
			if _, taken := m[key]; !taken {
				m[key] = i
			}
		}
	}
	return s
}

// pick is the certificate for serverName: exact name, then a wildcard for
// its first label, then the first (the default).
func (s *set) pick(serverName string) *tls.Certificate {
	n := strings.ToLower(strings.TrimSuffix(serverName, "."))
	if n != "" {
		if i, ok := s.exact[n]; ok {
			return s.certs[i]
		}
		if _, rest, ok := strings.Cut(n, "."); ok && rest != "" {
			if i, ok := s.wild[rest]; ok {
				return s.certs[i]
			}
		}
	}
	return s.certs[0]
}
