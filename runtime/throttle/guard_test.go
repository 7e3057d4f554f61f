package throttle

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Each case fails some tries, then asks whether a try is blocked.
func TestGuard(t *testing.T) {
	// spray is one failure from each of n addresses in n /24s.
	spray := func(n int) []fail {
		var fs []fail
		for i := range n {
			fs = append(fs, fail{fmt.Sprintf("10.%d.%d.1", i/256, i%256), "mary", 1})
		}
		return fs
	}
	// prefixSpray is one failure from each of n addresses of one /24.
	prefixSpray := func(n int) []fail {
		var fs []fail
		for i := range n {
			fs = append(fs, fail{fmt.Sprintf("192.0.2.%d", i+1), "mary", 1})
		}
		return fs
	}
	limits := Limits{PerUser: 3, PerSource: 10, PerPrefix: 20, Global: 100, Window: time.Minute}
	for _, tc := range []struct {
		name       string
		limits     Limits
		proven     []string
		fails      []fail
		host, user string
		want       bool
	}{
		{"a user under its limit", limits, nil, []fail{{"192.0.2.1", "gate", 2}}, "192.0.2.1", "gate", false},
		{"a user at its limit", limits, nil, []fail{{"192.0.2.1", "gate", 3}}, "192.0.2.1", "gate", true},
		{"another user behind the same address", limits, nil, []fail{{"192.0.2.1", "gate", 3}, {"192.0.2.1", "lobby", 3}}, "192.0.2.1", "mary", false},
		{"the same user from elsewhere", limits, nil, []fail{{"192.0.2.1", "gate", 3}}, "198.51.100.1", "gate", false},
		{"an address at its ceiling", limits, nil, []fail{{"192.0.2.1", "a", 3}, {"192.0.2.1", "b", 3}, {"192.0.2.1", "c", 3}, {"192.0.2.1", "d", 1}}, "192.0.2.1", "mary", true},
		{"an address at its ceiling, without credentials", limits, nil, []fail{{"192.0.2.1", "a", 3}, {"192.0.2.1", "b", 3}, {"192.0.2.1", "c", 3}, {"192.0.2.1", "d", 1}}, "192.0.2.1", "", true},
		{"a prefix at its limit", limits, nil, prefixSpray(20), "192.0.2.200", "mary", true},
		{"a proven address in a prefix at its limit", limits, []string{"192.0.2.200"}, prefixSpray(20), "192.0.2.200", "mary", false},
		{"a new address past the global limit", limits, nil, spray(100), "203.0.113.1", "mary", true},
		{"a new address past the global limit, without credentials", limits, nil, spray(100), "203.0.113.1", "", false},
		{"a proven address past the global limit", limits, []string{"203.0.113.1"}, spray(100), "203.0.113.1", "mary", false},
		{"a new address after an overflow", Limits{PerUser: 3, PerSource: 10, Window: time.Minute, Tracked: 50}, nil, spray(60), "203.0.113.1", "mary", true},
		{"a proven address after an overflow", Limits{PerUser: 3, PerSource: 10, Window: time.Minute, Tracked: 50}, []string{"203.0.113.1"}, spray(60), "203.0.113.1", "mary", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewGuard(tc.limits)
			for _, h := range tc.proven {
				g.Succeed(h, "someone", epoch)
			}
			for _, f := range tc.fails {
				for range f.times {
					g.Fail(f.host, f.user, epoch)
				}
			}
			_, got := g.Blocked(tc.host, tc.user, epoch.Add(time.Second))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Blocked (-want +got):\n%s", diff)
			}
			if _, still := g.Blocked(tc.host, tc.user, epoch.Add(time.Minute+time.Second)); still {
				t.Error("still blocked once the window closed")
			}
		})
	}
}

// fail is a failure of user from host, times over.
type fail struct {
	host, user string
	times      int
}

// Fail names the widest limit a failure reached.
func TestGuardReached(t *testing.T) {
	g := NewGuard(Limits{PerUser: 2, PerSource: 3, Window: time.Minute})
	var got []Reached
	for _, u := range []string{"a", "a", "b"} {
		got = append(got, g.Fail("192.0.2.1", u, epoch))
	}
	if diff := cmp.Diff([]Reached{ReachedNone, ReachedUser, ReachedSource}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
