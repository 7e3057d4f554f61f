// Package sipdns locates a carrier's SIP servers by DNS, as RFC 3263 §4
// has a client do: a numeric IP, or a name with a port, is used as written
// (the name's A/AAAA records); a name without a port is looked up as an SRV
// service for the trunk's transport (_sip._udp, _sip._tcp, _sips._tcp),
// its targets ordered by priority and, within one, by weighted random
// selection (RFC 2782), falling back to the name's own A/AAAA records at
// the transport's default port when it publishes no SRV records.
//
// NAPTR (RFC 3263 §4.1) is skipped: a trunk names its transport (udp
// unless the site says otherwise), so there is no transport to discover,
// and carriers publish SRV records for every transport they offer.
//
// Answers are cached for their TTL (Go's resolver hides TTLs, so they are
// read from the DNS responses as they cross the resolver's connections),
// in a bounded cache; every lookup has a timeout. The caller fails over
// along the returned list (RFC 3263 §4.3).
package sipdns

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"switchboard/runtime/clock"
)

// Target is a carrier's address as a trunk describes it.
type Target struct {
	Host string // a name or a numeric IP
	// Port is the port written in the site; 0 when none was: the name is
	// then looked up as an SRV service (RFC 3263 §4.2).
	Port      int
	Transport string // UDP, TCP or TLS (sipgo's names); anything else is UDP
}

// Locator turns a target into the addresses to try, in order: the small
// contract between DNS and the call core and carrier registration.
type Locator interface {
	Locate(ctx context.Context, t Target) ([]netip.AddrPort, error)
}

// Defaults of Config.
const (
	DefaultTimeout    = 3 * time.Second
	DefaultMaxEntries = 512
)

// Bounds on what one answer may make us do, and how long answers are
// kept. A TTL above maxTTL is cut to it (a carrier moving its servers is
// seen within the hour whatever its zone says); a negative answer (no SRV
// records) is kept at most maxNegativeTTL; an answer that told no TTL (the
// hosts file) noTTL. A lookup that fails (timeout, server failure) serves
// the expired answer, when one is left, for staleTTL more (RFC 8767).
const (
	maxTargets     = 8  // SRV records whose targets are looked up
	maxAddrs       = 16 // addresses returned
	maxTTL         = time.Hour
	maxNegativeTTL = 5 * time.Minute
	noTTL          = 30 * time.Second
	staleTTL       = 30 * time.Second
	maxStale       = 24 * time.Hour
)

// Config is what a Resolver works with.
type Config struct {
	// DNS asks the name servers; its Dial, when set, is how (tests point
	// it at their own server). nil: the system's name servers. Lookups
	// always use Go's resolver, through which the TTLs are read.
	DNS   *net.Resolver
	Clock clock.Clock // nil: the wall clock
	// Rand orders SRV records of equal priority by weight; nil: a random
	// source. Tests seed one to make the order reproducible.
	Rand *rand.Rand
	// Timeout bounds each DNS lookup; 0: DefaultTimeout.
	Timeout time.Duration
	// MaxEntries bounds the cache; 0: DefaultMaxEntries.
	MaxEntries int
}

// Resolver is a Locator over DNS with a cache.
type Resolver struct {
	cfg  Config
	dial func(ctx context.Context, network, address string) (net.Conn, error)

	randMu sync.Mutex

	mu      sync.Mutex
	entries map[key]*entry

	// flights merges the lookups of one name and record type made at the
	// same moment (a burst of calls out to a carrier whose answer just
	// expired) into one DNS query.
	flights singleflight.Group
	// waiting, when set (tests), is called as a Locate starts waiting
	// for a lookup it asked or joined.
	waiting func()
}

type key struct {
	srv  bool // an SRV name, else a host's addresses
	name string
}

// entry is one cached answer; found is false for a name that has no such
// records (NXDOMAIN or no data), which is an answer too.
type entry struct {
	srv     []net.SRV
	addrs   []netip.Addr
	found   bool
	expires time.Time
}

// New returns a Resolver for cfg.
func New(cfg Config) *Resolver {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	r := &Resolver{cfg: cfg, entries: map[key]*entry{}}
	if cfg.DNS != nil && cfg.DNS.Dial != nil {
		r.dial = cfg.DNS.Dial
	} else {
		var d net.Dialer
		r.dial = d.DialContext
	}
	return r
}

