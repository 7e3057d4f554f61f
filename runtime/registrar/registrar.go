// Package registrar is the SIP registrar of the live server (RFC 3261 §10):
// it authenticates REGISTER requests with package auth, keeps each
// account's contacts with their expiry, and answers the router's question
// "where is this account now?".
//
// Besides the contact URI a binding keeps the address and transport the
// REGISTER came from, so a device behind NAT is reached where its packets
// come from (RFC 3581), and the Path of edge proxies (RFC 3327).
//
// Bindings live in a Store (today the in-memory one). Updates of one
// account are serialised by the registrar, so stores need not provide
// transactions of their own.
package registrar

import (
	"bytes"
	"hash/maphash"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
	"switchboard/runtime/auth"
	"switchboard/runtime/clock"
	"switchboard/runtime/events"
)

// Expiry bounds registration intervals. A contact asking for less than Min
// (but more than zero) is refused with 423 Interval Too Brief; one asking
// for more than Max gets Max; one asking nothing gets Default.
type Expiry struct {
	Min, Max, Default time.Duration
}

// defaultExpiry is the expiry policy of New.
var defaultExpiry = Expiry{Min: time.Minute, Max: time.Hour, Default: time.Hour}

const (
	// DefaultMaxContacts is how many contacts an account may have at once.
	DefaultMaxContacts = 10
	// DefaultSweep is how often expired bindings are removed.
	DefaultSweep = time.Second
	stripes      = 256
)

// Registrar handles REGISTER requests. It is safe for concurrent use.
type Registrar struct {
	auth        *auth.Authenticator
	clk         clock.Clock
	store       Store
	bus         *events.Bus
	log         *slog.Logger
	expiry      Expiry
	maxContacts int
	sweepEvery  time.Duration
	prog        atomic.Pointer[ir.Program]
	flowPath    func(source, transport string) string // WithFlowPath; nil: none

	seed  maphash.Seed
	locks [stripes]sync.Mutex // serialise the updates of an account

	mu     sync.Mutex
	timer  clock.Timer
	closed bool
}

// Option configures a Registrar.
type Option func(*Registrar)

// WithEvents publishes Registered, Unregistered and AuthFailed events on bus.
func WithEvents(bus *events.Bus) Option { return func(r *Registrar) { r.bus = bus } }

// WithLogger logs failures to send responses to l (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(r *Registrar) { r.log = l } }

// WithStore keeps the bindings in s instead of a Memory of the
// registrar's own (a Persistent keeps them across restarts). Close closes
// it when it has a Close method.
func WithStore(s Store) Option { return func(r *Registrar) { r.store = s } }

// WithMaxContacts sets how many contacts an account may have; past it the
// contacts closest to expiry make way for new ones.
func WithMaxContacts(n int) Option { return func(r *Registrar) { r.maxContacts = n } }

// New returns a registrar for program p that authenticates with a and
// reads time from clk. It starts sweeping expired bindings; Close stops it.
func New(p *ir.Program, a *auth.Authenticator, clk clock.Clock, opts ...Option) *Registrar {
	r := &Registrar{
		auth:        a,
		clk:         clk,
		log:         slog.Default(),
		expiry:      defaultExpiry,
		maxContacts: DefaultMaxContacts,
		sweepEvery:  DefaultSweep,
		store:       NewMemory(),
		seed:        maphash.MakeSeed(),
	}
	for _, o := range opts {
		o(r)
	}
	if r.maxContacts <= 0 {
		r.maxContacts = DefaultMaxContacts
	}
	r.prog.Store(p)
	// Under the lock: the first sweep may run, and store the next timer,
	// before AfterFunc has returned.
	r.mu.Lock()
	r.timer = clk.AfterFunc(r.sweepEvery, r.sweep)
	r.mu.Unlock()
	return r
}

// Close stops the expiry sweeper, and closes the store (a Persistent
// stores what it has pending).
func (r *Registrar) Close() {
	r.mu.Lock()
	already := r.closed
	r.closed = true
	if r.timer != nil {
		r.timer.Stop()
	}
	r.mu.Unlock()
	if c, ok := r.store.(interface{ Close() }); ok && !already {
		c.Close()
	}
}

