package ir_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
)

func TestCan(t *testing.T) {
	for _, tc := range []struct {
		role  ir.Role
		right ir.Right
		want  bool
	}{
		{ir.RoleOwner, ir.RightReceiveHandover, true},
		{ir.RoleAdmin, ir.RightReceiveHandover, false},
		{ir.RoleUser, ir.RightSeeSite, false},
		{ir.RoleAdmin, ir.RightManagePeople, true},
		{ir.RoleInstaller, ir.RightAnswer, false},
		{ir.RoleInstaller, ir.RightBindDevices, true},
		{ir.RoleOwner, ir.RightBindDevices, false},
		{ir.Role("janitor"), ir.RightAnswer, false},
	} {
		if got := ir.Can(tc.role, tc.right); got != tc.want {
			t.Errorf("Can(%s, %s) = %v, want %v", tc.role, tc.right, got, tc.want)
		}
	}
}

func TestEveryRoleAndRightInTable(t *testing.T) {
	seen := map[ir.Right]bool{}
	for _, r := range ir.Roles {
		for _, right := range r.Rights {
			seen[right] = true
		}
	}
	for _, right := range ir.Rights {
		if !seen[right] {
			t.Errorf("no role holds %q", right)
		}
	}
	for _, role := range []ir.Role{ir.RoleOwner, ir.RoleAdmin, ir.RoleUser, ir.RoleInstaller} {
		if len(ir.RightsOf(role)) == 0 {
			t.Errorf("role %s has no row", role)
		}
	}
}

func TestAdminLimit(t *testing.T) {
	got := []int{ir.AdminLimit(0), ir.AdminLimit(19), ir.AdminLimit(20), ir.AdminLimit(35), ir.AdminLimit(400)}
	if diff := cmp.Diff([]int{2, 2, 2, 3, 40}, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

// TestRolesDoc keeps docs/roles.md equal to the table it renders.
func TestRolesDoc(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "roles.md")
	want := ir.RolesMarkdown()
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("docs/roles.md is not the roles table (UPDATE_GOLDEN=1 go test ./compiler/ir rewrites it) (-want +got)\n%s", diff)
	}
}
