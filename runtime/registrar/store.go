package registrar

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Binding is one registered contact of an account (RFC 3261 §10).
type Binding struct {
	// Account is the IR account name (ir.Account.Name).
	Account string
	// Contact is the Contact header value as registered, without its
	// expires parameter: `<sip:mary@10.0.0.5:5060;transport=udp>;+sip.instance="<urn:…>"`.
	Contact string
	// Key identifies the binding among the account's: the +sip.instance
	// (with reg-id) when the device sent one, else the contact URI reduced
	// to scheme, user, host, port and transport.
	Key string
	// CallID and CSeq are those of the REGISTER that last wrote the binding;
	// a later one with the same Call-ID must have a higher CSeq.
	CallID string
	CSeq   uint32
	// Expires is when the binding lapses.
	Expires time.Time
	// Source is the address the REGISTER came from (host:port) and
	// Transport its transport ("UDP", "TCP", "TLS", "WS", "WSS"): behind a
	// NAT the device is reachable there, not at its Contact (RFC 3581).
	Source    string
	Transport string
	// UserAgent is the REGISTER's User-Agent (at most maxUserAgent bytes):
	// which app or phone holds the binding, for the people's portal.
	UserAgent string
	// Since is when the binding was first registered; refreshes keep it.
	Since time.Time
	// Path is the Path header values of the REGISTER, topmost first
	// (RFC 3327): the route to the device through edge proxies.
	Path []string
}

// URI parses the contact URI.
func (b *Binding) URI() (sip.Uri, error) {
	var u sip.Uri
	var params sip.HeaderParams
	_, err := sip.ParseAddressValue(b.Contact, &u, &params)
	return u, err
}

// Store keeps bindings. The registrar serialises the updates of each
// account itself, so an implementation need only make single calls safe
// for concurrent use. A store shared by several servers (NATS, say) would
// need a compare-and-swap on the account's bindings instead.
type Store interface {
	// Lookup returns a copy of the account's bindings, expired ones
	// included until Expire removes them.
	Lookup(account string) []Binding
	// Put adds b, or replaces the account's binding with the same Key.
	Put(b Binding)
	// Remove deletes the account's binding with key and returns it.
	Remove(account, key string) (Binding, bool)
	// Expire removes and returns every binding whose Expires is not after now.
	Expire(now time.Time) []Binding
	// Accounts returns the accounts that have bindings.
	Accounts() []string
}

const shards = 64

// Memory is an in-memory Store: a map per shard of accounts.
//
// A registration is the server's main memory cost per device, so bindings
// are kept compact rather than as Binding values: an account's first
// binding sits in the set the map points to (most accounts have one), its
// strings share one allocation (its key, when a part of its contact, is
// not kept twice), its expiry is a count of nanoseconds. About 200 bytes
// a binding for a phone's registration, against 350 as Binding values in
// a map of slices; its User-Agent adds its length (at most maxUserAgent).
// Persistent's record of what its bucket holds of a binding lives in the
// binding too (written), not in a map of its own.
type Memory struct {
	seed   maphash.Seed
	shards [shards]shard
}

type shard struct {
	mu sync.RWMutex
	m  map[string]*bindingSet
	// next is no later than the earliest expiry in m (zero when m is
	// empty): Expire skips the shard before then, so that the sweep every
	// second costs nothing while no binding is due.
	next int64
}

// bindingSet is an account's bindings: first, then more. more is a
// pointer, 8 bytes rather than a slice's 24, since most accounts have one
// binding: the set stays in the 80-byte size class with written in it.
type bindingSet struct {
	first compact
	more  *[]compact
}

func (bs *bindingSet) len() int {
	if bs.more == nil {
		return 1
	}
	return 1 + len(*bs.more)
}

func (bs *bindingSet) at(i int) *compact {
	if i == 0 {
		return &bs.first
	}
	return &(*bs.more)[i-1]
}

func (bs *bindingSet) add(c compact) {
	if bs.more == nil {
		bs.more = &[]compact{c}
		return
	}
	*bs.more = append(*bs.more, c)
}

// remove deletes binding i and reports whether the set is now empty.
func (bs *bindingSet) remove(i int) bool {
	if bs.more == nil {
		return true
	}
	more := *bs.more
	if i == 0 {
		bs.first = more[0]
		i = 1
	}
	more = slices.Delete(more, i-1, i)
	if len(more) == 0 {
		bs.more = nil
	} else {
		*bs.more = more
	}
	return false
}

