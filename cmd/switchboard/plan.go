package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"switchboard/compiler/apply"
	"switchboard/compiler/plan"
	"switchboard/compiler/state"
)

// exitChanges is plan -detailed-exitcode's status when there are changes.
const exitChanges = 2

var planCommand = &command{
	name:     "plan",
	synopsis: "Show what apply would change on the site's devices, server and people",
	usage: `Usage: switchboard plan [-json] [-out FILE] [-detailed-exitcode] [-state FILE] [-lock=false]
                        [-target ADDR]... [-refresh] [-device NAME=URL]...
                        [-devices FILE] [-timeout D]
                        [-server HOST] [-port N] [-transport udp|tcp|tls] [-provision-url URL]
                        [-lockfile=readonly] [-var name=value]... [-var-file FILE]... [DIR]

Compiles the site in DIR (default: the current directory) and compares it
with what "switchboard apply" last applied (the state, DIR/.switchboard/
state.json unless -state says otherwise). It prints first what changes for
people, in plain words ("Tom Price: extension 212 → 213"), then every object
that changes:

  + create    ~ update    - remove    -/+ replace (a device with a new MAC)

with the attributes that change and a count of those that do not, and the
footer "Plan: N to add, N to change, N to remove." Passwords are never shown:
a changed password appears as (sensitive value).

-out FILE saves the plan; "switchboard apply FILE" applies exactly it, and
refuses it once the state or the site changed since. Use the same -server,
-port, -transport and -provision-url flags as "switchboard build".

-target ADDR (repeatable) restricts the plan to one object — a device or a
person, device.gate, user.anne — and the objects that depend on it (a desk
phone of that person, a monitor of that residence, the people a door
station rings); the plan says it is partial and how many changes it leaves
out. A plan saved with -target applies only those.

-refresh first reads the applied devices back through their management APIs
(-device NAME=URL, -devices FILE, as for apply; Akuvox through their API,
Yealink and Grandstream phones through their web API's read-back, which shows
part of their settings) and shows, before
the plan, every setting that differs on a device from the last apply: drift,
changed behind switchboard's back. A drifted device is in the plan again, so
apply -refresh puts its settings back. Devices it cannot read say why (no
read-back for their vendor, no address, unreachable).

The state is locked while the plan is made, so a plan never reads a state an
apply is writing; -lock=false skips that.

Exit status: 0 success; 1 errors; 2 usage error. With -detailed-exitcode:
0 no changes, 1 errors, 2 changes to apply.`,
	run:   runPlan,
	flags: func() *flagSet { return planFlags(&planOptions{}) },
}

type planOptions struct {
	json, detailed bool
	out            string
	common         planCommon
}

// planCommon are the flags plan and apply share.
type planCommon struct {
	state   string
	lock    bool
	targets targetsFlag
	// refresh reads the devices back first (-refresh), through their
	// management APIs at devices and devicesFile.
	refresh     bool
	devices     listFlag
	devicesFile string
	timeout     time.Duration
	site        siteOptions
	lower       lowerFlags
}

