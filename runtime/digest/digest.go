// Package digest is the server side of digest access authentication, for
// SIP (RFC 3261 §22, runtime/auth) and HTTP (RFC 7616, runtime/provisioning)
// alike: algorithm choice (RFC 8760 SHA-256, and MD5), challenges, parsing
// credentials, verifying responses, nonces and their nonce-count window.
// What differs between the protocols — header names, status codes, which
// mistakes count as failures, the realm a response is checked against —
// stays in those packages.
//
// Nonces are stateless: a nonce is a counter, a timestamp and an HMAC of
// both under a key drawn when the Nonces are made, so issuing one costs no
// memory and any nonce can be checked without a table. Replays are refused
// with a fixed ring of nonce-count windows indexed by the counter (the
// Kamailio design): a count is accepted once, and only when it is above the
// highest one seen for its nonce or, up to Config.Reorder below it, when it
// was not seen yet. A nonce that is too old, whose ring slot was reused, or
// that another key signed is not fresh.
package digest

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Algorithm is a digest hash algorithm, as written in the algorithm
// parameter.
type Algorithm string

const (
	SHA256 Algorithm = "SHA-256"
	MD5    Algorithm = "MD5"
)

// ParseAlgorithm reads an algorithm parameter: absent means MD5 (RFC 7616
// §3.4); an algorithm we do not implement (MD5-sess, SHA-512-256) is "".
func ParseAlgorithm(s string) Algorithm {
	switch {
	case s == "" || strings.EqualFold(s, "MD5"):
		return MD5
	case strings.EqualFold(s, "SHA-256"):
		return SHA256
	}
	return ""
}

// Offers reports whether alg is among algs.
func Offers(algs []Algorithm, alg Algorithm) bool {
	for _, a := range algs {
		if a == alg {
			return true
		}
	}
	return false
}

// Challenge writes the value of a WWW-Authenticate or Proxy-Authenticate
// header offering alg with nonce, qop=auth, and stale=true when stale.
func Challenge(realm, nonce string, alg Algorithm, stale bool) string {
	var b strings.Builder
	b.Grow(64 + len(realm) + len(nonce))
	b.WriteString(`Digest realm="`)
	b.WriteString(quote(realm))
	b.WriteString(`", nonce="`)
	b.WriteString(nonce)
	b.WriteString(`", algorithm=`)
	b.WriteString(string(alg))
	b.WriteString(`, qop="auth"`)
	if stale {
		b.WriteString(", stale=true")
	}
	return b.String()
}

