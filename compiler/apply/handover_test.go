package apply_test

import (
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/apply"
	"switchboard/compiler/credentials"
	"switchboard/compiler/handover"
	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/compiler/plan"
	"switchboard/compiler/state"
	"switchboard/email"
	"switchboard/email/emailtest"
)

// harbourOwnedBy is Harbour View owned by the installer (owns_site), or by
// Mary when the installer has handed it over.
func harbourOwnedBy(installer bool) *ir.Program {
	p := irtest.HarbourView()
	p.Site.Installer = &ir.Installer{Company: "Dublin Door Systems", Email: "support@dds.example", OwnsSite: installer}
	p.Users = append([]ir.User(nil), p.Users...)
	for i := range p.Users {
		if p.Users[i].Role == "owner" && installer {
			p.Users[i].Role = "user"
		}
	}
	return p
}

// An apply whose plan moves ownership records the handover in the state
// (from, to, when, plan hash) and mails the new owner the sheet; the
// plan opens with the callout; a later plan has no handover.
func TestHandoverRecordedAndMailed(t *testing.T) {
	t.Parallel()
	serve := startServe(t)
	mb := emailtest.Start(t)
	before := newSite(t, harbourOwnedBy(true), nil)
	if res := before.apply(t, func(o *apply.Options) { o.Server = serve.server(t) }); res.Handover != nil {
		t.Fatalf("the first apply hands over: %+v", res.Handover)
	}

	after := newSite(t, harbourOwnedBy(false), nil)
	after.store = before.store
	pl, _ := after.plan(t)
	if pl.Handover == nil {
		t.Fatal("the plan does not see the handover")
	}
	if got, want := pl.Handover.Callout(), "Ownership passes from the installer (Dublin Door Systems) to Mary Byrne"; got != want {
		t.Errorf("callout %q, want %q", got, want)
	}
	now := time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC)
	res := after.apply(t, func(o *apply.Options) {
		o.Server = serve.server(t)
		o.Mailer = &email.SMTPMailer{Addr: mb.Addr}
		o.From = "noreply@harbour-view.example.net"
		o.Now = func() time.Time { return now }
		o.SheetKey = handover.KeyInfo{Location: ".switchboard/site.key", Fingerprint: after.k.Fingerprint()}
	})
	want := &apply.HandoverOutcome{Callout: pl.Handover.Callout(), Recorded: true, Sheet: "sent to mary@example.com"}
	if diff := cmp.Diff(want, res.Handover); diff != "" {
		t.Errorf("handover (-want +got)\n%s", diff)
	}
	st, _, err := after.store.Read("")
	if err != nil {
		t.Fatal(err)
	}
	wantRec := []state.Handover{{From: plan.OwnerInstaller, FromName: "Dublin Door Systems", To: "user.mary", ToName: "Mary Byrne",
		At: now, PlanHash: pl.Hash, Sheet: "sent to mary@example.com"}}
	if diff := cmp.Diff(wantRec, st.Handovers); diff != "" {
		t.Errorf("state handovers (-want +got)\n%s", diff)
	}
	mail := mb.Received()
	if len(mail) != 1 || mail[0].To[0] != "mary@example.com" {
		t.Fatalf("mail: %+v", mail)
	}
	text, page := mailParts(t, mail[0].Data)
	for _, w := range []string{"Ownership passes from the installer (Dublin Door Systems) to Mary Byrne", "Handover sheet: ", "front-gate", after.k.Fingerprint()} {
		if !strings.Contains(text, w) {
			t.Errorf("the handover mail's text lacks %q", w)
		}
	}
	for _, w := range []string{"<!DOCTYPE html>", "size: A4;", "front-gate", after.k.Fingerprint()} {
		if !strings.Contains(page, w) {
			t.Errorf("the attached sheet lacks %q", w)
		}
	}
	for _, c := range credentials.List(after.p, after.k) {
		if strings.Contains(text+page, c.Password) {
			t.Errorf("the handover mail holds the password of %s", c.Name)
		}
	}
	if strings.Contains(text+page, after.k.Encode()) {
		t.Error("the handover mail holds the site key")
	}
	if pl, _ := after.plan(t); pl.Handover != nil || pl.HasChanges() {
		t.Errorf("after the handover the plan still has %v %v", pl.Handover, pl.Summary)
	}
}

// Without a mail server the handover is still recorded, and apply says
// how the sheet reaches the owner.
func TestHandoverWithoutMailServer(t *testing.T) {
	t.Parallel()
	serve := startServe(t)
	before := newSite(t, harbourOwnedBy(true), nil)
	before.apply(t, func(o *apply.Options) { o.Server = serve.server(t) })
	after := newSite(t, harbourOwnedBy(false), nil)
	after.store = before.store
	res := after.apply(t, func(o *apply.Options) { o.Server = serve.server(t) })
	if res.Handover == nil || !res.Handover.Recorded || !strings.HasPrefix(res.Handover.Sheet, "not sent: no mail server") {
		t.Errorf("handover %+v", res.Handover)
	}
}

// A reload that fails leaves the site unapplied: the handover is not
// recorded, and the next plan still shows it.
func TestHandoverNotRecordedWhenSiteNotApplied(t *testing.T) {
	t.Parallel()
	serve := startServe(t)
	before := newSite(t, harbourOwnedBy(true), nil)
	before.apply(t, func(o *apply.Options) { o.Server = serve.server(t) })
	after := newSite(t, harbourOwnedBy(false), nil)
	after.store = before.store
	serve.failReload = true
	res := after.apply(t, func(o *apply.Options) { o.Server = serve.server(t) })
	if res.Handover == nil || res.Handover.Recorded {
		t.Errorf("handover %+v", res.Handover)
	}
	if pl, _ := after.plan(t); pl.Handover == nil {
		t.Error("the handover is gone from the next plan")
	}
}

// mailParts returns the decoded text and the first attachment of a
// multipart mail.
func mailParts(t *testing.T, data string) (text, attachment string) {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = p
		switch p.Header.Get("Content-Transfer-Encoding") {
		case "quoted-printable":
			body = quotedprintable.NewReader(p)
		case "base64":
			body = base64.NewDecoder(base64.StdEncoding, p)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			text = string(b)
		} else if attachment == "" {
			attachment = string(b)
		}
	}
	return text, attachment
}