// SetProgram swaps in the program of a reload. Bindings of accounts that
// the new program no longer has are removed.
func (r *Registrar) SetProgram(p *ir.Program) {
	old := r.prog.Swap(p)
	r.lockAll()
	defer r.unlockAll()
	for _, account := range r.store.Accounts() {
		if p.Account(account) != nil {
			continue
		}
		for _, b := range r.store.Lookup(account) {
			if _, ok := r.store.Remove(account, b.Key); ok {
				r.publish(old, events.Event{Kind: events.Unregistered, Account: account, Source: b.Source,
					Cause: "account removed from the configuration"})
			}
		}
	}
}

// Lookup returns the account's current bindings, soonest to expire last.
// They are copies, but their Path slices are shared: do not modify them.
func (r *Registrar) Lookup(account string) []Binding {
	return live(r.store.Lookup(account), r.clk.Now())
}

// live keeps the bindings that have not expired at now, latest expiry
// first.
// lookupInto appends the account's bindings in the store to dst, as
// Lookup returns them, without a slice of their own when the store is
// Memory (or Persistent, which is Memory for reads).
func (r *Registrar) lookupInto(dst []Binding, account string) []Binding {
	// Concrete types: through an interface dst would move to the heap.
	switch s := r.store.(type) {
	case *Memory:
		return s.appendLookup(dst, account)
	case *Persistent:
		return s.appendLookup(dst, account)
	}
	return append(dst, r.store.Lookup(account)...)
}

func live(bs []Binding, now time.Time) []Binding {
	bs = slices.DeleteFunc(bs, func(b Binding) bool { return !b.Expires.After(now) })
	slices.SortStableFunc(bs, func(a, b Binding) int { return b.Expires.Compare(a.Expires) })
	return bs
}

// OnRegister is the sipgo handler for REGISTER.
func (r *Registrar) OnRegister(req *sip.Request, tx sip.ServerTransaction) {
	r.serve(r.prog.Load(), r.auth, req, tx)
}

func (r *Registrar) respond(req *sip.Request, tx sip.ServerTransaction, res *sip.Response) {
	if err := tx.Respond(res); err != nil {
		r.log.Warn("registrar: cannot send response", "source", req.Source(), "err", err)
	}
}

// Handle processes a REGISTER and returns the response to send.
func (r *Registrar) Handle(req *sip.Request) *sip.Response {
	return r.handle(r.prog.Load(), r.auth, req)
}

// Checker authenticates a REGISTER: an auth.Authenticator, or one
// configuration's view of it (its passwords, the shared nonces).
type Checker interface {
	Check(req *sip.Request, source string, proxy bool) (account string, res *sip.Response)
}

// View is the registrar as one configuration sees it: that program's
// accounts and that checker's passwords, over the bindings every
// configuration shares. A server keeps one view per configuration, so
// that a REGISTER read during a reload is handled wholly by the old
// configuration or wholly by the new one.
type View struct {
	r *Registrar
	p *ir.Program
	a Checker
}

// View returns the registrar as program p and checker a see it.
func (r *Registrar) View(p *ir.Program, a Checker) View { return View{r, p, a} }

// OnRegister is the sipgo handler for REGISTER.
func (v View) OnRegister(req *sip.Request, tx sip.ServerTransaction) {
	v.r.serve(v.p, v.a, req, tx)
}

// Handle processes a REGISTER and returns the response to send.
func (v View) Handle(req *sip.Request) *sip.Response { return v.r.handle(v.p, v.a, req) }

// Lookup is the registrar's Lookup.
func (v View) Lookup(account string) []Binding { return v.r.Lookup(account) }

// answerWriter is a server transaction that takes a final response as
// the bytes to send and remembers them for retransmissions (package
// sipstack's REGISTER over UDP). The registrar's 200 is then written
// straight into its buffer: the response objects sipgo's writer renders
// (the copied Vias, From, To, Call-ID and CSeq, a header object per
// Contact and for the Date) cost a registration about a kilobyte of
// garbage, and the collector's time for it (issue 19).
type answerWriter interface {
	RespondBytes(answer []byte) error
}

