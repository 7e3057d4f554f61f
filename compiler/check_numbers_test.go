package compiler

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const allocSite = `
site "s" {
  country              = "IE"
  timezone             = "Europe/Dublin"
  domain               = "s.example.net"
  auto_extensions_from = %s
  installer {
    company = "I"
    email   = "i@i.example"
  }
}
`

// usersSource renders users: name=auto, or name=<number> for a fixed one.
func usersSource(specs ...string) string {
	var b strings.Builder
	for i, s := range specs {
		name, ext, _ := strings.Cut(s, "=")
		if ext != "auto" {
			ext = fmt.Sprintf("%q", ext)
		} else {
			ext = `"auto"`
		}
		role := "user"
		if i == 0 {
			role = "owner"
		}
		// Named in full, so that the only warnings are the allocator's.
		fmt.Fprintf(&b, "user %q {\n  first_name = %q\n  last_name = \"Tester\"\n  email = \"%s@example.com\"\n  role = %q\n  extension = %s\n  app = true\n}\n", name, strings.ToUpper(name[:1])+name[1:], name, role, ext)
	}
	return b.String()
}

func lockSource(m map[string]string) string {
	var b strings.Builder
	for name, ext := range m {
		fmt.Fprintf(&b, "user %q {\n  extension = %q\n}\n", name, ext)
	}
	return b.String()
}

func TestAllocate(t *testing.T) {
	tests := []struct {
		name      string
		from      string
		users     []string
		lock      map[string]string
		wantExt   map[string]string
		wantNew   []string // "user=ext" or "user=ext (was prev)"
		wantLock  map[string]string
		changed   bool
		wantDiags []string
	}{{
		name:     "in user-name order after the fixed ones",
		from:     "100",
		users:    []string{"zed=100", "bob=auto", "amy=auto"},
		wantExt:  map[string]string{"zed": "100", "amy": "101", "bob": "102"},
		wantNew:  []string{"amy=101", "bob=102"},
		wantLock: map[string]string{"amy": "101", "bob": "102"},
		changed:  true,
	}, {
		name:     "stable when a user is added",
		from:     "100",
		users:    []string{"zed=100", "bob=auto", "amy=auto", "abe=auto"},
		lock:     map[string]string{"amy": "101", "bob": "102"},
		wantExt:  map[string]string{"zed": "100", "amy": "101", "bob": "102", "abe": "103"},
		wantNew:  []string{"abe=103"},
		wantLock: map[string]string{"abe": "103", "amy": "101", "bob": "102"},
		changed:  true,
	}, {
		name:     "nothing new: lock unchanged",
		from:     "100",
		users:    []string{"zed=100", "amy=auto"},
		lock:     map[string]string{"amy": "101"},
		wantExt:  map[string]string{"zed": "100", "amy": "101"},
		wantLock: map[string]string{"amy": "101"},
	}, {
		name:     "a locked number outside the range is kept",
		from:     "300",
		users:    []string{"zed=100", "amy=auto"},
		lock:     map[string]string{"amy": "205"},
		wantExt:  map[string]string{"zed": "100", "amy": "205"},
		wantLock: map[string]string{"amy": "205"},
	}, {
		name:      "skips emergency numbers and overlaps",
		from:      "110",
		users:     []string{"own=11", "a=auto", "b=auto", "c=auto"},
		wantExt:   map[string]string{"own": "11", "a": "120", "b": "121", "c": "122"},
		wantNew:   []string{"a=120", "b=121", "c=122"},
		wantLock:  map[string]string{"a": "120", "b": "121", "c": "122"},
		changed:   true,
		wantDiags: []string{"warning: Number overlaps emergency number"},
	}, {
		name:     "skips 112 and numbers starting 999",
		from:     "111",
		users:    []string{"own=500", "a=auto", "b=auto"},
		wantExt:  map[string]string{"own": "500", "a": "111", "b": "113"},
		wantNew:  []string{"a=111", "b=113"},
		wantLock: map[string]string{"a": "111", "b": "113"},
		changed:  true,
	}, {
		name:     "keeps leading zeros and digit count",
		from:     `"0998"`,
		users:    []string{"own=0999", "a=auto", "b=auto"},
		wantExt:  map[string]string{"own": "0999", "a": "0998", "b": "1000"},
		wantNew:  []string{"a=0998", "b=1000"},
		wantLock: map[string]string{"a": "0998", "b": "1000"},
		changed:  true,
	}, {
		name:      "a short number in use skips its whole block at once",
		from:      "100000000",
		users:     []string{"own=1", "a=auto"},
		wantExt:   map[string]string{"own": "1", "a": "200000000"},
		wantNew:   []string{"a=200000000"},
		wantLock:  map[string]string{"a": "200000000"},
		changed:   true,
		wantDiags: []string{"warning: Number overlaps emergency number"},
	}, {
		name:     "so does an emergency number",
		from:     "1120000",
		users:    []string{"own=500", "a=auto"},
		wantExt:  map[string]string{"own": "500", "a": "1130000"},
		wantNew:  []string{"a=1130000"},
		wantLock: map[string]string{"a": "1130000"},
		changed:  true,
	}, {
		name:      "a taken locked number moves, with a warning",
		from:      "100",
		users:     []string{"zoe=101", "tom=auto"},
		lock:      map[string]string{"tom": "101"},
		wantExt:   map[string]string{"zoe": "101", "tom": "100"},
		wantNew:   []string{"tom=100 (was 101)"},
		wantLock:  map[string]string{"tom": "100"},
		changed:   true,
		wantDiags: []string{"warning: Extension reallocated"},
	}, {
		name:     "a user no longer auto leaves the lock",
		from:     "100",
		users:    []string{"zoe=101", "tom=150"},
		lock:     map[string]string{"tom": "100"},
		wantExt:  map[string]string{"zoe": "101", "tom": "150"},
		wantLock: map[string]string{},
		changed:  true,
	}, {
		name:      "exhausted",
		from:      "98",
		users:     []string{"own=500", "a=auto", "b=auto"},
		wantExt:   map[string]string{"own": "500", "a": "98"},
		wantNew:   []string{"a=98"},
		wantLock:  map[string]string{"a": "98"},
		changed:   true,
		wantDiags: []string{"error: No free extension"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{
				"site.pbx.hcl":  fmt.Sprintf(allocSite, tt.from),
				"users.pbx.hcl": usersSource(tt.users...),
			}
			checked, diags := checkSources(t, files, lockSource(tt.lock))
			var gotDiags []string
			for _, d := range diags {
				sev := "error"
				if d.Severity == 2 {
					sev = "warning"
				}
				gotDiags = append(gotDiags, sev+": "+d.Summary)
			}
			if diff := cmp.Diff(tt.wantDiags, gotDiags); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s%s", diff, describe(diags))
			}
			if diff := cmp.Diff(tt.wantExt, checked.Extensions); diff != "" {
				t.Errorf("Extensions (-want +got):\n%s", diff)
			}
			var gotNew []string
			for _, a := range checked.Allocations {
				s := a.User + "=" + a.Extension
				if a.Previous != "" {
					s += " (was " + a.Previous + ")"
				}
				gotNew = append(gotNew, s)
			}
			if diff := cmp.Diff(tt.wantNew, gotNew); diff != "" {
				t.Errorf("Allocations (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantLock, checked.Lock.Extensions); diff != "" {
				t.Errorf("Lock (-want +got):\n%s", diff)
			}
			if checked.LockChanged != tt.changed {
				t.Errorf("LockChanged = %v, want %v", checked.LockChanged, tt.changed)
			}
		})
	}
}
