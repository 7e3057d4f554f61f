package credentials_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
)

// testKey is bytes 0x00…0x1f.
func testKey(t testing.TB) credentials.Key {
	t.Helper()
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(i)
	}
	k, err := credentials.KeyFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestKnownAnswer pins the algorithm: a change here changes every password
// of every site, which must be a deliberate, versioned decision.
func TestKnownAnswer(t *testing.T) {
	k := testKey(t)
	for _, tc := range []struct {
		id   credentials.Identity
		want string
	}{
		{credentials.Identity{Site: "harbour-view", Kind: "app", Name: "app.mary", Purpose: credentials.PurposeSIP}, "9XBbeEGHbEAHV9kPfMkc"},
		{credentials.Identity{Site: "harbour-view", Kind: "app", Name: "app.mary", Purpose: credentials.PurposeSIP, Rotation: 1}, "Stgdf8dGUT4Q6bA3tVXJ"},
		{credentials.Identity{Site: "harbour-view", Kind: "user", Name: "mary", Purpose: credentials.PurposePortal}, "T6KXLHz2fBUGUr7xmZyC"},
	} {
		if got := k.Password(tc.id); got != tc.want {
			t.Errorf("Password(%+v) = %q, want %q", tc.id, got, tc.want)
		}
	}
	pin := k.PIN(credentials.Identity{Site: "harbour-view", Kind: "mailbox", Name: "mary", Purpose: credentials.PurposeVoicemailPIN}, 6)
	if pin != "420328" {
		t.Errorf("PIN = %q", pin)
	}
}

// TestIndependentComputation recomputes the first password by hand from the
// documented construction, so the implementation cannot drift from it.
func TestIndependentComputation(t *testing.T) {
	k := testKey(t)
	id := credentials.Identity{Site: "s", Kind: "device", Name: "device.d", Purpose: credentials.PurposeSIP, Rotation: 3}
	var msg []byte
	for _, f := range []string{"switchboard credentials v1", "s", "device", "device.d", "sip", "3"} {
		msg = binary.BigEndian.AppendUint32(msg, uint32(len(f)))
		msg = append(msg, f...)
	}
	raw, _ := hex.DecodeString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	var pw []byte
	for attempt := uint32(0); ; attempt++ {
		pw = pw[:0]
		for block := uint32(0); len(pw) < credentials.PasswordLength; block++ {
			m := hmac.New(sha256.New, raw)
			m.Write(msg)
			m.Write(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, attempt), block))
			for _, c := range m.Sum(nil) {
				n := len(credentials.Alphabet)
				if int(c) < 256-256%n && len(pw) < credentials.PasswordLength {
					pw = append(pw, credentials.Alphabet[int(c)%n])
				}
			}
		}
		s := string(pw)
		if strings.ContainsAny(s, "ABCDEFGHJKLMNPQRSTUVWXYZ") && strings.ContainsAny(s, "abcdefghijkmnpqrstuvwxyz") && strings.ContainsAny(s, "23456789") {
			break
		}
	}
	if got := k.Password(id); got != string(pw) {
		t.Errorf("Password = %q, independent computation = %q", got, pw)
	}
}

func TestAlphabetIsSafe(t *testing.T) {
	if strings.ContainsAny(credentials.Alphabet, "\"'=&<>; \t#\\%$`0O1lIo") {
		t.Errorf("alphabet %q holds an unsafe or ambiguous character", credentials.Alphabet)
	}
	if n := len(credentials.Alphabet); n != 56 {
		t.Errorf("alphabet has %d characters", n)
	}
}