// Locate returns the addresses to try for t, best first.
func (r *Resolver) Locate(ctx context.Context, t Target) ([]netip.AddrPort, error) {
	host := strings.TrimSuffix(strings.Trim(t.Host, "[]"), ".")
	if host == "" {
		return nil, errors.New("sipdns: no host")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.AddrPort{netip.AddrPortFrom(ip.Unmap(), uint16(portOr(t)))}, nil
	}
	if t.Port != 0 {
		addrs, err := r.addrs(ctx, host)
		if err != nil {
			return nil, err
		}
		return withPort(addrs, uint16(t.Port), nil), nil
	}
	name := service(t.Transport) + "." + host
	recs, err := r.srv(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		// No SRV records: the name itself, at the transport's port
		// (RFC 3263 §4.2).
		addrs, err := r.addrs(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("%w (and %s has no SRV records)", err, name)
		}
		return withPort(addrs, uint16(portOr(t)), nil), nil
	}
	if len(recs) == 1 && recs[0].Target == "." {
		// RFC 2782: the service is decidedly not available at this name.
		return nil, fmt.Errorf("sipdns: %s says the service is not offered (SRV target \".\")", name)
	}
	var out []netip.AddrPort
	var errs []error
	for i, rec := range r.order(recs) {
		if i == maxTargets || len(out) >= maxAddrs {
			break
		}
		if rec.Target == "." {
			continue
		}
		addrs, err := r.addrs(ctx, strings.TrimSuffix(rec.Target, "."))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = withPort(addrs, rec.Port, out)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("sipdns: no address for any target of %s: %w", name, errors.Join(errs...))
	}
	return out[:min(len(out), maxAddrs)], nil
}

// service is the SRV service and protocol of transport (RFC 3263 §4.1's
// table: SIP over TLS is the sips service over TCP).
func service(transport string) string {
	switch strings.ToUpper(transport) {
	case "TCP":
		return "_sip._tcp"
	case "TLS":
		return "_sips._tcp"
	}
	return "_sip._udp"
}

// portOr is t's port, else its transport's default (RFC 3261 §19.1.2).
func portOr(t Target) int {
	if t.Port != 0 {
		return t.Port
	}
	if strings.EqualFold(t.Transport, "TLS") {
		return 5061
	}
	return 5060
}

// withPort appends addrs at port to out, each once.
func withPort(addrs []netip.Addr, port uint16, out []netip.AddrPort) []netip.AddrPort {
	for _, a := range addrs {
		ap := netip.AddrPortFrom(a.Unmap(), port)
		if !slices.Contains(out, ap) {
			out = append(out, ap)
		}
	}
	return out
}

// order arranges SRV records as RFC 2782 has a client try them: by
// priority, lowest first; within one priority by repeated weighted random
// selection — records of weight 0 first among the candidates, a number
// drawn in [0, sum of weights], the first record whose running sum
// reaches it taken — so that a record of weight w is tried first in
// w/sum of the cases. recs are in a canonical order (srv sorts them), so
// the result depends on the random source alone.
func (r *Resolver) order(recs []net.SRV) []net.SRV {
	out := make([]net.SRV, 0, len(recs))
	for i := 0; i < len(recs); {
		j := i
		for j < len(recs) && recs[j].Priority == recs[i].Priority {
			j++
		}
		group := slices.Clone(recs[i:j])
		// Weight 0 first (RFC 2782), otherwise as sorted.
		slices.SortStableFunc(group, func(a, b net.SRV) int {
			return boolInt(a.Weight != 0) - boolInt(b.Weight != 0)
		})
		for len(group) > 0 {
			sum := 0
			for _, g := range group {
				sum += int(g.Weight)
			}
			n := r.intN(sum + 1)
			k, run := 0, 0
			for k = range group {
				run += int(group[k].Weight)
				if run >= n {
					break
				}
			}
			out = append(out, group[k])
			group = slices.Delete(group, k, k+1)
		}
		i = j
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (r *Resolver) intN(n int) int {
	if r.cfg.Rand == nil {
		return rand.IntN(n)
	}
	r.randMu.Lock()
	defer r.randMu.Unlock()
	return r.cfg.Rand.IntN(n)
}

// srv returns name's SRV records in a canonical order (priority, then
// weight, target and port), or none when it has none.
func (r *Resolver) srv(ctx context.Context, name string) ([]net.SRV, error) {
	e, err := r.lookup(ctx, key{srv: true, name: name})
	if err != nil {
		return nil, err
	}
	return e.srv, nil
}

// askSRV asks res for name's SRV records.
func askSRV(ctx context.Context, res *net.Resolver, name string) (*entry, error) {
	_, recs, err := res.LookupSRV(ctx, "", "", rooted(name))
	if err != nil && len(recs) == 0 {
		return nil, err
	}
	// Go leaves out records with malformed targets and says so in err;
	// the rest still serve.
	e := &entry{found: true}
	for _, rec := range recs {
		e.srv = append(e.srv, *rec)
	}
	slices.SortFunc(e.srv, func(a, b net.SRV) int {
		switch {
		case a.Priority != b.Priority:
			return int(a.Priority) - int(b.Priority)
		case a.Weight != b.Weight:
			return int(b.Weight) - int(a.Weight)
		case a.Target != b.Target:
			return strings.Compare(a.Target, b.Target)
		}
		return int(a.Port) - int(b.Port)
	})
	return e, nil
}

// addrs returns host's IPv4 and IPv6 addresses.
func (r *Resolver) addrs(ctx context.Context, host string) ([]netip.Addr, error) {
	e, err := r.lookup(ctx, key{name: host})
	if err != nil {
		return nil, err
	}
	if !e.found {
		return nil, fmt.Errorf("sipdns: %s has no A or AAAA records", host)
	}
	return e.addrs, nil
}

// askAddrs asks res for host's A and AAAA records.
func askAddrs(ctx context.Context, res *net.Resolver, host string) (*entry, error) {
	ips, err := res.LookupNetIP(ctx, "ip", rooted(host))
	if err != nil {
		return nil, err
	}
	return &entry{addrs: ips, found: true}, nil
}

// rooted makes a name with a dot absolute, so that a carrier's name is
// not tried below the host's search domains first; a single label is
// left to them.
func rooted(name string) string {
	if strings.Contains(name, ".") && !strings.HasSuffix(name, ".") {
		return name + "."
	}
	return name
}

// lookup returns the cached answer for k, or asks the name servers and caches what it
// answers for the TTL the DNS responses gave. A failed lookup serves the
// expired answer when one is kept.
//
// Concurrent lookups of k are one: the first asks, the others wait for
// its answer. The asking runs detached from every caller's context,
// bounded by the timeout alone, so that a caller whose context ends
// stops waiting (with its context's error) without ending the lookup the
// others wait for; the answer is cached for the next ones.
func (r *Resolver) lookup(ctx context.Context, k key) (*entry, error) {
	if e := r.cached(k); e != nil {
		return e, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, r.ended(k, err)
	}
	fk := "a:" + k.name
	if k.srv {
		fk = "s:" + k.name
	}
	ch := r.flights.DoChan(fk, func() (any, error) {
		// Asked again here: a lookup of k that ended between the check
		// above and this flight's start has just cached its answer.
		if e := r.cached(k); e != nil {
			return e, nil
		}
		return r.ask(context.WithoutCancel(ctx), k)
	})
	if r.waiting != nil {
		r.waiting()
	}
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*entry), nil
	case <-ctx.Done():
		return nil, r.ended(k, ctx.Err())
	}
}

