package digest

import (
	"errors"
	"strconv"
	"strings"
)

// Credentials are the parameters of a Digest Authorization or
// Proxy-Authorization value (RFC 3261 §25.1 digest-response, RFC 7616 §3.4).
type Credentials struct {
	Username, Realm, Nonce, URI, Response string
	Algorithm, Cnonce, QOP, Opaque        string
	NC                                    string // as sent: the hash covers its text
	NCValue                               uint32 // parsed nc; 0 when absent
	Userhash                              bool   // userhash=true (RFC 7616 §3.4.4), which we never offer
}

var errCredentials = errors.New("digest: malformed credentials")

// ParseCredentials parses a Digest credentials value, for SIP (RFC 3261
// §25.1) and HTTP (RFC 7616 §3.4) alike.
//
// It is our own rather than github.com/icholy/digest's ParseCredentials
// (which sipgo's client uses) for three reasons: that one allocates a 4 KiB
// bufio.Reader per call, half the garbage of a registration; it skips only
// spaces, where SIP allows tabs too; and it keeps nc only as a number, where
// the digest covers nc's text. (HTTP provisioning used icholy/digest's
// until both servers shared this package.) FuzzParseCredentials checks it agrees with
// icholy/digest wherever that one succeeds. Values are substrings of v
// unless they carry escapes.
func ParseCredentials(v string) (Credentials, error) {
	var c Credentials
	if len(v) < 6 || !strings.EqualFold(v[:6], "Digest") {
		return c, errCredentials
	}
	s := v[6:]
	if s != "" && !isSpace(s[0]) {
		return c, errCredentials
	}
	first := true
	for {
		s = trimSpace(s)
		if s == "" {
			break
		}
		if !first {
			if s[0] != ',' {
				return c, errCredentials
			}
			s = trimSpace(s[1:])
			if s == "" || s[0] == ',' { // empty list elements are allowed
				continue
			}
		}
		first = false
		n := tokenLen(s)
		if n == 0 {
			return c, errCredentials
		}
		name := s[:n]
		s = trimSpace(s[n:])
		if s == "" || s[0] != '=' {
			return c, errCredentials
		}
		s = trimSpace(s[1:])
		var value string
		if s != "" && s[0] == '"' {
			var err error
			value, s, err = quotedString(s)
			if err != nil {
				return c, err
			}
		} else {
			// An empty token is tolerated, as icholy/digest does.
			n := tokenLen(s)
			value, s = s[:n], s[n:]
		}
		switch strings.ToLower(name) {
		case "username":
			c.Username = value
		case "realm":
			c.Realm = value
		case "nonce":
			c.Nonce = value
		case "uri":
			c.URI = value
		case "response":
			c.Response = value
		case "algorithm":
			c.Algorithm = value
		case "cnonce":
			c.Cnonce = value
		case "qop":
			c.QOP = value
		case "opaque":
			c.Opaque = value
		case "userhash":
			c.Userhash = strings.EqualFold(value, "true")
		case "nc":
			// nc-value = 8LHEX; accept upper case hex too, as icholy/digest does.
			if len(value) != 8 {
				return c, errCredentials
			}
			n, err := strconv.ParseUint(value, 16, 32)
			if err != nil {
				return c, errCredentials
			}
			c.NC, c.NCValue = value, uint32(n)
		}
	}
	return c, nil
}

// IsDigest reports whether an Authorization value is of the Digest scheme
// (and not, say, Basic).
func IsDigest(v string) bool {
	v = trimSpace(v)
	return len(v) >= 6 && strings.EqualFold(v[:6], "Digest") && (len(v) == 6 || isSpace(v[6]))
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

func trimSpace(s string) string {
	for s != "" && isSpace(s[0]) {
		s = s[1:]
	}
	return s
}

// tokenLen returns the length of the RFC 3261 token at the start of s.
func tokenLen(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-.!%*_+`'~", c) >= 0:
		default:
			return i
		}
	}
	return len(s)
}

// quotedString reads the quoted string at the start of s and returns its
// content, unescaped, and the rest of s.
func quotedString(s string) (value, rest string, err error) {
	escaped := false
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			if !escaped {
				return s[1:i], s[i+1:], nil
			}
			var b strings.Builder
			for j := 1; j < i; j++ {
				if s[j] == '\\' {
					j++
				}
				b.WriteByte(s[j])
			}
			return b.String(), s[i+1:], nil
		}
	}
	return "", "", errCredentials
}
