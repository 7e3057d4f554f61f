package interop

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"switchboard/runtime/events"
	"switchboard/simulate/device"
)

// TestSIPpWatchesCall: SIPp, a third-party client, holds a BLF key on
// alice's extension as carol: it SUBSCRIBEs to the dialog package,
// answers the 407, and receives a NOTIFY with no dialog, then one per
// change as bob's call to alice rings (early), is answered (confirmed)
// and ends (terminated) — checked by SIPp in this order, each body
// matched, an unexpected one failing the run.
func TestSIPpWatchesCall(t *testing.T) {
	sippPath(t)
	s := startServer(t, serverConfig{})
	fragment, err := os.ReadFile(filepath.Join("testdata", "sipp", "blf_notify.xml"))
	if err != nil {
		t.Fatal(err)
	}
	// The regular expressions SIPp matches each NOTIFY's body with (XML
	// attribute text: < > " escaped).
	states := []string{
		`&lt;dialog-info [^&gt;]*entity=&quot;sip:101@[^&gt;]*&gt;\s*&lt;/dialog-info&gt;`,
		`direction=&quot;recipient&quot;&gt;&lt;state&gt;early&lt;/state&gt;`,
		`direction=&quot;recipient&quot;&gt;&lt;state&gt;confirmed&lt;/state&gt;`,
		`direction=&quot;recipient&quot;&gt;&lt;state&gt;terminated&lt;/state&gt;`,
	}
	var notifies strings.Builder
	for _, st := range states {
		notifies.WriteString(strings.ReplaceAll(string(fragment), "@STATE@", st))
	}
	watcher := s.sipp(t, "blf watcher", sippOptions{scenario: "blf_watch.xml",
		subs: map[string]string{"ACCOUNT": "app.carol", "NOTIFY_STATES": notifies.String()},
		args: []string{"-s", "101", "-au", "app.carol", "-ap", s.password("app.carol"), "-auth_uri", "101@" + s.addr}})
	s.waitEvent("subscribed", func(e events.Event) bool {
		return e.Kind == events.Subscribed && e.Account == "app.carol" && e.Target == "user.alice"
	})

	alice := s.device("app.alice")
	bob := s.device("app.bob")
	pickup := make(chan struct{})
	alice.SetPickupWhen(pickup)
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	dialled := make(chan *device.Call, 1)
	go func() {
		defer close(dialled)
		if c, err := bob.Dial(ctx, "101"); err == nil {
			dialled <- c
		} else {
			t.Errorf("bob dials 101: %v", err)
		}
	}()
	s.waitEvent("alice rings", legEvent(events.LegRinging, "app.alice"))
	close(pickup)
	call := <-dialled
	if call == nil {
		t.FailNow()
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	watcher.pass(t)
}
