package main

import (
	"context"
	"crypto/tls"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"switchboard/tlstest"
)

// TestServeCertificates runs the real binary with two certificates on SIP
// over TLS and HTTPS: each handshake gets the one with the name it asks
// for (SNI), the first when it names none it has; a renewal on disk is
// served after SIGHUP without a restart, on both listeners; a broken
// renewal (a key of another certificate) is logged naming the key file
// and the renewed certificate keeps serving. One site, and two sites from
// one process (whose SIGHUP is its own).
func TestServeCertificates(t *testing.T) {
	t.Parallel()
	bin := buildSwitchboard(t)
	t.Run("one site", func(t *testing.T) {
		t.Parallel()
		serveCertificates(t, bin, []string{copyExample(t, "family-home")},
			regexp.MustCompile(`ready: site "[^"]+", sip udp \S+, sip tls (\S+), https (\S+), media`))
	})
	t.Run("two sites", func(t *testing.T) {
		t.Parallel()
		serveCertificates(t, bin, []string{"-data", t.TempDir(), copyExample(t, "family-home"), copyExample(t, "small-office")},
			regexp.MustCompile(`ready: 2 sites \([^)]*\), sip udp \S+, sip tls (\S+), https (\S+), media`))
	})
}

// serveCertificates is TestServeCertificates for serve with args (its
// site directories last), ready matching its ready line.
func serveCertificates(t *testing.T, bin string, args []string, readyLine *regexp.Regexp) {
	d := t.TempDir()
	home := [2]string{filepath.Join(d, "home.crt"), filepath.Join(d, "home.key")}
	office := [2]string{filepath.Join(d, "office.crt"), filepath.Join(d, "office.key")}
	homeCert := tlstest.For(t, "home.example.net")
	officeCert := tlstest.For(t, "*.office.example")
	tlstest.WriteFiles(t, homeCert, home[0], home[1])
	tlstest.WriteFiles(t, officeCert, office[0], office[1])
	env := append(os.Environ(), "SWITCHBOARD_SITE_KEY="+testSiteKey, "NO_COLOR=1")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := startServe(t, exec.CommandContext(ctx, bin, append([]string{"serve", "-listen", "127.0.0.1:0", "-tls", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", "",
		"-cert", home[0], "-key", home[1], "-cert", office[0], "-key", office[1]}, args...)...), env)
	ready := s.waitLine("ready line", readyLine)
	listeners := map[string]string{"sip tls": ready[1], "https": ready[2]}

	serial := func(addr, serverName string) *big.Int {
		t.Helper()
		// Which certificate serve picks is the question; they are
		// self-signed, so the client does not verify them.
		c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: serverName, InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("handshake with %s for %q: %v", addr, serverName, err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber
	}
	expect := func(when string, want map[string]tls.Certificate) {
		t.Helper()
		for name, l := range listeners {
			for serverName, cert := range want {
				if got := serial(l, serverName); got.Cmp(cert.Leaf.SerialNumber) != 0 {
					t.Errorf("%s: %s for %q: serial %x, want %x", when, name, serverName, got, cert.Leaf.SerialNumber)
				}
			}
		}
	}
	expect("at the start", map[string]tls.Certificate{
		"home.example.net": homeCert, "sip.office.example": officeCert, "other.example": homeCert, "": homeCert,
	})

	// The office's certificate is renewed by rename over the old files.
	renewed := tlstest.For(t, "*.office.example")
	tlstest.WriteFiles(t, renewed, office[0]+".new", office[1]+".new")
	for _, f := range []string{office[1], office[0]} {
		if err := os.Rename(f+".new", f); err != nil {
			t.Fatal(err)
		}
	}
	s.signal(syscall.SIGHUP)
	s.waitLine("renewal logged", regexp.MustCompile(`TLS certificate reloaded.*cert=\S*office\.crt`))
	expect("renewed", map[string]tls.Certificate{"sip.office.example": renewed, "home.example.net": homeCert})

	// A broken renewal: the key of another certificate (renamed over the
	// key, so that it is a change whatever the file's size and time).
	_, otherKey := tlstest.PEM(t, tlstest.For(t, "*.office.example"))
	if err := os.WriteFile(office[1]+".new", otherKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(office[1]+".new", office[1]); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGHUP)
	s.waitLine("broken renewal logged", regexp.MustCompile(`TLS certificate not reloaded.*key=\S*office\.key.*private key does not match public key`))
	expect("after the broken renewal", map[string]tls.Certificate{"sip.office.example": renewed, "home.example.net": homeCert})
	s.stop()
}
