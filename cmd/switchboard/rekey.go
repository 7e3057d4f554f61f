package main

import (
	"fmt"
	"path/filepath"
	"time"

	"switchboard/compiler/credentials"
)

var rekeyCommand = &command{
	name:     "rekey",
	synopsis: "Replace the site key (every password changes), keeping the old one for a grace window",
	usage: `Usage: switchboard rekey [-grace DURATION] [-force] [DIR]

Creates a new site key for the site in DIR (default: the current directory)
and keeps the one it replaces in DIR/.switchboard/site.key.previous for the
grace window (-grace, default 168h: a week). Every password and PIN of the
site is derived from the key, so every one of them changes: run it when the
site changes hands, or a contractor who held the key leaves.

Then "switchboard plan" shows every password changing because the site key
was rekeyed, and "switchboard apply -serve ..." publishes the new files and
reloads serve, which tells each device to fetch them. During the grace
window serve hands a device its new files when it asks with its old
password (provisioning only: SIP takes only the new one), so no device is
locked out; after it, the old key is destroyed by the next command that
loads the site key, and by serve when the window ends. Nothing is printed
but the keys' fingerprints.

A key in SWITCHBOARD_SITE_KEY cannot be rekeyed here (it is not a file).
A rekey while an earlier one's grace still runs is refused unless -force:
devices still on the oldest key would lose their way back.

Exit status: 0 rekeyed; 1 the key cannot be read or written; 2 usage error.`,
	run:   runRekey,
	flags: func() *flagSet { return rekeyFlags(&rekeyOptions{}) },
}

type rekeyOptions struct {
	grace time.Duration
	force bool
}

func rekeyFlags(o *rekeyOptions) *flagSet {
	f := newFlagSet("rekey")
	f.fs.DurationVar(&o.grace, "grace", credentials.DefaultGrace, "keep the old key for devices fetching their files for `DURATION`")
	f.fs.BoolVar(&o.force, "force", false, "rekey even while an earlier rekey's grace runs (its oldest key is destroyed)")
	return f
}

func runRekey(c *cli, args []string) int {
	var o rekeyOptions
	positional, status, ok := c.parse(rekeyFlags(&o), args, 1)
	if !ok {
		return status
	}
	dir := dirArg(positional)
	next, prev, err := credentials.Rekey(dir, c.environ, o.grace, time.Now(), o.force)
	if err != nil {
		fmt.Fprintf(c.stderr, "switchboard rekey: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(c.stdout, `Rekeyed the site: the new key is %s (fingerprint %s).
The previous key (fingerprint %s) is kept in %s
until %s: devices fetch their new files with their old password until then.
After that it is destroyed.

Every password and PIN of the site changes. Next:
  switchboard plan %s     shows every password changing (site key rekeyed)
  switchboard apply -serve ADDR %s   publishes the new files; serve tells each device to fetch them
  switchboard credentials %s   the new logins, for people whose app needs them
`, filepath.ToSlash(relPath(filepath.Join(dir, filepath.FromSlash(credentials.KeyFile)))), next.Fingerprint(),
		prev.Key.Fingerprint(), filepath.ToSlash(relPath(filepath.Join(dir, filepath.FromSlash(credentials.PreviousKeyFile)))),
		prev.Until.UTC().Format("2006-01-02 15:04 UTC"), dir, dir, dir)
	return exitOK
}

// withPreviousKey adds to s the passwords of the key a rekey replaced,
// while its grace lasts, and has serve destroy that key when the grace
// ends (LoadKey destroys it at the next load as well).
func (c *cli) withPreviousKey(dir string, s *servedSite) (*servedSite, int) {
	prev, ok, err := credentials.LoadPrevious(dir, time.Now())
	if err != nil {
		fmt.Fprintf(c.stderr, "switchboard serve: %v\n", err)
		return nil, exitFail
	}
	if !ok {
		return s, exitOK
	}
	s.previous, s.previousUntil = credentials.NewLookup(prev.Key, s.program), prev.Until
	stderr := c.stderr
	time.AfterFunc(time.Until(prev.Until), func() {
		// The site no longer honours it (the grace is checked on every
		// fetch); this removes the file.
		if gone, err := credentials.ExpirePrevious(dir, time.Now()); err != nil {
			fmt.Fprintf(stderr, "switchboard serve: the previous site key's grace ended, but it could not be destroyed: %v\n", err)
		} else if gone {
			fmt.Fprintf(stderr, "switchboard serve: the previous site key's grace ended; destroyed it\n")
		}
	})
	fmt.Fprintf(c.stderr, "switchboard serve: the site was rekeyed; devices may fetch their files with the previous key's passwords until %s\n", prev.Until.UTC().Format(time.RFC3339))
	return s, exitOK
}
