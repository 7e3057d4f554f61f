package site

import (
	"sync"
	"time"

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
	mu      sync.Mutex
	derived map[string]string
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
	p.mu.Lock()
	pw, ok := p.derived[account]
	p.mu.Unlock()
	if ok {
		return pw, true
	}
	pw, ok = p.cur.SIPPassword(account)
	a := p.program.Account(account)
	if !ok || a == nil {
		// Only the program's accounts are kept: names a stranger makes
		// up must not grow the cache.
		return pw, ok
	}
	p.mu.Lock()
	if p.derived == nil {
		p.derived = map[string]string{}
	}
	// Keyed by the program's string, not the caller's: that is a part of
	// a request (the user name of its Authorization header), and a key
	// would keep the whole header, ~200 bytes an account.
	p.derived[a.Name] = pw
	p.mu.Unlock()
	return pw, true
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
