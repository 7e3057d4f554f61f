package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"switchboard/atomicfile"
	"switchboard/compiler/ir"
	"switchboard/compiler/state"
	"switchboard/runtime/events"
	"switchboard/runtime/sipstack"
	"switchboard/runtime/site"
	"switchboard/simulate"
	"switchboard/simulate/commission"
)

var commissionCommand = &command{
	name:     "commission",
	synopsis: "Tick the site's cases off by real calls on the live site",
	usage: `Usage: switchboard commission [-admin ADDR] [-token-file FILE] [-once]
                             [-ring-test D] [-timeout D] [-run REGEX] [-json] [-junit FILE]
                             [-html FILE] [-state FILE] [-lockfile=readonly] [-var name=value]...
                             [-var-file FILE]... [DIR]

Turns the cases switchboard test generates for the site in DIR into a
checklist, and ticks them off as the installer walks the live site: it
follows the running serve's event stream (its admin endpoints, GET
/admin/events) and compares each call that ends with the cases that begin
with the same dial. Press button 1 at the gate and let it ring out: the
ring case passes when exactly the endpoints the site files name rang and
the call ended as they say; answer on a phone and key the door code: that
person's case passes when the door opened. A call that contradicts a case
fails it, saying what differed ("rang sarah and david; expected also
hall-1"); a device that is not registered leaves its cases open with that
reason. Cases for people's extensions and DDIs pass the same way, by
calling them from the phone or number the case names — or, with
-ring-test, by a ring test: the server calls each such person's
endpoints, says to whoever answers that it is a test call and to press
any key, then beeps (over and over until a key), and the digit they key
confirms it (a person not there leaves their cases open, saying so).

Each result (the case, when, and the IDs of the events that prove it) is
written to the state (DIR/.switchboard/state.json) as it is decided, so a
run can stop and resume: the next one reads the server's journal on from
where the last one stopped, and keeps what it decided. switchboard
handover shows the results.

It runs until every case is decided, -timeout passes, or Ctrl-C; -once
reads what the server's journal holds now and stops. The admin token is
SWITCHBOARD_ADMIN_TOKEN, else -token-file, else
DIR/.switchboard/admin-token.

Exit status: 0 no case failed (some may be open), 1 a case failed or the
server could not be asked, 2 usage error or a site that does not compile.`,
	run:   runCommission,
	flags: func() *flagSet { return commissionFlags(&commissionOptions{}) },
}

type commissionOptions struct {
	json      bool
	junit     string
	html      string
	admin     string
	tokenFile string
	once      bool
	ringTest  time.Duration
	timeout   time.Duration
	run       string
	state     string
	site      siteOptions
}

func commissionFlags(o *commissionOptions) *flagSet {
	f := newFlagSet("commission")
	f.fs.BoolVar(&o.json, "json", false, "print the checklist as JSON when done, instead of a line per case")
	f.fs.StringVar(&o.junit, "junit", "", "also write a JUnit XML report to `FILE`")
	f.fs.StringVar(&o.html, "html", "", "also write the checklist as one self-contained page to `FILE` (as test -html: grouped by door, residence and person; open cases say why; a failure's call drawn as a SIP ladder from what the server kept of it)")
	f.fs.StringVar(&o.admin, "admin", "127.0.0.1:8089", "serve's admin endpoints are on `ADDR` (its -admin)")
	f.fs.StringVar(&o.tokenFile, "token-file", "", "read the admin token from `FILE` (default DIR/.switchboard/admin-token; SWITCHBOARD_ADMIN_TOKEN overrides)")
	f.fs.BoolVar(&o.once, "once", false, "judge the calls the server's journal holds now, then stop")
	f.fs.DurationVar(&o.ringTest, "ring-test", 0, "first have the server ring each person whose extension or DDI cases are open, letting it ring and waiting for a digit up to `D` each (0: no ring tests)")
	f.fs.DurationVar(&o.timeout, "timeout", 0, "stop after `D` (0: once every case is decided, or on Ctrl-C)")
	f.fs.StringVar(&o.run, "run", "", "only the cases whose name matches `REGEX`")
	f.fs.StringVar(&o.state, "state", "", "the applied state `FILE` that keeps the results (default DIR/.switchboard/state.json)")
	o.site.register(f.fs)
	return f
}

