package site

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
	"switchboard/runtime/auth"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/carrier"
	"switchboard/runtime/portal"
	"switchboard/runtime/registrar"
	"switchboard/runtime/sipstack"
	"switchboard/runtime/voicemail"
)

// passwords are one generation's SIP passwords, with the ones accounts
// had before the rotation that generation raised, while the grace lasts.
// Immutable once the generation is stored, but for the cache of derived
// passwords.
type passwords struct {
	// program is the generation's: what each account is offered
	// (DigestAlgorithms) comes with its passwords.
	program *ir.Program
	cur     b2bua.Secrets
	prev    map[string]previousPassword
	now     func() time.Time

	// derived caches cur's answers for the generation's accounts: a
	// password is a derivation from the site key, and every digest check
	// asks for one. The generation's key and program never change, so
	// neither do its passwords; a reload builds new passwords, and with
	// them an empty cache. Bounded by the program's accounts.
	derived passwordSlots
}

// passwordSlots hold one password per account of a program, by the
// account's index, in one flat pointer-free block (the garbage collector
// never scans it, and 30 000 accounts cost no 30 000 map entries and
// strings): slot i is the slotSize bytes at i*slotSize, the password's
// length and then the password. state[i] says whether the slot is empty, being filled or
// ready; a slot is written once, by whoever moves it from empty to
// filling, and read only once ready, so concurrent digest checks need no
// lock.
type passwordSlots struct {
	once  sync.Once
	bytes []byte
	state []atomic.Uint32
}

// cachedPassword is the longest password kept: a derived one
// (credentials.PasswordLength, 20) with room to spare. A longer one is
// asked for each time.
const cachedPassword = 24

const slotSize = 1 + cachedPassword

const (
	slotEmpty uint32 = iota
	slotFilling
	slotReady
)

// get returns the password of slot i of n, if it is ready.
func (c *passwordSlots) get(i, n int) (string, bool) {
	c.once.Do(func() {
		c.bytes = make([]byte, n*slotSize)
		c.state = make([]atomic.Uint32, n)
	})
	if c.state[i].Load() != slotReady {
		return "", false
	}
	b := c.bytes[i*slotSize : (i+1)*slotSize]
	// Never written again once ready: the string may share the bytes.
	return unsafe.String(&b[1], int(b[0])), true
}

// put fills slot i with pw, unless another check fills it or pw does not
// fit.
func (c *passwordSlots) put(i int, pw string) {
	if len(pw) == 0 || len(pw) > cachedPassword || !c.state[i].CompareAndSwap(slotEmpty, slotFilling) {
		return
	}
	b := c.bytes[i*slotSize : (i+1)*slotSize]
	b[0] = byte(len(pw))
	copy(b[1:], pw)
	c.state[i].Store(slotReady)
}

type previousPassword struct {
	password string
	until    time.Time
}

func (p *passwords) remember(account string, pp previousPassword) {
	if p.prev == nil {
		p.prev = map[string]previousPassword{}
	}
	p.prev[account] = pp
}

// rekeyGrace remembers, for every account of cfg, the password the
// previous site key gives it, until cfg.PreviousUntil: a rekey changes
// every password at once, and each device must still fetch its new one.
// An account already remembered keeps the later of the two windows.
func rekeyGrace(pw *passwords, cfg Config, now time.Time) {
	if cfg.Previous == nil || !now.Before(cfg.PreviousUntil) {
		return
	}
	for _, a := range cfg.Program.Accounts {
		old, ok := cfg.Previous.SIPPassword(a.Name)
		if cur, _ := cfg.Secrets.SIPPassword(a.Name); !ok || old == cur {
			continue
		}
		if have, ok := pw.prev[a.Name]; ok && !have.until.Before(cfg.PreviousUntil) {
			continue
		}
		pw.remember(a.Name, previousPassword{password: old, until: cfg.PreviousUntil})
	}
}

// SIPPassword implements b2bua.Secrets.
func (p *passwords) SIPPassword(account string) (string, bool) {
	i, known := accountIndex(p.program.Accounts, account)
	if !known {
		// Only the program's accounts are kept: names a stranger makes
		// up must not grow the cache.
		return p.cur.SIPPassword(account)
	}
	if pw, ok := p.derived.get(i, len(p.program.Accounts)); ok {
		return pw, true
	}
	pw, ok := p.cur.SIPPassword(account)
	if ok {
		p.derived.put(i, pw)
	}
	return pw, ok
}