// cached is k's answer while it is fresh, else nil.
func (r *Resolver) cached(k key) *entry {
	now := r.cfg.Clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.entries[k]; e != nil && now.Before(e.expires) {
		return e
	}
	return nil
}

// ended is the error of a caller whose context ended before k's answer.
func (r *Resolver) ended(k key, err error) error {
	return fmt.Errorf("sipdns: %s lookup of %s: %w", what(k), k.name, err)
}

func what(k key) string {
	if k.srv {
		return "SRV"
	}
	return "A/AAAA"
}

// ask looks k up, once, and caches the answer.
func (r *Resolver) ask(ctx context.Context, k key) (*entry, error) {
	now := r.cfg.Clock.Now()
	r.mu.Lock()
	old := r.entries[k]
	r.mu.Unlock()

	var seen ttls
	res := &net.Resolver{PreferGo: true, StrictErrors: r.cfg.DNS != nil && r.cfg.DNS.StrictErrors, Dial: seen.dial(r.dial)}
	lctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	ask := askAddrs
	if k.srv {
		ask = askSRV
	}
	e, err := ask(lctx, res, k.name)
	// Go's resolver may report its own deadline, the same as lctx's,
	// before lctx's timer has fired.
	var de *net.DNSError
	timedOut := lctx.Err() != nil || errors.As(err, &de) && de.IsTimeout
	cancel()
	var ttl time.Duration
	switch {
	case err == nil:
		ttl = seen.positive(noTTL, maxTTL)
	case isNotFound(err):
		e, ttl = &entry{}, seen.negative(noTTL, maxNegativeTTL)
	default:
		if old != nil && now.Sub(old.expires) < maxStale {
			// RFC 8767: a name server that fails is no reason to stop
			// calling a carrier whose address we knew.
			r.store(k, &entry{srv: old.srv, addrs: old.addrs, found: old.found, expires: now.Add(staleTTL)})
			return old, nil
		}
		if timedOut {
			return nil, fmt.Errorf("sipdns: %s lookup of %s: no answer within %s", what(k), k.name, r.cfg.Timeout)
		}
		return nil, fmt.Errorf("sipdns: %s lookup of %s: %w", what(k), k.name, err)
	}
	e.expires = now.Add(ttl)
	if ttl > 0 {
		r.store(k, e)
	}
	return e, nil
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// store keeps e under k; when the cache is full, the entry that expires
// first goes (an expired one, if any).
func (r *Resolver) store(k key, e *entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.entries[k]; !ok && len(r.entries) >= r.cfg.MaxEntries {
		var victim key
		var first time.Time
		for kk, ee := range r.entries {
			if first.IsZero() || ee.expires.Before(first) {
				victim, first = kk, ee.expires
			}
		}
		delete(r.entries, victim)
	}
	r.entries[k] = e
}

// Len is how many answers the cache holds.
func (r *Resolver) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries)
}
