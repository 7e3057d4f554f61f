package auth

import (
	"fmt"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/runtime/events"
	"switchboard/runtime/throttle"
)

// Failures are counted in four tables, each bounded (Throttle.Tracked) and
// each a limit of its own:
//
//   - per source address and user name (Failures, low): the guesser of one
//     account, and the one misconfigured device behind a NAT, which locks
//     out only itself;
//   - per source address (SourceFailures, much higher): a scan of user names
//     from one address; the other devices behind the same NAT, whose
//     passwords are right, keep working until this ceiling;
//   - per /24 or /64 (PrefixFailures): the same scan spread over a block of
//     addresses;
//   - all sources together (GlobalFailures): a spray from many addresses.
//
// A spray past the global limit, or one that overflows a table (so that
// some counts were lost to eviction), does not make the server softer:
// until the window closes, credentials are heard only from sources that
// authenticated successfully within the last ProvenFor, the devices the
// site already had. Everyone else gets 403, right password or wrong.

// userKey counts the failures of one user name from one source address.
type userKey struct{ host, user string }

// ProvenFor is how long a source that authenticated is still heard while
// the server is under a spray of failures: longer than a registration's
// refresh interval, so registered devices stay heard.
const ProvenFor = 2 * time.Hour

// throttled reports whether host (for user, when not empty) has reached a
// limit, and how long until its window closes.
func (a *Authenticator) throttled(host, user string, now time.Time) (time.Duration, bool) {
	l := a.limit
	a.mu.Lock()
	defer a.mu.Unlock()
	over := func(n, limit int) bool { return limit > 0 && n >= limit }
	if n, closes := a.sources.Count(host, now, l.Window); over(n, l.SourceFailures) {
		return closes.Sub(now), true
	}
	if user != "" {
		if n, closes := a.accounts.Count(userKey{host, user}, now, l.Window); over(n, l.Failures) {
			return closes.Sub(now), true
		}
	}
	if n, _ := a.proven.Count(host, now, ProvenFor); n > 0 {
		// A source with a recent success answers for itself: its own
		// limits above, not its neighbours' or the world's.
		return 0, false
	}
	if n, closes := a.prefixes.Count(throttle.Prefix(host), now, l.Window); over(n, l.PrefixFailures) {
		return closes.Sub(now), true
	}
	if user == "" {
		// A request without credentials is only challenged: that costs
		// nothing and tells nothing.
		return 0, false
	}
	if n, closes := a.global.Count(struct{}{}, now, l.Window); over(n, l.GlobalFailures) {
		return closes.Sub(now), true
	}
	if a.sources.Evicted(now, l.Window) || a.accounts.Evicted(now, l.Window) || a.prefixes.Evicted(now, l.Window) {
		return l.Window, true
	}
	return 0, false
}

// fail counts an authentication failure and publishes it, and a Throttled
// event when it makes a key reach its limit.
func (a *Authenticator) fail(req *sip.Request, source, host, user, cause string, proxy bool, now time.Time) {
	l := a.limit
	prefix := throttle.Prefix(host)
	a.mu.Lock()
	perSource := a.sources.Add(host, now, l.Window)
	perUser := a.accounts.Add(userKey{host, user}, now, l.Window)
	perPrefix := a.prefixes.Add(prefix, now, l.Window)
	all := a.global.Add(struct{}{}, now, l.Window)
	a.mu.Unlock()

	a.publish(events.Event{Kind: events.AuthFailed, Account: user, Source: source, Call: callID(req),
		Status: challengeStatus(proxy), Cause: cause}, user)
	reached := func(n, limit int) bool { return limit > 0 && n == limit }
	switch {
	case reached(all, l.GlobalFailures):
		a.publish(events.Event{Kind: events.Throttled, Status: sip.StatusForbidden,
			Cause: fmt.Sprintf("%d failed authentications from all sources within %s: only sources that authenticated before are heard", all, l.Window)}, "")
	case reached(perPrefix, l.PrefixFailures):
		a.publish(events.Event{Kind: events.Throttled, Source: prefix, Status: sip.StatusForbidden,
			Cause: fmt.Sprintf("%d failed authentications from %s within %s", perPrefix, prefix, l.Window)}, "")
	case reached(perSource, l.SourceFailures):
		a.publish(events.Event{Kind: events.Throttled, Source: host, Status: sip.StatusForbidden,
			Cause: fmt.Sprintf("%d failed authentications within %s", perSource, l.Window)}, "")
	case reached(perUser, l.Failures):
		a.publish(events.Event{Kind: events.Throttled, Account: user, Source: host, Status: sip.StatusForbidden,
			Cause: fmt.Sprintf("%d failed authentications of %q within %s", perUser, user, l.Window)}, user)
	}
}

// succeed clears the per-user count of host after a success and records
// host as proven.
func (a *Authenticator) succeed(host, user string, now time.Time) {
	a.mu.Lock()
	a.accounts.Forget(userKey{host, user})
	// The proof lasts from the latest success, not the first.
	a.proven.Forget(host)
	a.proven.Add(host, now, ProvenFor)
	a.mu.Unlock()
}
