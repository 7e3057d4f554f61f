package apply

import (
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"switchboard/compiler/handover"
	"switchboard/compiler/ir"
	"switchboard/compiler/plan"
	"switchboard/compiler/state"
	"switchboard/email"
)

// HandoverOutcome is what an apply did about a plan's change of owner.
type HandoverOutcome struct {
	// Callout is the plan's sentence ("Ownership passes from …").
	Callout string `json:"callout"`
	// Recorded says the handover is in the state.
	Recorded bool `json:"recorded"`
	// Sheet is what became of the handover sheet: "sent to ADDR", or "not
	// sent: why".
	Sheet string `json:"sheet"`
}

// handOver records the plan's change of owner in the state, once the site
// object that carries the owner was applied, and mails the new owner the
// handover sheet made from the state as this apply leaves it. It runs
// last, so the sheet shows this apply's devices and invitations.
func (r *runner) handOver(ctx context.Context) {
	h := r.o.Plan.Handover
	if h == nil {
		return
	}
	out := &HandoverOutcome{Callout: h.Callout()}
	r.res.Handover = out
	if !r.siteApplied() {
		out.Sheet = "not sent: the site's change was not applied, so the handover is not recorded; apply again"
		return
	}
	out.Sheet = r.mailSheet(ctx, h)
	rec := state.Handover{From: h.From, FromName: h.FromName, To: h.To, ToName: h.ToName,
		At: r.o.Now().UTC().Truncate(time.Second), PlanHash: r.o.Plan.Hash, Sheet: out.Sheet}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.o.State.Handovers = append(r.o.State.Handovers, rec)
	if err := r.o.Store.Write(r.o.State); err != nil {
		r.o.State.Handovers = r.o.State.Handovers[:len(r.o.State.Handovers)-1]
		if r.failed == nil {
			r.failed = err
		}
		return
	}
	out.Recorded = true
}

// siteApplied reports whether this apply recorded the site object.
func (r *runner) siteApplied() bool {
	for i, c := range r.o.Plan.Changes {
		if c.Kind == plan.KindSite && c.Action != plan.Delete {
			return r.res.Steps[i].Done
		}
	}
	return false
}

// mailSheet sends the sheet to the new owner, if the roles table lets
// them receive it, and says what happened.
func (r *runner) mailSheet(ctx context.Context, h *plan.Handover) string {
	p := r.o.Program
	to, role, name := "", ir.RoleOwner, h.ToName
	switch {
	case h.To == plan.OwnerInstaller:
		// owns_site makes the installer the owner.
		if p.Site.Installer != nil {
			to = p.Site.Installer.Email
		}
	case strings.HasPrefix(h.To, "user."):
		u := p.User(strings.TrimPrefix(h.To, "user."))
		if u == nil {
			return "not sent: " + h.To + " is not in the compiled site"
		}
		to, role, name = firstNonEmpty(u.NotifyEmail, u.Email), ir.Role(u.Role), firstNonEmpty(u.DisplayName, u.Name)
	}
	if !ir.Can(role, ir.RightReceiveHandover) {
		return fmt.Sprintf("not sent: %s's role %q may not receive the handover (see docs/roles.md)", name, role)
	}
	if to == "" {
		return "not sent: " + name + " has no e-mail address; print the sheet (switchboard handover -format html) and hand it over in person"
	}
	if r.o.Mailer == nil {
		return "not sent: no mail server configured (-smtp); print the sheet with switchboard handover and give it to " + name
	}
	sheet := handover.New(handover.Input{Program: p, State: r.o.State, Key: r.o.SheetKey, Now: r.o.Now()})
	m, err := composeSheet(sheet, h, r.from(), to, name, r.o.Now())
	if err != nil {
		return "not sent: " + err.Error()
	}
	if err := r.o.Mailer.Send(ctx, m); err != nil {
		return "not sent: " + err.Error()
	}
	return "sent to " + to
}

func (r *runner) from() string {
	if r.o.From != "" {
		return r.o.From
	}
	return "switchboard@" + r.o.Program.Site.Domain
}

// composeSheet writes the mail that hands the site over: the sheet as
// text, and as the HTML page (to print) attached.
func composeSheet(s *handover.Sheet, h *plan.Handover, from, to, name string, now time.Time) (email.Message, error) {
	var text, page bytes.Buffer
	first, _, _ := strings.Cut(name, " ")
	fmt.Fprintf(&text, "Hello %s,\n\n%s: you are now the owner of %s.\nThis is its handover sheet; the attached page prints on A4. It holds\nno password.\n\n", first, h.Callout(), s.Site.DisplayName)
	if err := s.Text(&text); err != nil {
		return email.Message{}, err
	}
	if err := s.HTML(&page); err != nil {
		return email.Message{}, err
	}
	m, err := email.Letter{
		From:        mail.Address{Name: s.Site.DisplayName, Address: from},
		To:          mail.Address{Name: name, Address: to},
		Subject:     "Handover of " + s.Site.DisplayName + ": you are now its owner",
		Date:        now,
		Text:        text.String(),
		Attachments: []email.Attachment{{Name: "handover-" + s.Site.Name + ".html", ContentType: "text/html", Data: page.Bytes()}},
	}.Compose()
	if err != nil {
		return email.Message{}, fmt.Errorf("handover sheet: %w", err)
	}
	return m, nil
}
