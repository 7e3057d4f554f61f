package portal

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"switchboard/compiler/ir"
	"switchboard/runtime/events"
)

// A ring test from the portal runs on its own: the POST starts it and
// answers at once with a redirect to its result page, which shows its
// progress (from the site's events) and refreshes itself every couple of
// seconds while it runs — no JavaScript needed. What the portal keeps of
// them is bounded.
const (
	// MaxRingTests is how many ring tests the portal runs at once (the
	// site bounds them too, with its admin endpoint's).
	MaxRingTests = 4
	// ringKept and ringKeepFor bound the results kept: so many, each so
	// long after it ended.
	ringKept    = 32
	ringKeepFor = 15 * time.Minute
	// ringRefresh is the result page's refresh while the test runs.
	ringRefresh = 2 * time.Second
	// ringStop bounds a ring test however the site's own bounds are set.
	ringStop = 2 * time.Minute
)

// ringRun is one ring test started from the portal.
type ringRun struct {
	id, user, who, by string
	started           time.Time

	mu       sync.Mutex
	call     string     // the test's call in the events, once seen
	steps    []ringStep // what happened so far, for the page
	done     bool
	ended    time.Time
	res      RingResult
	err      error
	answered string // its label
	rang     []string
	// changed is closed and replaced at each step: tests wait on it.
	changed chan struct{}
}

// ringStep is one line of a ring test's progress; Kind (start, ringing,
// answered, confirmed) is for the page's markup.
type ringStep struct{ Kind, Text string }

func (r *ringRun) step(kind, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps = append(r.steps, ringStep{kind, text})
	close(r.changed)
	r.changed = make(chan struct{})
}

// ringRuns are the portal's ring tests, running and recently ended.
type ringRuns struct {
	max    int // MaxRingTests; tests lower it
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	runs map[string]*ringRun
}

func newRingRuns() *ringRuns {
	ctx, cancel := context.WithCancel(context.Background())
	return &ringRuns{max: MaxRingTests, ctx: ctx, cancel: cancel, runs: map[string]*ringRun{}}
}

// close stops the running tests (they hang up) and waits for them.
func (rr *ringRuns) close() {
	rr.cancel()
	rr.wg.Wait()
}

// pruneLocked drops results ended more than ringKeepFor ago, then the
// oldest ended ones past ringKept.
func (rr *ringRuns) pruneLocked(now time.Time) {
	var oldest *ringRun
	for {
		n := 0
		oldest = nil
		for id, r := range rr.runs {
			r.mu.Lock()
			done, ended := r.done, r.ended
			r.mu.Unlock()
			if done && now.Sub(ended) >= ringKeepFor {
				delete(rr.runs, id)
				continue
			}
			n++
			if done && (oldest == nil || ended.Before(oldest.ended)) {
				oldest = r
			}
		}
		if n <= ringKept || oldest == nil {
			return
		}
		delete(rr.runs, oldest.id)
	}
}

func (rr *ringRuns) get(id string, now time.Time) *ringRun {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.pruneLocked(now)
	return rr.runs[id]
}

// ringTest starts a ring test of a person (Config.RingTest) and sends the
// browser to its result page. A test of the same person already running
// is that page; more than MaxRingTests at once are refused.
func (p *Portal) ringTest(w http.ResponseWriter, r *http.Request, v *visit) {
	name := r.PathValue("name")
	u := v.Program.User(name)
	if u == nil {
		p.fail(w, r, v, http.StatusNotFound, "No such person on this site.")
		return
	}
	if p.cfg.RingTest == nil {
		p.fail(w, r, v, http.StatusServiceUnavailable, "This server cannot run ring tests.")
		return
	}
	now := p.clk.Now()
	rr := p.rings
	rr.mu.Lock()
	rr.pruneLocked(now)
	running := 0
	for _, run := range rr.runs {
		run.mu.Lock()
		done := run.done
		run.mu.Unlock()
		if done {
			continue
		}
		if run.user == name {
			rr.mu.Unlock()
			http.Redirect(w, r, ringPath(run.id), http.StatusSeeOther)
			return
		}
		running++
	}
	if running >= rr.max || rr.ctx.Err() != nil {
		rr.mu.Unlock()
		p.renderPeople(w, r, v, http.StatusTooManyRequests, map[string]any{"RingError": fmt.Sprintf("%d ring tests are running; try again when one is over.", running)})
		return
	}
	run := &ringRun{id: randomToken(), user: name, who: u.DisplayName, by: v.Person.ID, started: now, changed: make(chan struct{})}
	online := 0
	for _, a := range u.Endpoints {
		online += p.bindings(a)
	}
	first := fmt.Sprintf("Ringing %s's %d devices…", u.DisplayName, online)
	switch online {
	case 0:
		first = "Calling " + u.DisplayName + ": none of their devices is registered right now…"
	case 1:
		first = "Ringing " + u.DisplayName + "'s device…"
	}
	run.steps = []ringStep{{"start", first}}
	rr.runs[run.id] = run
	rr.wg.Add(1)
	rr.mu.Unlock()
	p.log.Info("portal: ring test started", "user", name, "by", v.Person.ID)
	go p.runRingTest(run)
	http.Redirect(w, r, ringPath(run.id), http.StatusSeeOther)
}

