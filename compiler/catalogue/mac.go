package catalogue

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// MAC is a device's Ethernet address. The zero MAC is not a valid address.
type MAC [6]byte

// ParseMAC reads a MAC address in any common notation, in either case:
//
//	0C:11:05:12:34:56   colons
//	0c-11-05-12-34-56   hyphens
//	0c11.0512.3456      dotted groups of four
//	0c1105123456        bare
//
// It rejects the all-zero, broadcast and multicast addresses, which no
// device has. The error text is a sentence fit for a diagnostic detail.
func ParseMAC(s string) (MAC, error) {
	var m MAC
	hexDigits, ok := stripSeparators(strings.TrimSpace(s))
	if !ok || len(hexDigits) != 12 {
		return m, fmt.Errorf("%q is not a MAC address: write 12 hexadecimal digits, such as 0C:11:05:12:34:56, 0c-11-05-12-34-56, 0c11.0512.3456 or 0c1105123456", s)
	}
	if _, err := hex.Decode(m[:], []byte(hexDigits)); err != nil {
		return MAC{}, fmt.Errorf("%q is not a MAC address: it has characters other than hexadecimal digits (0-9, a-f)", s)
	}
	switch {
	case m == MAC{}:
		return MAC{}, fmt.Errorf("%q is the all-zero address, which no device has; copy the MAC from the label on the device", s)
	case m == MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}:
		return MAC{}, fmt.Errorf("%q is the broadcast address, which no device has; copy the MAC from the label on the device", s)
	case m[0]&1 == 1:
		return MAC{}, fmt.Errorf("%q is a multicast address (its first byte is odd), which no device has; check for a typing mistake", s)
	}
	return m, nil
}

// stripSeparators removes the separators of one consistent notation and
// returns the bare digits.
func stripSeparators(s string) (string, bool) {
	switch {
	case len(s) == 17 && (s[2] == ':' || s[2] == '-'):
		sep := s[2]
		var b strings.Builder
		for i := 0; i < 17; i++ {
			if i%3 == 2 {
				if s[i] != sep {
					return "", false
				}
				continue
			}
			b.WriteByte(s[i])
		}
		return b.String(), true
	case len(s) == 14 && s[4] == '.' && s[9] == '.':
		return s[0:4] + s[5:9] + s[10:14], true
	case len(s) == 12:
		return s, true
	}
	return "", false
}

// String is the canonical form: 12 lower-case hex digits, no separators,
// as in provisioning file names ("0c1105123456").
func (m MAC) String() string { return hex.EncodeToString(m[:]) }

// Colons renders the address with colons, lower case: "0c:11:05:12:34:56".
func (m MAC) Colons() string {
	h := m.String()
	var b strings.Builder
	b.Grow(17)
	for i := 0; i < 12; i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// OUI is the vendor prefix: the first three bytes as 6 lower-case hex digits.
func (m MAC) OUI() string { return hex.EncodeToString(m[:3]) }

// IsZero reports whether m is the zero value (no address).
func (m MAC) IsZero() bool { return m == MAC{} }

// Vendor returns the vendor that owns the address's prefix, if known.
func (m MAC) Vendor() (*Vendor, bool) { return VendorByOUI(m.OUI()) }

// FormatOUI renders a 6-digit prefix with colons in upper case, the way it
// is printed on labels: "0C:11:05".
func FormatOUI(oui string) string {
	u := strings.ToUpper(oui)
	if len(u) != 6 {
		return u
	}
	return u[0:2] + ":" + u[2:4] + ":" + u[4:6]
}