func TestDeterministicAndShaped(t *testing.T) {
	k := testKey(t)
	p := irtest.HarbourView()
	a, b := credentials.List(p, k), credentials.List(p, k)
	if d := cmp.Diff(a, b); d != "" {
		t.Fatalf("two derivations differ:\n%s", d)
	}
	seen := map[string]string{}
	for _, c := range a {
		if c.Kind == credentials.KindVoicemail {
			if len(c.Password) != credentials.VoicemailPINDigits || strings.Trim(c.Password, "0123456789") != "" {
				t.Errorf("%s: PIN %q is not %d digits", c.Name, c.Password, credentials.VoicemailPINDigits)
			}
		} else if !credentials.Valid(c.Password) {
			t.Errorf("%s: password %q is not well formed", c.Name, c.Password)
		}
		if prev, ok := seen[c.Password]; ok {
			t.Errorf("%s and %s share a password", prev, c.Name)
		}
		seen[c.Password] = c.Name
		if c.Domain != "harbour-view.example.net" {
			t.Errorf("%s: domain %q", c.Name, c.Domain)
		}
	}
}

func TestKeyChangeChangesEveryPassword(t *testing.T) {
	k1 := testKey(t)
	raw := make([]byte, 32)
	raw[31] = 1
	k2, err := credentials.KeyFromBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	p := irtest.Generate(irtest.Options{Residences: 20, UsersPerResidence: 2, Seed: 5})
	l1, l2 := credentials.List(p, k1), credentials.List(p, k2)
	if len(l1) != len(l2) {
		t.Fatal("lists differ in length")
	}
	for i := range l1 {
		if l1[i].Password == l2[i].Password {
			t.Errorf("%s: same password under both keys", l1[i].Name)
		}
		l1[i].Password, l2[i].Password = "", ""
	}
	if d := cmp.Diff(l1, l2); d != "" {
		t.Errorf("key change changed more than passwords:\n%s", d)
	}
}

func TestRotationChangesOnlyThatAccount(t *testing.T) {
	k := testKey(t)
	p := irtest.HarbourView()
	before := credentials.List(p, k)
	p.Account("device.front-gate").Rotation++
	after := credentials.List(p, k)
	for i := range before {
		changed := before[i].Password != after[i].Password
		if want := before[i].Name == "device.front-gate"; changed != want {
			t.Errorf("%s: changed = %v, want %v", before[i].Name, changed, want)
		}
	}
	// A user's rotation rotates the portal login and the mailbox PIN, not
	// the SIP accounts.
	p = irtest.HarbourView()
	before = credentials.List(p, k)
	p.User("mary").Rotation++
	after = credentials.List(p, k)
	for i := range before {
		changed := before[i].Password != after[i].Password
		if want := before[i].Name == "portal.mary" || before[i].Name == "voicemail.mary"; changed != want {
			t.Errorf("user rotation: %s: changed = %v, want %v", before[i].Name, changed, want)
		}
	}
}

func TestPurposesAndSitesSeparate(t *testing.T) {
	k := testKey(t)
	base := credentials.Identity{Site: "a", Kind: "app", Name: "app.x", Purpose: credentials.PurposeSIP}
	variants := []credentials.Identity{base}
	v := base
	v.Purpose = credentials.PurposePortal
	variants = append(variants, v)
	v = base
	v.Site = "b"
	variants = append(variants, v)
	v = base
	v.Kind = "device"
	variants = append(variants, v)
	// Length prefixes: moving a character between fields changes the result.
	variants = append(variants, credentials.Identity{Site: "ap", Kind: "p", Name: "app.x", Purpose: credentials.PurposeSIP})
	seen := map[string]int{}
	for i, id := range variants {
		pw := k.Password(id)
		if j, ok := seen[pw]; ok {
			t.Errorf("identities %d and %d collide", j, i)
		}
		seen[pw] = i
	}
}

func TestPIN(t *testing.T) {
	k := testKey(t)
	for i := range 500 {
		for _, n := range []int{2, 4, 5, 6, 9} {
			pin := k.PIN(credentials.Identity{Site: "s", Kind: "mailbox", Name: "m" + strconv.Itoa(i), Purpose: credentials.PurposeVoicemailPIN}, n)
			want := max(4, min(6, n))
			if len(pin) != want || strings.Trim(pin, "0123456789") != "" {
				t.Fatalf("PIN(%d) = %q", n, pin)
			}
			if strings.Count(pin, pin[:1]) == len(pin) || strings.Contains("0123456789", pin) || strings.Contains("9876543210", pin) {
				t.Fatalf("weak PIN %q", pin)
			}
		}
	}
}

