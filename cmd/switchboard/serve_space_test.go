package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"switchboard/runtime/store"
)

// TestServeStoreSpace runs the real binary with -data: when what the
// event streams may still add (-events-max-bytes, a cap far beyond any
// disk) exceeds the free space, serve says so in its log while it runs —
// not only in its start-up warning — and /admin/status shows it under
// "store"; with a small cap it shows enough space and logs nothing. The
// policy and the once-per-crossing log are TestSpaceLow and
// TestSpaceWatchLogsCrossings (runtime/store).
func TestServeStoreSpace(t *testing.T) {
	t.Parallel()
	bin := buildSwitchboard(t)
	env := append(os.Environ(), "SWITCHBOARD_SITE_KEY="+testSiteKey, "NO_COLOR=1")
	for _, tc := range []struct {
		name     string
		maxBytes int64
		low      bool
	}{
		{"caps beyond the disk", 1 << 50, true}, // the most -events-max-bytes takes
		{"small caps", 1 << 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, data := copyExample(t, "family-home"), t.TempDir()
			if free, total, err := store.Statfs(data); err != nil || !tc.low && free < store.SpaceFloor(total)+64<<20 {
				t.Skipf("the test's disk has %d bytes free of %d (%v): too little to tell", free, total, err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			s := startServe(t, exec.CommandContext(ctx, bin, "serve", "-listen", "127.0.0.1:0", "-http", "", "-admin", "127.0.0.1:0",
				"-data", data, "-events-max-bytes", strconv.FormatInt(tc.maxBytes, 10), dir), env)
			adminAddr := s.waitLine("ready line", regexp.MustCompile(`^switchboard serve: ready: site "[^"]+", sip udp 127\.0\.0\.1:\d+, admin http (127\.0\.0\.1:\d+), media 127\.0\.0\.1$`))[1]
			// The first check is made before the ready line.
			lowLine := regexp.MustCompile(`level=WARN msg="disk space low under the store's directory: .*" dir=` + regexp.QuoteMeta(data) + ` free=.* why="under the 1\.0 PiB the event streams may still add`)
			if got := lowLine.FindAllString(s.log(), -1); len(got) != map[bool]int{true: 1, false: 0}[tc.low] {
				t.Errorf("low-space lines: %q\n%s", got, s.log())
			}

			tok, err := os.ReadFile(filepath.Join(dir, ".switchboard", "admin-token"))
			if err != nil {
				t.Fatal(err)
			}
			req, err := http.NewRequest("GET", "http://"+adminAddr+"/admin/status", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var status struct{ Store *store.Space }
			err = json.NewDecoder(res.Body).Decode(&status)
			res.Body.Close()
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("GET /admin/status: %d, %v", res.StatusCode, err)
			}
			sp := status.Store
			if sp == nil {
				t.Fatal(`GET /admin/status has no "store"`)
			}
			if sp.Low != tc.low || (sp.Reason != "") != tc.low || sp.Free == 0 || sp.Total < sp.Free || sp.Err != "" || sp.Checked.IsZero() {
				t.Errorf("store space %+v; want low %v", *sp, tc.low)
			}
			// One site's stream, empty but for a few start-up events.
			if sp.EventsRoom > uint64(tc.maxBytes) || sp.EventsRoom < uint64(tc.maxBytes)-1<<20 {
				t.Errorf("events room %d, want about %d", sp.EventsRoom, tc.maxBytes)
			}
			s.stop()
		})
	}
}