// answerBufs are the buffers 200s are written into for an answerWriter.
var answerBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// serve answers req on tx as handle does, the 200 written by writeOK when
// tx takes bytes.
func (r *Registrar) serve(p *ir.Program, a Checker, req *sip.Request, tx sip.ServerTransaction) {
	res, g := r.decide(p, a, req)
	if res == nil {
		if w, ok := tx.(answerWriter); ok {
			buf := answerBufs.Get().(*bytes.Buffer)
			buf.Reset()
			writeOK(buf, req, &g.hs, g.current, g.now)
			if err := w.RespondBytes(buf.Bytes()); err != nil {
				r.log.Warn("registrar: cannot send response", "source", req.Source(), "err", err)
			}
			answerBufs.Put(buf)
			return
		}
		res = r.ok(req, &g.hs, g.current, g.now)
	}
	r.respond(req, tx, res)
}

func (r *Registrar) handle(p *ir.Program, a Checker, req *sip.Request) *sip.Response {
	res, g := r.decide(p, a, req)
	if res != nil {
		return res
	}
	return r.ok(req, &g.hs, g.current, g.now)
}

// granted is what the 200 to a REGISTER lists: the account's bindings
// after it, at now.
type granted struct {
	hs      headers
	current []Binding
	now     time.Time
}

// decide handles req: the response when it is not a 200, else what the
// 200 lists.
func (r *Registrar) decide(p *ir.Program, a Checker, req *sip.Request) (*sip.Response, granted) {
	hs := scan(req)
	if bad := hs.unsupported(); len(bad) > 0 {
		res := sip.NewResponseFromRequest(req, 420, "Bad Extension", nil)
		res.AppendHeader(sip.NewHeader("Unsupported", strings.Join(bad, ", ")))
		return res, granted{}
	}
	account, res := a.Check(req, req.Source(), false)
	if res != nil {
		return res, granted{}
	}
	acct := p.Account(account)
	if acct == nil {
		r.publish(p, events.Event{Kind: events.AuthFailed, Account: account, Source: req.Source(),
			Status: sip.StatusForbidden, Cause: "account not in the running configuration"})
		return sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil), granted{}
	}
	if to := req.To(); to == nil || to.Address.User != acct.Username {
		user := ""
		if to != nil {
			user = to.Address.User
		}
		r.publish(p, events.Event{Kind: events.AuthFailed, Account: account, To: user, Source: req.Source(),
			Status: sip.StatusForbidden, Cause: "registering the address of another account"})
		return sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil), granted{}
	}
	if req.CallID() == nil || req.CSeq() == nil {
		return sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Missing Call-ID or CSeq", nil), granted{}
	}

	now := r.clk.Now()
	u, bad := r.parse(&hs)
	if bad != nil {
		return bad.response(req), granted{}
	}

	lock := r.lock(acct.Name)
	lock.Lock()
	defer lock.Unlock()
	callID, cseq := req.CallID().Value(), req.CSeq().SeqNo
	current := live(r.store.Lookup(acct.Name), now)
	if outOfOrder(current, u, callID, cseq) {
		return sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Out-of-order CSeq", nil), granted{}
	}
	current = r.apply(acct, u, current, callID, cseq, req.Source(), transportName(req.Transport()), now)
	return nil, granted{hs: hs, current: current, now: now}
}

// headers are the header fields a REGISTER's handling reads, found in one
// pass: sipgo's GetHeader(s) lower-cases (allocating) the name of every
// header field it passes, on every call.
type headers struct {
	expires    string // the last Expires value, when hasExpires
	hasExpires bool
	userAgent  string // the first User-Agent value, cut (userAgent)
	contacts   []sip.Header
	path       []string
	require    []string
	supported  []string
}

