package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"switchboard/compiler/apply"
	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/compiler/plan"
	"switchboard/compiler/state"
	"switchboard/email"
)

var inviteCommand = &command{
	name:     "invite",
	synopsis: "Send people their current invitation again, changing no password",
	usage: `Usage: switchboard invite [-smtp HOST:PORT] [-smtp-from ADDR] [-app NAME]
                         [-state FILE] [-lockfile=readonly] [-var name=value]...
                         [-var-file FILE]... [DIR] NAME...

Sends each named user (block name) of the site in DIR the invitation apply
sent them: their own login and which app to use, with the passwords the
site key gives them now. No password changes: to give someone new
passwords, raise their rotation and apply.

Only people apply has applied are invited (apply invites newcomers
itself), and only once the devices that ring them are applied: an
invitation held by apply stays held until an apply reaches the device. A
person without an e-mail address gets no mail: their invitation is noted
in the state as "to hand over in person", for the handover sheet.
The state records each invitation sent.

Exit status: 0 every invitation sent (or noted), 1 otherwise, 2 usage
error.`,
	run:   runInvite,
	flags: func() *flagSet { return inviteFlags(&inviteOptions{}) },
}

type inviteOptions struct {
	smtp, smtpFrom, app, state string
	site                       siteOptions
}

func inviteFlags(o *inviteOptions) *flagSet {
	f := newFlagSet("invite")
	f.fs.StringVar(&o.smtp, "smtp", "", "send invitations through the mail server at `HOST:PORT`")
	f.fs.StringVar(&o.smtpFrom, "smtp-from", "", "invitations' sender `ADDRESS` (default switchboard@<site domain>)")
	f.fs.StringVar(&o.app, "app", defaultInvitationApp, "the app `NAME` invitations tell people to install")
	f.fs.StringVar(&o.state, "state", "", "the state `FILE` (default DIR/.switchboard/state.json)")
	o.site.register(f.fs)
	return f
}

func runInvite(c *cli, args []string) int {
	var o inviteOptions
	positional, status, ok := c.parse(inviteFlags(&o), args, 1<<16)
	if !ok {
		return status
	}
	dir := "."
	if len(positional) > 0 {
		if fi, err := os.Stat(positional[0]); err == nil && fi.IsDir() {
			dir, positional = positional[0], positional[1:]
		}
	}
	if len(positional) == 0 {
		return c.usageError(lookup("invite"), "name at least one user to invite")
	}
	path := statePath(dir, o.state)
	cs, status := c.compileSite("invite", dir, compileOptions{site: o.site, needKey: true, state: path})
	if cs == nil {
		return status
	}
	store := state.NewStore(path)
	lock, err := store.Lock("invite")
	if err != nil {
		c.lockError("invite", err)
		return exitFail
	}
	defer lock.Unlock()
	st, _, err := store.Read(cs.program.Site.Name)
	if err != nil {
		fmt.Fprintf(c.stderr, "switchboard invite: %v\n", err)
		return exitFail
	}
	desired := plan.NewDesired(plan.Input{Program: cs.program, Key: cs.key, Invites: plan.Invites(cs.program)})
	var mailer email.Mailer
	if o.smtp != "" {
		mailer = &email.SMTPMailer{Addr: o.smtp, User: c.getenv("SWITCHBOARD_SMTP_USER"), Password: c.getenv("SWITCHBOARD_SMTP_PASSWORD")}
	}
	mo := apply.MailOptions{From: o.smtpFrom, App: o.app, Now: time.Now()}
	if s := cs.cfg.Site(); s != nil && s.Installer != nil {
		mo.Installer, mo.InstallerLogin = s.Installer.Company.Value, s.Installer.Email.Value
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st2 := c.styleFor(c.stdout)
	failed := 0
	for _, name := range positional {
		line, recorded, err := invite(ctx, cs.program, cs.key, st, desired, mailer, mo, name)
		if err != nil {
			failed++
			fmt.Fprintf(c.stdout, "  %s user %q: %v\n", st2.paint(ansiRed, "✗"), name, err)
			continue
		}
		if recorded != nil {
			st.Put(*recorded)
			if err := store.Write(st); err != nil {
				fmt.Fprintf(c.stderr, "switchboard invite: %v\n", err)
				return exitFail
			}
		}
		fmt.Fprintf(c.stdout, "  %s user %q: %s\n", st2.paint(ansiGreen, "✓"), name, line)
	}
	if failed > 0 {
		return exitFail
	}
	return exitOK
}

// invite sends (or notes) one person's current invitation and returns
// what to say, and the state object to record.
func invite(ctx context.Context, program *ir.Program, key credentials.Key, st *state.State, desired *plan.Desired, mailer email.Mailer, mo apply.MailOptions, name string) (string, *state.Object, error) {
	addr := string(plan.KindUser) + "." + name
	want := desired.Object(addr)
	if want == nil {
		return "", nil, fmt.Errorf("the site has no such user")
	}
	have := st.Object(addr)
	if have == nil || (have.InProgress && len(have.Attributes) == 0) {
		return "", nil, fmt.Errorf("not applied yet: \"switchboard apply\" invites them")
	}
	invitation := want.Attributes[plan.AttrInvitation]
	if invitation == "" {
		return "", nil, fmt.Errorf("gets no invitation: send_credentials is not set")
	}
	if held := apply.HeldBy(program, st, plan.Change{Address: addr, Kind: plan.KindUser, Name: name, After: want}); held != "" {
		return "", nil, fmt.Errorf("held: %s; apply sends it once the device is reached", held)
	}
	rec := *have
	rec.Attributes = make(map[string]string, len(have.Attributes))
	for k, v := range have.Attributes {
		rec.Attributes[k] = v
	}
	rec.Attributes[plan.AttrInvitation] = invitation
	if invitation == plan.InvitationInPerson {
		return "no e-mail address: the invitation is to hand over in person (noted for the handover sheet)", &rec, nil
	}
	if mailer == nil {
		return "", nil, fmt.Errorf("no mail server configured (-smtp)")
	}
	to := plan.InvitationTo(invitation)
	m, err := apply.InvitationMail(program, key, name, to, mo)
	if err == nil {
		err = mailer.Send(ctx, m)
	}
	if err != nil {
		return "", nil, fmt.Errorf("not sent: %w", err)
	}
	return "invitation sent again to " + to + " (no password changed)", &rec, nil
}
