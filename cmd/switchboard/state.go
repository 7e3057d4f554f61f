package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"switchboard/compiler/plan"
	"switchboard/compiler/state"
)

var stateCommand = &command{
	name:     "state",
	synopsis: "Show the applied state, or remove a stale lock (force-unlock)",
	usage: `Usage: switchboard state show [-json] [-state FILE] [DIR]
       switchboard state force-unlock [-state FILE] [DIR] LOCK_ID

The state (DIR/.switchboard/state.json unless -state says otherwise) is what
"switchboard apply" last applied: every object with its attributes, how
each device got its settings, each user's invitation. It holds no secret:
credentials and provisioning files appear as keyed fingerprints.

show lists the applied objects, or prints the state file with -json.

force-unlock removes the lock an apply holds while it runs. Use it only when
no apply is running — after a crash on another machine, say; a lock left by
a process of this machine that no longer runs is removed by the next plan or
apply by itself. LOCK_ID is the ID the lock error names; another ID is
refused, so a lock taken since is never removed by mistake.

Exit status: 0 success, 1 errors (no lock, another lock), 2 usage error.`,
	run:   runState,
	flags: func() *flagSet { return stateFlags(&stateOptions{}) },
}

type stateOptions struct {
	json  bool
	state string
}

func stateFlags(o *stateOptions) *flagSet {
	f := newFlagSet("state")
	f.fs.BoolVar(&o.json, "json", false, "show: print the state file as it is")
	f.fs.StringVar(&o.state, "state", "", "the state `FILE` (default DIR/"+state.DefaultPath+")")
	return f
}

func runState(c *cli, args []string) int {
	cmd := lookup("state")
	if len(args) == 0 {
		return c.usageError(cmd, "missing subcommand: show or force-unlock")
	}
	switch args[0] {
	case "-h", "-help", "--help":
		c.commandHelp(c.stdout, cmd)
		return exitOK
	case "show":
		return runStateShow(c, args[1:])
	case "force-unlock":
		return runForceUnlock(c, args[1:])
	}
	return c.usageError(cmd, "unknown subcommand %q: want show or force-unlock", args[0])
}

func runStateShow(c *cli, args []string) int {
	var o stateOptions
	positional, status, ok := c.parse(stateFlags(&o), args, 1)
	if !ok {
		return status
	}
	path := statePath(dirArg(positional), o.state)
	store := state.NewStore(path)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(c.stderr, "switchboard state: no state at %s: nothing has been applied yet\n", filepath.ToSlash(path))
		return exitFail
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "switchboard state: %v\n", err)
		return exitFail
	}
	st, err := state.Parse(data)
	if err != nil {
		fmt.Fprintf(c.stderr, "switchboard state: %s: %v\n", filepath.ToSlash(path), err)
		return exitFail
	}
	if o.json {
		c.stdout.Write(data)
		return exitOK
	}
	fmt.Fprintf(c.stdout, "State %s: site %q, serial %d, lineage %s\n", filepath.ToSlash(path), st.Site, st.Serial, st.Lineage)
	if info, err := store.ReadLock(); err == nil {
		fmt.Fprintf(c.stdout, "Locked: %s (ID %s)\n", info.String(), info.ID)
	}
	fmt.Fprintln(c.stdout)
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tAPPLIED\tDELIVERY")
	for _, o := range st.Objects {
		delivery := ""
		if d := o.Delivery; d != nil {
			delivery = d.Method + ": " + d.Outcome
			if d.Firmware != "" {
				delivery += " (" + d.Firmware + ")"
			}
		}
		if inv := o.Attributes["invitation"]; inv != "" {
			if delivery != "" {
				delivery += "; "
			}
			delivery += "invitation " + plan.Unquote(inv)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", o.Address, o.AppliedAt.UTC().Format("2006-01-02 15:04:05"), delivery)
	}
	return exitFailIf(tw.Flush() != nil)
}

func runForceUnlock(c *cli, args []string) int {
	var o stateOptions
	positional, status, ok := c.parse(stateFlags(&o), args, 2)
	if !ok {
		return status
	}
	if len(positional) == 0 {
		return c.usageError(lookup("state"), "force-unlock needs the lock's ID, as the lock error names it")
	}
	id := positional[len(positional)-1]
	dir := "."
	if len(positional) == 2 {
		dir = positional[0]
	}
	store := state.NewStore(statePath(dir, o.state))
	held, err := store.ForceUnlock(id)
	switch {
	case errors.Is(err, state.ErrNotLocked):
		fmt.Fprintf(c.stderr, "switchboard state: the state %s is not locked\n", filepath.ToSlash(store.Path))
		return exitFail
	case err != nil:
		fmt.Fprintf(c.stderr, "switchboard state: not unlocked: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(c.stdout, "Removed the lock of %s (ID %s).\n", held.String(), held.ID)
	return exitOK
}