func scan(req *sip.Request) headers {
	var hs headers
	uaSeen := false
	for _, h := range req.Headers() {
		switch name := h.Name(); {
		case name == "Contact":
			hs.contacts = append(hs.contacts, h)
		case strings.EqualFold(name, "Expires"):
			hs.expires, hs.hasExpires = h.Value(), true
		case strings.EqualFold(name, "User-Agent"):
			if !uaSeen {
				hs.userAgent, uaSeen = userAgent(h.Value()), true
			}
		case strings.EqualFold(name, "Path"):
			hs.path = append(hs.path, h.Value())
		case strings.EqualFold(name, "Require"):
			hs.require = appendOptions(hs.require, h.Value())
		case strings.EqualFold(name, "Supported"), strings.EqualFold(name, "k"): // k: compact form, not expanded by sipgo
			hs.supported = appendOptions(hs.supported, h.Value())
		}
	}
	return hs
}

func appendOptions(out []string, v string) []string {
	for _, o := range strings.Split(v, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// unsupported returns the Require options the registrar does not know.
func (hs *headers) unsupported() []string {
	var bad []string
	for _, o := range hs.require {
		if !strings.EqualFold(o, "path") {
			bad = append(bad, o)
		}
	}
	return bad
}

// supports reports whether the request lists option in Supported.
func (hs *headers) supports(option string) bool {
	for _, o := range hs.supported {
		if strings.EqualFold(o, option) {
			return true
		}
	}
	return false
}

// update is what a REGISTER asks for.
type update struct {
	wildcard  bool
	contacts  []contact
	path      []string
	userAgent string
}

type contact struct {
	key     string
	value   string // the Contact value to store, without expires
	expires time.Duration
}

// refusal is a response other than 200 that the registrar decided on
// before any change: its status, reason and one header field, if any.
type refusal struct {
	code           int
	reason         string
	header, detail string
}

// response is the refusal as the response to req.
func (f *refusal) response(req *sip.Request) *sip.Response {
	res := sip.NewResponseFromRequest(req, f.code, f.reason, nil)
	if f.header != "" {
		res.AppendHeader(sip.NewHeader(f.header, f.detail))
	}
	return res
}

// parse reads the contacts of a REGISTER and their expiry from its
// header fields hs; it returns the refusal instead when they are wrong.
func (r *Registrar) parse(hs *headers) (update, *refusal) {
	var u update
	bad := func(reason string) (update, *refusal) {
		return update{}, &refusal{code: sip.StatusBadRequest, reason: reason}
	}
	def := r.expiry.Default
	hasExpires := false
	if hs.hasExpires {
		d, ok := parseSeconds(hs.expires)
		if !ok {
			return bad("Invalid Expires")
		}
		def, hasExpires = d, true
	}
	u.path, u.userAgent = hs.path, hs.userAgent
	for _, h := range hs.contacts {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			return bad("Invalid Contact")
		}
		if c.Address.Wildcard {
			u.wildcard = true
			continue
		}
		if s := strings.ToLower(c.Address.Scheme); (s != "sip" && s != "sips") || c.Address.Host == "" {
			return bad("Invalid Contact")
		}
		exp := def
		if v, ok := param(c.Params, "expires"); ok {
			d, ok := parseSeconds(v)
			if !ok {
				return bad("Invalid Contact Expires")
			}
			exp = d
		}
		if exp > 0 && exp < r.expiry.Min {
			return update{}, &refusal{code: 423, reason: "Interval Too Brief",
				header: "Min-Expires", detail: strconv.Itoa(int(r.expiry.Min / time.Second))}
		}
		exp = min(exp, r.expiry.Max)
		u.contacts = append(u.contacts, contact{key: bindingKey(c), value: storedContact(c), expires: exp})
	}
	// RFC 3261 §10.3 step 6: "*" stands alone and only with Expires: 0.
	if u.wildcard && (len(u.contacts) > 0 || !hasExpires || def != 0) {
		return bad("Invalid Wildcard Contact")
	}
	if len(u.contacts) > r.maxContacts {
		return update{}, &refusal{code: sip.StatusForbidden, reason: "Too Many Contacts"}
	}
	return u, nil
}

// storedContact is the Contact value a binding keeps of c: without its
// display name and expires parameter. It is written from a shallow copy
// of c (nothing of c is changed) into a pooled buffer, and copied out
// once: ContactHeader.Value grows a strings.Builder from nothing, about
// eight allocations a contact.
func storedContact(c *sip.ContactHeader) string {
	stored := *c
	stored.DisplayName = ""
	isExpires := func(kv sip.HeaderKV) bool { return strings.EqualFold(kv.K, "expires") }
	if slices.ContainsFunc(c.Params, isExpires) {
		stored.Params = slices.DeleteFunc(slices.Clone(c.Params), isExpires)
	}
	buf := answerBufs.Get().(*bytes.Buffer)
	buf.Reset()
	stored.StringWrite(buf) // "Contact: " and the value
	v := string(buf.Bytes()[len("Contact: "):])
	answerBufs.Put(buf)
	return v
}

// parseSeconds parses a delta-seconds value; values past 2^32-1 mean
// 2^32-1 (RFC 3261 §20.19).
func parseSeconds(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		n = 1<<32 - 1
	}
	return time.Duration(n) * time.Second, true
}

