package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"switchboard/runtime/events"
	"switchboard/runtime/interop/peer"
	"switchboard/runtime/media/mediatest"
	"switchboard/runtime/site"
	"switchboard/simulate/device"
)

// TestCommissionSIPpDoor has a real third-party SIP stack play the door
// station: SIPp calls the gate's code with the gate's digest credentials,
// as the Akuvox panel would when a visitor presses button 1; Sarah's app
// answers and keys the gate's code, and SIPp hangs up after a few
// seconds. commission ticks Sarah's case from what the server saw.
func TestCommissionSIPpDoor(t *testing.T) {
	t.Parallel()
	sipp := peer.Require(t, "sipp", "install it with `apt-get install -y sip-tester`")
	l := startLive(t)
	for _, a := range []string{"app.sarah", "app.david", "app.chloe", "app.jack"} {
		l.register(a)
	}
	sarah := l.devices["app.sarah"]
	sarah.SetAnswer(device.Pickup, 0)
	keyed := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(l.ctx, serveTimeout)
		defer cancel()
		in, err := sarah.WaitIncoming(wctx, func(in []device.Incoming) bool { return len(in) > 0 && in[len(in)-1].Answered })
		if err != nil {
			keyed <- err
			return
		}
		// Sarah keys the code once the server has connected the call, as
		// a person does once they hear the visitor.
		if err := l.waitEvent(wctx, events.LegAnswered); err != nil {
			keyed <- err
			return
		}
		call := sarah.Answered(in[len(in)-1].CallID)
		if call == nil {
			keyed <- fmt.Errorf("sarah has no call %s", in[len(in)-1].CallID)
			return
		}
		keyed <- call.SendDTMF("#")
	}()

	// The interop tests' door-station scenario, its fragments filled in:
	// answered, nothing after the ACK, the caller hangs up after 5 s.
	dir := t.TempDir()
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join("..", "..", "runtime", "interop", "testdata", "sipp", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	sc := strings.NewReplacer("@FINAL@", read("final_answered.xml")).Replace(read("door_call.xml"))
	sc = strings.NewReplacer("@HANGUP@", read("hangup_caller.xml"), "@AFTER_ACK@", "").Replace(sc)
	sc = strings.NewReplacer("@ACCOUNT@", "device.gate", "@DOMAIN@", "whitfield-home.example.net", "@HOLD@", "5000").Replace(sc)
	if strings.Contains(sc, "@") && strings.Contains(sc, "@\n") {
		t.Fatalf("placeholders left in the scenario:\n%s", sc)
	}
	sf := filepath.Join(dir, "door.xml")
	if err := os.WriteFile(sf, []byte(sc), 0o644); err != nil {
		t.Fatal(err)
	}
	code := l.code()
	port, mp := mediatest.FreeUDPBlock(t, "127.0.0.1", 1), mediatest.FreeUDPBlock(t, "127.0.0.1", 4)
	ctx, cancel := context.WithTimeout(l.ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, sipp, l.sipAddr, "-sf", sf, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-mp", strconv.Itoa(mp),
		"-s", code, "-au", "device.gate", "-ap", l.creds["device.gate"], "-auth_uri", code+"@"+l.sipAddr,
		"-m", "1", "-nostdin", "-timeout", "25s", "-timeout_error", "-trace_err", "-error_file", filepath.Join(dir, "errors.log"))
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		errs, _ := os.ReadFile(filepath.Join(dir, "errors.log"))
		t.Fatalf("sipp: %v\n%s\n%s", err, out[max(0, len(out)-2000):], errs)
	}
	if err := <-keyed; err != nil {
		t.Fatalf("sarah's answer: %v", err)
	}
	l.waitCalls(1)

	d := l.commission(0)
	if st, detail, ev := l.find(d, `^gate button 1 → .* → sarah answers and opens "gate"$`); st != "passed" || len(ev) == 0 {
		t.Errorf("sarah's case after SIPp's call: %s %q, evidence %v", st, detail, ev)
	}
	if st, detail, _ := l.find(d, `→ hall-monitor answers`); st != "open" || !strings.Contains(detail, "hall-monitor not registered") {
		t.Errorf("the switched-off monitor's case: %s %q", st, detail)
	}
}

// waitEvent waits, on the admin endpoints' event journal, for an event of
// kind (from the oldest kept).
func (l *live) waitEvent(ctx context.Context, kind events.Kind) error {
	after := uint64(0)
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://%s/admin/events?after=%d&wait=10", l.adminAddr, after), nil)
		req.Header.Set("Authorization", "Bearer "+l.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		var page site.EventPage
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if err != nil {
			return err
		}
		for _, e := range page.Events {
			after = e.ID
			if e.Kind == kind {
				return nil
			}
		}
	}
}