// compact is a Binding without its account (the map's key): text holds
// Contact, Key, CallID, Source, UserAgent and Transport one after the
// other, but Key only when it is not a part of Contact.
type compact struct {
	text    string
	expires int64 // Unix nanoseconds
	since   int64 // Unix nanoseconds; 0: unknown
	path    *[]string
	// written is what Persistent's bucket holds of the binding; zero in
	// a Memory of its own, and for a binding its bucket does not hold.
	written               written
	contactN, keyN, callN uint16
	sourceN, uaN          uint16
	// keyAt is where Key starts in Contact, plus one; 0: Key follows
	// Contact in text. A key made of the contact's URI (bindingKey) is
	// most often a part of it: kept once, ~30 bytes a binding less.
	keyAt uint16
	cseq  uint32
}

// written is what Persistent wrote (or is writing) to its bucket of a
// binding whose other fields are as written: a refresh that changes
// nothing but the expiry and the CSeq is not written while the bucket
// keeps the key past the new expiry (Persistent).
type written struct {
	expires int64 // the expiry written, Unix nanoseconds; 0: none
	until   int64 // when the bucket drops the key, Unix nanoseconds
}

// sameButExpiry reports whether c and d hold the same binding but for
// the expiry, the CSeq and what was written.
func (c *compact) sameButExpiry(d *compact) bool {
	return c.text == d.text && c.contactN == d.contactN && c.keyN == d.keyN && c.callN == d.callN &&
		c.sourceN == d.sourceN && c.uaN == d.uaN && c.keyAt == d.keyAt && c.since == d.since &&
		(c.path == nil) == (d.path == nil) && (c.path == nil || slices.Equal(*c.path, *d.path))
}

// maxUserAgent bounds the User-Agent a binding keeps: enough for any
// phone's model and firmware.
const maxUserAgent = 128

// maxCompactField is the longest string a compact binding holds; a
// REGISTER is one datagram, so no field comes near it.
const maxCompactField = 1<<16 - 1

func compactOf(b *Binding) compact {
	c := compact{cseq: b.CSeq, expires: b.Expires.UnixNano()}
	if !b.Since.IsZero() {
		c.since = b.Since.UnixNano()
	}
	ua := b.UserAgent
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	fields := [...]string{b.Contact, b.Key, b.CallID, b.Source, ua, b.Transport}
	for i, f := range fields {
		if len(f) > maxCompactField {
			fields[i] = f[:maxCompactField]
		}
	}
	keyN := len(fields[1])
	if i := strings.Index(fields[0], fields[1]); keyN > 0 && i >= 0 {
		c.keyAt, fields[1] = uint16(i+1), ""
	}
	n := 0
	for _, f := range fields {
		n += len(f)
	}
	var t strings.Builder
	t.Grow(n)
	for _, f := range fields {
		t.WriteString(f)
	}
	c.text = t.String()
	c.contactN, c.keyN, c.callN, c.sourceN, c.uaN = uint16(len(fields[0])), uint16(keyN), uint16(len(fields[2])), uint16(len(fields[3])), uint16(len(fields[4]))
	if b.Path != nil {
		p := b.Path
		c.path = &p
	}
	return c
}

func (c *compact) key() string {
	i := int(c.contactN)
	if c.keyAt > 0 {
		i = int(c.keyAt) - 1
	}
	return c.text[i : i+int(c.keyN)]
}

func (c *compact) binding(account string) Binding {
	t := c.text
	i, j, k, l := int(c.contactN), int(c.contactN), 0, 0
	if c.keyAt == 0 {
		j += int(c.keyN)
	}
	k = j + int(c.callN)
	l = k + int(c.sourceN)
	m := l + int(c.uaN)
	b := Binding{
		Account:   account,
		Contact:   t[:i],
		Key:       c.key(),
		CallID:    t[j:k],
		CSeq:      c.cseq,
		Expires:   time.Unix(0, c.expires),
		Source:    t[k:l],
		UserAgent: t[l:m],
		Transport: transportName(t[m:]),
	}
	if c.since != 0 {
		b.Since = time.Unix(0, c.since)
	}
	if c.path != nil {
		b.Path = *c.path
	}
	return b
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	s := &Memory{seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].m = map[string]*bindingSet{}
	}
	return s
}