// lock is the lock that serialises the updates of account.
func (r *Registrar) lock(account string) *sync.Mutex {
	return &r.locks[maphash.String(r.seed, account)%stripes]
}

// find returns the binding of current with key, nil when none.
func find(current []Binding, key string) *Binding {
	for i := range current {
		if current[i].Key == key {
			return &current[i]
		}
	}
	return nil
}

// outOfOrder reports whether u, a REGISTER of Call-ID callID and CSeq
// cseq, fails on an account's current bindings (RFC 3261 §10.3 step 7:
// a binding last written by this Call-ID only changes for a higher CSeq;
// otherwise the whole request fails).
func outOfOrder(current []Binding, u update, callID string, cseq uint32) bool {
	before := func(b *Binding) bool { return b.CallID == callID && cseq <= b.CSeq }
	if u.wildcard {
		for i := range current {
			if before(&current[i]) {
				return true
			}
		}
	}
	for _, c := range u.contacts {
		if b := find(current, c.key); b != nil && before(b) {
			return true
		}
	}
	return false
}

// apply changes the account's bindings, current, as u asks (which is not
// outOfOrder), under the account's lock, and returns its live bindings
// afterwards.
func (r *Registrar) apply(acct *ir.Account, u update, current []Binding, callID string, cseq uint32, source, transport string, now time.Time) []Binding {
	p := r.prog.Load()
	ua := u.userAgent
	path := r.pathOf(u.path, source, transport)
	removed := func(b Binding, cause string) {
		r.store.Remove(b.Account, b.Key)
		r.publish(p, events.Event{Kind: events.Unregistered, Account: b.Account, Source: b.Source, Cause: cause})
	}
	if u.wildcard {
		for _, b := range current {
			removed(b, "unregistered")
		}
		return nil
	}
	mine := map[string]bool{}
	for _, c := range u.contacts {
		old := find(current, c.key)
		if c.expires == 0 {
			if old != nil {
				removed(*old, "unregistered")
			}
			continue
		}
		mine[c.key] = true
		b := Binding{
			Account:   acct.Name,
			Contact:   c.value,
			Key:       c.key,
			CallID:    callID,
			CSeq:      cseq,
			Expires:   now.Add(c.expires),
			Source:    source,
			Transport: transport,
			UserAgent: ua,
			Since:     now,
			Path:      path,
		}
		if old != nil && !old.Since.IsZero() {
			b.Since = old.Since
		}
		r.store.Put(b)
		cause := "new"
		if old != nil {
			cause = "refresh"
		}
		r.publish(p, events.Event{Kind: events.Registered, Account: acct.Name, Source: source,
			Status: sip.StatusOK, Cause: cause, UserAgent: ua})
	}
	// current's array is the caller's, and no longer read: the bindings
	// as they are now go into it.
	current = live(r.lookupInto(current[:0], acct.Name), now)
	if extra := len(current) - r.maxContacts; extra > 0 {
		// Make way: drop the others closest to expiry (current is sorted
		// latest expiry first).
		for i := len(current) - 1; i >= 0 && extra > 0; i-- {
			if !mine[current[i].Key] {
				removed(current[i], "replaced by a newer contact")
				extra--
			}
		}
		current = live(r.store.Lookup(acct.Name), now)
	}
	return current
}

