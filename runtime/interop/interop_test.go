// Package interop runs real third-party SIP software from Debian packages —
// SIPp (sip-tester) and baresip — against the live server, over loopback
// UDP. The server runs in the test process, so the tests read its event
// stream and drive its clock: ring timeouts pass when a test advances the
// clock, never by waiting. The peers run as separate processes with their
// own real timers, each under a deadline, and are killed when a test ends.
//
// A test whose peer is not installed skips, loudly, with the command that
// installs it; CI installs both, so there every test runs.
package interop

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/compiler"
	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/lang"
	"switchboard/runtime/auth"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/carrier"
	"switchboard/runtime/clock"
	"switchboard/runtime/clock/clocktest"
	"switchboard/runtime/events"
	"switchboard/runtime/media/mediatest"
	"switchboard/runtime/portal"
	"switchboard/runtime/site"
	"switchboard/runtime/store"
	"switchboard/simulate/device"
)

const (
	domain = "interop.example"
	// carrierIP is the trunk's host in testdata/site: requests from it
	// are the carrier's. Every other peer speaks from 127.0.0.1.
	carrierIP = "127.0.0.2"
	// peerTimeout bounds every external process.
	peerTimeout = 30 * time.Second
	// eventTimeout bounds every wait for a server event.
	eventTimeout = 10 * time.Second
)

// siteKey is the fixed site key of these tests.
var siteKey = []byte("interop-site-key-0123456789abcdef")

// compileSite compiles testdata/site.
func compileSite(t *testing.T) *ir.Program {
	t.Helper()
	cfg, diags := lang.Load(filepath.Join("testdata", "site"), lang.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	checked, diags := compiler.Check(cfg)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p, diags := compiler.Lower(checked, compiler.LowerOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return p
}

type secrets = *credentials.Lookup

// server is a site served in-process on 127.0.0.1:0.
type server struct {
	t       *testing.T
	prog    *ir.Program
	secrets secrets
	clock   *clocktest.Fake
	addr    string // host:port of the SIP socket
	port    int
	dataDir string       // the services' data (serverConfig.voicemail), else ""
	db      *store.Store // serverConfig.store's, else nil
	site    *site.Site
	// stop closes the server (a carrier then hears the un-REGISTER); the
	// test's cleanup calls it too.
	stop func()

	mu   sync.Mutex
	seen []events.Event
	cond chan struct{} // signalled on every event
}

// serverConfig varies how a test's server is built: b2bua.NewSite, as
// `switchboard serve` builds it, with the site's program.
type serverConfig struct {
	// carrierPort, when set, points the site's trunk at a carrier on
	// carrierIP:carrierPort and gives the server the trunk's credentials.
	carrierPort int
	// algs, when set, are the digest algorithms offered to every account
	// (serve -digest); nil serves the default, as `serve` without -digest
	// does: each account is offered what the program says its client
	// answers (MD5 for the apps and devices of testdata/site).
	algs []auth.Algorithm
	// edit changes the compiled program before it is served.
	edit func(*ir.Program)
	// services serves the calls the server answers itself (conference
	// bridges), assembled by package site as serve assembles them. The
	// whole server then runs on the wall clock, as serve does, not the
	// test's: a bridge mixes real clients' real-time audio every 20 ms.
	// server.clock is nil then.
	services bool
	// voicemail also gives the services a data directory (server.dataDir,
	// a t.TempDir()), so unanswered calls leave messages and the owners'
	// devices are told (MWI), as serve wires them. It implies services:
	// voicemail's prompts are paced by the clock of the server's own
	// media endpoint, which a fake clock would hold still.
	voicemail bool
	// store keeps the voicemail (and the registrations and events) in a
	// store in the data directory, as serve does (server.db); it implies
	// voicemail.
	store bool
	// portalSite answers the portal's site pages (invitations, the
	// handover sheet), as serve's does from the site directory.
	portalSite portal.SiteFiles
}

func startServer(t *testing.T, sc serverConfig) *server {
	t.Helper()
	p := compileSite(t)
	if sc.carrierPort != 0 {
		p.Trunks[0].Port = sc.carrierPort
	}
	if sc.edit != nil {
		sc.edit(p)
		p.Sort()
	}
	key, err := credentials.KeyFromBytes(siteKey)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, prog: p, secrets: credentials.NewLookup(key, p),
		clock: clocktest.New(time.Unix(1_800_000_000, 0)), cond: make(chan struct{}, 1)}
	var clk clock.Clock = s.clock
	now := s.clock.Now
	if sc.store {
		sc.voicemail = true
	}
	if sc.voicemail {
		sc.services = true
		s.dataDir = t.TempDir()
	}
	if sc.store {
		db, err := store.Open(store.Options{Dir: s.dataDir, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close) // after the site's cleanup, registered later
		s.db = db
	}
	if sc.services {
		s.clock, clk, now = nil, clock.Real, time.Now
	}
	bus := events.NewBus(now)
	sub := bus.Subscribe(1 << 14)
	go func() {
		for e := range sub.C {
			s.mu.Lock()
			s.seen = append(s.seen, e)
			s.mu.Unlock()
			select {
			case s.cond <- struct{}{}:
			default:
			}
		}
	}()

	cfg := site.Config{Program: p, Secrets: s.secrets}
	if sc.carrierPort != 0 {
		cfg.Trunks = carrier.TrunkValues{"var.trunk_user": trunkUser, "var.trunk_password": trunkPassword}
	}
	o := site.Options{Events: bus, Clock: clk, MediaIP: netip.MustParseAddr("127.0.0.1"), DigestAlgorithms: sc.algs, DataDir: s.dataDir, PortalSite: sc.portalSite, Store: s.db}
	if !sc.services {
		o.Services = &b2bua.Services{}
	}
	st, err := site.New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.site = st
	s.addr = conn.LocalAddr().String()
	s.port = conn.LocalAddr().(*net.UDPAddr).Port
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); st.ServeUDP(ctx, conn) }()
	var once sync.Once
	s.stop = func() { once.Do(func() { st.Close() }) }
	t.Cleanup(func() {
		s.stop()
		cancel()
		<-served
		sub.Close()
		if t.Failed() {
			t.Logf("server events:\n%s", s.eventLog())
		}
	})
	return s
}