func TestParseKey(t *testing.T) {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(200 + i%50)
	}
	want, _ := credentials.KeyFromBytes(raw)
	id := credentials.Identity{Site: "s", Kind: "app", Name: "app.x", Purpose: credentials.PurposeSIP}
	for _, enc := range []string{
		hex.EncodeToString(raw),
		strings.ToUpper(hex.EncodeToString(raw)),
		base64.StdEncoding.EncodeToString(raw),
		base64.RawStdEncoding.EncodeToString(raw),
		base64.URLEncoding.EncodeToString(raw),
		"  " + base64.StdEncoding.EncodeToString(raw) + "\n",
	} {
		k, err := credentials.ParseKey(enc)
		if err != nil {
			t.Errorf("ParseKey(%q): %v", enc, err)
			continue
		}
		if k.Password(id) != want.Password(id) {
			t.Errorf("ParseKey(%q) decoded a different key", enc)
		}
	}
	for _, bad := range []string{"", "abc", hex.EncodeToString(raw[:31]), base64.StdEncoding.EncodeToString(raw[:16]), "!!!!"} {
		if _, err := credentials.ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) succeeded", bad)
		}
	}
}

func TestKeyNeverPrinted(t *testing.T) {
	k := testKey(t)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s %q %x", k, k, k, k, k, k), k.String()} {
		if strings.Contains(s, k.Encode()) || strings.Contains(s, "000102") || strings.Contains(s, "AAECAw") {
			t.Errorf("key leaked: %s", s)
		}
	}
}

