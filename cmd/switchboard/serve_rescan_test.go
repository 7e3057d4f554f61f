package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/runtime/voicemail"
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
		return registerAt(t, sipAddr, "app.sarah", serveCredentials(t, bin, dir, env)["app.sarah"], domain)
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

// TestServeSitesRescanFromOne runs the real binary on a directory of sites
// holding one site, with -data: it is served as a directory of sites (its
// data under -data/DOMAIN), so a second site directory put beside it is
// served on SIGHUP (its REGISTER challenged and accepted). Then the first
// is taken away (SIGHUP: it stops, the second serves on alone) and the
// directory emptied (SIGHUP: the running site is kept, and the log says
// why). Before, a directory holding one site was served as that single
// site: the ready line named the site, and SIGHUP never looked at the
// directory again, so the second site's REGISTER got 404.
func TestServeSitesRescanFromOne(t *testing.T) {
	t.Parallel()
	bin := buildSwitchboard(t)
	env := append(os.Environ(), "SWITCHBOARD_SITE_KEY="+testSiteKey, "NO_COLOR=1")
	parent, data, aside := t.TempDir(), t.TempDir(), t.TempDir()
	move := func(dir, to string) string {
		t.Helper()
		if err := os.Rename(dir, to); err != nil {
			t.Fatal(err)
		}
		return to
	}
	const first, second = "first.example.net", "second.example.net"
	firstDir := move(siteCopy(t, "family-home", first), filepath.Join(parent, "a-first"))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := startServe(t, exec.CommandContext(ctx, bin, "serve", "-listen", "127.0.0.1:0", "-http", "", "-admin", "",
		"-data", data, "-rtp-ports", "45000-45999", parent), env)
	sipAddr := s.waitLine("ready line", regexp.MustCompile(`^switchboard serve: ready: 1 sites \(first\.example\.net\), sip udp (127\.0\.0\.1:\d+)`))[1]

	register := func(dir, domain string) int {
		t.Helper()
		return registerAt(t, sipAddr, "app.sarah", serveCredentials(t, bin, dir, env)["app.sarah"], domain)
	}
	if got := register(firstDir, first); got != 200 {
		t.Fatalf("REGISTER at %s at the start: %d, want 200", first, got)
	}
	if _, err := os.Stat(filepath.Join(data, first)); err != nil {
		t.Errorf("the one site's data is not under -data/DOMAIN: %v", err)
	}

	secondDir := move(siteCopy(t, "family-home", second), filepath.Join(parent, "b-second"))
	s.signal(syscall.SIGHUP)
	s.waitLine("the second site's line", regexp.MustCompile(`msg="site added" site=second\.example\.net dir=`+regexp.QuoteMeta(secondDir)+` sites=2`))
	for _, tc := range []struct{ dir, domain string }{{secondDir, second}, {firstDir, first}} {
		if got := register(tc.dir, tc.domain); got != 200 {
			t.Errorf("REGISTER at %s after the second was added: %d, want 200", tc.domain, got)
		}
	}

	// One site left: it serves on, the other's domain is no one's.
	firstCreds := move(firstDir, filepath.Join(aside, "first"))
	s.signal(syscall.SIGHUP)
	s.waitLine("the first site's removal", regexp.MustCompile(`msg="site removed" site=first\.example\.net dir=`+regexp.QuoteMeta(firstDir)+` sites=1`))
	if got := register(secondDir, second); got != 200 {
		t.Errorf("REGISTER at %s, the one site left: %d, want 200", second, got)
	}
	if got := register(firstCreds, first); got != 404 {
		t.Errorf("REGISTER at %s, removed: %d, want 404", first, got)
	}

	// Emptied (say, unmounted): the running site is kept.
	secondCreds := move(secondDir, filepath.Join(aside, "second"))
	s.signal(syscall.SIGHUP)
	s.waitLine("the empty directory's line", regexp.MustCompile(`msg="the directory of sites holds none now: the running sites are kept" dir=`+regexp.QuoteMeta(parent)))
	if got := register(secondCreds, second); got != 200 {
		t.Errorf("REGISTER at %s, its directory emptied: %d, want 200", second, got)
	}
	s.stop()
}

