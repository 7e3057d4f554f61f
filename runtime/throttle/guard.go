package throttle

import (
	"sync"
	"time"
)

// Guard is the shape of a password limit that tells the devices behind
// one NAT from a guesser among them, and that a spray from many addresses
// makes stricter rather than blind. Failures count in four tables:
//
//   - per source address and user name (PerUser, low): the guesser of one
//     account, and the one misconfigured device behind a NAT, which locks
//     out only itself;
//   - per source address (PerSource, much higher): a scan of user names
//     from one address; the other devices behind the same NAT, whose
//     passwords are right, keep working until this ceiling;
//   - per /24 or /64 (PerPrefix, see Prefix): the same scan spread over a
//     block of addresses;
//   - all sources together (Global): a spray from many addresses.
//
// Past the global limit, or once a table overflowed (so that counts were
// lost to eviction), credentials are heard only from sources that proved
// themselves (a success within ProvenFor) until the window closes:
// the site's own devices keep working, everyone else is refused. A
// proven source answers only for itself: its own limits, not its
// prefix's or the world's.
//
// A Guard is safe for concurrent use.
type Guard struct {
	l Limits

	mu       sync.Mutex
	users    Table[userKey]
	sources  Table[string]
	prefixes Table[string]
	global   Table[struct{}]
	proven   Table[string]
}

// Limits are a Guard's limits; a limit of 0 is off.
type Limits struct {
	PerUser   int           // failures of one user name from one source
	PerSource int           // failures of one source, all user names
	PerPrefix int           // failures of one /24 or /64 not proven
	Global    int           // failures of all sources
	Window    time.Duration // the counting period
	Tracked   int           // keys per table (0: 65 536)
	ProvenFor time.Duration // how long a success proves a source (0: 2 hours)
}

type userKey struct{ host, user string }

// Reached names the limit a failure reached.
type Reached int

const (
	ReachedNone Reached = iota
	ReachedUser
	ReachedSource
	ReachedPrefix
	ReachedGlobal
)

// NewGuard returns a Guard with limits l.
func NewGuard(l Limits) *Guard {
	if l.Tracked <= 0 {
		l.Tracked = 1 << 16
	}
	if l.ProvenFor <= 0 {
		l.ProvenFor = 2 * time.Hour
	}
	return &Guard{
		l:        l,
		users:    New[userKey](l.Tracked),
		sources:  New[string](l.Tracked),
		prefixes: New[string](l.Tracked),
		global:   New[struct{}](1),
		proven:   New[string](l.Tracked),
	}
}

// Limits returns the guard's limits.
func (g *Guard) Limits() Limits { return g.l }

// Blocked reports whether a try of user (empty: a request without
// credentials, which is refused only for its source's and prefix's
// failures) from host is refused at now, and for how long.
func (g *Guard) Blocked(host, user string, now time.Time) (time.Duration, bool) {
	l := g.l
	over := func(n, limit int) bool { return limit > 0 && n >= limit }
	g.mu.Lock()
	defer g.mu.Unlock()
	if n, closes := g.sources.Count(host, now, l.Window); over(n, l.PerSource) {
		return closes.Sub(now), true
	}
	if user != "" {
		if n, closes := g.users.Count(userKey{host, user}, now, l.Window); over(n, l.PerUser) {
			return closes.Sub(now), true
		}
	}
	if n, _ := g.proven.Count(host, now, l.ProvenFor); n > 0 {
		return 0, false
	}
	if n, closes := g.prefixes.Count(Prefix(host), now, l.Window); over(n, l.PerPrefix) {
		return closes.Sub(now), true
	}
	if user == "" {
		return 0, false
	}
	if n, closes := g.global.Count(struct{}{}, now, l.Window); over(n, l.Global) {
		return closes.Sub(now), true
	}
	if g.users.Evicted(now, l.Window) || g.sources.Evicted(now, l.Window) || g.prefixes.Evicted(now, l.Window) {
		return l.Window, true
	}
	return 0, false
}

// Fail counts a failure of user from host at now and returns the widest
// limit it just reached, if any.
func (g *Guard) Fail(host, user string, now time.Time) Reached {
	l := g.l
	g.mu.Lock()
	perUser := g.users.Add(userKey{host, user}, now, l.Window)
	perSource := g.sources.Add(host, now, l.Window)
	perPrefix := g.prefixes.Add(Prefix(host), now, l.Window)
	all := g.global.Add(struct{}{}, now, l.Window)
	g.mu.Unlock()
	reached := func(n, limit int) bool { return limit > 0 && n == limit }
	switch {
	case reached(all, l.Global):
		return ReachedGlobal
	case reached(perPrefix, l.PerPrefix):
		return ReachedPrefix
	case reached(perSource, l.PerSource):
		return ReachedSource
	case reached(perUser, l.PerUser):
		return ReachedUser
	}
	return ReachedNone
}

// Succeed clears the failures of user from host and proves host.
func (g *Guard) Succeed(host, user string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.users.Forget(userKey{host, user})
	// The proof lasts from the latest success, not the first.
	g.proven.Restart(host, now, g.l.ProvenFor)
}