func TestLoadKey(t *testing.T) {
	k := testKey(t)
	dir := t.TempDir()

	_, err := credentials.LoadKey(dir, nil)
	if !errors.Is(err, credentials.ErrNoKey) || !strings.Contains(err.Error(), "SWITCHBOARD_SITE_KEY") || !strings.Contains(err.Error(), "switchboard init") {
		t.Fatalf("LoadKey without key = %v", err)
	}

	path, err := credentials.WriteKeyFile(dir, k)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, ".switchboard", "site.key") {
		t.Errorf("path = %s", path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	di, _ := os.Stat(filepath.Dir(path))
	if di.Mode().Perm() != 0o700 {
		t.Errorf("key dir mode %v, want 0700", di.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if string(data) != k.Encode()+"\n" {
		t.Errorf("key file holds %q", data)
	}
	if _, err := credentials.WriteKeyFile(dir, k); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second WriteKeyFile = %v", err)
	}

	id := credentials.Identity{Site: "s", Kind: "app", Name: "app.x", Purpose: credentials.PurposeSIP}
	got, err := credentials.LoadKey(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Password(id) != k.Password(id) || got.Source() != path {
		t.Errorf("file key differs or source %q", got.Source())
	}

	// The environment wins over the file.
	other := make([]byte, 32)
	env := []string{"HOME=/x", credentials.EnvVar + "=" + hex.EncodeToString(other)}
	got, err = credentials.LoadKey(dir, env)
	if err != nil {
		t.Fatal(err)
	}
	ok, _ := credentials.KeyFromBytes(other)
	if got.Password(id) != ok.Password(id) || !strings.Contains(got.Source(), "environment") {
		t.Error("environment key not preferred")
	}
	// A malformed environment key is an error, not a fallback.
	if _, err := credentials.LoadKey(dir, []string{credentials.EnvVar + "=short"}); err == nil || !strings.Contains(err.Error(), credentials.EnvVar) {
		t.Errorf("malformed env key: %v", err)
	}
	// An empty variable counts as unset.
	if _, err := credentials.LoadKey(dir, []string{credentials.EnvVar + "="}); err != nil {
		t.Errorf("empty env var: %v", err)
	}
}

func TestNewKey(t *testing.T) {
	a, err := credentials.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := credentials.NewKey()
	if a.Encode() == b.Encode() {
		t.Error("two new keys are equal")
	}
	raw, _ := base64.StdEncoding.DecodeString(a.Encode())
	if len(raw) != credentials.KeySize || bytes.Equal(raw, make([]byte, 32)) {
		t.Errorf("new key %d bytes", len(raw))
	}
	if _, err := credentials.ParseKey(a.Encode()); err != nil {
		t.Error(err)
	}
}

func TestListAndFilter(t *testing.T) {
	p := irtest.HarbourView()
	list := credentials.List(p, testKey(t))
	var names []string
	for _, c := range list {
		names = append(names, c.Name)
	}
	want := []string{"app.aoife", "app.john", "app.mary", "device.desk-101", "device.desk-102", "device.desk-103",
		"device.front-gate", "device.lobby", "device.monitor-1a", "device.side-gate", "portal.aoife", "portal.john", "portal.mary",
		"voicemail.john", "voicemail.mary"}
	if d := cmp.Diff(want, names); d != "" {
		t.Errorf("names (-want +got):\n%s", d)
	}
	m, unknown := credentials.Filter(list, []string{"mary", "lobby", "nobody"})
	var got []string
	for _, c := range m {
		got = append(got, c.Name)
	}
	if d := cmp.Diff([]string{"app.mary", "device.desk-101", "device.lobby", "portal.mary", "voicemail.mary"}, got); d != "" {
		t.Errorf("Filter (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"nobody"}, unknown); d != "" {
		t.Errorf("unknown (-want +got):\n%s", d)
	}
	mary := list[len(list)-3]
	if mary.Username != "mary@example.com" || mary.Kind != credentials.KindPortal || mary.Owner != "user.mary" {
		t.Errorf("portal credential %+v", mary)
	}
	box := list[len(list)-1]
	if box.Username != p.User("mary").Extension || box.Kind != credentials.KindVoicemail || box.Owner != "user.mary" {
		t.Errorf("voicemail credential %+v", box)
	}
	if pin, ok := credentials.NewLookup(testKey(t), p).VoicemailPIN("mary"); !ok || pin != box.Password {
		t.Errorf("Lookup.VoicemailPIN(mary) = %q, %v; List says %q", pin, ok, box.Password)
	}
	if a := p.Account("app.mary"); credentials.NewSource(testKey(t), p).SIPPassword(*a) != list[2].Password {
		t.Error("Source and List disagree")
	}
	_ = ir.Version
}

// TestPortalLogins: every user with an email and the installer have a
// portal login of kind portal, none equal to any SIP password, and Lookup
// gives the runtime the same ones List prints.
func TestPortalLogins(t *testing.T) {
	p := irtest.HarbourView()
	p.Site.Installer = &ir.Installer{Company: "Dublin Door Systems", Email: "support@dds.example"}
	list := credentials.List(p, testKey(t))
	l := credentials.NewLookup(testKey(t), p)
	sip := map[string]bool{}
	var portal []string
	for _, c := range list {
		switch c.Kind {
		case credentials.KindPortal:
			portal = append(portal, c.Name+" "+c.Username)
			var got string
			var ok bool
			if c.Name == credentials.InstallerPortal {
				got, ok = l.InstallerPortalPassword()
			} else {
				got, ok = l.PortalPassword(strings.TrimPrefix(c.Name, "portal."))
			}
			if !ok || got != c.Password {
				t.Errorf("Lookup disagrees with List for %s", c.Name)
			}
		case "app", "device", "trunk":
			sip[c.Password] = true
		}
	}
	for _, c := range list {
		if c.Kind == credentials.KindPortal && sip[c.Password] {
			t.Errorf("%s equals a SIP password", c.Name)
		}
	}
	want := []string{"installer.portal support@dds.example", "portal.aoife aoife@example.com", "portal.john john@example.com", "portal.mary mary@example.com"}
	if d := cmp.Diff(want, portal); d != "" {
		t.Errorf("portal logins (-want +got):\n%s", d)
	}
	if _, ok := l.PortalPassword("nobody"); ok {
		t.Error("a portal password for a user the program does not have")
	}
}