// Waits of the long poll: long enough to cost nothing while the installer
// walks to the next door, short enough to notice Ctrl-C and -timeout.
const commissionPoll = 20 * time.Second

func runCommission(c *cli, args []string) int {
	var o commissionOptions
	positional, status, ok := c.parse(commissionFlags(&o), args, 1)
	if !ok {
		return status
	}
	cmd := lookup("commission")
	if err := checkAdminAddr(o.admin); err != nil {
		return c.usageError(cmd, "%v", err)
	}
	var sel *regexp.Regexp
	if o.run != "" {
		var err error
		if sel, err = regexp.Compile(o.run); err != nil {
			return c.usageError(cmd, "-run: %v", err)
		}
	}
	dir := dirArg(positional)
	path := statePath(dir, o.state)
	cs, _ := c.compileSite("commission", dir, compileOptions{site: o.site, state: path})
	if cs == nil {
		return exitUsage
	}
	p := cs.program
	var cases []simulate.Case
	for _, k := range simulate.Generate(p) {
		if sel == nil || sel.MatchString(k.Name) {
			cases = append(cases, k)
		}
	}
	if sel != nil && len(cases) == 0 {
		return c.usageError(cmd, "-run %q matches no case", o.run)
	}
	ac, err := c.newAdminClient(dir, o.admin, o.tokenFile)
	if err != nil {
		return c.fail("commission", err)
	}
	store := state.NewStore(path)
	st, _, err := store.Read(p.Site.Name)
	if err != nil {
		return c.fail("commission", err)
	}
	r := &commissionRun{c: c, o: &o, p: p, ac: ac, store: store, cl: commission.New(p, cases), pending: map[string][]site.Entry{}}
	if prev := st.Commissioning; prev != nil {
		r.cl.Restore(itemsOf(prev.Cases))
		r.epoch, r.after = prev.Epoch, prev.After
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	if o.ringTest > 0 {
		if err := r.ringTests(ctx); err != nil {
			return c.fail("commission", err)
		}
	}
	if err := r.follow(ctx); err != nil {
		r.prog.clear()
		return c.fail("commission", err)
	}
	r.prog.clear()
	reg, err := r.registered(context.Background())
	if err != nil {
		return c.fail("commission", err)
	}
	r.cl.Explain(reg)
	// The failures' ladders again, for the reports: a call's last
	// messages (the callee's BYE and its answer) may have crossed the
	// wire after its end was reported.
	var failed []int
	for i, it := range r.cl.Items {
		if it.Status == commission.Failed && it.Call != "" {
			failed = append(failed, i)
		}
	}
	r.ladders(context.Background(), failed)
	if err := r.save(); err != nil {
		return c.fail("commission", err)
	}
	rep := r.cl.Report()
	if o.junit != "" {
		err := atomicfile.WriteFrom(o.junit, 0o644, func(w *os.File) error { return simulate.WriteJUnit(w, rep, p.Site.Name) })
		if err != nil {
			return c.fail("commission", err)
		}
	}
	if o.html != "" {
		if err := writeCommissionHTML(o.html, p, rep); err != nil {
			return c.fail("commission", err)
		}
	}
	n := r.cl.Count()
	if c.json {
		doc := commissionDoc{Site: p.Site.Name, Epoch: r.epoch, Passed: n.Passed, Failed: n.Failed, Open: n.Open, Skipped: n.Skipped, Cases: r.cl.Items}
		data, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			return c.fail("commission", err)
		}
		c.stdout.Write(append(data, '\n'))
	} else {
		style := c.styleFor(c.stdout)
		for _, it := range r.cl.Items {
			if it.Status == commission.Open {
				fmt.Fprintf(c.stdout, "%s  %s: %s\n", style.paint(ansiYellow, "open"), it.Name, it.Detail)
			}
		}
		fmt.Fprintf(c.stdout, "\n%d passed, %d failed, %d open, %d skipped\n", n.Passed, n.Failed, n.Open, n.Skipped)
	}
	if n.Failed > 0 {
		return exitFail
	}
	return exitOK
}