// ok builds the 200 OK listing every current binding with the seconds it
// has left (RFC 3261 §10.3 step 8).
func (r *Registrar) ok(req *sip.Request, hs *headers, current []Binding, now time.Time) *sip.Response {
	res := newOK(req)
	for _, b := range current {
		left := int((b.Expires.Sub(now) + time.Second - 1) / time.Second)
		res.AppendHeader(sip.NewHeader("Contact", b.Contact+";expires="+strconv.Itoa(left)))
	}
	if hs.supports("path") {
		for _, v := range hs.path {
			res.AppendHeader(sip.NewHeader("Path", v))
		}
	}
	res.AppendHeader(sip.NewHeader("Date", httpDate(now)))
	return res
}

// newOK is sip.NewResponseFromRequest(req, 200, "OK", nil) for a
// REGISTER, at less cost for the registrar's most frequent answer: one
// pass over the request's header fields (sipgo's copy lower-cases,
// allocating, the name of every field it passes), and a To tag from
// sipgo's tag generator instead of a UUID read from the system's random
// source (a REGISTER's To tag names no dialog; it must only be there,
// RFC 3261 §8.2.6.2). The Vias and To are copies, changed; From, Call-ID
// and CSeq are copies of their structs, their parameters shared with the
// request (neither is changed).
func newOK(req *sip.Request) *sip.Response {
	res := sip.NewResponse(sip.StatusOK, "OK")
	res.SipVersion = req.SipVersion
	top := true
	for _, h := range req.Headers() {
		v, ok := h.(*sip.ViaHeader)
		if !ok {
			continue
		}
		v = v.Clone()
		if top {
			// RFC 3581 §4, as sipgo does it.
			if val, ok := v.Params.Get("rport"); ok && val == "" {
				host, port, _ := net.SplitHostPort(req.Source())
				v.Params.Add("rport", port)
				v.Params.Add("received", host)
			}
			top = false
		}
		res.AppendHeader(v)
	}
	if h := req.From(); h != nil {
		from := *h
		res.AppendHeader(&from)
	}
	if h := req.To(); h != nil {
		to := *h
		to.Params = slices.Clone(h.Params)
		if !to.Params.Has("tag") {
			to.Params.Add("tag", sip.GenerateTagN(16))
		}
		res.AppendHeader(&to)
	}
	if h := req.CallID(); h != nil {
		callID := *h
		res.AppendHeader(&callID)
	}
	if h := req.CSeq(); h != nil {
		cseq := *h
		res.AppendHeader(&cseq)
	}
	res.SetBody(nil)
	// Where sipgo's transport sends it over TCP and TLS: a request
	// received has no resolved address of its own.
	res.SetTransport(req.Transport())
	res.SetDestination(req.Source())
	return res
}

// writeOK writes to buf the 200 that ok builds, as sipgo's writer writes
// it (TestWriteOKAsOK), from the request's own header objects: only the
// top Via is copied, to add rport's value and received (RFC 3581 §4).
func writeOK(buf *bytes.Buffer, req *sip.Request, hs *headers, current []Binding, now time.Time) {
	buf.WriteString(req.SipVersion)
	buf.WriteString(" 200 OK\r\n")
	top := true
	for _, h := range req.Headers() {
		v, ok := h.(*sip.ViaHeader)
		if !ok {
			continue
		}
		if top {
			top = false
			if val, ok := v.Params.Get("rport"); ok && val == "" {
				v = v.Clone()
				host, port, _ := net.SplitHostPort(req.Source())
				v.Params.Add("rport", port)
				v.Params.Add("received", host)
			}
		}
		v.StringWrite(buf)
		buf.WriteString("\r\n")
	}
	if h := req.From(); h != nil {
		h.StringWrite(buf)
		buf.WriteString("\r\n")
	}
	if h := req.To(); h != nil {
		h.StringWrite(buf)
		// What Params.Add writes for a tag the To has not: its last
		// parameter.
		if !h.Params.Has("tag") {
			buf.WriteString(";tag=")
			buf.WriteString(sip.GenerateTagN(16))
		}
		buf.WriteString("\r\n")
	}
	if h := req.CallID(); h != nil {
		h.StringWrite(buf)
		buf.WriteString("\r\n")
	}
	if h := req.CSeq(); h != nil {
		h.StringWrite(buf)
		buf.WriteString("\r\n")
	}
	writeOKTail(buf, hs, current, now)
}

