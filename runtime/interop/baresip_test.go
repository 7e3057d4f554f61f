package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/runtime/events"
	"switchboard/runtime/interop/peer"
)

// baresipPath returns baresip, or skips the test loudly when it is not
// installed.
func baresipPath(t *testing.T) string {
	t.Helper()
	return peer.Require(t, "baresip", "install it with `apt-get install -y baresip-core`")
}

// baresipModules finds the directory of baresip's modules.
func baresipModules(t *testing.T) string {
	t.Helper()
	for _, dir := range []string{"/usr/lib/baresip/modules", "/usr/local/lib/baresip/modules", "/usr/lib/x86_64-linux-gnu/baresip/modules"} {
		if _, err := os.Stat(filepath.Join(dir, "ctrl_tcp.so")); err == nil {
			return dir
		}
	}
	peer.Missing(t, "baresip's modules (ctrl_tcp.so) were not found", "install them with `apt-get install -y baresip-core`")
	return ""
}

// baresip is a running baresip registered as one account, driven over its
// ctrl_tcp interface (JSON in netstrings).
type baresip struct {
	account string
	p       *process
	conn    net.Conn
	// ready is when the test saw "baresip is ready.": after every module's
	// init (see waitModuleTimers).
	ready time.Time

	// files is signalled when baresip creates or writes a file in its
	// directory (its recordings: decoded).
	files <-chan struct{}

	mu     sync.Mutex
	events []map[string]any
	resps  []map[string]any
	signal chan struct{}
}

// baresip starts baresip as account's phone; answermode is "auto" or
// "manual". It returns once the server has registered it.
func (s *server) baresip(t *testing.T, account, answermode string) *baresip {
	t.Helper()
	b := s.startBaresip(t, account, answermode)
	s.waitEvent("baresip registered as "+account, registered(account))
	return b
}

// baresipConfig varies a baresip from the tests' usual phone.
type baresipConfig struct {
	// templates is the directory under testdata/baresip that holds its
	// config and accounts; testdata/baresip itself when empty.
	templates string
	// subs fills in more @NAME@ placeholders of both. @CONFIG_DIR@, the
	// directory baresip runs in, is always filled in.
	subs map[string]string
	// args are more command-line options: -s traces SIP, -v is verbose
	// (both to its output, which a failed test logs).
	args []string
}

// baresipWith is baresip with another configuration.
func (s *server) baresipWith(t *testing.T, account, answermode string, bc baresipConfig) *baresip {
	t.Helper()
	b := s.startBaresipWith(t, account, answermode, bc)
	s.waitEvent("baresip registered as "+account, registered(account))
	return b
}

// startBaresip starts baresip and returns once it takes commands.
func (s *server) startBaresip(t *testing.T, account, answermode string) *baresip {
	t.Helper()
	return s.startBaresipWith(t, account, answermode, baresipConfig{})
}

// startBaresipWith is startBaresip with another configuration.
func (s *server) startBaresipWith(t *testing.T, account, answermode string, bc baresipConfig) *baresip {
	t.Helper()
	bin := baresipPath(t)
	modules := baresipModules(t)
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctrl := l.Addr().String()
	l.Close()
	fill := func(name string, subs map[string]string) {
		data, err := os.ReadFile(filepath.Join("testdata", "baresip", bc.templates, name))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(data), "@CONFIG_DIR@", dir)
		for _, m := range []map[string]string{subs, bc.subs} {
			for k, v := range m {
				text = strings.ReplaceAll(text, "@"+k+"@", v)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fill("config", map[string]string{"CTRL_ADDR": ctrl, "MODULE_PATH": modules})
	fill("accounts", map[string]string{"ACCOUNT": account, "DOMAIN": domain, "PASSWORD": s.password(account),
		"SERVER": s.addr, "ANSWERMODE": answermode})

	b := &baresip{account: account, signal: make(chan struct{}, 1), files: watchDir(t, dir)}
	b.p = start(t, "baresip "+account, dir, bin, append([]string{"-f", dir}, bc.args...)...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("baresip %s output:\n%s", account, b.p.out.String())
		}
	})
	// Readiness: baresip says "baresip is ready." once it has loaded its
	// modules, ctrl_tcp's listener among them.
	if !b.p.out.waitFor(eventTimeout, func(out string) bool {
		return strings.Contains(out, "baresip is ready.") || b.p.exited()
	}) {
		t.Fatalf("baresip did not say it was ready within %s\n%s", eventTimeout, b.p.out.String())
	}
	b.ready = time.Now()
	if b.conn, err = net.Dial("tcp", ctrl); err != nil {
		t.Fatalf("baresip's ctrl_tcp on %s: %v\n%s", ctrl, err, b.p.out.String())
	}
	t.Cleanup(func() { b.conn.Close() })
	go b.read()
	return b
}