// commissionDoc is commission -json's document.
type commissionDoc struct {
	Site    string            `json:"site"`
	Epoch   string            `json:"epoch"`
	Passed  int               `json:"passed"`
	Failed  int               `json:"failed"`
	Open    int               `json:"open"`
	Skipped int               `json:"skipped"`
	Cases   []commission.Item `json:"cases"`
}

// commissionRun is one run of the checklist against the server.
type commissionRun struct {
	c     *cli
	o     *commissionOptions
	p     *ir.Program
	ac    *adminClient
	store *state.Store
	cl    *commission.Checklist
	prog  *progress

	epoch string
	after uint64
	// pending are the events of calls that have not ended yet, by call.
	pending map[string][]site.Entry
	// expect are the ring tests run whose end the journal has not shown
	// yet: -once waits for them.
	expect map[string]bool
}

// ringTests rings, one after the other, every person whose cases a ring
// test would prove. The results reach the checklist through the event
// journal, as every call's do.
func (r *commissionRun) ringTests(ctx context.Context) error {
	r.expect = map[string]bool{}
	for _, user := range r.cl.RingTestUsers() {
		if !r.c.json {
			fmt.Fprintf(r.c.stderr, "switchboard commission: ringing %s's phones and apps: answer, and key any digit\n", user)
		}
		res, err := r.ac.ringTest(ctx, user, r.o.ringTest)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if res.Call != "" && (len(res.Rang) > 0 || res.Answered != "") {
			r.expect[res.Call] = true
		}
		if !res.Confirmed && !r.c.json {
			fmt.Fprintf(r.c.stderr, "switchboard commission: ring test of %s not confirmed: %s\n", user, res.Reason)
		}
	}
	return nil
}

// follow reads the server's events and judges each call as it ends,
// until every case is decided, ctx ends, or (-once) the journal has
// nothing more.
func (r *commissionRun) follow(ctx context.Context) error {
	n := r.cl.Count()
	r.prog = r.c.newProgress("cases decided", len(r.cl.Items)-n.Skipped)
	for range n.Passed + n.Failed {
		r.prog.step("")
	}
	for r.cl.Count().Open > 0 {
		wait := commissionPoll
		if r.o.once && len(r.expect) == 0 {
			wait = 0
		}
		page, err := r.ac.events(ctx, r.epoch, r.after, wait)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if page.Epoch != r.epoch {
			if r.epoch != "" && !r.c.json {
				r.prog.clear()
				fmt.Fprintln(r.c.stderr, "switchboard commission: the server restarted since the last run; reading its journal from the start")
			}
			r.epoch, r.pending = page.Epoch, map[string][]site.Entry{}
		}
		if page.Missed > 0 && !r.c.json {
			r.prog.clear()
			fmt.Fprintf(r.c.stderr, "switchboard commission: %d events were no longer in the server's journal; calls among them must be made again\n", page.Missed)
		}
		var ended []string
		for _, e := range page.Events {
			r.after = e.ID
			if e.Call == "" {
				continue
			}
			r.pending[e.Call] = append(r.pending[e.Call], e)
			if e.Kind == events.CallEnded || e.Kind == events.CallRejected {
				ended = append(ended, e.Call)
				delete(r.expect, e.Call)
			}
		}
		if len(ended) > 0 {
			if err := r.judge(ctx, ended); err != nil {
				return err
			}
		}
		if r.o.once && len(page.Events) == 0 && len(r.expect) == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
	}
	return nil
}

// judge decides the cases of the calls that ended, prints what was
// decided and records it in the state.
func (r *commissionRun) judge(ctx context.Context, ended []string) error {
	reg, err := r.registered(ctx)
	if err != nil {
		return err
	}
	var changed []int
	for _, id := range ended {
		for _, call := range commission.Calls(r.pending[id]) {
			changed = append(changed, r.cl.Judge(call, r.epoch, reg)...)
		}
		delete(r.pending, id)
	}
	r.ladders(ctx, changed)
	style := r.c.styleFor(r.c.stdout)
	for _, i := range changed {
		it := r.cl.Items[i]
		if it.Status == commission.Open {
			continue
		}
		r.prog.step(it.Name)
		if r.c.json {
			continue
		}
		r.prog.clear()
		if it.Status == commission.Passed {
			fmt.Fprintf(r.c.stdout, "%s    %s\n", style.paint(ansiGreen, "ok"), it.Name)
			continue
		}
		fmt.Fprintf(r.c.stdout, "%s  %s\n      %s\n", style.paint(ansiRed, "FAIL"), it.Name, it.Detail)
		if it.Origin.HasPos() {
			fmt.Fprintf(r.c.stdout, "      %s\n", it.Origin)
		}
		if len(it.Ladder) > 0 {
			fmt.Fprintf(r.c.stdout, "      SIP:\n        %s\n", strings.Join(it.Ladder, "\n        "))
		}
	}
	if len(changed) > 0 {
		return r.save()
	}
	return nil
}

