package auth

import (
	"fmt"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/runtime/events"
	"switchboard/runtime/throttle"
)

// The limits are a throttle.Guard's: per source and user name, per source,
// per /24 or /64, and global; a spray past the global limit or one that
// overflows a table makes the server hear only sources that authenticated
// within the last throttle.Limits.ProvenFor.

// guard returns the Guard of limits t.
func (t Throttle) guard() *throttle.Guard {
	return throttle.NewGuard(throttle.Limits{PerUser: t.Failures, PerSource: t.SourceFailures,
		PerPrefix: t.PrefixFailures, Global: t.GlobalFailures, Window: t.Window, Tracked: t.Tracked})
}

// throttled reports whether host (for user, when not empty) has reached a
// limit, and how long until its window closes.
func (a *Authenticator) throttled(host, user string, now time.Time) (time.Duration, bool) {
	return a.guard.Blocked(host, user, now)
}

// fail counts an authentication failure and publishes it, and a Throttled
// event when it makes a key reach its limit.
func (a *Authenticator) fail(req *sip.Request, source, host, user, cause string, proxy bool, now time.Time) {
	l := a.limit
	reached := a.guard.Fail(host, user, now)
	a.publish(events.Event{Kind: events.AuthFailed, Account: user, Source: source, Call: callID(req),
		Status: challengeStatus(proxy), Cause: cause}, user)
	switch reached {
	case throttle.ReachedGlobal:
		a.publish(events.Event{Kind: events.Throttled, Status: sip.StatusForbidden,
			Cause: fmt.Sprintf("%d failed authentications from all sources within %s: only sources that authenticated before are heard", l.GlobalFailures, l.Window)}, "")
	case throttle.ReachedPrefix:
		prefix := throttle.Prefix(host)
		a.publish(events.Event{Kind: events.Throttled, Source: prefix, Status: sip.StatusForbidden,
			Cause: fmt.Sprintf("%d failed authentications from %s within %s", l.PrefixFailures, prefix, l.Window)}, "")
	case throttle.ReachedSource:
		a.publish(events.Event{Kind: events.Throttled, Source: host, Status: sip.StatusForbidden,
			Cause: fmt.Sprintf("%d failed authentications within %s", l.SourceFailures, l.Window)}, "")
	case throttle.ReachedUser:
		a.publish(events.Event{Kind: events.Throttled, Account: user, Source: host, Status: sip.StatusForbidden,
			Cause: fmt.Sprintf("%d failed authentications of %q within %s", l.Failures, user, l.Window)}, user)
	}
}

// succeed clears the per-user count of host after a success and records
// host as proven.
func (a *Authenticator) succeed(host, user string, now time.Time) {
	a.guard.Succeed(host, user, now)
}
