package state

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A person's identity: the block name until anything is applied and for
// people applied before identities; recorded thereafter; and never a
// removed person's, so a newcomer of the same name starts afresh.
func TestIdentity(t *testing.T) {
	st := New("s")
	st.Lineage = "lineage-1"
	if got := st.Identity("mary"); got != "mary" {
		t.Errorf("nothing applied: %q, want the block name", got)
	}
	st.Put(Object{Address: "user.mary", Attributes: map[string]string{}})
	st.Serial = 1
	if got := st.Identity("mary"); got != "mary" {
		t.Errorf("applied before identities: %q, want the block name", got)
	}
	tom := st.Identity("tom")
	if !strings.HasPrefix(tom, "id-") || tom != st.Identity("tom") {
		t.Errorf("a newcomer to an applied site: %q, want a stable id-…", tom)
	}
	st.Put(Object{Address: "user.tom", Attributes: map[string]string{}, Identity: tom})
	if got := st.Identity("tom"); got != tom {
		t.Errorf("recorded: %q, want %q", got, tom)
	}

	at := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	st.RemoveUser("mary", Removed{At: at, Data: "archive"})
	st.RemoveUser("tom", Removed{At: at, Data: "delete"})
	want := []Removed{
		{User: "mary", Identity: "mary", At: at, Data: "archive"},
		{User: "tom", Identity: tom, At: at, Data: "delete"},
	}
	if diff := cmp.Diff(want, st.Removed); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	for _, name := range []string{"mary", "tom"} {
		id := st.Identity(name)
		for _, r := range st.Removed {
			if id == r.Identity {
				t.Errorf("a new %s got the removed person's identity %q", name, id)
			}
		}
	}
	// A removal is recorded once per identity (apply records it before
	// the reload, then forgets the object), and dropped when the person is
	// applied again.
	st.Put(Object{Address: "user.ann", Attributes: map[string]string{}, Identity: "id-ann"})
	st.RecordRemoval("ann", Removed{Data: "archive"})
	st.RemoveUser("ann", Removed{Data: "archive"})
	if n := len(st.Removed); n != 3 {
		t.Errorf("ann's removal recorded %d times, want once", n-2)
	}
	st.Returned("id-ann")
	if len(st.Removed) != 2 {
		t.Errorf("returned: %+v", st.Removed)
	}

	// It survives the file.
	data, err := Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(st.Removed, back.Removed); diff != "" {
		t.Errorf("removed after a round trip (-want +got):\n%s", diff)
	}
}
