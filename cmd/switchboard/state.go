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
	synopsis: "Show the applied state, or explain a lock (force-unlock)",
	usage: `Usage: switchboard state show [-json] [-state FILE] [DIR]
       switchboard state force-unlock [-state FILE] [DIR] LOCK_ID

The state (DIR/.switchboard/state.json unless -state says otherwise) is what
"switchboard apply" last applied: every object with its attributes, how
each device got its settings, each user's invitation. It holds no secret:
credentials and provisioning files appear as keyed fingerprints.

show lists the applied objects, or prints the state file with -json.

The lock an apply or plan holds while it runs is a lock of the operating
system's kernel on DIR/.switchboard/state.json.lock, which the kernel
releases when that process ends, however it ends (killed with -9, or a
crash). So no lock outlives its process and none needs removing by hand:
force-unlock says which running process holds the lock (stop it, and the
lock is gone), or that nothing does, clearing the owner record a killed
process left behind. LOCK_ID is the ID the lock error names; another ID is
refused, as it means a lock taken since.

Exit status: 0 nothing held the lock (any left record cleared), 1 errors
(a running process holds the lock, another ID), 2 usage error.`,
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
	f := stateFlags(&o)
	f.sub = "show"
	positional, status, ok := c.parse(f, args, 1)
	if !ok {
		return status
	}
	path := statePath(dirArg(positional), o.state)
	store := state.NewStore(path)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c.fail("state", fmt.Errorf("no state at %s: nothing has been applied yet", filepath.ToSlash(path)))
	}
	if err != nil {
		return c.fail("state", err)
	}
	st, err := state.Parse(data)
	if err != nil {
		return c.fail("state", fmt.Errorf("%s: %v", filepath.ToSlash(path), err))
	}
	if o.json {
		// The current format, whatever version the file was written in.
		out, err := state.Marshal(st)
		if err != nil {
			fmt.Fprintf(c.stderr, "switchboard state: %v\n", err)
			return exitFail
		}
		c.stdout.Write(out)
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
	writeRemoved(tw, st.Removed)
	if tw.Flush() != nil {
		return exitFail
	}
	for i, h := range st.Handovers {
		if i == 0 {
			fmt.Fprintln(c.stdout, "\nHandovers:")
		}
		fmt.Fprintf(c.stdout, "  %s  %s (%s) → %s (%s), plan %s; sheet %s\n", h.At.UTC().Format("2006-01-02 15:04:05"), h.FromName, h.From, h.ToName, h.To, h.PlanHash, h.Sheet)
	}
	return exitOK
}

func runForceUnlock(c *cli, args []string) int {
	var o stateOptions
	f := stateFlags(&o)
	f.sub = "force-unlock"
	positional, status, ok := c.parse(f, args, 2)
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
	_, err := store.ForceUnlock(id)
	var held *state.HeldError
	switch {
	case errors.Is(err, state.ErrNotLocked):
		fmt.Fprintf(c.stdout, "The state %s is not locked: no running process holds its lock (the kernel releases it when its process ends).\n", filepath.ToSlash(store.Path))
		return exitOK
	case errors.As(err, &held):
		fmt.Fprintf(c.stderr, "switchboard state: not unlocked: %v.\n", err)
		return exitFail
	case err != nil:
		fmt.Fprintf(c.stderr, "switchboard state: not unlocked: %v\n", err)
		return exitFail
	}
	return exitOK
}
