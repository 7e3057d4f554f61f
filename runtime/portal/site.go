package portal

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"time"

	"switchboard/compiler/ir"
	"switchboard/runtime/events"
)

// SiteFiles is what only the command can answer: the applied state's
// invitations, the invitation mail (it needs the site key) and the
// handover sheet. The runtime reads neither the state nor the key; serve
// supplies it (nil: those parts of the pages say they are not available).
type SiteFiles interface {
	// Invitations returns each user's invitation status as the applied
	// state records it ("sent to ADDR", "held: …", "to hand over in
	// person"), by block name; users apply has not reached are absent.
	Invitations() (map[string]string, error)
	// ResendInvitation sends user their current invitation again through
	// the server's mail settings, changing no password, and says what it
	// did.
	ResendInvitation(ctx context.Context, user string) (string, error)
	// HandoverHTML renders the handover sheet from the running program and
	// the applied state.
	HandoverHTML() ([]byte, error)
	// Commissioning is the live checklist as `switchboard commission` last
	// left it in the state; nil when the site was never commissioned.
	Commissioning() (*Checklist, error)
}

// Checklist is the commissioning checklist's results.
type Checklist struct {
	Updated time.Time
	Cases   []CheckCase
}

// CheckCase is one case of the checklist: Status is "passed", "failed",
// "open" or "skipped"; Detail what differed or why it is open.
type CheckCase struct {
	Name, Origin, Status, Detail string
	At                           time.Time
}

// RingResult is what a ring test found: the accounts offered the call,
// the one that answered and the digit it keyed to confirm, or why not.
type RingResult struct {
	Rang             []string
	Answered, Digits string
	Confirmed        bool
	Reason           string
}

// Trunk is one trunk's registration at its carrier, for the operator.
type Trunk struct {
	Name       string
	Registered bool
}

// resendTimeout bounds one invitation's delivery to the mail server.
const resendTimeout = 30 * time.Second

type personRow struct {
	Name, DisplayName, Residence, Role, Email string
	Invitation                                string
	Online, Endpoints                         int
}

func (p *Portal) peoplePage(w http.ResponseWriter, r *http.Request, v *visit) {
	p.renderPeople(w, r, v, http.StatusOK, nil)
}

func (p *Portal) renderPeople(w http.ResponseWriter, r *http.Request, v *visit, status int, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	var inv map[string]string
	if p.cfg.Site == nil {
		data["InvitationsNote"] = "Invitation status is not available: this server was started without its site files."
	} else if m, err := p.cfg.Site.Invitations(); err != nil {
		p.log.Error("portal: reading the applied state", "error", err)
		data["InvitationsNote"] = "Invitation status could not be read from the applied state."
	} else {
		inv = m
	}
	var rows []personRow
	for _, u := range v.Program.Users {
		row := personRow{Name: u.Name, DisplayName: u.DisplayName, Role: cmpOr(u.Role, string(ir.RoleUser)), Email: u.Email, Endpoints: len(u.Endpoints)}
		if res := v.Program.Residence(u.Residence); res != nil {
			row.Residence = res.Label
		}
		for _, a := range u.Endpoints {
			if p.bindings(a) > 0 {
				row.Online++
			}
		}
		switch s, ok := inv[u.Name]; {
		case inv == nil:
			row.Invitation = "—"
		case !ok:
			row.Invitation = "not applied yet"
		default:
			row.Invitation = s
		}
		rows = append(rows, row)
	}
	data["Rows"] = rows
	data["CanInvite"] = ir.Can(v.Person.Role, ir.RightInvite) && p.cfg.Site != nil
	data["CanRing"] = ir.Can(v.Person.Role, ir.RightManagePeople) && p.cfg.RingTest != nil
	data["CanHandover"] = ir.Can(v.Person.Role, ir.RightReceiveHandover) && p.cfg.Site != nil
	p.render(w, r, v, status, pagePeople, data)
}

