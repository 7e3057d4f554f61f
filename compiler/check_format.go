package compiler

import (
	"net"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// e164 is a number in international format: +, country code, subscriber
// number; 15 digits at most (ITU-T E.164), 7 at least.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

const e164Hint = `a plus sign, the country code and the number, digits only, such as "+353871234567"`

// validE164 reports whether s is an E.164 number as written in a site.
func validE164(s string) bool { return e164.MatchString(s) }

// suggestE164 offers the E.164 form of a number written with spaces,
// punctuation or a 00 international prefix, or "" when there is none.
func suggestE164(s string) string {
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '/':
		default:
			return ""
		}
	}
	out := b.String()
	if strings.HasPrefix(out, "00") {
		out = "+" + out[2:]
	}
	if out != s && validE164(out) {
		return out
	}
	return ""
}

// validEmail reports whether s is a plain address (no display name, no
// surrounding space) with a dotted domain, such as mary@example.com.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && strings.Contains(s[at+1:], ".") && !strings.HasSuffix(s, ".")
}

const emailHint = "a plain address such as mary@example.com, without a display name"

// validHost reports whether s is a plausible DNS name with at least two
// labels (harbour-view.example.net), or an IP address.
func validHost(s string) bool {
	if net.ParseIP(s) != nil {
		return true
	}
	s = strings.TrimSuffix(s, ".")
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			ch := l[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-') {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	return strings.Trim(last, "0123456789") != "" // a top-level label is never all digits
}

// allDigits reports whether s is a non-empty string of ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// durationRange bounds a duration attribute.
type durationRange struct{ min, max time.Duration }

var (
	ringTimeoutRange = durationRange{5 * time.Second, 300 * time.Second}
	relayHoldRange   = durationRange{1 * time.Second, 60 * time.Second}
)

func (r durationRange) contains(d time.Duration) bool { return d >= r.min && d <= r.max }

// formatDuration renders a bound the way a site writes it: "5s", "5m".
func formatDuration(d time.Duration) string {
	if d >= time.Minute && d%time.Minute == 0 {
		return strconv.Itoa(int(d/time.Minute)) + "m"
	}
	return strconv.Itoa(int(d/time.Second)) + "s"
}

// quote renders a name or value quoted, as %q does.
func quote(s string) string { return strconv.Quote(s) }
