package auth

import (
	"fmt"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/runtime/events"
)

// userKey counts the failures of one user name from one source address.
type userKey struct{ host, user string }

// throttled reports whether host (for user, when not empty) has reached a
// limit, and how long until its window closes.
func (a *Authenticator) throttled(host, user string, now time.Time) (time.Duration, bool) {
	l := a.limit
	a.mu.Lock()
	defer a.mu.Unlock()
	if l.SourceFailures > 0 {
		if n, closes := a.sources.Count(host, now, l.Window); n >= l.SourceFailures {
			return closes.Sub(now), true
		}
	}
	if l.Failures > 0 && user != "" {
		if n, closes := a.accounts.Count(userKey{host, user}, now, l.Window); n >= l.Failures {
			return closes.Sub(now), true
		}
	}
	return 0, false
}

// fail counts an authentication failure and publishes it, and a Throttled
// event when it makes the source reach a limit.
func (a *Authenticator) fail(req *sip.Request, source, host, user, cause string, proxy bool, now time.Time) {
	l := a.limit
	var perSource, perUser int
	a.mu.Lock()
	if l.SourceFailures > 0 {
		perSource = a.sources.Add(host, now, l.Window)
	}
	if l.Failures > 0 {
		perUser = a.accounts.Add(userKey{host, user}, now, l.Window)
	}
	a.mu.Unlock()

	a.publish(events.Event{Kind: events.AuthFailed, Account: user, Source: source, Call: callID(req),
		Status: challengeStatus(proxy), Cause: cause}, user)
	switch {
	case l.SourceFailures > 0 && perSource == l.SourceFailures:
		a.publish(events.Event{Kind: events.Throttled, Source: host, Status: sip.StatusForbidden,
			Cause: fmt.Sprintf("%d failed authentications within %s", perSource, l.Window)}, "")
	case l.Failures > 0 && perUser == l.Failures:
		a.publish(events.Event{Kind: events.Throttled, Account: user, Source: host, Status: sip.StatusForbidden,
			Cause: fmt.Sprintf("%d failed authentications of %q within %s", perUser, user, l.Window)}, user)
	}
}

// forgive clears the per-user count of host after a success.
func (a *Authenticator) forgive(host, user string) {
	if a.limit.Failures <= 0 {
		return
	}
	a.mu.Lock()
	if a.accounts.Len() > 0 {
		a.accounts.Forget(userKey{host, user})
	}
	a.mu.Unlock()
}