// resendInvitation sends a person's current invitation again: the same
// mail `switchboard invite` sends, no password changed.
func (p *Portal) resendInvitation(w http.ResponseWriter, r *http.Request, v *visit) {
	name := r.PathValue("name")
	if v.Program.User(name) == nil {
		p.fail(w, r, v, http.StatusNotFound, "No such person on this site.")
		return
	}
	if p.cfg.Site == nil {
		p.fail(w, r, v, http.StatusServiceUnavailable, "This server cannot send invitations: it was started without its site files.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), resendTimeout)
	defer cancel()
	line, err := p.cfg.Site.ResendInvitation(ctx, name)
	if err != nil {
		p.log.Warn("portal: resending an invitation", "user", name, "by", v.Person.ID, "error", err)
		p.renderPeople(w, r, v, http.StatusUnprocessableEntity, map[string]any{"InviteError": "Not sent to " + name + ": " + err.Error()})
		return
	}
	p.log.Info("portal: invitation sent again", "user", name, "by", v.Person.ID)
	p.renderPeople(w, r, v, http.StatusOK, map[string]any{"InviteDone": name + ": " + line})
}

func (p *Portal) siteDoorsPage(w http.ResponseWriter, r *http.Request, v *visit) {
	type row struct {
		Time                      time.Time
		Door, Relay, Who, Outcome string
	}
	var rows []row
	for _, e := range p.history.Events(func(e events.Event) bool { return e.Kind == events.DoorOpened || e.Kind == events.DoorRefused }) {
		out := "opened"
		if e.Kind == events.DoorRefused {
			out = "refused"
		}
		rows = append(rows, row{Time: e.Time, Door: deviceLabel(v.Program, e.Device), Relay: e.Relay, Who: accountLabel(v.Program, e.Account), Outcome: out})
	}
	p.render(w, r, v, http.StatusOK, pageSiteDoors, map[string]any{"Rows": rows})
}

// liveCall is a call in progress, from the history's events.
type liveCall struct {
	Since              time.Time
	From, To, Answered string
	Ringing            int
}

// liveCalls are the calls started and not ended among the kept events.
func (p *Portal) liveCalls(prog *ir.Program) []liveCall {
	all := p.history.Events(func(events.Event) bool { return true })
	ended := map[string]bool{}
	answered := map[string]string{}
	for _, e := range all {
		switch e.Kind {
		case events.CallEnded:
			ended[e.Call] = true
		case events.LegAnswered:
			answered[e.Call] = e.Leg
		}
	}
	var out []liveCall
	for _, e := range all {
		if e.Kind != events.CallStarted || ended[e.Call] {
			continue
		}
		c := liveCall{Since: e.Time, From: accountLabel(prog, cmpOr(e.From, e.Account)), To: cmpOr(e.Target, e.To)}
		if leg, ok := answered[e.Call]; ok {
			c.Answered = accountLabel(prog, leg)
		}
		out = append(out, c)
	}
	return out
}

func (p *Portal) siteCallsPage(w http.ResponseWriter, r *http.Request, v *visit) {
	p.render(w, r, v, http.StatusOK, pageSiteCalls, map[string]any{"Live": p.liveCalls(v.Program)})
}

// handoverSheet downloads the handover sheet (HTML), for the owner.
func (p *Portal) handoverSheet(w http.ResponseWriter, r *http.Request, v *visit) {
	if p.cfg.Site == nil {
		p.fail(w, r, v, http.StatusServiceUnavailable, "The handover sheet is not available: this server was started without its site files.")
		return
	}
	html, err := p.cfg.Site.HandoverHTML()
	if err != nil {
		p.log.Error("portal: rendering the handover sheet", "error", err)
		p.fail(w, r, v, http.StatusInternalServerError, "The handover sheet could not be made.")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("Content-Disposition", `attachment; filename="handover-`+v.Program.Site.Name+`.html"`)
	// The sheet is a document of its own (its styles inline), not a page
	// of the portal: no script may run in it.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox")
	http.ServeContent(w, r, "handover.html", time.Time{}, bytes.NewReader(html))
}

// siteNav lists the pages of the site v's role may open.
func siteNav(v *visit) []navItem {
	var out []navItem
	add := func(label, href, page string, right ir.Right) {
		if decide(v.Person.Role, v.Person.User, "", right) == allow {
			out = append(out, navItem{label, href, page})
		}
	}
	add("People", "/portal/site/people", pagePeople, ir.RightSeeSite)
	add("Door log", "/portal/site/doors", pageSiteDoors, ir.RightSeeSite)
	add("Live calls", "/portal/site/calls", pageSiteCalls, ir.RightSeeSite)
	add("All requests", "/portal/site/requests", pageSiteRequests, ir.RightSeeSite)
	add("Operator", "/portal/operator", pageOperator, ir.RightBindDevices)
	return slices.Clip(out)
}
