package credentials

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"strconv"
	"strings"
	"sync"
)

// Purpose separates the credentials of one identity: an app user has a SIP
// password and a portal password, and they must differ.
type Purpose string

const (
	PurposeSIP          Purpose = "sip"           // SIP digest password
	PurposePortal       Purpose = "portal"        // app and web portal login
	PurposeVoicemailPIN Purpose = "voicemail-pin" // mailbox PIN
	PurposeMemberPIN    Purpose = "member-pin"    // conference room PIN for members
	PurposeOwnerPIN     Purpose = "owner-pin"     // conference room PIN for its owner
)

// Identity is what a credential is derived from, besides the key.
type Identity struct {
	Site     string  // site name (block label)
	Kind     string  // "device", "app", "trunk" for accounts; "user"; "mailbox"
	Name     string  // account name ("app.mary"), user or mailbox name
	Purpose  Purpose //
	Rotation int     // rotation counter; +1 gives a new credential
}

// Alphabet is the password alphabet: letters and digits without the
// look-alikes 0 O o 1 l I. It holds no quote, =, &, <, >, ;, #, space or
// backslash, so a password needs no escaping in a key = value file, an XML
// element, a URL or a shell command line.
const Alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"

// PasswordLength is the length of derived passwords: 20 characters of a
// 55-character alphabet, about 115 bits.
const PasswordLength = 20

// domain separates this derivation from any other use of the key; bump the
// version to change the algorithm (which changes every password).
const domain = "switchboard credentials v1"

// stream yields the bytes HMAC-SHA-256(key, message || attempt || block)
// for block = 0, 1, 2, …: an unbounded deterministic byte stream per
// identity and attempt. The message is the domain string followed by each
// field of the identity, length-prefixed so that no two identities share a
// message.
type stream struct {
	key     []byte
	macs    *sync.Pool // of HMACs keyed with key (Key.macs); nil: key one each block
	msg     []byte     // the message, with room after it for attempt and block
	attempt uint32
	block   uint32
	buf     []byte
	sum     [sha256.Size]byte // where buf is
	inline  [128]byte         // where msg is, when it fits
}

// stream is k's byte stream for id.
func (k Key) stream(id Identity) *stream {
	// One allocation for the stream and its message: every first digest
	// check of an account derives its password (a registration burst of
	// distinct accounts, issue 19).
	s := &stream{key: k.b, macs: k.macs}
	s.msg = appendMessage(s.inline[:0], id)
	return s
}

// appendMessage appends the message of id to b, in b's capacity when it
// has room for the message and the 8 bytes of counters next() puts after
// it.
func appendMessage(b []byte, id Identity) []byte {
	rotation := strconv.Itoa(id.Rotation)
	if n := 6*4 + len(domain) + len(id.Site) + len(id.Kind) + len(id.Name) + len(id.Purpose) + len(rotation) + 8; cap(b)-len(b) < n {
		b = append(make([]byte, 0, len(b)+n), b...)
	}
	field := func(s string) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	field(domain)
	field(id.Site)
	field(id.Kind)
	field(id.Name)
	field(string(id.Purpose))
	field(rotation)
	return b
}

func (s *stream) next() byte {
	if len(s.buf) == 0 {
		var m hash.Hash
		if s.macs != nil {
			m = s.macs.Get().(hash.Hash)
			m.Reset()
			defer s.macs.Put(m)
		} else {
			m = hmac.New(sha256.New, s.key)
		}
		// message || attempt || block in one write, the counters in the
		// room appendMessage left (no array of their own on the heap).
		n := len(s.msg)
		in := s.msg[:n+8]
		binary.BigEndian.PutUint32(in[n:], s.attempt)
		binary.BigEndian.PutUint32(in[n+4:], s.block)
		m.Write(in)
		s.buf = m.Sum(s.sum[:0])
		s.block++
	}
	c := s.buf[0]
	s.buf = s.buf[1:]
	return c
}

// draw picks n symbols of alphabet uniformly, rejecting biased bytes.
func (s *stream) draw(alphabet string, n int) string {
	limit := 256 - 256%len(alphabet)
	var out strings.Builder // one allocation: the string's
	out.Grow(n)
	for out.Len() < n {
		c := int(s.next())
		if c < limit {
			out.WriteByte(alphabet[c%len(alphabet)])
		}
	}
	return out.String()
}

// Password derives the password of id: PasswordLength characters of
// Alphabet with at least one upper-case letter, one lower-case letter and
// one digit (devices and portals that insist on mixed classes accept it).
// A candidate lacking a class is replaced by the next attempt's, so the
// result stays deterministic.
func (k Key) Password(id Identity) string {
	s := k.stream(id)
	for {
		pw := s.draw(Alphabet, PasswordLength)
		if hasClasses(pw) {
			return pw
		}
		s.attempt++
		s.block, s.buf = 0, nil
	}
}

func hasClasses(s string) bool {
	var upper, lower, digit bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z':
			upper = true
		case 'a' <= c && c <= 'z':
			lower = true
		case '0' <= c && c <= '9':
			digit = true
		}
	}
	return upper && lower && digit
}

// PIN derives a numeric PIN of the given length (clamped to 4…6 digits)
// that is not a run of one digit (1111) nor a straight sequence (1234,
// 9876).
func (k Key) PIN(id Identity, digits int) string {
	digits = max(4, min(6, digits))
	s := k.stream(id)
	for {
		pin := s.draw("0123456789", digits)
		if !weakPIN(pin) {
			return pin
		}
		s.attempt++
		s.block, s.buf = 0, nil
	}
}

func weakPIN(pin string) bool {
	same, up, down := true, true, true
	for i := 1; i < len(pin); i++ {
		d := int(pin[i]) - int(pin[i-1])
		same = same && d == 0
		up = up && d == 1
		down = down && d == -1
	}
	return same || up || down
}

// Valid reports whether s could be a derived password: the right length,
// only Alphabet characters.
func Valid(s string) bool {
	if len(s) != PasswordLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(Alphabet, rune(s[i])) {
			return false
		}
	}
	return true
}