func (o *planCommon) register(fs *flag.FlagSet) {
	fs.StringVar(&o.state, "state", "", "read and write the state at `FILE` (default DIR/"+state.DefaultPath+")")
	fs.BoolVar(&o.lock, "lock", true, "lock the state while working; -lock=false only when nothing else can run")
	fs.BoolVar(&o.refresh, "refresh", false, "read the applied devices back first and show settings changed on them since the last apply")
	fs.Var(&o.devices, "device", "a device's management API: `NAME=URL`; repeatable")
	fs.StringVar(&o.devicesFile, "devices", "", "read device API addresses from `FILE` (NAME URL lines)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "give up on a device request after `D`")
	fs.Var(&o.targets, "target", "restrict to the object at `ADDR` (device.gate, user.anne) and what depends on it; repeatable")
	o.lower.register(fs)
	o.site.register(fs)
}

func planFlags(o *planOptions) *flagSet {
	f := newFlagSet("plan")
	f.fs.BoolVar(&o.json, "json", false, "print the plan as JSON (format_version "+planFormatVersion+")")
	f.fs.StringVar(&o.out, "out", "", "save the plan to `FILE` for \"switchboard apply FILE\"")
	f.fs.BoolVar(&o.detailed, "detailed-exitcode", false, "exit 0 when nothing changes, 2 when something does, 1 on errors")
	o.common.register(f.fs)
	return f
}

func runPlan(c *cli, args []string) int {
	var o planOptions
	positional, status, ok := c.parse(planFlags(&o), args, 1)
	if !ok {
		return status
	}
	if _, err := o.common.lower.options(); err != nil {
		return c.usageError(lookup("plan"), "%v", err)
	}
	if _, err := o.common.deviceAPIs(c); err != nil {
		return c.usageError(lookup("plan"), "%v", err)
	}
	dir := dirArg(positional)
	pr, status := c.preparePlan("plan", dir, &o.common, "plan", false)
	if pr == nil {
		return status
	}
	pr.unlock(c, "plan")

	if o.out != "" {
		if err := writeSavedPlan(o.out, dir, &o.common, pr.plan); err != nil {
			return c.fail("plan", err)
		}
	}
	if o.json {
		if err := writePlanJSON(c.stdout, pr.plan, pr.drift); err != nil {
			fmt.Fprintf(c.stderr, "switchboard plan: %v\n", err)
			return exitFail
		}
	} else {
		if o.common.refresh {
			writeDriftText(c.stdout, pr.drift, c.styleFor(c.stdout))
		}
		writePlanText(c.stdout, pr.plan, c.styleFor(c.stdout))
		if o.out != "" {
			fmt.Fprintf(c.stdout, "\nSaved the plan to %s. To apply exactly this plan, run:\n  switchboard apply %s\n", filepath.ToSlash(o.out), filepath.ToSlash(o.out))
		}
	}
	if o.detailed && pr.plan.HasChanges() {
		return exitChanges
	}
	return exitOK
}

// prepared is a compiled site, its state and the plan between them.
type prepared struct {
	site    *compiledSite
	store   *state.Store
	state   *state.State
	lock    *state.Lock // nil with -lock=false, or once released
	desired *plan.Desired
	plan    *plan.Plan
	// drift is what -refresh read back from the devices; nil without it.
	drift []apply.Drift
}

// preparePlan compiles the site, locks and reads the state and computes
// the plan. On failure it prints why and returns nil and the exit status;
// on success the lock (if any) is held.
func (c *cli) preparePlan(cmd, dir string, o *planCommon, operation string, recordLock bool) (*prepared, int) {
	lower, _ := o.lower.options()
	cs, status := c.compileSite(cmd, dir, compileOptions{site: o.site, lower: lower, needKey: true, render: true, recordLock: recordLock, state: statePath(dir, o.state)})
	if cs == nil {
		return nil, status
	}
	pr := &prepared{site: cs, store: state.NewStore(statePath(dir, o.state))}
	if o.lock {
		l, err := pr.store.Lock(operation)
		if err != nil {
			return nil, c.lockError(cmd, err)
		}
		if l.Broken != nil {
			fmt.Fprintf(c.stderr, "switchboard %s: the last lock's process ended without unlocking: %s; the kernel released its lock.\n", cmd, l.Broken.String())
		}
		pr.lock = l
	}
	st, _, err := pr.store.Read(cs.program.Site.Name)
	if err != nil {
		pr.unlock(c, cmd)
		return nil, c.fail(cmd, err)
	}
	pr.state = st
	ob := offboarding(dir, cs)
	pr.desired = plan.NewDesired(plan.Input{
		Program: cs.program, Bundle: cs.bundle, Key: cs.key, Invites: plan.Invites(cs.program), Offboarding: &ob,
	})
	pr.plan = plan.Diff(pr.desired, st)
	if o.refresh {
		drift, drifted, err := c.refresh(pr, o)
		if err != nil {
			pr.unlock(c, cmd)
			fmt.Fprintf(c.stderr, "switchboard %s: %v\n", cmd, err)
			return nil, exitUsage
		}
		pr.drift = drift
		pr.plan = plan.WithDrift(pr.plan, pr.desired, st, drifted)
	}
	if len(o.targets) > 0 {
		p, err := plan.Target(pr.plan, pr.desired, st, o.targets)
		if err != nil {
			pr.unlock(c, cmd)
			fmt.Fprintf(c.stderr, "switchboard %s: -target: %v\n", cmd, err)
			return nil, exitFail
		}
		pr.plan = p
	}
	c.warnRemovedAnswerers(pr)
	return pr, exitOK
}

func (pr *prepared) unlock(c *cli, cmd string) {
	if pr.lock == nil {
		return
	}
	if err := pr.lock.Unlock(); err != nil {
		fmt.Fprintf(c.stderr, "switchboard %s: %v\n", cmd, err)
	}
	pr.lock = nil
}

// lockError explains a lock that is held, and what releases it; it
// returns exitFail.
func (c *cli) lockError(cmd string, err error) int {
	var locked *state.LockedError
	if !errors.As(err, &locked) {
		return c.fail(cmd, err)
	}
	msg := fmt.Sprintf(`the state is locked: %s.
That process still runs (the lock is the kernel's, on %s, and ends
with it); wait for it to finish, or stop it.`, locked.Info.String(), filepath.ToSlash(locked.Path))
	fmt.Fprintf(c.stderr, "switchboard %s: %s\n", cmd, msg)
	if c.json {
		c.writeJSONProblem("State locked", msg)
	}
	return exitFail
}

// statePath is the state file of the site in dir.
func statePath(dir, flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return filepath.Join(dir, filepath.FromSlash(state.DefaultPath))
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