func ringPath(id string) string { return "/portal/site/ring/" + id }

// runRingTest runs run and follows its progress in the site's events:
// the test's call starts (call_started, Cause "ring test", naming the
// person), rings (leg_ringing), is answered (leg_answered) and confirmed
// by a digit (dtmf). The portal runs one test of a person at a time, so
// the first such call of the person after the start is this test's.
func (p *Portal) runRingTest(run *ringRun) {
	defer p.rings.wg.Done()
	ctx, cancel := context.WithTimeout(p.rings.ctx, ringStop)
	defer cancel()
	followed := make(chan struct{})
	var sub *events.Subscription
	if p.cfg.Events != nil {
		sub = p.cfg.Events.Subscribe(64)
		go func() {
			defer close(followed)
			for e := range sub.C {
				p.ringEvent(run, e)
			}
		}()
	} else {
		close(followed)
	}
	res, err := p.cfg.RingTest(ctx, run.user)
	if sub != nil {
		sub.Close()
	}
	<-followed
	prog := p.cfg.Program()
	run.mu.Lock()
	run.res, run.err, run.done, run.ended = res, err, true, p.clk.Now()
	for _, a := range res.Rang {
		run.rang = append(run.rang, accountLabel(prog, a))
	}
	if res.Answered != "" {
		run.answered = accountLabel(prog, res.Answered)
	}
	close(run.changed)
	run.changed = make(chan struct{})
	run.mu.Unlock()
	p.log.Info("portal: ring test", "user", run.user, "by", run.by, "answered", res.Answered, "confirmed", res.Confirmed, "error", err)
}

// ringEvent adds what e says about run's call to its steps.
func (p *Portal) ringEvent(run *ringRun, e events.Event) {
	run.mu.Lock()
	call := run.call
	if call == "" && e.Kind == events.CallStarted && e.Cause == "ring test" && e.Target == ir.UserRef(run.user).String() {
		run.call = e.Call
	}
	run.mu.Unlock()
	if call == "" || e.Call != call {
		return
	}
	prog := p.cfg.Program()
	switch e.Kind {
	case events.LegRinging:
		run.step("ringing", "Ringing on "+accountLabel(prog, e.Leg)+"…")
	case events.LegAnswered:
		run.step("answered", "Answered by "+accountLabel(prog, e.Leg)+". Waiting for them to key a digit…")
	case events.DTMF:
		// Not the digit itself: what someone keys is not for a screen.
		run.step("confirmed", "They keyed a digit: confirmed.")
	}
}

// ringView is a ring test for its page.
type ringView struct {
	ID, Who         string
	Started         time.Time
	Steps           []ringStep
	Running         bool
	Rang            []string
	Answered        string
	Confirmed       bool
	Reason, Error   string
	RefreshSeconds  int
	StateForScripts string
}

func (r *ringRun) view() ringView {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := ringView{ID: r.id, Who: r.who, Started: r.started, Steps: append([]ringStep(nil), r.steps...), Running: !r.done,
		Rang: r.rang, Answered: r.answered, Confirmed: r.res.Confirmed, Reason: r.res.Reason, RefreshSeconds: int(ringRefresh / time.Second), StateForScripts: "running"}
	if r.done {
		v.StateForScripts = "done"
	}
	if r.err != nil {
		v.Error = r.err.Error()
	}
	return v
}

// ringPage shows a ring test: its progress while it runs (the page
// refreshes itself), its result once over.
func (p *Portal) ringPage(w http.ResponseWriter, r *http.Request, v *visit) {
	run := p.rings.get(r.PathValue("id"), p.clk.Now())
	if run == nil {
		p.fail(w, r, v, http.StatusNotFound, fmt.Sprintf("No such ring test: results are kept for %d minutes.", int(ringKeepFor/time.Minute)))
		return
	}
	// The navigation marks People: the test is one of that page's.
	p.render(w, r, v, http.StatusOK, pageRingTest, map[string]any{"Ring": run.view(), "Page": pagePeople})
}
