package auth

import (
	"fmt"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/runtime/events"
)

// userKey counts the failures of one user name from one source address.
type userKey struct{ host, user string }

// window counts failures in a fixed window that opens with the first one.
type window struct {
	start time.Time
	n     int
}

// failures is a table of windows, pruned of closed ones as it grows.
type failures[K comparable] struct {
	m        map[K]*window
	pruneAt  int
	prunedAt time.Time // last prune of a full table
}

func (f *failures[K]) init() {
	f.m = map[K]*window{}
	f.pruneAt = 1024
}

// open returns the window of k if it is still open at now.
func (f *failures[K]) open(k K, now time.Time, length time.Duration) *window {
	w := f.m[k]
	if w == nil || now.Sub(w.start) >= length {
		return nil
	}
	return w
}

// add counts a failure of k and returns the failures in its window, or 0
// when k is not tracked because the table is full.
func (f *failures[K]) add(k K, now time.Time, length time.Duration) int {
	if w := f.m[k]; w != nil {
		if now.Sub(w.start) >= length {
			w.start, w.n = now, 0
		}
		w.n++
		return w.n
	}
	// A full table is pruned at most once a second of the clock: often
	// enough that closed windows make room for new sources, seldom enough
	// that a flood of failures cannot make every one of them a scan. The
	// threshold never passes maxTracked, or a table that filled up would
	// never be pruned again and new sources would go uncounted.
	if len(f.m) >= f.pruneAt && (len(f.m) < maxTracked || now.Sub(f.prunedAt) >= time.Second) {
		for key, w := range f.m {
			if now.Sub(w.start) >= length {
				delete(f.m, key)
			}
		}
		f.prunedAt = now
		f.pruneAt = min(maxTracked, max(1024, 2*len(f.m)))
	}
	if len(f.m) >= maxTracked {
		return 0
	}
	f.m[k] = &window{start: now, n: 1}
	return 1
}

// throttled reports whether host (for user, when not empty) has reached a
// limit, and how long until its window closes.
func (a *Authenticator) throttled(host, user string, now time.Time) (time.Duration, bool) {
	l := a.limit
	a.mu.Lock()
	defer a.mu.Unlock()
	if l.SourceFailures > 0 {
		if w := a.sources.open(host, now, l.Window); w != nil && w.n >= l.SourceFailures {
			return w.start.Add(l.Window).Sub(now), true
		}
	}
	if l.Failures > 0 && user != "" {
		if w := a.accounts.open(userKey{host, user}, now, l.Window); w != nil && w.n >= l.Failures {
			return w.start.Add(l.Window).Sub(now), true
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
		perSource = a.sources.add(host, now, l.Window)
	}
	if l.Failures > 0 {
		perUser = a.accounts.add(userKey{host, user}, now, l.Window)
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
	if len(a.accounts.m) > 0 {
		delete(a.accounts.m, userKey{host, user})
	}
	a.mu.Unlock()
}
