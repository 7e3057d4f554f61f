package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/portal"
)

// TestProposeRemoval: removing a person takes their block out and leaves
// one blank line where two blocks were set apart, none at the top of the
// file and one newline at its end; blank lines elsewhere stay as written.
func TestProposeRemoval(t *testing.T) {
	const a = "user \"a\" {\n  first_name = \"A\"\n}\n"
	const b = "user \"b\" {\n  first_name = \"B\"\n}\n"
	const c = "user \"c\" {\n  first_name = \"C\"\n}\n"
	for _, tc := range []struct {
		name, in, remove, want string
	}{
		{"between two", a + "\n" + b + "\n" + c, "b", a + "\n" + c},
		{"first", a + "\n" + b + "\n" + c, "a", b + "\n" + c},
		{"last", a + "\n" + b + "\n" + c, "c", a + "\n" + b},
		{"after a comment", "# The people.\n\n" + a + "\n" + b, "a", "# The people.\n\n" + b},
		{"no blank lines around", a + b + c, "b", a + c},
		{"other blank lines kept", a + "\n\n" + b + "\n" + c, "c", a + "\n\n" + b},
		{"two blank lines around", a + "\n\n" + b + "\n\n" + c, "b", a + "\n" + c},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string][]byte{"people.pbx.hcl": []byte(tc.in)}
			file, after, err := proposedFile(files, portal.ChangeRequest{ID: 1, Kind: portal.RequestRemove, User: tc.remove})
			if err != nil {
				t.Fatal(err)
			}
			if file != "people.pbx.hcl" {
				t.Fatalf("file %q", file)
			}
			got := string(after)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("the proposed file (-want +got):\n%s", diff)
			}
		})
	}
}