func (s *Memory) shard(account string) *shard {
	return &s.shards[maphash.String(s.seed, account)%shards]
}

func (s *Memory) Lookup(account string) []Binding { return s.appendLookup(nil, account) }

// appendLookup appends the account's bindings to dst, as Lookup returns
// them: a REGISTER answered from a scan looks its account up twice, into
// an array on its stack instead of two slices on the heap.
func (s *Memory) appendLookup(dst []Binding, account string) []Binding {
	sh := s.shard(account)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	bs := sh.m[account]
	if bs == nil {
		return dst
	}
	for i := range bs.len() {
		dst = append(dst, bs.at(i).binding(account))
	}
	return dst
}

func (s *Memory) Put(b Binding) { s.put(&b, nil) }

// put is Put; note, unless nil, returns what c records of the bucket's
// (written), given the binding c replaces (nil if none), under the
// shard's lock. (c is passed by value: a pointer to it would move it to
// the heap, an allocation every Put.)
func (s *Memory) put(b *Binding, note func(old *compact, c compact) written) {
	c := compactOf(b)
	sh := s.shard(b.Account)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.next == 0 || c.expires < sh.next {
		sh.next = c.expires
	}
	bs := sh.m[b.Account]
	if bs == nil {
		if note != nil {
			c.written = note(nil, c)
		}
		sh.m[b.Account] = &bindingSet{first: c} // the IR's string: not copied
		return
	}
	for i := range bs.len() {
		if x := bs.at(i); x.key() == b.Key {
			if note != nil {
				c.written = note(x, c)
			}
			*x = c
			return
		}
	}
	if note != nil {
		c.written = note(nil, c)
	}
	bs.add(c)
}

// each calls fn with every binding, under its shard's lock: fn may
// change what the binding records of the bucket (written), nothing else.
func (s *Memory) each(fn func(account string, c *compact)) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for account, bs := range sh.m {
			for j := range bs.len() {
				fn(account, bs.at(j))
			}
		}
		sh.mu.Unlock()
	}
}

func (s *Memory) Remove(account, key string) (Binding, bool) {
	sh := s.shard(account)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	bs := sh.m[account]
	if bs == nil {
		return Binding{}, false
	}
	for i := range bs.len() {
		if x := bs.at(i); x.key() == key {
			b := x.binding(account)
			if bs.remove(i) {
				delete(sh.m, account)
			}
			return b, true
		}
	}
	return Binding{}, false
}

func (s *Memory) Expire(now time.Time) []Binding {
	var out []Binding
	t := now.UnixNano()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		if sh.next == 0 || sh.next > t {
			sh.mu.Unlock()
			continue
		}
		var next int64
		for account, bs := range sh.m {
			for j := 0; j < bs.len(); {
				x := bs.at(j)
				if x.expires > t {
					if next == 0 || x.expires < next {
						next = x.expires
					}
					j++
					continue
				}
				out = append(out, x.binding(account))
				if bs.remove(j) {
					delete(sh.m, account)
					break
				}
			}
		}
		sh.next = next
		sh.mu.Unlock()
	}
	return out
}

func (s *Memory) Accounts() []string {
	var out []string
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for account := range sh.m {
			out = append(out, account)
		}
		sh.mu.RUnlock()
	}
	return out
}

// bindingKey identifies a contact among an account's bindings.
func bindingKey(h *sip.ContactHeader) string {
	if inst, ok := param(h.Params, "+sip.instance"); ok && inst != "" {
		k := "instance " + inst
		if reg, ok := param(h.Params, "reg-id"); ok {
			k += ";reg-id=" + reg
		}
		return k
	}
	u := &h.Address
	var b strings.Builder
	b.WriteString(strings.ToLower(u.Scheme))
	b.WriteByte(':')
	b.WriteString(u.User)
	b.WriteByte('@')
	b.WriteString(strings.ToLower(u.Host))
	if u.Port > 0 {
		b.WriteByte(':')
		b.WriteString(itoa(u.Port))
	}
	if tp, ok := param(u.UriParams, "transport"); ok {
		b.WriteString(";transport=")
		b.WriteString(strings.ToLower(tp))
	}
	return b.String()
}