// TestServeSitesMovesSingleSiteData runs the real binary on a directory
// holding one site with a -data directory laid out as serve kept it when
// such a directory was served as its single site: voicemail (as an
// older version kept it, in files: a greeting and a PIN, written by the
// voicemail service) and the portal's directory directly under -data.
// serve moves them to -data/DOMAIN once, logging each move, and the site
// reads them there: its voicemail is imported into the store under its
// domain, whole. Without the move the site would start with no
// voicemail and no portal passwords, and the old files would lie unread.
func TestServeSitesMovesSingleSiteData(t *testing.T) {
	t.Parallel()
	bin := buildSwitchboard(t)
	env := append(os.Environ(), "SWITCHBOARD_SITE_KEY="+testSiteKey, "NO_COLOR=1")
	parent, data := t.TempDir(), t.TempDir()
	const domain = "moved.example.net"
	if err := os.Rename(siteCopy(t, "family-home", domain), filepath.Join(parent, "home")); err != nil {
		t.Fatal(err)
	}
	vm := filepath.Join(data, "voicemail")
	vs, err := voicemail.Open(voicemail.Config{Program: func() *ir.Program { return &ir.Program{} }, Dir: vm})
	if err != nil {
		t.Fatal(err)
	}
	if err := vs.SetPIN("box-00", "4321", "test"); err != nil {
		t.Fatal(err)
	}
	if err := vs.SetGreeting("box-00", toneWAV(t, 2), "test"); err != nil {
		t.Fatal(err)
	}
	vs.Close()
	want := boxFiles(t, vm)
	if len(want) == 0 {
		t.Fatal("the voicemail service wrote no files")
	}
	portalFile := filepath.Join(data, "portal", "passwords.json")
	if err := os.MkdirAll(filepath.Dir(portalFile), 0o700); err != nil {
		t.Fatal(err)
	}
	portalData := []byte(`{"sarah":"$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA"}` + "\n")
	if err := os.WriteFile(portalFile, portalData, 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := func() *served {
		return startServe(t, exec.CommandContext(ctx, bin, "serve", "-listen", "127.0.0.1:0", "-http", "", "-admin", "",
			"-data", data, "-rtp-ports", "46000-46999", parent), env)
	}
	ready := regexp.MustCompile(`^switchboard serve: ready: 1 sites \(moved\.example\.net\)`)
	s := start()
	s.waitLine("the voicemail's move", regexp.MustCompile(`msg="site data moved" site=moved\.example\.net from=`+regexp.QuoteMeta(vm)+` to=`+regexp.QuoteMeta(filepath.Join(data, domain, "voicemail"))+` `))
	s.waitLine("the portal's move", regexp.MustCompile(`msg="site data moved" site=moved\.example\.net from=`+regexp.QuoteMeta(filepath.Join(data, "portal"))+` `))
	s.waitLine("ready line", ready)
	s.stop()

	if d := cmp.Diff(want, storedFiles(t, data, domain)); d != "" {
		t.Errorf("the site's voicemail in the store (-want +got):\n%s", d)
	}
	if d := cmp.Diff(want, boxFiles(t, filepath.Join(data, domain, "voicemail.imported"))); d != "" {
		t.Errorf("the voicemail files moved aside after the import (-want +got):\n%s", d)
	}
	if got, err := os.ReadFile(filepath.Join(data, domain, "portal", "passwords.json")); err != nil || !bytes.Equal(got, portalData) {
		t.Errorf("the portal's passwords under -data/DOMAIN: %q, %v; want them as they were", got, err)
	}
	if left := oldSiteData(data); len(left) > 0 {
		t.Errorf("left directly under -data: %v", left)
	}

	// Started again: nothing more to move, the site keeps its data.
	s = start()
	s.waitLine("ready line", ready)
	s.stop()
	if strings.Contains(s.log(), "site data moved") {
		t.Errorf("moved again at the second start:\n%s", s.log())
	}
	if d := cmp.Diff(want, storedFiles(t, data, domain)); d != "" {
		t.Errorf("the site's voicemail after the second start (-want +got):\n%s", d)
	}
}

// TestMoveSiteDataRefusesBoth: an entry both directly under -data and
// under -data/DOMAIN is not serve's to choose between: nothing is moved,
// and the error names both.
func TestMoveSiteDataRefusesBoth(t *testing.T) {
	data := t.TempDir()
	for _, d := range []string{"voicemail/box-1", "portal", "d.example/portal"} {
		if err := os.MkdirAll(filepath.Join(data, d), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.DiscardHandler)
	err := moveSiteData(log, data, "d.example", oldSiteData(data))
	if err == nil || !strings.Contains(err.Error(), filepath.Join(data, "portal")+" and "+filepath.Join(data, "d.example", "portal")+" both exist") {
		t.Fatalf("moveSiteData: %v; want both places named", err)
	}
	if d := cmp.Diff([]string{"voicemail", "portal"}, oldSiteData(data)); d != "" {
		t.Errorf("moved despite the conflict (-want +got):\n%s", d)
	}
}

// TestServeOneSiteOfDirectoryWithoutData: a directory holding one site,
// served without -data, is served as that site alone (its store in its
// own directory, as before), and says so at the start; a site directory
// added beside it is not served on SIGHUP, and the log says so, naming
// it, rather than nothing.
func TestServeOneSiteOfDirectoryWithoutData(t *testing.T) {
	t.Parallel()
	bin := buildSwitchboard(t)
	env := append(os.Environ(), "SWITCHBOARD_SITE_KEY="+testSiteKey, "NO_COLOR=1")
	parent := t.TempDir()
	alone := filepath.Join(parent, "a-alone")
	if err := os.Rename(siteCopy(t, "family-home", "alone.example.net"), alone); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := startServe(t, exec.CommandContext(ctx, bin, "serve", "-listen", "127.0.0.1:0", "-http", "", "-admin", "",
		"-rtp-ports", "47000-47999", parent), env)
	s.waitLine("the warning", regexp.MustCompile(`level=WARN msg="serving the one site of a directory of sites alone: .*" dir=`+regexp.QuoteMeta(parent)+` site=`+regexp.QuoteMeta(alone)+`$`))
	s.waitLine("ready line", regexp.MustCompile(`^switchboard serve: ready: site "`))
	if _, err := os.Stat(filepath.Join(alone, ".switchboard", "data", "jetstream")); err != nil {
		t.Errorf("the site's store is not in its own data directory: %v", err)
	}
	added := filepath.Join(parent, "b-added")
	if err := os.Rename(siteCopy(t, "family-home", "added.example.net"), added); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGHUP)
	s.waitLine("the added directory's error", regexp.MustCompile(`level=ERROR msg="site directory not served: .*" dir=`+regexp.QuoteMeta(added)+` parent=`+regexp.QuoteMeta(parent)+` served=`+regexp.QuoteMeta(alone)+`$`))
	s.stop()
}

// TestServeSitesWarnsOfSingleSiteDataItCannotPlace: several sites at the
// start and a -data directory holding a site's data as serve kept it for
// one site alone: whose it is cannot be known, so it is left where it is,
// and serve says so rather than letting it lie unread.
func TestServeSitesWarnsOfSingleSiteDataItCannotPlace(t *testing.T) {
	t.Parallel()
	bin := buildSwitchboard(t)
	env := append(os.Environ(), "SWITCHBOARD_SITE_KEY="+testSiteKey, "NO_COLOR=1")
	parent, data := t.TempDir(), t.TempDir()
	for _, d := range []string{"one", "two"} {
		if err := os.Rename(siteCopy(t, "family-home", d+".example.net"), filepath.Join(parent, d)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(data, "portal"), 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := startServe(t, exec.CommandContext(ctx, bin, "serve", "-listen", "127.0.0.1:0", "-http", "", "-admin", "",
		"-data", data, "-rtp-ports", "48000-48999", parent), env)
	s.waitLine("the warning", regexp.MustCompile(`^switchboard serve: warning: `+regexp.QuoteMeta(data)+` holds portal of a site served alone by an earlier serve`))
	s.waitLine("ready line", regexp.MustCompile(`^switchboard serve: ready: 2 sites `))
	s.stop()
	if left := oldSiteData(data); len(left) != 1 {
		t.Errorf("left directly under -data: %v, want [portal]", left)
	}
}
