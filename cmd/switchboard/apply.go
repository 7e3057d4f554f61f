package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"switchboard/compiler/apply"
	"switchboard/compiler/plan"
	"switchboard/email"
)

var applyCommand = &command{
	name:     "apply",
	synopsis: "Apply the plan: provisioning files, device pushes, server reload, invitations",
	usage: `Usage: switchboard apply [-auto-approve] [-json] [-o OUT] [-serve ADDR]
                         [-serve-token-file FILE] [-device NAME=URL]...
                         [-devices FILE] [-smtp HOST:PORT]
                         [-smtp-from ADDR] [-app NAME] [-parallelism N] [-timeout D]
                         [-verify-wait D] [-state FILE] [-lock=false] [-target ADDR]... [-refresh]
                         [-server HOST] [-port N]
                         [-transport udp|tcp|tls] [-provision-url URL]
                         [-lockfile=readonly] [-var name=value]... [-var-file FILE]...
                         [DIR | PLANFILE]

Makes the site's devices, server and people match the site in DIR (default:
the current directory): it shows the plan, asks for confirmation, then

  1. writes the provisioning directory serve hands out (OUT, default
     DIR/.switchboard/build: dialplan.json and provision/), withdrawing the
     files and logins of removed devices and users at once;
  2. reloads the running server (-serve, its -admin address, with its
     admin token: SWITCHBOARD_ADMIN_TOKEN, else -serve-token-file, else
     DIR/.switchboard/admin-token);
  3. pushes each device that has a management API and an address (-device,
     -devices; Akuvox: /api/config/set with digest authentication, and a
     monitor's contact list through /api/contact), reads the settings back
     and gives a verdict: already set, set and verified, did not stick,
     unsupported firmware or unreachable; the other devices are told to
     fetch their files through the server (check-sync), and Yealink and
     Grandstream phones with an address are then read back through their
     web API for up to -verify-wait (default 60s);
     each device ends with one of three verdicts:
       applied and verified   pushed or fetched, and read back (with -device)
       applied, not verified  told by the server to fetch its files; nothing
                              reads them back (-serve without an address)
       not reached            not known to have its configuration: no
                              server to tell it (no -serve), or the push or
                              check-sync failed; not recorded, so the next
                              plan and apply show it again
  4. applies the users they serve and mails invitations to those with
     send_credentials (-smtp): their own login and which app to use;
  5. removes what the site no longer has.

A failed device does not stop the others. The state records exactly what
succeeded, after every step, so running apply again finishes the job and an
apply stopped at any point loses nothing.

-refresh reads the applied devices back first, as plan -refresh does, and
applies a device whose settings changed on it again.

-target ADDR (repeatable, as for plan) applies only the changes of that
object and of what depends on it: only they are pushed, recorded and mailed.
The provisioning directory and the dial plan serve loads are one, so they
are still published whole; the other changes stay in the next plan.

PLANFILE is a plan saved with "switchboard plan -out"; it is applied without
asking, and refused when the state or the site changed since it was made.
Without -auto-approve, apply asks on a terminal and refuses otherwise.

A devices file has one "NAME URL" per line, as in "gate http://192.0.2.10".
The API login is the URL's user:password, else SWITCHBOARD_DEVICE_USER
(default admin) and SWITCHBOARD_DEVICE_PASSWORD. SWITCHBOARD_SMTP_USER and
SWITCHBOARD_SMTP_PASSWORD log in to the mail server. No password is printed
or written to the state.

Exit status: 0 everything applied (or nothing to do), every device at
least "applied, not verified"; 1 errors, a device not reached or something
else left undone (the summary names each; the next plan shows them again);
2 usage error.`,
	run:   runApply,
	flags: func() *flagSet { return applyFlags(&applyOptions{}) },
}

type applyOptions struct {
	autoApprove, json bool
	out               string
	serve             string
	serveTokenFile    string
	smtp, smtpFrom    string
	app               string
	parallelism       int
	verifyWait        time.Duration
	common            planCommon
}

