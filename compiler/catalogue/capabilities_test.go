package catalogue

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode"
)

// snake turns a Go field name into the capability's name: DTMFDigits →
// dtmf_digits, LineKeys → line_keys.
func snake(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) && i > 0 && (unicode.IsLower(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1])) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// Every field of Model beyond its identity is a capability, named after
// the field and carrying its value, so that `switchboard models` shows a
// new field once it is listed in Capabilities.
func TestCapabilitiesCoverModel(t *testing.T) {
	identity := map[string]bool{"ID": true, "Vendor": true, "Name": true, "Kind": true}
	typ := reflect.TypeOf(Model{})
	for _, m := range Models() {
		caps := map[string]Capability{}
		for _, c := range m.Capabilities() {
			if _, dup := caps[c.Name]; dup {
				t.Errorf("%s: capability %s listed twice", m.ID, c.Name)
			}
			if c.Doc == "" {
				t.Errorf("capability %s has no meaning", c.Name)
			}
			switch c.Value.(type) {
			case int, bool, string, []string:
			default:
				t.Errorf("capability %s is a %T; give people and JSON an int, bool, string or []string", c.Name, c.Value)
			}
			caps[c.Name] = c
		}
		v := reflect.ValueOf(*m)
		for i := range typ.NumField() {
			f := typ.Field(i)
			if !f.IsExported() || identity[f.Name] {
				continue
			}
			// A field is shown by the capability named after it, or, for
			// a struct of several facts, by capabilities named
			// <field>_<fact>.
			name := snake(f.Name)
			covered := false
			for cn, c := range caps {
				if cn != name && !strings.HasPrefix(cn, name+"_") {
					continue
				}
				covered = true
				if cn == name && fmt.Sprint(c.Value) != fmt.Sprint(v.Field(i).Interface()) {
					t.Errorf("%s: capability %s = %v, the field holds %v", m.ID, c.Name, c.Value, v.Field(i).Interface())
				}
				delete(caps, cn)
			}
			if !covered {
				t.Errorf("Model.%s is not among the capabilities (want one named %q in Model.Capabilities)", f.Name, name)
			}
		}
		for name := range caps {
			t.Errorf("capability %s names no field of Model", name)
		}
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{"Buttons": "buttons", "DTMFDigits": "dtmf_digits", "LineKeys": "line_keys", "DigestAlgorithms": "digest_algorithms"} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}
