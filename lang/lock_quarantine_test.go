package lang

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
)

// A quarantine block round-trips through the lock file; a malformed date
// is a diagnostic at the value.
func TestLockQuarantine(t *testing.T) {
	src := []byte(`user "zoe" {
  extension = 102
}

quarantine "100" {
  user  = "tom"
  until = "2027-03-05"
}
`)
	l, diags := ParseLock(src, LockFileName)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := &Lock{
		Extensions: map[string]string{"zoe": "102"},
		Quarantine: []Quarantine{{Extension: "100", User: "tom", Until: time.Date(2027, 3, 5, 0, 0, 0, 0, time.UTC)}},
	}
	if diff := cmp.Diff(want, l, cmpopts.IgnoreTypes(hcl.Range{})); diff != "" {
		t.Errorf("ParseLock (-want +got):\n%s", diff)
	}
	again, diags := ParseLock(l.Bytes(), LockFileName)
	if diags.HasErrors() || !again.Equal(l) {
		t.Errorf("round trip: %+v, %v\n%s", again, diags, l.Bytes())
	}

	_, diags = ParseLock([]byte("quarantine \"100\" {\n  user  = \"tom\"\n  until = \"5 March\"\n}\n"), LockFileName)
	if !diags.HasErrors() || diags[0].Subject == nil || diags[0].Subject.Start.Line != 3 {
		t.Errorf("a malformed date: %v, want an error on line 3", diags)
	}
}
