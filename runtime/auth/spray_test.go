package auth_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/auth"
)

// attempt answers a fresh challenge for ans from source and returns the
// account, or the shape of the refusal.
func (f *fixture) attempt(t *testing.T, ans answer, source string) string {
	t.Helper()
	_, res := f.a.Check(register(ans.user), source, false)
	if res.StatusCode != 401 {
		return shape(res)
	}
	acct, r := f.a.Check(respond(t, res, ans), source, false)
	if acct != "" {
		return acct
	}
	return shape(r)
}

// A spray of failures from many addresses, one each, overflows the
// failure tables. Before, a full table stopped counting new sources, so a
// guesser arriving after the spray was never throttled. Now the spray
// makes the server stricter: a new source is refused outright, while a
// device that authenticated before the spray is still heard.
func TestSprayOverflowThrottlesHarder(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    auth.Throttle
	}{
		{"table overflow", auth.Throttle{Failures: 10, SourceFailures: 200, Window: time.Minute, Tracked: 64}},
		{"global limit", auth.Throttle{Failures: 10, SourceFailures: 200, GlobalFailures: 100, Window: time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, auth.WithThrottle(tc.l))
			if got := f.attempt(t, answer{user: "app.mary", password: "mary-secret"}, "198.51.100.7:5060"); got != "app.mary" {
				t.Fatalf("mary before the spray: %s", got)
			}
			for i := range 300 {
				src := fmt.Sprintf("10.%d.%d.1:5060", i/256, i%256)
				f.attempt(t, answer{user: "app.mary", password: "guess"}, src)
			}
			refused := 0
			for range 20 {
				if got := f.attempt(t, answer{user: "app.mary", password: "guess"}, "203.0.113.9:5060"); strings.HasPrefix(got, "403 ") {
					refused++
				}
			}
			if refused != 20 {
				t.Errorf("a new source after the spray: %d of 20 wrong guesses refused with 403", refused)
			}
			if got := f.attempt(t, answer{user: "app.mary", password: "mary-secret"}, "198.51.100.7:5060"); got != "app.mary" {
				t.Errorf("mary from her own address during the spray: %s", got)
			}
			f.clk.Advance(2 * time.Minute)
			if got := f.attempt(t, answer{user: "device.front-gate", password: "gate-secret"}, "203.0.113.10:5060"); got != "device.front-gate" {
				t.Errorf("a new source once the spray's window closed: %s", got)
			}
		})
	}
}

// A source's failures for other user names do not lock out an account
// whose password is right, until the per-source ceiling: the devices
// behind one NAT are told apart from a guesser among them.
func TestBusyNATKeepsItsDevices(t *testing.T) {
	f := newFixture(t, auth.WithThrottle(auth.Throttle{Failures: 10, SourceFailures: 100, Window: time.Minute}))
	const nat = "192.0.2.10:5060"
	for i := range 60 {
		f.attempt(t, answer{user: fmt.Sprintf("app.x%d", i%6), password: "guess"}, nat)
	}
	if got := f.attempt(t, answer{user: "app.mary", password: "mary-secret"}, nat); got != "app.mary" {
		t.Errorf("mary behind a NAT with 60 failures of others: %s", got)
	}
	if got := f.attempt(t, answer{user: "app.x1", password: "guess"}, nat); !strings.HasPrefix(got, "403 ") {
		t.Errorf("a guessed account past its own limit: %s", got)
	}
	for i := range 40 {
		f.attempt(t, answer{user: fmt.Sprintf("app.y%d", i), password: "guess"}, nat)
	}
	if got := f.attempt(t, answer{user: "app.mary", password: "mary-secret"}, nat); !strings.HasPrefix(got, "403 ") {
		t.Errorf("mary past the source's ceiling of 100: %s", got)
	}
}

// A /24 whose addresses fail together is throttled as one.
func TestPrefixLimit(t *testing.T) {
	f := newFixture(t, auth.WithThrottle(auth.Throttle{Failures: 10, SourceFailures: 100, PrefixFailures: 30, Window: time.Minute}))
	for i := range 30 {
		f.attempt(t, answer{user: "app.mary", password: "guess"}, fmt.Sprintf("192.0.2.%d:5060", i+1))
	}
	if got := f.attempt(t, answer{user: "app.mary", password: "guess"}, "192.0.2.200:5060"); !strings.HasPrefix(got, "403 ") {
		t.Errorf("a fresh address of the sprayed /24: %s", got)
	}
	if got := f.attempt(t, answer{user: "app.mary", password: "mary-secret"}, "192.0.3.1:5060"); got != "app.mary" {
		t.Errorf("the next /24: %s", got)
	}
}

// A flood of failures publishes the first Events of each window and one
// Suppressed event counting the rest when the window ends.
func TestFailureEventsSampled(t *testing.T) {
	f := newFixture(t, auth.WithThrottle(auth.Throttle{Failures: 10, SourceFailures: 200, Window: time.Minute, Events: 5}))
	for i := range 50 {
		f.attempt(t, answer{user: "app.mary", password: "guess"}, fmt.Sprintf("10.0.%d.1:5060", i))
	}
	evs := f.events()
	if len(evs) != 5 {
		t.Errorf("%d events during the flood, want 5", len(evs))
	}
	f.clk.Advance(time.Minute)
	var got []string
	for _, e := range f.events() {
		got = append(got, fmt.Sprintf("%s %s", e.Kind, e.Cause))
	}
	want := []string{"suppressed 45 auth_failed events within 1m0s after the first 5 were not reported"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after the window (-want +got):\n%s", diff)
	}
}
