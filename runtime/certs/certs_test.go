package certs_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/runtime/certs"
	"switchboard/runtime/listener"
	"switchboard/tlstest"
)

// clock is the Store's Now, moved by the test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// syncBuffer is a log the listener's goroutines write and the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// serveTLS serves st's certificates over loopback through the listener
// the server's SIP over TLS runs on, and returns its address. Each
// connection makes its handshake and is closed.
func serveTLS(t *testing.T, st *certs.Store) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ll := listener.New(l, listener.Options{TLS: st.Config(), Handshake: time.Minute, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { ll.Close() })
	go func() {
		for {
			c, err := ll.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				// The first read makes the handshake; the client closes.
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	return l.Addr().String()
}

// serial makes a handshake with addr asking for serverName and returns
// the serial number of the certificate the server presented.
func serial(t *testing.T, addr, serverName string) *big.Int {
	t.Helper()
	// Which certificate the server picks is the question, not whether a
	// client trusts it: the certificates are self-signed.
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: serverName, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake for %q: %v", serverName, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber
}

func sameSerial(t *testing.T, what string, got *big.Int, want tls.Certificate) {
	t.Helper()
	if got.Cmp(want.Leaf.SerialNumber) != 0 {
		t.Errorf("%s: serial %x, want %x", what, got, want.Leaf.SerialNumber)
	}
}

// written gives p's files, just written in place, modification time n
// seconds into 2023: the kernel stamps files from a coarse clock (a few
// milliseconds), so two writes of the same size in a row may look alike —
// a year apart, a real renewal never does.
func written(t *testing.T, p certs.Pair, n int) {
	t.Helper()
	mt := time.Unix(1_672_531_200+int64(n), 0)
	for _, f := range []string{p.CertFile, p.KeyFile} {
		if err := os.Chtimes(f, mt, mt); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
}

func pairIn(t *testing.T, name string) certs.Pair {
	d := t.TempDir()
	return certs.Pair{CertFile: filepath.Join(d, name+".crt"), KeyFile: filepath.Join(d, name+".key")}
}

// TestRenewalPickedUp: a renewed pair is served without a restart once
// the interval has passed on the store's clock, written in place or
// renamed over the old files; before the interval, the handshake does not
// look at the files.
func TestRenewalPickedUp(t *testing.T) {
	p := pairIn(t, "sip")
	first := tlstest.For(t, "sip.example.net")
	tlstest.WriteFiles(t, first, p.CertFile, p.KeyFile)
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	st, err := certs.New([]certs.Pair{p}, certs.Options{Now: clk.Now, Interval: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, st)
	sameSerial(t, "at the start", serial(t, addr, "sip.example.net"), first)

	// In place.
	second := tlstest.For(t, "sip.example.net")
	tlstest.WriteFiles(t, second, p.CertFile, p.KeyFile)
	written(t, p, 1)
	clk.Add(4 * time.Second)
	sameSerial(t, "renewed in place, 4 s later", serial(t, addr, "sip.example.net"), first)
	clk.Add(time.Second)
	sameSerial(t, "renewed in place, 5 s later", serial(t, addr, "sip.example.net"), second)

	// Renamed over the old files, as certbot's and lego's writers do.
	third := tlstest.For(t, "sip.example.net")
	tlstest.WriteFiles(t, third, p.CertFile+".new", p.KeyFile+".new")
	for _, f := range []string{p.KeyFile, p.CertFile} {
		if err := os.Rename(f+".new", f); err != nil {
			t.Fatal(err)
		}
	}
	clk.Add(5 * time.Second)
	sameSerial(t, "renewed by rename", serial(t, addr, "sip.example.net"), third)
}

// TestCheckWithoutClock: Check (SIGHUP's) reads a renewal at once, and
// with a negative interval handshakes never look at the files.
func TestCheckWithoutClock(t *testing.T) {
	p := pairIn(t, "sip")
	first := tlstest.For(t, "sip.example.net")
	tlstest.WriteFiles(t, first, p.CertFile, p.KeyFile)
	st, err := certs.New([]certs.Pair{p}, certs.Options{Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, st)
	if n := st.Check(); n != 0 {
		t.Errorf("Check with nothing changed replaced %d pairs", n)
	}
	second := tlstest.For(t, "sip.example.net")
	tlstest.WriteFiles(t, second, p.CertFile, p.KeyFile)
	written(t, p, 1)
	sameSerial(t, "before Check", serial(t, addr, "sip.example.net"), first)
	if n := st.Check(); n != 1 {
		t.Errorf("Check after a renewal replaced %d pairs, want 1", n)
	}
	sameSerial(t, "after Check", serial(t, addr, "sip.example.net"), second)
}

// hook is a log handler that calls on with each record, as it is logged.
type hook struct{ on func(slog.Record) }

func (h hook) Enabled(context.Context, slog.Level) bool { return true }
func (h hook) Handle(_ context.Context, r slog.Record) error {
	h.on(r)
	return nil
}
func (h hook) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h hook) WithGroup(string) slog.Handler      { return h }

// TestReloadedOnceLogged: when "TLS certificate reloaded" is logged, the
// new certificate already serves — what a client told by the log (or a
// test waiting for it) connects to. (It was logged first, and
// TestServeCertificates once got the old certificate after the line.)
func TestReloadedOnceLogged(t *testing.T) {
	p := pairIn(t, "sip")
	tlstest.WriteFiles(t, tlstest.For(t, "sip.example.net"), p.CertFile, p.KeyFile)
	var st *certs.Store
	var atLog *big.Int
	log := slog.New(hook{on: func(r slog.Record) {
		if r.Message == "TLS certificate reloaded" {
			atLog = st.Certificate("sip.example.net").Leaf.SerialNumber
		}
	}})
	st, err := certs.New([]certs.Pair{p}, certs.Options{Interval: -1, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	renewed := tlstest.For(t, "sip.example.net")
	tlstest.WriteFiles(t, renewed, p.CertFile, p.KeyFile)
	written(t, p, 1)
	st.Check()
	if atLog == nil {
		t.Fatal("the renewal was not logged")
	}
	if atLog.Cmp(renewed.Leaf.SerialNumber) != 0 {
		t.Errorf("when the renewal was logged, serial %x served, want the renewed %x", atLog, renewed.Leaf.SerialNumber)
	}
}

// TestBrokenRenewalKeepsOld: a renewal that cannot be used — a key of
// another certificate, a certificate file half written, a file gone —
// leaves the certificate before it serving, every handshake succeeding,
// and is logged once, naming the file; the renewal completed is then
// picked up.
func TestBrokenRenewalKeepsOld(t *testing.T) {
	p := pairIn(t, "sip")
	first := tlstest.For(t, "sip.example.net")
	tlstest.WriteFiles(t, first, p.CertFile, p.KeyFile)
	var logBuf syncBuffer
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	st, err := certs.New([]certs.Pair{p}, certs.Options{Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, st)

	renewed := tlstest.For(t, "sip.example.net")
	renewedCert, renewedKey := tlstest.PEM(t, renewed)
	_, otherKey := tlstest.PEM(t, tlstest.For(t, "sip.example.net"))
	_, thirdKey := tlstest.PEM(t, tlstest.For(t, "sip.example.net"))
	for i, tc := range []struct {
		name      string
		cert, key []byte
		remove    string
		logNames  string
		logSays   string
	}{
		{name: "a key of another certificate", cert: renewedCert, key: otherKey, logNames: p.KeyFile, logSays: "private key does not match public key"},
		{name: "the key of a third certificate", cert: renewedCert, key: thirdKey, logNames: p.KeyFile, logSays: "private key does not match public key"},
		{name: "the certificate half written", cert: renewedCert[:len(renewedCert)/2], key: renewedKey, logNames: p.CertFile, logSays: "no PEM CERTIFICATE"},
		{name: "the key empty", cert: renewedCert, key: nil, logNames: p.KeyFile, logSays: "no PEM PRIVATE KEY"},
		{name: "the key file gone", cert: renewedCert, remove: p.KeyFile, logNames: p.KeyFile, logSays: "no such file"},
	} {
		step := i + 1
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(p.CertFile, tc.cert, 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.remove != "" {
				if err := os.Remove(tc.remove); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(p.KeyFile, tc.key, 0o600); err != nil {
				t.Fatal(err)
			}
			written(t, p, step)
			before := strings.Count(logBuf.String(), "TLS certificate not reloaded")
			clk.Add(certs.DefaultInterval)
			sameSerial(t, "after the broken renewal", serial(t, addr, "sip.example.net"), first)
			lines := strings.Split(strings.TrimSpace(logBuf.String()), "\n")
			last := lines[len(lines)-1]
			if n := strings.Count(logBuf.String(), "TLS certificate not reloaded"); n != before+1 {
				t.Fatalf("%d error lines after the broken renewal, want %d:\n%s", n, before+1, logBuf.String())
			}
			if !strings.Contains(last, tc.logNames) || !strings.Contains(last, tc.logSays) {
				t.Errorf("log line %q does not name %s and say %q", last, tc.logNames, tc.logSays)
			}
			// Looked at again, unchanged: served as before, not logged again.
			clk.Add(certs.DefaultInterval)
			sameSerial(t, "checked again", serial(t, addr, "sip.example.net"), first)
			if n := strings.Count(logBuf.String(), "TLS certificate not reloaded"); n != before+1 {
				t.Errorf("the same broken renewal logged %d times, want once", n-before)
			}
		})
	}

	// The renewal completed.
	if err := os.WriteFile(p.CertFile, renewedCert, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.KeyFile, renewedKey, 0o600); err != nil {
		t.Fatal(err)
	}
	written(t, p, 100)
	clk.Add(certs.DefaultInterval)
	sameSerial(t, "after the renewal completed", serial(t, addr, "sip.example.net"), renewed)
	if !strings.Contains(logBuf.String(), "TLS certificate reloaded") {
		t.Errorf("the renewal is not logged:\n%s", logBuf.String())
	}
}

// TestSNI: the certificate with the name asked for, else one with a
// wildcard for it, else the first; names compare without case and a
// trailing dot.
func TestSNI(t *testing.T) {
	byName := map[string]tls.Certificate{
		"default":  tlstest.For(t, "home.example.org"),
		"wildcard": tlstest.For(t, "*.example.net"),
		"exact":    tlstest.For(t, "sip.example.net", "office.example.com"),
	}
	var pairs []certs.Pair
	for _, n := range []string{"default", "wildcard", "exact"} {
		p := pairIn(t, n)
		tlstest.WriteFiles(t, byName[n], p.CertFile, p.KeyFile)
		pairs = append(pairs, p)
	}
	st, err := certs.New(pairs, certs.Options{Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, st)
	for _, tc := range []struct{ serverName, want string }{
		{"home.example.org", "default"},
		{"sip.example.net", "exact"}, // exact wins over the wildcard before it
		{"SIP.Example.NET", "exact"},
		{"office.example.com", "exact"},
		{"portal.example.net", "wildcard"},
		{"a.b.example.net", "default"}, // a wildcard covers one label
		{"example.net", "default"},
		{"unknown.example", "default"},
		{"", "default"}, // no SNI: a client that dials an address
	} {
		sameSerial(t, "SNI "+tc.serverName, serial(t, addr, tc.serverName), byName[tc.want])
	}
}

// TestNewNamesTheFile: a pair that cannot be read at the start is an
// error naming its file.
func TestNewNamesTheFile(t *testing.T) {
	p := pairIn(t, "sip")
	cert := tlstest.For(t, "sip.example.net")
	tlstest.WriteFiles(t, cert, p.CertFile, p.KeyFile)
	if err := os.WriteFile(p.KeyFile, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := certs.New([]certs.Pair{p}, certs.Options{})
	if err == nil || !strings.Contains(err.Error(), p.KeyFile) {
		t.Fatalf("New with a broken key: %v, want an error naming %s", err, p.KeyFile)
	}
}

// FuzzKeyPair: whatever the files hold, KeyPair returns a certificate
// with its leaf parsed or an error naming a file, and never panics.
func FuzzKeyPair(f *testing.F) {
	c, k := tlstest.PEM(f, tlstest.Loopback(f))
	f.Add(c, k)
	f.Add(c[:len(c)/2], k)
	f.Add(k, c)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), k)
	p := certs.Pair{CertFile: "a.crt", KeyFile: "a.key"}
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		got, err := certs.KeyPair(p, certPEM, keyPEM)
		if err != nil {
			if !strings.Contains(err.Error(), "a.crt") && !strings.Contains(err.Error(), "a.key") {
				t.Fatalf("error %q names neither file", err)
			}
			return
		}
		if got.Leaf == nil || len(got.Certificate) == 0 {
			t.Fatalf("a certificate without its leaf")
		}
	})
}
