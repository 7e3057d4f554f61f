package portal

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"switchboard/compiler/ir"
)

// home sends a logged-in person to their first page, anyone else to the
// login.
func (p *Portal) home(w http.ResponseWriter, r *http.Request) {
	v := p.resolve(r)
	switch {
	case v == nil:
		http.Redirect(w, r, "/portal/login", http.StatusSeeOther)
	case v.User == nil:
		http.Redirect(w, r, "/portal/installer", http.StatusSeeOther)
	default:
		http.Redirect(w, r, "/portal/u/"+v.User.Name+"/", http.StatusSeeOther)
	}
}

func (p *Portal) loginPage(w http.ResponseWriter, r *http.Request) {
	if v := p.resolve(r); v != nil {
		p.home(w, r)
		return
	}
	p.render(w, r, nil, http.StatusOK, pageLogin, nil)
}

// badLogin is the one answer to a wrong e-mail or password: the same
// status and page for both.
const badLogin = "That e-mail address and password do not match a login of this site."

// login checks an e-mail and password. An unknown e-mail, a known one
// with a wrong password and a right one all cost one argon2id hash
// (checkPassword), and the two failures answer the same page with the
// same status. Failures are counted per e-mail and address, per address,
// per prefix and overall (runtime/throttle); over a limit the answer is
// 429 whatever was sent.
func (p *Portal) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if !p.parseForm(w, r, nil, maxForm) {
		return
	}
	email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
	password := r.PostFormValue("password")
	if len(email) > 254 {
		email = email[:254]
	}
	host := clientHost(r)
	now := p.clk.Now()
	if wait, blocked := p.guard.Blocked(host, email, now); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		p.render(w, r, nil, http.StatusTooManyRequests, pageLogin, map[string]any{"Error": "Too many failed logins. Try again in a few minutes.", "Email": email})
		return
	}
	who, ok := p.checkPassword(email, password)
	if !ok {
		if p.guard.Fail(host, email, now) != 0 {
			// Never the e-mail or the password: only that a limit was met.
			p.log.Warn("portal: login limit reached", "peer", host)
		}
		p.render(w, r, nil, http.StatusUnauthorized, pageLogin, map[string]any{"Error": badLogin, "Email": email})
		return
	}
	p.guard.Succeed(host, email, now)
	p.sessions.start(w, r, who.User, who.ID, who.Email)
	if who.User == "" {
		http.Redirect(w, r, "/portal/installer", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/portal/u/"+who.User+"/", http.StatusSeeOther)
}

// checkPassword finds the person whose login email is and checks
// password: against their chosen one's hash when they set one, else
// against their derived one. Exactly one argon2id hash is computed
// whatever the case — an unknown e-mail and a derived password are
// hashed against a dummy record — so the time taken does not tell which
// e-mails exist.
func (p *Portal) checkPassword(email, password string) (person, bool) {
	p.sem <- struct{}{}
	defer func() { <-p.sem }()
	who, found := p.lookup(email)
	if len(password) > maxPassword {
		password = password[:maxPassword]
		found = false // a longer one is no password of ours
	}
	if found {
		if rec, ok := p.store.get(who.ID); ok {
			return who, p.verify(rec, password)
		}
	}
	p.verify(dummy(), password) // the hash work a chosen password costs
	if !found {
		return person{}, false
	}
	var derived string
	var ok bool
	if pw := p.passwords(); pw != nil {
		if who.User == "" {
			derived, ok = pw.InstallerPortalPassword()
		} else {
			derived, ok = pw.PortalPassword(who.User)
		}
	}
	return who, ok && derived != "" && subtle.ConstantTimeCompare([]byte(derived), []byte(password)) == 1
}

// verify hashes password against r, counting the hash (Portal.hashes).
func (p *Portal) verify(r hashRecord, password string) bool {
	p.hashes.Add(1)
	return r.matches(password)
}

// dummy is hashed against when there is no chosen password to check:
// made at first use, at the cost hashParams has then.
var dummy = sync.OnceValue(func() hashRecord { return newHashRecord(randomToken()) })

func (p *Portal) passwords() Passwords {
	if p.cfg.Passwords == nil {
		return nil
	}
	return p.cfg.Passwords()
}

// lookup finds the person whose login is email (lower case): a user of
// the running program, or its installer.
func (p *Portal) lookup(email string) (person, bool) {
	if email == "" {
		return person{}, false
	}
	prog := p.cfg.Program()
	for i := range prog.Users {
		u := &prog.Users[i]
		if u.Email != "" && strings.EqualFold(u.Email, email) {
			role := ir.Role(u.Role)
			if role == "" {
				role = ir.RoleUser
			}
			return person{Role: role, User: u.Name, ID: u.ID(), Email: u.Email, Name: u.DisplayName}, true
		}
	}
	if in := prog.Site.Installer; in != nil && in.Email != "" && strings.EqualFold(in.Email, email) {
		return person{Role: ir.RoleInstaller, ID: installerID, Email: in.Email, Name: in.Company}, true
	}
	return person{}, false
}

// logout ends the session (a POST with its CSRF token: a link elsewhere
// cannot log anyone out).
func (p *Portal) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	v := p.resolve(r)
	if v == nil {
		clearCookie(w, r)
		http.Redirect(w, r, "/portal/login", http.StatusSeeOther)
		return
	}
	if !p.parseForm(w, r, v, maxForm) {
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(v.Session.csrf)) != 1 {
		p.fail(w, r, v, http.StatusForbidden, "This form is stale or did not come from this portal; reload the page and try again.")
		return
	}
	p.sessions.drop(v.Session)
	clearCookie(w, r)
	http.Redirect(w, r, "/portal/login", http.StatusSeeOther)
}

// clientHost is the address a request came from. The portal is served
// directly; behind a reverse proxy every client would share the proxy's
// address and its limits.
func clientHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
