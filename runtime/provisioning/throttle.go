package provisioning

import (
	"net/http"
	"net/netip"
	"strings"
	"time"

	"switchboard/runtime/digest"
	"switchboard/runtime/throttle"
)

// failures counts authentication failures in a throttle.Guard, the shape
// of every password limit: per client address and device account (the
// limit of WithThrottle), per address (sourceCeiling times as many: the
// devices of a building behind one NAT share it), per /24 or /64, and for
// all clients together. A try that is refused gets no password check at
// all, so guessing stops, right or wrong; one device's wrong password
// locks out that device, not the building.
type failures struct {
	g *throttle.Guard
}

// The ceilings, as multiples of the per-account limit.
const (
	sourceCeiling = 20
	prefixCeiling = 100
	globalCeiling = 500
)

// newThrottle returns the throttle of limit failures per device account
// and address within window (0: none), tracking at most max keys per table.
func newThrottle(limit int, window time.Duration, max int) *failures {
	if limit <= 0 {
		return &failures{}
	}
	return &failures{g: throttle.NewGuard(throttle.Limits{PerUser: limit, PerSource: sourceCeiling * limit,
		PerPrefix: prefixCeiling * limit, Global: globalCeiling * limit, Window: window, Tracked: max})}
}

// blocked reports whether a try of user ("" without credentials) from ip is
// refused at now, and for how much longer.
func (t *failures) blocked(ip netip.Addr, user string, now time.Time) (time.Duration, bool) {
	if t.g == nil {
		return 0, false
	}
	return t.g.Blocked(ip.String(), user, now)
}

// fail counts a failure of user from ip at now and reports whether it
// reached a limit.
func (t *failures) fail(ip netip.Addr, user string, now time.Time) bool {
	if t.g == nil {
		return false
	}
	return t.g.Fail(ip.String(), user, now) != throttle.ReachedNone
}

// succeed forgives user's failures from ip and proves ip.
func (t *failures) succeed(ip netip.Addr, user string, now time.Time) {
	if t.g != nil {
		t.g.Succeed(ip.String(), user, now)
	}
}

// userOf is the user name r's digest credentials claim, unverified: the
// key its failures count under. "" when there are none to read.
func userOf(r *http.Request) string {
	hdrs := r.Header.Values("Authorization")
	if len(hdrs) != 1 || len(hdrs[0]) > 4096 || !digest.IsDigest(hdrs[0]) {
		return ""
	}
	c, err := digest.ParseCredentials(hdrs[0])
	if err != nil {
		return ""
	}
	return c.Username
}

// clientAddr is the address a request comes from: the peer, or, when the
// peer is a trusted proxy, the right-most address of X-Forwarded-For that
// is not a trusted proxy (the left-most when all are). ok is false for a
// malformed forwarding header from a trusted proxy, which is refused rather
// than guessed at.
func clientAddr(r *http.Request, trusted []netip.Prefix) (netip.Addr, bool) {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	var addr netip.Addr
	if err == nil {
		addr = peer.Addr().Unmap()
	} else if addr, err = netip.ParseAddr(r.RemoteAddr); err != nil {
		return netip.Addr{}, false
	} else {
		addr = addr.Unmap()
	}
	if !inPrefixes(addr, trusted) {
		return addr, true
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for h := range strings.SplitSeq(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return netip.Addr{}, false
		}
		addr = a
		if !inPrefixes(addr, trusted) {
			break
		}
	}
	return addr, true
}

// parseHop parses one X-Forwarded-For element: an address, optionally with
// a port ("[2001:db8::1]:4711", "192.0.2.1:4711").
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