// writeOKTail writes to buf what the 200 has after the lines it echoes:
// Content-Length, the Contacts with their seconds left, the Path when
// the REGISTER supports it, Date, and the empty line.
func writeOKTail(buf *bytes.Buffer, hs *headers, current []Binding, now time.Time) {
	buf.WriteString("Content-Length: 0\r\n")
	var n [20]byte
	for _, b := range current {
		left := int((b.Expires.Sub(now) + time.Second - 1) / time.Second)
		buf.WriteString("Contact: ")
		buf.WriteString(b.Contact)
		buf.WriteString(";expires=")
		buf.Write(strconv.AppendInt(n[:0], int64(left), 10))
		buf.WriteString("\r\n")
	}
	if hs.supports("path") {
		for _, v := range hs.path {
			buf.WriteString("Path: ")
			buf.WriteString(v)
			buf.WriteString("\r\n")
		}
	}
	buf.WriteString("Date: ")
	buf.WriteString(httpDate(now))
	buf.WriteString("\r\n\r\n")
}

// date is a Date header's value and the second it names.
type date struct {
	unix  int64
	value string
}

// lastDate is the Date of the latest answer: at thousands of REGISTERs a
// second, most answers share their second with the one before.
var lastDate atomic.Pointer[date]

// httpDate is the Date header's value for now (RFC 3261 §20.17).
func httpDate(now time.Time) string {
	sec := now.Unix()
	if d := lastDate.Load(); d != nil && d.unix == sec {
		return d.value
	}
	v := now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")
	lastDate.Store(&date{unix: sec, value: v})
	return v
}

// sweep removes expired bindings and schedules the next sweep. It holds
// every account lock while it does, so that an expiry and a concurrent
// refresh of the same contact are published in the order they happen.
func (r *Registrar) sweep() {
	now := r.clk.Now()
	p := r.prog.Load()
	r.lockAll()
	for _, b := range r.store.Expire(now) {
		r.publish(p, events.Event{Kind: events.Unregistered, Account: b.Account, Source: b.Source, Cause: "expired"})
	}
	r.unlockAll()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.timer = r.clk.AfterFunc(r.sweepEvery, r.sweep)
	}
}

func (r *Registrar) lockAll() {
	for i := range r.locks {
		r.locks[i].Lock()
	}
}

func (r *Registrar) unlockAll() {
	for i := range r.locks {
		r.locks[i].Unlock()
	}
}

// publish stamps e with its account's origin (the site's when the account
// is unknown) and sends it.
func (r *Registrar) publish(p *ir.Program, e events.Event) {
	if r.bus == nil {
		return
	}
	if p != nil {
		e.Origin = p.Site.Origin
		if a := p.Account(e.Account); a != nil {
			e.Origin = a.Origin
		}
	}
	r.bus.Publish(e)
}

// transportName returns the canonical (shared) spelling of a transport.
func transportName(t string) string {
	for _, name := range []string{"UDP", "TCP", "TLS", "WS", "WSS"} {
		if strings.EqualFold(t, name) {
			return name
		}
	}
	return strings.ToUpper(t)
}

func itoa(n int) string { return strconv.Itoa(n) }

// param returns the value of a parameter, whose name is case-insensitive
// (RFC 3261 §7.3.1); sipgo compares names exactly.
func param(ps sip.HeaderParams, name string) (string, bool) {
	for _, kv := range ps {
		if strings.EqualFold(kv.K, name) {
			return kv.V, true
		}
	}
	return "", false
}

// userAgent is v, the value of a User-Agent header, cut to a length an
// event line can carry: it is the device's to write.
func userAgent(v string) string {
	if len(v) > 128 {
		v = v[:128]
	}
	return v
}
