package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/simulate/probe"
	"switchboard/tlstest"
)

// TestProbe runs the real binary twice: `serve` on a copy of
// examples/family-home with every listener on loopback (SIP UDP, TCP and
// TLS, HTTPS, admin) and its default limits, then `probe -json` against
// it. Every check runs (none is skipped) and passes, and the probe prints
// no password of the site (nor the admin token, which it never reads).
func TestProbe(t *testing.T) {
	t.Parallel()
	bin := buildSwitchboard(t)
	dir := copyExample(t, "family-home")
	certFile, keyFile := selfSignedCert(t)
	// No SWITCHBOARD_ADMIN_TOKEN from the caller's environment: serve
	// makes the token file the test reads back.
	env := append(os.Environ(), "SWITCHBOARD_SITE_KEY="+testSiteKey, "NO_COLOR=1", "SWITCHBOARD_ADMIN_TOKEN=")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := startServe(t, exec.CommandContext(ctx, bin, "serve", "-listen", "127.0.0.1:0", "-tcp", "127.0.0.1:0",
		"-tls", "127.0.0.1:0", "-cert", certFile, "-key", keyFile, "-http", "127.0.0.1:0", "-admin", "127.0.0.1:0", dir), env)
	ready := s.waitLine("ready line", regexp.MustCompile(`ready: site "[^"]+", sip udp (\S+), sip tcp (\S+), sip tls (\S+), https (\S+), admin http (\S+), media`))

	cmd := exec.CommandContext(ctx, bin, "probe", "-json", "-target", ready[1], "-tcp", ready[2], "-tls", ready[3],
		"-http", "https://"+ready[4], "-admin", ready[5], dir)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == exitFail) {
		t.Fatalf("probe: %v\nstderr:\n%s", err, stderr.String())
	}

	got := probeResults(t, &stdout)
	want := map[string]probe.Status{}
	for _, c := range probe.Checks {
		want[c] = probe.Pass
	}
	statuses := map[string]probe.Status{}
	var order []string
	for _, r := range got {
		statuses[r.Check] = r.Status
		order = append(order, r.Check)
		if r.Check == probe.CheckMediaLatch && r.Status == probe.Skip && strings.HasPrefix(r.Summary, "no socket on") {
			// Only Linux routes all of 127/8 to loopback by default.
			t.Logf("SKIPPING the media-latching check: %s", r.Summary)
			statuses[r.Check] = want[r.Check]
		}
	}
	if diff := cmp.Diff(probe.Checks, order); diff != "" {
		t.Errorf("checks reported (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, statuses); diff != "" {
		t.Errorf("check statuses (-want +got):\n%s", diff)
	}
	if err != nil {
		t.Errorf("probe exit status: %v, want 0", err)
	}

	// The admin endpoints the probe found closed open to the token: its
	// refusals were for want of the token, not a listener that refuses
	// everyone.
	adminToken, err := os.ReadFile(filepath.Join(dir, ".switchboard", "admin-token"))
	if err != nil {
		t.Fatalf("serve's admin token: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+ready[5]+"/admin/status", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(adminToken)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /admin/status with the token: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /admin/status with the token after the probe: %s, want 200", res.Status)
	}

	// No password of the site, nor the admin token, in what the probe
	// printed.
	printed := stdout.String() + stderr.String()
	if tok := strings.TrimSpace(string(adminToken)); tok == "" || strings.Contains(printed, tok) {
		t.Errorf("the admin token is empty or the probe printed it")
	}
	creds := exec.CommandContext(ctx, bin, "credentials", "-json", dir)
	creds.Env = env
	out, err := creds.Output()
	if err != nil {
		t.Fatalf("credentials -json: %v", err)
	}
	var list []struct{ Name, Password string }
	if err := json.Unmarshal(out, &list); err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		if c.Password != "" && strings.Contains(printed, c.Password) {
			t.Errorf("the probe printed the password of %s", c.Name)
		}
	}
}

// TestProbeSeveralSites runs `probe` against `serve` of two sites on
// the same sockets (serve DIR DIR): a server of the site audited, whose
// HTTP requests are routed by Host and whose admin endpoints are under
// /sites/DOMAIN/admin/. Every check that has its address passes; the
// probe used to ask for the files with the server's address as Host and
// for /admin/ (404 from a server of several sites), and failed both
// checks against a server that refused everything it should.
func TestProbeSeveralSites(t *testing.T) {
	t.Parallel()
	bin := buildSwitchboard(t)
	home, office := copyExample(t, "family-home"), copyExample(t, "small-office")
	env := append(os.Environ(), "SWITCHBOARD_SITE_KEY="+testSiteKey, "NO_COLOR=1", "SWITCHBOARD_ADMIN_TOKEN=")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := startServe(t, exec.CommandContext(ctx, bin, "serve", "-listen", "127.0.0.1:0", "-tcp", "127.0.0.1:0",
		"-http", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-data", t.TempDir(), home, office), env)
	ready := s.waitLine("ready line", regexp.MustCompile(`ready: 2 sites \([^)]*\), sip udp (\S+), sip tcp (\S+), http (\S+), admin http (\S+), media`))

	cmd := exec.CommandContext(ctx, bin, "probe", "-json", "-target", ready[1], "-tcp", ready[2],
		"-http", ready[3], "-admin", ready[4], home)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Errorf("probe: %v, want exit 0\nstderr:\n%s", err, stderr.String())
	}
	want := map[string]probe.Status{}
	for _, c := range probe.Checks {
		want[c] = probe.Pass
	}
	want[probe.CheckTLS] = probe.Skip // no -tls
	got := map[string]probe.Status{}
	for _, r := range probeResults(t, &stdout) {
		got[r.Check] = r.Status
		if r.Check == probe.CheckMediaLatch && r.Status == probe.Skip && strings.HasPrefix(r.Summary, "no socket on") {
			t.Logf("SKIPPING the media-latching check: %s", r.Summary)
			got[r.Check] = want[r.Check]
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("check statuses (-want +got):\n%s", diff)
	}
}

// probeResults decodes `probe -json`'s output, logging each check.
func probeResults(t *testing.T, stdout *bytes.Buffer) []probe.Result {
	t.Helper()
	var got []probe.Result
	dec := json.NewDecoder(stdout)
	for dec.More() {
		var r probe.Result
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("probe -json: %v", err)
		}
		got = append(got, r)
		t.Logf("%s %s: %s\n\t%s", r.Status, r.Check, r.Summary, strings.Join(r.Evidence, "\n\t"))
	}
	return got
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key, for
// serve's -tls and HTTPS.
func selfSignedCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	cert := tlstest.Loopback(t)
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	d := t.TempDir()
	certFile, keyFile = filepath.Join(d, "cert.pem"), filepath.Join(d, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
