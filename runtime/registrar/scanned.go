package registrar

import (
	"bytes"

	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
	"switchboard/runtime/auth"
	"switchboard/runtime/sipstack"
)

// A REGISTER with credentials over UDP reaches the registrar unparsed
// when package sipstack's scan is sure of it (sipstack.ScannedRegister):
// the common refresh of a phone, whose 200 is then written from the lines
// it came with. The registrar takes it only when it will answer 200, and
// decides that before it changes anything: the update is read and
// checked, the credentials screened (auth.ScreenRegisterWith), the
// account and its To compared, and, under the account's lock, the CSeq
// order checked, before the nonce count is spent (CommitRegister) and the
// bindings applied — the same functions as the parsed way's, in an order
// that leaves every refusal to it. Anything else it declines, having
// done nothing, and the parsed way decides it as before.

// ScannedChecker is a Checker that checks the credentials of a REGISTER
// that was not parsed: an auth.Authenticator, or one configuration's
// view of it.
type ScannedChecker interface {
	// ScreenRegister reports whether the credentials, the value of the
	// REGISTER's Authorization line, are right for its Request-URI from
	// source but for their nonce count, changing nothing.
	ScreenRegister(authorization string, recipient *sip.Uri, source string) (auth.Verified, bool)
	// CommitRegister spends their nonce count; false for a replay,
	// changing nothing.
	CommitRegister(v auth.Verified) bool
}

// ServeScanned answers s with a 200 when the registrar would, and
// reports whether it did; on false nothing changed, and the REGISTER is
// the parsed way's (sipstack.Register.Scanned).
func (r *Registrar) ServeScanned(s *sipstack.ScannedRegister) bool {
	return r.serveScanned(r.prog.Load(), r.auth, s)
}

// ServeScanned is the registrar's ServeScanned for this view.
func (v View) ServeScanned(s *sipstack.ScannedRegister) bool {
	return v.r.serveScanned(v.p, v.a, s)
}

func (r *Registrar) serveScanned(p *ir.Program, a Checker, s *sipstack.ScannedRegister) bool {
	sc, ok := a.(ScannedChecker)
	if !ok {
		return false
	}
	hs := headers{expires: s.Expires, hasExpires: s.HasExpires, userAgent: userAgent(s.UserAgent), contacts: s.Contacts}
	u, bad := r.parse(&hs)
	if bad != nil || u.wildcard {
		return false
	}
	v, ok := sc.ScreenRegister(s.Authorization, &s.Recipient, s.Source)
	if !ok {
		return false
	}
	acct := p.Account(v.User)
	if acct == nil || acct.Username != s.ToUser {
		return false
	}
	now := r.clk.Now()
	lock := r.lock(acct.Name)
	lock.Lock()
	// The account's bindings, before and after: most accounts have one
	// or two, and the 200 is written before this returns.
	var held [2]Binding
	current := live(r.lookupInto(held[:0], acct.Name), now)
	if outOfOrder(current, u, s.CallID, s.CSeq) || !sc.CommitRegister(v) {
		lock.Unlock()
		return false
	}
	current = r.apply(acct, u, current, s.CallID, s.CSeq, s.Source, "UDP", now)
	lock.Unlock()
	buf := answerBufs.Get().(*bytes.Buffer)
	buf.Reset()
	writeOKTail(buf, &hs, current, now)
	if err := s.RespondOK(buf.Bytes()); err != nil {
		r.log.Warn("registrar: cannot send response", "source", s.Source, "err", err)
	}
	answerBufs.Put(buf)
	return true
}
