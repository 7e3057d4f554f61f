package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"switchboard/runtime/store"
)

// TestServeSitesBeyondReservation: serve of more sites than the embedded
// JetStream's default budget would hold at their event streams' byte
// limits serves them all. nats-server sets a stream's limit aside against
// 75 % of the disk space free at its start (a file store under -data) or
// of the RAM, or of GOMEMLIMIT when less (-keep-in-memory); before the
// store set that budget itself, the sites past it were "not served:
// event stream: ... insufficient storage resources available".
func TestServeSitesBeyondReservation(t *testing.T) {
	t.Parallel()
	bin := buildSwitchboard(t)
	data := t.TempDir()
	var fs syscall.Statfs_t
	if err := syscall.Statfs(data, &fs); err != nil {
		t.Skipf("no free space figure for %s: %v", data, err)
	}
	// As many sites as 75 % of the free space holds at the default limit,
	// and two more; on a large disk fewer sites with a larger limit, so
	// that the test stays quick.
	room := int64(fs.Bavail) * int64(fs.Bsize) / 4 * 3
	const most = 30
	limit := store.DefaultLimits.MaxBytes
	if room/limit+2 > most {
		limit = room/(most-2) + 1
	}
	for _, tc := range []struct {
		name  string
		n     int
		flags []string
		env   []string
	}{
		{"on disk", int(room/limit) + 2, []string{"-http", "", "-data", data, "-events-max-bytes", strconv.FormatInt(limit, 10)}, nil},
		// 75 % of 512 MiB holds not one stream at the default limit. A
		// site keeps a stream in memory for its portal (-http).
		{"in memory", 3, []string{"-http", "127.0.0.1:0", "-keep-in-memory"}, []string{"GOMEMLIMIT=512MiB"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dirs := make([]string, tc.n)
			for i := range dirs {
				dirs[i] = siteCopy(t, "family-home", fmt.Sprintf("home%d.example.net", i))
			}
			env := append(append(os.Environ(), "SWITCHBOARD_SITE_KEY="+testSiteKey, "NO_COLOR=1"), tc.env...)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			args := append([]string{"serve", "-listen", "127.0.0.1:0", "-admin", "", "-rtp-ports", "43000-43999"}, tc.flags...)
			s := startServe(t, exec.CommandContext(ctx, bin, append(args, dirs...)...), env)
			m := s.waitLine("the ready line or a site not served", regexp.MustCompile(`^switchboard serve: (?:ready: (\d+) sites |(.*not served: .*))`))
			if m[2] != "" || m[1] != strconv.Itoa(tc.n) {
				t.Fatalf("%d sites: %q; want all ready\n%s", tc.n, m[0], s.log())
			}
		})
	}
}

// siteCopy is a copy of the example name whose site has domain instead
// of its own.
func siteCopy(t *testing.T, name, domain string) string {
	t.Helper()
	dir := copyExample(t, name)
	f := filepath.Join(dir, "site.pbx.hcl")
	src, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^(\s*domain\s*=\s*)"[^"]*"`)
	if !re.Match(src) {
		t.Fatalf("%s names no domain", f)
	}
	if err := os.WriteFile(f, re.ReplaceAll(src, []byte(`${1}"`+domain+`"`)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
