package interop

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"switchboard/compiler/apply"
	"switchboard/compiler/credentials"
	"switchboard/compiler/handover"
	"switchboard/compiler/ir"
	"switchboard/compiler/state"
	"switchboard/email"
	"switchboard/email/emailtest"
	"switchboard/runtime/interop/peer"
	"switchboard/runtime/portal"
	"switchboard/simulate/device"
)

// TestPortalAdminInBrowser drives the site's pages in headless Chromium:
// the owner (alice) resends bob's invitation from the people page and a
// real SMTP server on loopback receives apply's invitation mail; the same
// form without its CSRF token is refused and sends nothing; a resident
// (bob) opening the people page and the owner opening the operator view
// are refused; the installer's operator view receives a registration
// live over server-sent events. Pages are photographed at a phone's and a
// desktop's width, into PORTAL_SHOTS_DIR when set.
func TestPortalAdminInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	exe := peer.Require(t, "chromium", "apt-get install -y chromium (make peers)")
	mb := emailtest.Start(t)
	key, err := credentials.KeyFromBytes(siteKey)
	if err != nil {
		t.Fatal(err)
	}
	ps := &mailingSite{key: key, mailer: &email.SMTPMailer{Addr: mb.Addr}}
	s := startServer(t, serverConfig{voicemail: true, portalSite: ps})
	ps.prog = s.prog

	base := servePortal(t, s)
	tctx, do := browser(t, exe, 90*time.Second)
	status := func(url string) int {
		t.Helper()
		res, err := chromedp.Run(tctx, chromedp.NavigateResponse(url))
		if err != nil {
			t.Fatal(err)
		}
		return int(res.Status)
	}
	login := func(email, password string) {
		t.Helper()
		do("logging in as "+email,
			chromedp.Navigate(base+"/portal/login"),
			chromedp.WaitVisible(chromedp.CSS("#email")),
			chromedp.SendKeys(chromedp.CSS("#email"), email),
			chromedp.SendKeys(chromedp.CSS("#password"), password),
			chromedp.Submit(chromedp.CSS("#password")),
			chromedp.WaitVisible(chromedp.CSS(`nav a[aria-current="page"]`)),
		)
	}
	logout := func() {
		t.Helper()
		do("logging out", chromedp.Click(chromedp.CSS(".logout button")), chromedp.WaitVisible(chromedp.CSS("#email")))
	}
	shots := newShots(t)

	// A resident: the site's pages are refused.
	bobPW, _ := s.secrets.PortalPassword("bob")
	login("bob@interop.example", bobPW)
	for _, p := range []string{"/portal/site/people", "/portal/site/doors", "/portal/operator", "/portal/site/handover"} {
		if got := status(base + p); got != http.StatusForbidden {
			t.Errorf("bob opening %s: %d, want 403", p, got)
		}
	}
	shots.capture(tctx, "site-refused")
	shots.take(tctx, base+"/portal/u/bob/requests", "requests")
	logout()

	// The owner resends bob's invitation.
	alicePW, _ := s.secrets.PortalPassword("alice")
	login("alice@interop.example", alicePW)
	shots.take(tctx, base+"/portal/site/people", "people")
	resend := `form[action="/portal/site/people/bob/invite"]`
	res, err := chromedp.RunResponse(tctx, chromedp.Evaluate[chromedp.Void](`(() => {
		const f = document.querySelector('`+resend+`');
		f.querySelector("input[name=csrf]").remove();
		f.submit();
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusForbidden {
		t.Errorf("the resend form without its CSRF token: %d, want 403", res.Status)
	}
	if n := len(mb.Received()); n != 0 {
		t.Fatalf("%d mails after the refused resend, want 0", n)
	}
	do("resending bob's invitation",
		chromedp.Navigate(base+"/portal/site/people"),
		chromedp.Click(chromedp.CSS(resend+" button")),
		chromedp.WaitVisible(chromedp.CSS(`p.ok[role=status]`)),
	)
	shots.capture(tctx, "people-resent")
	mails := mb.Received()
	if len(mails) != 1 || len(mails[0].To) != 1 || mails[0].To[0] != "bob@interop.example" {
		t.Fatalf("mails after the resend: %+v", mails)
	}
	if !strings.Contains(mails[0].Data, "bob@interop.example") {
		t.Errorf("the invitation does not carry bob's portal login:\n%s", mails[0].Data)
	}
	// A ring test: bob's phone rings, he answers and keys 5 once he hears
	// the prompt; the page says who answered.
	phone := s.device("app.bob")
	phone.SetAnswer(device.Pickup, 0)
	do("starting a ring test of bob", chromedp.Navigate(base+"/portal/site/people"),
		chromedp.Click(chromedp.CSS(`form[action="/portal/site/people/bob/ring"] button`)))
	rctx, cancelRing := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancelRing()
	in, err := phone.WaitIncoming(rctx, func(in []device.Incoming) bool { return len(in) == 1 && in[0].Answered })
	if err != nil {
		t.Fatalf("bob's phone was not rung: %v", err)
	}
	call := phone.Answered(in[0].CallID)
	if call == nil {
		t.Fatal("bob's phone has no established call")
	}
	if err := call.WaitAudio(rctx, 1); err != nil {
		t.Fatalf("bob heard no prompt: %v", err)
	}
	// The POST answered at once with the test's page, which refreshes
	// itself with the progress until the test ends.
	do("waiting for the ring test's progress", chromedp.WaitVisible(chromedp.CSS(`#ring-result[data-state="running"]`)),
		// Selectors, not the text: the page may be refreshing under a read.
		chromedp.WaitVisible(chromedp.CSS(`#ring-result li[data-step="start"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#ring-result li[data-step="answered"]`)))
	shots.capture(tctx, "ring-test-running")
	// The server may confirm at the digit's first packet and hang up
	// while the phone still sends its end packets: a send on the closed
	// call is no failure then.
	if err := call.SendDTMF("5"); err != nil && !call.Ended() {
		t.Fatal(err)
	}
	do("waiting for the ring test's result", chromedp.WaitVisible(chromedp.CSS(`#ring-result[data-state="done"]`)))
	ring, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("#ring-result")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ring, "Answered by bob (app)") || !strings.Contains(ring, "Confirmed") {
		t.Errorf("the ring test's result:\n%s", ring)
	}
	shots.capture(tctx, "ring-test")
	if got := status(base + "/portal/operator"); got != http.StatusForbidden {
		t.Errorf("the owner opening the operator view: %d, want 403", got)
	}
	// The gate opened by bob shows in the site's door log.
	openDoor(t, rctx, s, phone)
	doors := pageShowing(t, tctx, s, base+"/portal/site/doors", "gate")
	shots.take(tctx, base+"/portal/site/doors", "site-doors")
	if !strings.Contains(doors, "gate") || !strings.Contains(doors, "opened") {
		t.Errorf("the site's door log does not show the gate opened:\n%s", doors)
	}
	shots.take(tctx, base+"/portal/site/calls", "site-calls")
	do("desktop viewport", chromedp.EmulateViewport(1280, 800))
	shots.take(tctx, base+"/portal/site/people", "people-desktop")
	// A change asked for: recorded for the installer, the site untouched.
	do("asking for a change",
		chromedp.Navigate(base+"/portal/site/requests"),
		chromedp.SetValue(chromedp.CSS("#kind"), "rename"),
		chromedp.SetValue(chromedp.CSS("#user"), "erin"),
		chromedp.SendKeys(chromedp.CSS("#first"), "Erin"),
		chromedp.SendKeys(chromedp.CSS("#last"), "O'Neill"),
		chromedp.Click(chromedp.CSS(`form[action="/portal/site/requests"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`p.ok[role=status]`)),
	)
	reqs, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("main table")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(reqs, "rename erin: Erin O'Neill") || !strings.Contains(reqs, "alice@interop.example") {
		t.Errorf("the recorded request is not listed:\n%s", reqs)
	}
	shots.capture(tctx, "site-requests-desktop")
	logout()

	// The installer's operator view: a registration arrives live.
	installerPW, ok := s.secrets.InstallerPortalPassword()
	if !ok {
		t.Fatal("no installer portal password")
	}
	login(s.prog.Site.Installer.Email, installerPW)
	do("opening the operator view", chromedp.Navigate(base+"/portal/operator"),
		chromedp.WaitVisible(chromedp.CSS("#stream-state")),
		chromedp.Poll[chromedp.Void](`document.getElementById("stream-state").textContent.startsWith("Live")`, chromedp.WithPollingTimeout(20*time.Second)),
	)
	s.device("app.carol")
	do("waiting for the live event",
		chromedp.WaitVisible(chromedp.CSS(`#events li.event`)),
	)
	text, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("#events")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "registered") || !strings.Contains(text, "app.carol") {
		t.Errorf("the operator's live events do not show carol's registration:\n%s", text)
	}
	shots.capture(tctx, "operator-desktop")
	do("phone viewport", chromedp.EmulateViewport(390, 844))
	shots.capture(tctx, "operator")
}