func applyFlags(o *applyOptions) *flagSet {
	f := newFlagSet("apply")
	f.fs.BoolVar(&o.autoApprove, "auto-approve", false, "apply without asking for confirmation")
	f.fs.BoolVar(&o.json, "json", false, "print the plan and the outcome of every step as JSON")
	f.fs.StringVar(&o.out, "o", "", "write the provisioning directory to `OUT` (default DIR/.switchboard/build)")
	f.fs.StringVar(&o.serve, "serve", "", "admin `ADDR`ess (host:port or URL) of the running \"switchboard serve\": its -admin")
	f.fs.StringVar(&o.serveTokenFile, "serve-token-file", "", "read serve's admin token from `FILE` (default DIR/.switchboard/admin-token; SWITCHBOARD_ADMIN_TOKEN overrides)")
	f.fs.StringVar(&o.smtp, "smtp", "", "send invitations through the mail server at `HOST:PORT`")
	f.fs.StringVar(&o.smtpFrom, "smtp-from", "", "invitations' sender `ADDRESS` (default switchboard@<site domain>)")
	f.fs.StringVar(&o.app, "app", "a SIP app such as Linphone", "the app `NAME` invitations tell people to install")
	f.fs.IntVar(&o.parallelism, "parallelism", 4, "push `N` devices at once")
	f.fs.DurationVar(&o.verifyWait, "verify-wait", 60*time.Second, "how long a phone told to fetch its files may take until its read-back shows them (`D`)")
	o.common.register(f.fs)
	return f
}