// accountIndex finds name in accounts, which are in canonical order
// (ir.Program.Account).
func accountIndex(accounts []ir.Account, name string) (int, bool) {
	lo, hi := 0, len(accounts)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if accounts[m].Name < name {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(accounts) && accounts[lo].Name == name
}

// DigestAlgorithms implements auth.Offers: what the account's client
// answers, as the generation's program says.
func (p *passwords) DigestAlgorithms(user string) []auth.Algorithm {
	return auth.Algorithms(p.program.DigestOf(user))
}

// PreviousSIPPassword implements provisioning.PreviousSecrets.
func (p *passwords) PreviousSIPPassword(account string) (string, bool) {
	pp, ok := p.prev[account]
	if !ok || !p.now().Before(pp.until) {
		return "", false
	}
	return pp.password, true
}

// withTrunks are a generation's passwords and its trunks' credentials.
type withTrunks struct {
	*passwords
	trunks carrier.TrunkSecrets
}

// TrunkSecret implements carrier.TrunkSecrets.
func (w withTrunks) TrunkSecret(ref ir.SecretRef) (string, bool) { return w.trunks.TrunkSecret(ref) }

// genAuth is the site's authenticator with one generation's passwords:
// nonces and throttles are the site's, the passwords the generation's.
type genAuth struct {
	a       *auth.Authenticator
	secrets b2bua.Secrets
}

func (g genAuth) Check(req *sip.Request, source string, proxy bool) (string, *sip.Response) {
	return g.a.CheckWith(g.secrets, req, source, proxy)
}

func (g genAuth) Screen(req *sip.Request, source string, proxy bool) *sip.Response {
	return g.a.ScreenWith(g.secrets, req, source, proxy)
}

func (g genAuth) RegisterChallenge(user, source string) []string {
	return g.a.RegisterChallengeWith(g.secrets, user, source)
}

func (g genAuth) ScreenRegister(authorization string, recipient *sip.Uri, source string) (auth.Verified, bool) {
	return g.a.ScreenRegisterWith(g.secrets, authorization, recipient, source)
}

func (g genAuth) CommitRegister(v auth.Verified) bool { return g.a.CommitRegister(v) }

// registrarView gives the server one generation's registrar; node is this
// node of a cluster (nil: a single node).
type registrarView struct {
	v    registrar.View
	node *node
}

func (r registrarView) OnRegister(req *sip.Request, tx sip.ServerTransaction) {
	r.v.OnRegister(req, tx)
}

func (r registrarView) ServeScanned(s *sipstack.ScannedRegister) bool { return r.v.ServeScanned(s) }

func (r registrarView) Contacts(account string) []b2bua.Contact {
	var out []b2bua.Contact
	for _, b := range r.v.Lookup(account) {
		u, err := b.URI()
		if err != nil {
			continue
		}
		out = append(out, r.node.contactOf(&b, u))
	}
	return out
}

// currentSecrets are the running generation's passwords, for the
// authenticator's Check outside any generation's view (none calls it now;
// it keeps Check answering as the running configuration would).
type currentSecrets struct{ s *Site }

func (c currentSecrets) SIPPassword(account string) (string, bool) {
	return c.s.gen.Load().pw.SIPPassword(account)
}

// DigestAlgorithms implements auth.Offers.
func (c currentSecrets) DigestAlgorithms(user string) []auth.Algorithm {
	return c.s.gen.Load().pw.DigestAlgorithms(user)
}

// currentPINs are the running generation's voicemail and room PINs, for
// the services, which outlive reloads.
type currentPINs struct{ s *Site }

// VoicemailPIN implements voicemail.PINSource.
func (c currentPINs) VoicemailPIN(box string) (string, bool) {
	if p, ok := c.s.gen.Load().pw.cur.(voicemail.PINSource); ok {
		return p.VoicemailPIN(box)
	}
	return "", false
}

// ConferencePINs implements services.ConferencePINs.
func (c currentPINs) ConferencePINs(room string) (member, owner string, ok bool) {
	if p, ok := c.s.gen.Load().pw.cur.(interface {
		ConferencePINs(room string) (member, owner string, ok bool)
	}); ok {
		return p.ConferencePINs(room)
	}
	return "", "", false
}

// portalPasswords are the running generation's derived portal passwords,
// when its secrets have them (credentials.Lookup does).
func (s *Site) portalPasswords() portal.Passwords {
	if p, ok := s.gen.Load().pw.cur.(portal.Passwords); ok {
		return p
	}
	return nil
}