// mailingSite answers the portal's site pages as serve's does: the
// invitation is apply's mail, sent through package email's SMTP client.
// It keeps no state: every person with an e-mail address counts as
// invited.
type mailingSite struct {
	prog   *ir.Program
	key    credentials.Key
	mailer email.Mailer
}

func (m *mailingSite) Invitations() (map[string]string, error) {
	out := map[string]string{}
	for _, u := range m.prog.Users {
		if u.Email != "" {
			out[u.Name] = "sent to " + u.Email
		}
	}
	return out, nil
}

func (m *mailingSite) ResendInvitation(ctx context.Context, user string) (string, error) {
	u := m.prog.User(user)
	msg, err := apply.InvitationMail(m.prog, m.key, user, u.Email, apply.MailOptions{App: "Linphone", Now: time.Now()})
	if err != nil {
		return "", err
	}
	if err := m.mailer.Send(ctx, msg); err != nil {
		return "", err
	}
	return "invitation sent again to " + u.Email + " (no password changed)", nil
}

// Commissioning: this site was never commissioned.
func (m *mailingSite) Commissioning() (*portal.Checklist, error) { return nil, nil }

func (m *mailingSite) HandoverHTML() ([]byte, error) {
	var b bytes.Buffer
	err := handover.New(handover.Input{Program: m.prog, State: state.New(m.prog.Site.Name), Key: handover.KeyInfo{Fingerprint: m.key.Fingerprint()}, Now: time.Now()}).HTML(&b)
	return b.Bytes(), err
}