func runApply(c *cli, args []string) int {
	var o applyOptions
	f := applyFlags(&o)
	positional, status, ok := c.parse(f, args, 1)
	if !ok {
		return status
	}
	cmd := lookup("apply")
	if o.parallelism < 1 {
		return c.usageError(cmd, "-parallelism must be at least 1")
	}
	if o.json && !o.autoApprove && !(len(positional) == 1 && fileExists(positional[0])) {
		// The question cannot be asked in a JSON document.
		return c.usageError(cmd, "-json needs -auto-approve, or a plan saved with \"switchboard plan -out\"")
	}
	dir := dirArg(positional)
	var saved *planJSON
	if len(positional) == 1 && fileExists(positional[0]) {
		doc, err := readSavedPlan(positional[0])
		if err != nil {
			return c.fail("apply", err)
		}
		var conflict []string
		f.fs.Visit(func(fl *flag.Flag) {
			switch fl.Name {
			case "server", "port", "transport", "provision-url":
				conflict = append(conflict, "-"+fl.Name)
			}
		})
		if len(conflict) > 0 {
			return c.usageError(cmd, "%s come from the saved plan; give them to \"switchboard plan -out\" instead", strings.Join(conflict, ", "))
		}
		if len(o.common.targets) > 0 {
			return c.usageError(cmd, "-target comes from the saved plan; give it to \"switchboard plan -out\" instead")
		}
		o.common.targets = doc.Targets
		saved, dir = doc, relPath(doc.Saved.Dir)
		o.common.lower = lowerFlags{server: doc.Saved.Server, port: doc.Saved.Port, transport: doc.Saved.Transport, provisionURL: doc.Saved.ProvisionURL}
		if o.common.state == "" && doc.Saved.State != "" {
			o.common.state = relPath(doc.Saved.State)
		}
	}
	if _, err := o.common.lower.options(); err != nil {
		return c.usageError(cmd, "%v", err)
	}
	targets, err := o.common.deviceAPIs(c)
	if err != nil {
		return c.usageError(cmd, "%v", err)
	}
	var server apply.Server
	if o.serve != "" {
		s, err := apply.NewHTTPServer(o.serve)
		if err != nil {
			return c.usageError(cmd, "-serve: %v", err)
		}
		if s.Token, err = c.serveToken(dir, o.serveTokenFile); err != nil {
			return c.fail("apply", err)
		}
		server = s
	}
	var mailer email.Mailer
	if o.smtp != "" {
		mailer = &email.SMTPMailer{Addr: o.smtp, User: c.getenv("SWITCHBOARD_SMTP_USER"), Password: c.getenv("SWITCHBOARD_SMTP_PASSWORD")}
	}

	pr, status := c.preparePlan("apply", dir, &o.common, "apply", true)
	if pr == nil {
		return status
	}
	defer pr.unlock(c, "apply")
	for name := range targets {
		if pr.site.program.Device(name) == nil {
			return c.fail("apply", fmt.Errorf("the site has no device %q (given with -device or -devices)", name))
		}
	}
	if saved != nil {
		if pr.state.Serial == 0 {
			// Nothing applied yet: the new state continues the plan's
			// lineage.
			pr.state.Lineage = saved.State.Lineage
		}
		if err := plan.CheckSaved(saved.ref(), pr.desired, pr.state); err != nil {
			return c.fail("apply", staleError{err: err, hint: hint(dir, "plan", "-out", positional[0])})
		}
	}

	if !o.json {
		if o.common.refresh {
			writeDriftText(c.stdout, pr.drift, c.styleFor(c.stdout))
		}
		writePlanText(c.stdout, pr.plan, c.styleFor(c.stdout))
		if pr.plan.HasChanges() {
			writeTargetApplyNote(c.stdout, pr.plan)
		}
	}
	if !pr.plan.HasChanges() {
		if o.json {
			writeApplyJSON(c.stdout, pr.plan, pr.drift, nil)
		}
		return exitOK
	}
	if saved == nil && !o.autoApprove {
		if !isTerminal(c.stdin) {
			fmt.Fprintf(c.stderr, "switchboard apply: not applying without confirmation: standard input is not a terminal.\nReview the plan and run again with -auto-approve, or save it with \"%s\" and run \"switchboard apply FILE\".\n", hint(dir, "plan", "-out", "FILE"))
			return exitFail
		}
		fmt.Fprintf(c.stdout, "\nDo you want to apply these changes?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ")
		line, _ := bufio.NewReader(c.stdin).ReadString('\n')
		if strings.TrimSpace(line) != "yes" {
			fmt.Fprintln(c.stdout, "\nApply cancelled: nothing was changed.")
			return exitFail
		}
	}

	out := o.out
	if out == "" {
		out = filepath.Join(dir, ".switchboard", "build")
	}
	cs := pr.site
	installer, installerLogin := "", ""
	if s := cs.cfg.Site(); s != nil && s.Installer != nil {
		installer, installerLogin = s.Installer.Company.Value, s.Installer.Email.Value
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	line := c.newProgress("changes", len(pr.plan.Changes))
	outStyle := c.styleFor(c.stdout)
	res, err := apply.Run(ctx, apply.Options{
		Plan: pr.plan, Desired: pr.desired, Program: cs.program, Bundle: cs.bundle, Key: cs.key,
		State: pr.state, Store: pr.store,
		Publish:        func() error { return writeBuild(out, cs.program, cs.bundle) },
		Server:         server,
		Targets:        targets,
		Mailer:         mailer,
		From:           o.smtpFrom,
		App:            o.app,
		Installer:      installer,
		InstallerLogin: installerLogin,
		SheetKey:       sheetKey(dir, cs.key),
		Parallelism:    o.parallelism,
		DeviceTimeout:  o.common.timeout,
		VerifyWait:     o.verifyWait,
		Progress:       func(s apply.Step) { line.step(stepText(s)) },
	})
	line.clear()
	if err != nil {
		if res == nil {
			return c.fail("apply", err)
		}
		// What was done is still reported, below.
		fmt.Fprintf(c.stderr, "switchboard apply: %v\n", err)
	}
	if o.json {
		writeApplyJSON(c.stdout, pr.plan, pr.drift, res)
	} else {
		writeApplyText(c.stdout, res, filepath.ToSlash(out), outStyle, dir)
		writeHandoverOutcome(c.stdout, res, outStyle)
	}
	if err != nil || !res.Complete() {
		return exitFail
	}
	return exitOK
}

func stepMark(s apply.Step, st style) string {
	if s.Done && !strings.HasPrefix(s.Invitation, "not sent") {
		return st.paint(ansiGreen, "✓")
	}
	return st.paint(ansiRed, "✗")
}

func stepText(s apply.Step) string {
	t := fmt.Sprintf("%s %q: %s", s.Kind, s.Name, s.Outcome)
	if s.Reach != "" {
		t = fmt.Sprintf("%s %q %s: %s", s.Kind, s.Name, s.Reach, s.Outcome)
	}
	switch {
	case len(s.Offboarding) > 0:
		// One line per step of the offboarding, under the user's.
		t += ":\n      - " + strings.Join(s.Offboarding, "\n      - ")
	case s.Detail != "":
		t += " (" + s.Detail + ")"
	}
	if s.Invitation != "" {
		t += "; invitation " + s.Invitation
	}
	return t
}

// writeApplyText prints what every step did, then a summary whose hints
// name the site in dir.
func writeApplyText(w io.Writer, r *apply.Result, out string, s style, dir string) {
	fmt.Fprintf(w, "\nProvisioning directory: %s/\n", out)
	fmt.Fprintf(w, "Server reload: %s\n\n", r.Reload)
	done, invited, notInvited, unverified, held, inPerson := 0, 0, 0, 0, 0, 0
	var notReached, failed []string
	for _, st := range r.Steps {
		fmt.Fprintf(w, "  %s %s\n", stepMark(st, s), stepText(st))
		switch {
		case st.Done:
			done++
		case st.Reach == apply.NotReached:
			notReached = append(notReached, fmt.Sprintf("%s (%s)", st.Name, st.Outcome))
		default:
			failed = append(failed, fmt.Sprintf("%s (%s)", st.Name, st.Outcome))
		}
		if st.Reach == apply.Unverified {
			unverified++
		}
		switch {
		case strings.HasPrefix(st.Invitation, "sent"):
			invited++
		case strings.HasPrefix(st.Invitation, "not sent"):
			notInvited++
		case strings.HasPrefix(st.Invitation, "held"):
			held++
		case strings.HasPrefix(st.Invitation, "to hand over"):
			inPerson++
		}
	}
	fmt.Fprintln(w)
	if r.Complete() {
		msg := fmt.Sprintf("%s applied", plural(done, "change"))
		if invited > 0 {
			msg += fmt.Sprintf(", %s sent", plural(invited, "invitation"))
		}
		if inPerson > 0 {
			msg += fmt.Sprintf(", %s to hand over in person", plural(inPerson, "invitation"))
		}
		if unverified > 0 {
			whose := "their"
			if unverified == 1 {
				whose = "its"
			}
			msg += fmt.Sprintf("; %s not verified (told to fetch %s files; nothing reads them back)", plural(unverified, "device"), whose)
		}
		fmt.Fprintf(w, "%s %s.\n", s.paint(ansiBold+ansiGreen, "Apply complete!"), msg)
		return
	}
	sort.Strings(notReached)
	sort.Strings(failed)
	msg := fmt.Sprintf("%d of %s applied", done, plural(len(r.Steps), "change"))
	if len(notReached) > 0 {
		msg += fmt.Sprintf("; %s not reached: %s", plural(len(notReached), "device"), strings.Join(notReached, ", "))
	}
	if len(failed) > 0 {
		msg += "; not done: " + strings.Join(failed, ", ")
	}
	if notInvited > 0 {
		msg += fmt.Sprintf("; %s not sent", plural(notInvited, "invitation"))
	}
	if held > 0 {
		msg += fmt.Sprintf("; %s held until the devices that ring those people are reached", plural(held, "invitation"))
	}
	if unverified > 0 {
		msg += fmt.Sprintf("; %s not verified", plural(unverified, "device"))
	}
	fmt.Fprintf(w, "%s %s.\nEverything that succeeded is recorded; fix the rest and run \"%s\" again: \"%s\" shows what is left.\n", s.paint(ansiBold+ansiRed, "Apply incomplete:"), msg, hint(dir, "apply"), hint(dir, "plan"))
}

type applyJSON struct {
	FormatVersion string     `json:"format_version"`
	Plan          *planJSON  `json:"plan"`
	Reload        string     `json:"reload,omitempty"`
	Steps         []stepJSON `json:"steps"`
	Complete      bool       `json:"complete"`
	// Handover is what the apply did about a change of owner.
	Handover *apply.HandoverOutcome `json:"handover,omitempty"`
}

type stepJSON struct {
	Address    string `json:"address"`
	Action     string `json:"action"`
	Outcome    string `json:"outcome"`
	Detail     string `json:"detail,omitempty"`
	Done       bool   `json:"done"`
	Invitation string `json:"invitation,omitempty"`
	// Reach is a device's verdict: "applied and verified", "applied, not
	// verified" or "not reached".
	Reach string `json:"reach,omitempty"`
}

func writeApplyJSON(w io.Writer, p *plan.Plan, drift []apply.Drift, r *apply.Result) {
	doc := applyJSON{FormatVersion: planFormatVersion, Plan: planDocument(p), Steps: []stepJSON{}, Complete: true}
	doc.Plan.Drift = driftDocument(drift)
	if r != nil {
		doc.Reload = r.Reload
		doc.Complete = r.Complete()
		doc.Handover = r.Handover
		for _, s := range r.Steps {
			doc.Steps = append(doc.Steps, stepJSON{s.Address, string(s.Action), s.Outcome, s.Detail, s.Done, s.Invitation, string(s.Reach)})
		}
	}
	data, _ := json.MarshalIndent(doc, "", "  ")
	w.Write(append(data, '\n'))
}

func isTerminal(x any) bool {
	f, ok := x.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// relPath makes an absolute path relative to the working directory when it
// lies below it, for messages.
func relPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// serveToken is the admin token apply presents to serve:
// SWITCHBOARD_ADMIN_TOKEN, else the one in file, else the one serve made
// for the site in dir (none when there is no such file: serve then says
// what it wants).
func (c *cli) serveToken(dir, file string) (string, error) {
	if t := c.getenv("SWITCHBOARD_ADMIN_TOKEN"); t != "" {
		return t, nil
	}
	explicit := file != ""
	if !explicit {
		file = defaultAdminTokenFile(dir)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return "", fmt.Errorf("serve's admin token: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}

// staleError is a saved plan that no longer matches the site or the state,
// with the command that makes a new one.
type staleError struct {
	err  error
	hint string
}

func (e staleError) Error() string {
	return fmt.Sprintf("%v.\nMake a new plan with \"%s\", review it, and apply that.", e.err, e.hint)
}

func (e staleError) Unwrap() error { return e.err }
