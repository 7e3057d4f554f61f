package portal

import (
	"crypto/subtle"
	"net/http"

	"switchboard/compiler/ir"
)

// person is who a session belongs to: a user of the site, or its
// installer (User empty).
type person struct {
	Role ir.Role
	User string // block name; "" for the installer
	// ID is what their chosen password is kept under: the user's stable
	// identity (ir.User.ID), or "installer".
	ID    string
	Email string
	Name  string
}

// visit is one request of a logged-in person, resolved against the
// running program.
type visit struct {
	Person  person
	Session *session
	Program *ir.Program
	User    *ir.User // the person's user; nil for the installer
}

// CSRF is the session's token, for the templates' forms.
func (v *visit) CSRF() string { return v.Session.csrf }

// decision is what decide answers.
type decision int

const (
	allow     decision = iota
	forbidden          // logged in, but not theirs or not their role's
)

// decide is the portal's one access decision, pure: may someone of role,
// logged in as user (empty: the installer), use a page needing right that
// belongs to owner (empty: a page of the site, not of one person)? A
// person's pages are theirs alone, whatever their role; what a role may
// do at all is ir.Can's.
func decide(role ir.Role, user, owner string, right ir.Right) decision {
	if !ir.Can(role, right) {
		return forbidden
	}
	if owner != "" && (user == "" || user != owner) {
		return forbidden
	}
	return allow
}

// resolve finds the request's session and its person in the running
// program; nil when there is none (or the person is gone from the site).
func (p *Portal) resolve(r *http.Request) *visit { return p.visitOf(p.sessions.get(r)) }

// resolveQuiet is resolve without keeping the session alive: for the
// event stream, which is no sign of someone at the page (sessions.peek).
func (p *Portal) resolveQuiet(r *http.Request) *visit { return p.visitOf(p.sessions.peek(r)) }

func (p *Portal) visitOf(s *session) *visit {
	if s == nil {
		return nil
	}
	prog := p.cfg.Program()
	v := &visit{Session: s, Program: prog}
	if s.user == "" {
		in := prog.Site.Installer
		if in == nil || in.Email != s.email {
			p.sessions.drop(s)
			return nil
		}
		v.Person = person{Role: ir.RoleInstaller, ID: installerID, Email: in.Email, Name: in.Company}
		return v
	}
	u := prog.User(s.user)
	// Removed, or the name given to someone else: the session ends.
	if u == nil || u.ID() != s.id || u.Email == "" {
		p.sessions.drop(s)
		return nil
	}
	v.User = u
	v.Person = person{Role: ir.Role(u.Role), User: u.Name, ID: u.ID(), Email: u.Email, Name: u.DisplayName}
	if v.Person.Role == "" {
		v.Person.Role = ir.RoleUser
	}
	return v
}

const installerID = "installer"

// page wraps a GET handler: a session is needed (else the login page),
// and decide must allow it; ownPage pages belong to the {user} of the
// path.
func (p *Portal) page(name string, right ir.Right, ownPage bool, h func(http.ResponseWriter, *http.Request, *visit)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := p.resolve(r)
		if v == nil {
			http.Redirect(w, r, "/portal/login", http.StatusSeeOther)
			return
		}
		owner := ""
		if ownPage {
			owner = r.PathValue("user")
		}
		if decide(v.Person.Role, v.Person.User, owner, right) != allow {
			p.fail(w, r, v, http.StatusForbidden, "This page is not yours to open.")
			return
		}
		h(w, r, v)
	}
}

// action wraps a state-changing POST: its body is limited to limit bytes,
// a session is needed (401 without), the form's CSRF token must be the
// session's (403), and decide must allow it (403).
func (p *Portal) action(right ir.Right, limit int64, h func(http.ResponseWriter, *http.Request, *visit)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		v := p.resolve(r)
		if v == nil {
			p.fail(w, r, nil, http.StatusUnauthorized, "Your session has ended: log in again.")
			return
		}
		if !p.parseForm(w, r, v, limit) {
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(v.Session.csrf)) != 1 {
			p.fail(w, r, v, http.StatusForbidden, "This form is stale or did not come from this portal; reload the page and try again.")
			return
		}
		if decide(v.Person.Role, v.Person.User, r.PathValue("user"), right) != allow {
			p.fail(w, r, v, http.StatusForbidden, "This is not yours to change.")
			return
		}
		h(w, r, v)
	}
}

// parseForm reads the form of r (multipart when it is one) within limit,
// answering 413 or 400 when it cannot.
func (p *Portal) parseForm(w http.ResponseWriter, r *http.Request, v *visit, limit int64) bool {
	var err error
	if ct := r.Header.Get("Content-Type"); len(ct) >= 19 && ct[:19] == "multipart/form-data" {
		err = r.ParseMultipartForm(limit)
	} else {
		err = r.ParseForm()
	}
	if err == nil && len(r.PostForm) > 8 {
		p.fail(w, r, v, http.StatusBadRequest, "Too many form fields.")
		return false
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if asMaxBytes(err, &mbe) {
			p.fail(w, r, v, http.StatusRequestEntityTooLarge, "That is more than this form takes.")
			return false
		}
		p.fail(w, r, v, http.StatusBadRequest, "The form could not be read.")
		return false
	}
	return true
}

// navItem is one entry of the navigation.
type navItem struct {
	Label, Href, Page string
}

// navFor lists the pages v's role may open, in the order shown.
func navFor(v *visit) []navItem {
	if v.User == nil {
		return append([]navItem{{"Site", "/portal/installer", pageInstaller}}, siteNav(v)...)
	}
	base := "/portal/u/" + v.User.Name + "/"
	var out []navItem
	add := func(label, href, page string, right ir.Right) {
		if decide(v.Person.Role, v.Person.User, v.User.Name, right) == allow {
			out = append(out, navItem{label, href, page})
		}
	}
	add("Home", base, pageOverview, ir.RightAnswer)
	if v.User.Mailbox != "" {
		add("Voicemail", base+"voicemail", pageVoicemail, ir.RightOwnSettings)
	}
	add("Doors", base+"doors", pageDoors, ir.RightAnswer)
	add("Devices", base+"devices", pageDevices, ir.RightAnswer)
	add("Calls", base+"calls", pageCalls, ir.RightAnswer)
	add("Settings", base+"settings", pageSettings, ir.RightOwnSettings)
	if v.User.Residence != "" {
		add("Changes", base+"requests", pageRequests, ir.RightOwnSettings)
	}
	return append(out, siteNav(v)...)
}
