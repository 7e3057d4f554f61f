package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"switchboard/simulate/device"
)

// TestServeSitesRescan runs the real binary on a directory of two sites
// with -data, then on SIGHUP: a site directory added beside them starts
// serving (its REGISTER is challenged and accepted, with its store), a
// broken one added is reported at file and line and skipped, a removed
// one stops serving (its domain is answered 404) with its stored data
// kept, and the site left in place keeps serving. Before, SIGHUP only
// reloaded the sites there were at the start: the new site's REGISTER
// was answered 404 and the removed one's domain stayed served.
func TestServeSitesRescan(t *testing.T) {
	t.Parallel()
	bin := buildSwitchboard(t)
	env := append(os.Environ(), "SWITCHBOARD_SITE_KEY="+testSiteKey, "NO_COLOR=1")
	parent, data := t.TempDir(), t.TempDir()
	into := func(dir, name string) string {
		t.Helper()
		to := filepath.Join(parent, name)
		if err := os.Rename(dir, to); err != nil {
			t.Fatal(err)
		}
		return to
	}
	const kept, removed, added = "kept.example.net", "removed.example.net", "added.example.net"
	keptDir := into(siteCopy(t, "family-home", kept), "a-kept")
	removedDir := into(siteCopy(t, "family-home", removed), "b-removed")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := startServe(t, exec.CommandContext(ctx, bin, "serve", "-listen", "127.0.0.1:0", "-http", "", "-admin", "",
		"-data", data, "-rtp-ports", "44000-44999", parent), env)
	sipAddr := s.waitLine("ready line", regexp.MustCompile(`^switchboard serve: ready: 2 sites \(kept\.example\.net, removed\.example\.net\), sip udp (127\.0\.0\.1:\d+)`))[1]

	register := func(dir, domain string) int {
		t.Helper()
		creds := serveCredentials(t, bin, dir, env)
		d, err := device.New(device.Config{Account: "app.sarah", Password: creds["app.sarah"], Domain: domain, Server: sipAddr})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		ctx, cancel := context.WithTimeout(context.Background(), serveTimeout)
		defer cancel()
		status, err := d.Register(ctx, time.Hour)
		if err != nil {
			t.Fatalf("REGISTER app.sarah at %s: %v", domain, err)
		}
		return status
	}
	if got := register(removedDir, removed); got != 200 {
		t.Fatalf("REGISTER at %s before SIGHUP: %d, want 200", removed, got)
	}
	removedCreds := filepath.Join(t.TempDir(), "removed")
	if err := os.Rename(removedDir, removedCreds); err != nil {
		t.Fatal(err)
	}
	addedDir := into(siteCopy(t, "family-home", added), "c-added")
	broken := filepath.Join(parent, "d-broken")
	if err := os.Mkdir(broken, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "site.pbx.hcl"), []byte("site \"broken\" {\n  country = \"IE\"\n  timezone = Europe/Dublin\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	s.signal(syscall.SIGHUP)
	s.waitLine("the removed site's line", regexp.MustCompile(`msg="site removed" site=removed\.example\.net dir=`+regexp.QuoteMeta(removedDir)))
	s.waitLine("the broken site's diagnostic", regexp.MustCompile(`^  on .*d-broken/site\.pbx\.hcl line 3, in site "broken":$`))
	s.waitLine("the broken site skipped", regexp.MustCompile(`^switchboard serve: `+regexp.QuoteMeta(broken)+`: not served: its configuration has errors`))
	s.waitLine("the added site's line", regexp.MustCompile(`msg="site added" site=added\.example\.net dir=`+regexp.QuoteMeta(addedDir)+` sites=2`))

	for _, tc := range []struct {
		dir, domain string
		want        int
	}{
		{addedDir, added, 200},
		{removedCreds, removed, 404},
		{keptDir, kept, 200},
	} {
		if got := register(tc.dir, tc.domain); got != tc.want {
			t.Errorf("REGISTER at %s after SIGHUP: %d, want %d", tc.domain, got, tc.want)
		}
	}
	// What the removed site stored stays: its data directory, and its
	// stream and bucket in the store (not deleted; only a site's own
	// in-memory stream is).
	for _, d := range []string{filepath.Join(data, removed), filepath.Join(data, added)} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("data directory: %v", err)
		}
	}
	s.stop()
}