// quote escapes a quoted-string's content.
func quote(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// Verify computes the response of c under realm with password for method
// and compares it, in constant time, with the one sent (in either case of
// hex). The realm is the caller's: SIP checks against its own, HTTP
// against the one the client answered. The hashed strings are assembled in
// a stack buffer and hashed with md5.Sum or sha256.Sum256: writing them
// through a hash.Hash would make every part escape to the heap.
func Verify(alg Algorithm, c *Credentials, realm, method, password string) bool {
	var buf [512]byte
	var ha1, ha2, want [2 * sha256.Size]byte
	b := append(buf[:0], c.Username...)
	b = append(b, ':')
	b = append(b, realm...)
	b = append(b, ':')
	b = append(b, password...)
	n := hashHex(alg, ha1[:], b)
	b = append(buf[:0], method...)
	b = append(b, ':')
	b = append(b, c.URI...)
	hashHex(alg, ha2[:], b)
	b = append(buf[:0], ha1[:n]...)
	b = append(b, ':')
	b = append(b, c.Nonce...)
	b = append(b, ':')
	if c.QOP != "" {
		b = append(b, c.NC...)
		b = append(b, ':')
		b = append(b, c.Cnonce...)
		b = append(b, ':')
		b = append(b, c.QOP...)
		b = append(b, ':')
	}
	b = append(b, ha2[:n]...)
	hashHex(alg, want[:], b)
	got := c.Response
	if len(got) != n {
		return false
	}
	var lower [2 * sha256.Size]byte
	for i := 0; i < n; i++ {
		ch := got[i]
		if 'A' <= ch && ch <= 'F' {
			ch += 'a' - 'A'
		}
		lower[i] = ch
	}
	return subtle.ConstantTimeCompare(lower[:n], want[:n]) == 1
}

// hashHex hashes data with alg into dst as lower hex and returns the
// length written.
func hashHex(alg Algorithm, dst, data []byte) int {
	if alg == MD5 {
		sum := md5.Sum(data)
		return hex.Encode(dst, sum[:])
	}
	sum := sha256.Sum256(data)
	return hex.Encode(dst, sum[:])
}

// DummyPassword returns a random password for unknown users, so that an
// unknown user and a wrong password cost the same and look the same.
func DummyPassword() string {
	var d [16]byte
	rand.Read(d[:])
	return hex.EncodeToString(d[:])
}

// Config configures Nonces.
type Config struct {
	// Lifetime is how long a nonce stays fresh; zero: DefaultLifetime.
	Lifetime time.Duration
	// Slots is the size of the ring of nonce-count windows; zero:
	// DefaultSlots. A nonce becomes stale once this many newer ones were
	// issued.
	Slots int
	// Reorder is how far below the highest count seen a count not seen yet
	// is still accepted (0 to 64): 0 wants counts strictly increasing, as
	// a SIP client's sequential requests are; HTTP clients fetching
	// several files at once send theirs out of order.
	Reorder int
}

const (
	// DefaultLifetime is how long a nonce stays fresh.
	DefaultLifetime = 5 * time.Minute
	// DefaultSlots is the ring's default size: 2^18 windows of 16 bytes,
	// 4 MiB.
	DefaultSlots = 1 << 18
	// stripes is how many locks guard the ring's windows.
	stripes = 256
)

// Nonces issues and checks nonces and counts their uses. It is safe for
// concurrent use. Keep one for the life of the server (across reloads): a
// new one draws a new key, which makes every nonce stale.
type Nonces struct {
	lifetime time.Duration
	reorder  uint32

	ipad, opad [sha256.BlockSize]byte // the HMAC key, padded

	nid   atomic.Uint64 // last nonce id issued
	locks [stripes]sync.Mutex
	slots []window // per nonce id modulo len
}

// window is the nonce-count window of one nonce, as IPsec keeps one: the
// highest count seen and a bitmap of the 64 counts below it.
type window struct {
	max  uint32
	seen uint64 // bit i: count max-i was seen
}

// NewNonces returns Nonces with a fresh key.
func NewNonces(cfg Config) *Nonces {
	n := &Nonces{lifetime: cfg.Lifetime, reorder: uint32(min(max(cfg.Reorder, 0), 64))}
	if n.lifetime <= 0 {
		n.lifetime = DefaultLifetime
	}
	slots := cfg.Slots
	if slots <= 0 {
		slots = DefaultSlots
	}
	n.slots = make([]window, slots)
	var key [32]byte
	rand.Read(key[:])
	for i := range n.ipad {
		n.ipad[i], n.opad[i] = 0x36, 0x5c
		if i < len(key) {
			n.ipad[i] ^= key[i]
			n.opad[i] ^= key[i]
		}
	}
	return n
}

// Lifetime is how long a nonce stays fresh.
func (n *Nonces) Lifetime() time.Duration { return n.lifetime }

// A nonce is id (8 bytes) | issued, Unix seconds (8 bytes) | the first 16
// bytes of HMAC-SHA256(key, id|issued), in unpadded base64url: 43 characters.
const (
	nonceRaw = 32
	nonceLen = 43
)

// Issue returns a new nonce stamped now.
func (n *Nonces) Issue(now time.Time) string {
	id := n.nid.Add(1)
	n.reset(id)
	var raw [nonceRaw]byte
	binary.BigEndian.PutUint64(raw[0:8], id)
	binary.BigEndian.PutUint64(raw[8:16], uint64(now.Unix()))
	n.sign(raw[16:32], raw[:16])
	var out [nonceLen]byte
	base64.RawURLEncoding.Encode(out[:], raw[:])
	return string(out[:])
}

// Nonce is an opened nonce: one these Nonces signed.
type Nonce struct {
	id     uint64
	issued time.Time
}

// Issued is when the nonce was issued, to the second.
func (o Nonce) Issued() time.Time { return o.issued }

// Open checks that nonce was signed by these Nonces (this key).
func (n *Nonces) Open(nonce string) (Nonce, bool) {
	if len(nonce) != nonceLen {
		return Nonce{}, false
	}
	var raw [nonceRaw]byte
	if k, err := base64.RawURLEncoding.Decode(raw[:], []byte(nonce)); err != nil || k != nonceRaw {
		return Nonce{}, false
	}
	var mac [16]byte
	n.sign(mac[:], raw[:16])
	if !hmac.Equal(mac[:], raw[16:32]) {
		return Nonce{}, false
	}
	return Nonce{id: binary.BigEndian.Uint64(raw[0:8]), issued: time.Unix(int64(binary.BigEndian.Uint64(raw[8:16])), 0)}, true
}

// Fresh reports whether o may still be used at now: issued less than the
// lifetime ago (and not more than a minute in the future: a clock stepped
// back), with its ring window not reused since.
func (n *Nonces) Fresh(o Nonce, now time.Time) bool {
	if age := now.Sub(o.issued); age < -time.Minute || age >= n.lifetime {
		return false
	}
	last := n.nid.Load()
	return o.id <= last && last-o.id < uint64(len(n.slots))
}

// Count records count nc of o; it reports false for a replay: a count of
// 0, one seen before, or one too far below the highest seen.
func (n *Nonces) Count(o Nonce, nc uint32) bool {
	i := o.id % uint64(len(n.slots))
	mu := &n.locks[i%stripes]
	mu.Lock()
	defer mu.Unlock()
	return n.slots[i].accept(nc, n.reorder)
}

func (n *Nonces) reset(id uint64) {
	i := id % uint64(len(n.slots))
	mu := &n.locks[i%stripes]
	mu.Lock()
	n.slots[i] = window{}
	mu.Unlock()
}

// accept records nc in w and reports whether it was new and within reorder
// of the highest count.
func (w *window) accept(nc, reorder uint32) bool {
	switch {
	case nc == 0:
		return false
	case nc > w.max:
		if shift := nc - w.max; shift < 64 {
			w.seen <<= shift
		} else {
			w.seen = 0
		}
		w.seen |= 1
		w.max = nc
		return true
	case w.max-nc >= reorder:
		return false
	}
	bit := uint64(1) << (w.max - nc)
	if w.seen&bit != 0 {
		return false
	}
	w.seen |= bit
	return true
}

// sign writes HMAC-SHA256(key, msg) (RFC 2104), truncated to len(dst),
// into dst. It is spelled out over sha256.Sum256 with the padded keys made
// in NewNonces, which keeps it free of allocations; msg is at most 64 bytes.
func (n *Nonces) sign(dst, msg []byte) {
	var buf [2 * sha256.BlockSize]byte
	b := append(buf[:0], n.ipad[:]...)
	b = append(b, msg...)
	inner := sha256.Sum256(b)
	b = append(buf[:0], n.opad[:]...)
	b = append(b, inner[:]...)
	outer := sha256.Sum256(b)
	copy(dst, outer[:])
}