func (s *server) password(account string) string {
	s.t.Helper()
	pw, ok := s.secrets.SIPPassword(account)
	if !ok {
		s.t.Fatalf("no account %q in the site", account)
	}
	return pw
}

// events returns the events so far.
func (s *server) events() []events.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]events.Event(nil), s.seen...)
}

// waitEvent waits for an event matching f and returns it.
func (s *server) waitEvent(what string, f func(events.Event) bool) events.Event {
	s.t.Helper()
	deadline := time.NewTimer(eventTimeout)
	defer deadline.Stop()
	for {
		for _, e := range s.events() {
			if f(e) {
				return e
			}
		}
		select {
		case <-s.cond:
		case <-deadline.C:
			s.t.Fatalf("no %s event within %s", what, eventTimeout)
		}
	}
}

// find returns the events matching f.
func (s *server) find(f func(events.Event) bool) []events.Event {
	var out []events.Event
	for _, e := range s.events() {
		if f(e) {
			out = append(out, e)
		}
	}
	return out
}

// eventLog lists the server's events, each with its time since the
// first: a failure under load shows where the time went.
func (s *server) eventLog() string {
	var b strings.Builder
	evs := s.events()
	for _, e := range evs {
		fmt.Fprintf(&b, "  +%6.3fs %s", e.Time.Sub(evs[0].Time).Seconds(), e.Kind)
		for _, kv := range [][2]string{{"call", e.Call}, {"leg", e.Leg}, {"account", e.Account}, {"from", e.From},
			{"to", e.To}, {"target", e.Target}, {"device", e.Device}, {"relay", e.Relay}, {"digits", e.Digits},
			{"cause", e.Cause}, {"source", e.Source}} {
			if kv[1] != "" {
				fmt.Fprintf(&b, " %s=%q", kv[0], kv[1])
			}
		}
		if e.Status != 0 {
			fmt.Fprintf(&b, " status=%d", e.Status)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func kind(k events.Kind) func(events.Event) bool {
	return func(e events.Event) bool { return e.Kind == k }
}

func legEvent(k events.Kind, leg string) func(events.Event) bool {
	return func(e events.Event) bool { return e.Kind == k && e.Leg == leg }
}

func registered(account string) func(events.Event) bool {
	return func(e events.Event) bool { return e.Kind == events.Registered && e.Account == account }
}

// device starts and registers a simulated device (simulate/device: sipgo
// and real RTP) for account.
func (s *server) device(account string) *device.Device {
	s.t.Helper()
	d, err := device.New(device.Config{Account: account, Password: s.password(account), Domain: domain, Server: s.addr})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { d.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	if status, err := d.Register(ctx, time.Hour); err != nil || status != 200 {
		s.t.Fatalf("register %s: %d, %v", account, status, err)
	}
	return d
}

// freeUDPPort returns a loopback UDP port that was free a moment ago, with
// the n-1 ports above it free too (SIPp's media takes its -mp port and the
// ones above it).
func freeUDPPort(t *testing.T, ip string, n int) int {
	t.Helper()
	return mediatest.FreeUDPBlock(t, ip, n)
}

// waitUDPBound waits until some process has a UDP socket bound to port on
// 127.0.0.0/8 — the readiness of a peer that prints nothing when it is
// listening. It reads /proc/net/udp; elsewhere it returns at once (the
// server's INVITE retransmissions then cover a late peer). It stays a
// poll: SIPp says nothing when it listens, and /proc has no change
// events; each look is at the kernel's own socket table, under a
// deadline.
func waitUDPBound(t *testing.T, port int, p *process) {
	t.Helper()
	want := fmt.Sprintf(":%04X ", port)
	deadline := time.Now().Add(eventTimeout)
	for {
		data, err := os.ReadFile("/proc/net/udp")
		if err != nil {
			return
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) > 2 && strings.HasSuffix(f[1]+" ", want) {
				return
			}
		}
		if p.exited() {
			t.Fatalf("%s ended before it listened on UDP port %d\n%s", p.name, port, p.report())
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on UDP port %d after %s", port, eventTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// process is an external peer running in the background.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
	dir  string
}

// syncBuffer is a bytes.Buffer safe for a writer and readers at once; a
// reader can wait for what it expects to be written (waitFor).
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written chan struct{} // closed and replaced at every Write
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.written != nil {
		close(b.written)
		b.written = nil
	}
	return b.b.Write(p)
}

// next returns a channel closed at the next Write.
func (b *syncBuffer) next() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.written == nil {
		b.written = make(chan struct{})
	}
	return b.written
}

// waitFor waits until f holds of everything written so far, for at most
// timeout, and reports whether it did.
func (b *syncBuffer) waitFor(timeout time.Duration, f func(out string) bool) bool {
	limit := time.NewTimer(timeout)
	defer limit.Stop()
	for {
		written := b.next()
		if f(b.String()) {
			return true
		}
		select {
		case <-written:
		case <-limit.C:
			return false
		}
	}
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// start runs bin with args in dir under peerTimeout; the process is killed
// when the test ends.
func start(t *testing.T, name, dir, bin string, args ...string) *process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = peerProcAttr()
	cmd.WaitDelay = 2 * time.Second
	p := &process{name: name, cmd: cmd, out: &syncBuffer{}, done: make(chan struct{}), dir: dir}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("%s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		cancel()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
			if t.Failed() {
				// A peer that gave up early (a port taken, a scenario
				// error) is why the test waited in vain: say what it said.
				t.Logf("%s exited %d:\n%s", name, p.wait(), p.report())
			}
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process to end and returns its exit status.
func (p *process) wait() int {
	<-p.done
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		return -1
	}
	return 0
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}
