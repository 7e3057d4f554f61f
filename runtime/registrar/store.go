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
type Memory struct {
	seed   maphash.Seed
	shards [shards]shard
}

type shard struct {
	mu sync.RWMutex
	m  map[string][]Binding
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	s := &Memory{seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].m = map[string][]Binding{}
	}
	return s
}

func (s *Memory) shard(account string) *shard {
	return &s.shards[maphash.String(s.seed, account)%shards]
}

func (s *Memory) Lookup(account string) []Binding {
	sh := s.shard(account)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	bs := sh.m[account]
	if len(bs) == 0 {
		return nil
	}
	out := make([]Binding, len(bs))
	copy(out, bs)
	return out
}

func (s *Memory) Put(b Binding) {
	sh := s.shard(b.Account)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	bs := sh.m[b.Account]
	for i := range bs {
		if bs[i].Key == b.Key {
			bs[i] = b
			return
		}
	}
	if bs == nil {
		bs = make([]Binding, 0, 1) // most accounts have one contact
	}
	sh.m[b.Account] = append(bs, b)
}

func (s *Memory) Remove(account, key string) (Binding, bool) {
	sh := s.shard(account)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	bs := sh.m[account]
	for i := range bs {
		if bs[i].Key == key {
			b := bs[i]
			if len(bs) == 1 {
				delete(sh.m, account)
			} else {
				sh.m[account] = slices.Delete(bs, i, i+1)
			}
			return b, true
		}
	}
	return Binding{}, false
}

func (s *Memory) Expire(now time.Time) []Binding {
	var out []Binding
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for account, bs := range sh.m {
			kept := bs[:0]
			for _, b := range bs {
				if b.Expires.After(now) {
					kept = append(kept, b)
				} else {
					out = append(out, b)
				}
			}
			switch {
			case len(kept) == 0:
				delete(sh.m, account)
			case len(kept) < len(bs):
				clear(bs[len(kept):])
				sh.m[account] = kept
			}
		}
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