// ladders gives the items that failed the SIP messages of the call that
// failed them, as the server kept them (GET /admin/calls/{id}/sip), while
// the call is among the last the server keeps. A server that keeps none,
// or no longer has the call, leaves the item without: the reason and the
// events say what happened.
func (r *commissionRun) ladders(ctx context.Context, changed []int) {
	traces := map[string]sipstack.CallTrace{}
	for _, i := range changed {
		it := &r.cl.Items[i]
		if it.Status != commission.Failed || it.Call == "" {
			continue
		}
		t, ok := traces[it.Call]
		if !ok {
			t, _ = r.ac.callSIP(ctx, it.Call) // on error, none
			traces[it.Call] = t
		}
		if len(t.Messages) == 0 && len(it.SIP) > 0 {
			continue // the server no longer has it: keep what it had
		}
		it.SetLadder(simulate.TracedLadder(t))
	}
}

// registered asks the server which accounts are registered now.
func (r *commissionRun) registered(ctx context.Context) (commission.Registered, error) {
	rep, err := r.ac.accounts(ctx)
	if err != nil {
		return nil, err
	}
	on := map[string]bool{}
	for _, a := range rep.Accounts {
		on[a.Name] = a.Registered
	}
	return func(account string) bool { return on[account] }, nil
}

// save records the checklist in the state, with where the journal was
// read up to: before the first event of a call still in progress, so a
// run that resumes sees that call whole.
func (r *commissionRun) save() error {
	after := r.after
	for _, evs := range r.pending {
		if len(evs) > 0 && evs[0].ID-1 < after {
			after = evs[0].ID - 1
		}
	}
	lock, err := r.store.Lock("commission")
	if err != nil {
		var held *state.LockedError
		if errors.As(err, &held) {
			return fmt.Errorf("the results could not be recorded: %w", err)
		}
		return err
	}
	defer lock.Unlock()
	st, _, err := r.store.Read(r.p.Site.Name)
	if err != nil {
		return err
	}
	c := &state.Commissioning{Updated: time.Now().UTC(), Epoch: r.epoch, After: after}
	mine := map[string]state.CommissionedCase{}
	var order []string
	for _, it := range r.cl.Items {
		mine[it.Name] = state.CommissionedCase{Name: it.Name, Origin: it.Origin.Pos(), Status: string(it.Status),
			At: it.At, Evidence: it.Evidence, Epoch: it.Epoch, Detail: it.Detail}
		order = append(order, it.Name)
	}
	if prev := st.Commissioning; prev != nil && r.o.run != "" {
		// A run of some cases (-run) keeps the others' results, and
		// leaves the journal to be read again for them.
		c.Epoch, c.After = prev.Epoch, prev.After
		for _, k := range prev.Cases {
			if m, ok := mine[k.Name]; ok {
				k = m
				delete(mine, k.Name)
			}
			c.Cases = append(c.Cases, k)
		}
	}
	for _, name := range order {
		if k, ok := mine[name]; ok {
			c.Cases = append(c.Cases, k)
		}
	}
	st.Commissioning = c
	return r.store.Write(st)
}

// itemsOf reads the state's results back as checklist items.
func itemsOf(cases []state.CommissionedCase) []commission.Item {
	var out []commission.Item
	for _, k := range cases {
		out = append(out, commission.Item{Name: k.Name, Status: commission.Status(k.Status), At: k.At, Evidence: k.Evidence, Epoch: k.Epoch, Detail: k.Detail})
	}
	return out
}
