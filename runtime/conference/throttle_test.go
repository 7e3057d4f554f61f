package conference

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestThrottle(t *testing.T) {
	th := newThrottle(Throttle{Failures: 3, Window: time.Minute})
	now := epoch
	keys := throttleKeys("user.tom", "10.0.0.5")
	fail := func() bool { return false }
	var reached []string
	for i := range 3 {
		ok, blocked, r := th.attempt(keys, now.Add(time.Duration(i)*time.Second), fail)
		if ok || blocked {
			t.Fatalf("attempt %d: ok %v, blocked %v", i+1, ok, blocked)
		}
		reached = append(reached, r...)
	}
	if diff := cmp.Diff([]string{"account:user.tom", "source:10.0.0.5"}, reached); diff != "" {
		t.Errorf("keys at the limit (-want +got):\n%s", diff)
	}
	// Blocked: even the right PIN is not tried.
	tried := false
	ok, blocked, _ := th.attempt(keys, now.Add(10*time.Second), func() bool { tried = true; return true })
	if ok || !blocked || tried {
		t.Errorf("after 3 failures: ok %v, blocked %v, tried %v", ok, blocked, tried)
	}
	// Each key on its own: the account from elsewhere, the source for
	// another account.
	for _, k := range [][]string{throttleKeys("user.tom", "10.9.9.9"), throttleKeys("user.ann", "10.0.0.5")} {
		if b := th.blocked(k, now.Add(10*time.Second)); !b {
			t.Errorf("%v not blocked", k)
		}
	}
	if b := th.blocked(throttleKeys("user.ann", "10.9.9.9"), now.Add(10*time.Second)); b {
		t.Error("an unrelated caller is blocked")
	}
	// The window opened with the first failure and closes a minute later.
	if b := th.blocked(keys, now.Add(time.Minute-time.Nanosecond)); !b {
		t.Error("unblocked before the window closed")
	}
	if ok, blocked, _ := th.attempt(keys, now.Add(time.Minute), func() bool { return true }); !ok || blocked {
		t.Errorf("after the window: ok %v, blocked %v", ok, blocked)
	}
}

// Disabled, the throttle only runs the tries.
func TestThrottleOff(t *testing.T) {
	th := newThrottle(Throttle{})
	for range 100 {
		if _, blocked, _ := th.attempt([]string{"source:x"}, epoch, func() bool { return false }); blocked {
			t.Fatal("blocked with no limit")
		}
	}
}

// A flood of sources cannot grow the table past maxTracked, and closed
// windows are pruned.
func TestThrottleBounded(t *testing.T) {
	th := newThrottle(Throttle{Failures: 3, Window: time.Minute})
	for i := range maxTracked + 5000 {
		th.attempt([]string{fmt.Sprintf("source:%d", i)}, epoch, func() bool { return false })
	}
	if n := th.tracked(); n > maxTracked {
		t.Errorf("%d counters held, want at most %d", n, maxTracked)
	}
	th.attempt([]string{"source:late"}, epoch.Add(time.Hour), func() bool { return false })
	if n := th.tracked(); n != 1 {
		t.Errorf("%d counters held after every window closed, want 1", n)
	}
}