// read collects the netstrings baresip sends: events and responses.
func (b *baresip) read() {
	r := bufio.NewReader(b.conn)
	for {
		n, err := r.ReadString(':')
		if err != nil {
			return
		}
		size, err := strconv.Atoi(strings.TrimSuffix(n, ":"))
		if err != nil || size < 0 || size > 1<<20 {
			return
		}
		buf := make([]byte, size+1) // the payload and its ','
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		var m map[string]any
		if json.Unmarshal(buf[:size], &m) != nil {
			continue
		}
		b.mu.Lock()
		if m["event"] == true {
			b.events = append(b.events, m)
		} else if m["response"] == true {
			b.resps = append(b.resps, m)
		}
		b.mu.Unlock()
		select {
		case b.signal <- struct{}{}:
		default:
		}
	}
}

// command sends a ctrl_tcp command and waits for its response.
func (b *baresip) command(t *testing.T, command, params string) map[string]any {
	t.Helper()
	token := strconv.FormatInt(time.Now().UnixNano(), 36)
	msg, _ := json.Marshal(map[string]string{"command": command, "params": params, "token": token})
	if _, err := fmt.Fprintf(b.conn, "%d:%s,", len(msg), msg); err != nil {
		t.Fatalf("baresip %s: %v", command, err)
	}
	return b.wait(t, "response to "+command, func() (map[string]any, bool) {
		for _, r := range b.resps {
			if r["token"] == token {
				return r, true
			}
		}
		return nil, false
	})
}

func (b *baresip) wait(t *testing.T, what string, f func() (map[string]any, bool)) map[string]any {
	t.Helper()
	deadline := time.NewTimer(eventTimeout)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		m, ok := f()
		b.mu.Unlock()
		if ok {
			return m
		}
		select {
		case <-b.signal:
		case <-deadline.C:
			t.Fatalf("baresip %s: no %s within %s; events: %v", b.account, what, eventTimeout, b.types())
			return nil
		}
	}
}

// waitEvent waits for a ctrl_tcp event of type typ (CALL_INCOMING,
// CALL_ESTABLISHED, CALL_CLOSED, …).
func (b *baresip) waitEvent(t *testing.T, typ string) map[string]any {
	t.Helper()
	return b.wait(t, typ, func() (map[string]any, bool) {
		for _, e := range b.events {
			if e["type"] == typ {
				return e, true
			}
		}
		return nil, false
	})
}

func (b *baresip) saw(typ string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.events {
		if e["type"] == typ {
			return true
		}
	}
	return false
}

func (b *baresip) types() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, e := range b.events {
		out = append(out, fmt.Sprint(e["type"]))
	}
	return out
}

// TestBaresipRegisters: baresip registers with digest authentication and
// its binding is where its packets come from.
func TestBaresipRegisters(t *testing.T) {
	s := startServer(t, serverConfig{})
	s.baresip(t, "app.bob", "manual")
	e := s.waitEvent("registered", registered("app.bob"))
	if !strings.HasPrefix(e.Source, "127.0.0.1:") {
		t.Errorf("binding source %q", e.Source)
	}
}

// TestBaresipAnswersAndOpensDoor: the gate (a simulated device) calls flat
// 1A; bob's baresip answers on its own (answermode=auto) and bob keys "#"
// (ctrl_tcp "sndcode", sent as RFC 2833 telephone-events). The server
// records door_opened for bob and the gate hears "#".
func TestBaresipAnswersAndOpensDoor(t *testing.T) {
	baresipPath(t)
	s := startServer(t, serverConfig{})
	bob := s.baresip(t, "app.bob", "auto")
	gate := s.device("device.gate")

	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	call, err := gate.Dial(ctx, "1A")
	if err != nil {
		t.Fatal(err)
	}
	bob.waitEvent(t, "CALL_ESTABLISHED")
	s.waitEvent("bob answered", legEvent(events.LegAnswered, "app.bob"))
	bob.command(t, "sndcode", "#")
	opened := s.waitEvent("door_opened", kind(events.DoorOpened))
	if opened.Account != "app.bob" || opened.Device != "gate" || opened.Relay != "door" {
		t.Errorf("door_opened = %+v", opened)
	}
	if err := call.WaitDigits(ctx, "#"); err != nil {
		t.Errorf("door station: %v", err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	bob.waitEvent(t, "CALL_CLOSED")
	s.waitEvent("call_ended", kind(events.CallEnded))
}
