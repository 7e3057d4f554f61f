package site

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"switchboard/compiler/ir"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/events"
	"switchboard/runtime/store"
)

// Sizes of what the journal keeps: the last journalSize events in memory
// (a site's walk-through is a few hundred; a client further behind is
// answered from the stream), at most journalPage of them an answer, and
// at most journalCalls calls in progress (a call whose end was lost must
// not stay forever).
const (
	journalSize  = 4096
	journalPage  = 512
	journalCalls = 4096
	journalSub   = 4096 // the recorder's subscription's buffer
)

// MaxEventsWait is the longest an events request waits for one.
const MaxEventsWait = 30 * time.Second

// Entry is one event as the admin endpoints hand it out: numbered, so a
// client resumes after the last one it saw.
type Entry struct {
	ID uint64 `json:"id"`
	events.Event
}

// EventPage is an answer of GET /admin/events.
type EventPage struct {
	// Epoch names the event stream: IDs count from 1 in each, and it
	// stays the same across restarts of the server on the same data
	// directory, so a client holding an ID of another epoch starts again
	// from the oldest.
	Epoch  string  `json:"epoch"`
	Events []Entry `json:"events"`
	// Next is the ID to ask after next time (the last one handed out, or
	// the one asked after when there was none).
	Next uint64 `json:"next"`
	// Missed is how many events after the one asked for are no longer
	// kept (the stream's limits) or were lost because the recorder fell
	// behind the server.
	Missed uint64 `json:"missed,omitempty"`
}

// AccountsReport is GET /admin/accounts: every account of the running
// site, its trunks and the calls in progress.
type AccountsReport struct {
	Site     string          `json:"site"`
	Epoch    string          `json:"epoch"`
	Now      time.Time       `json:"now"`
	Accounts []AccountStatus `json:"accounts"`
	Trunks   []TrunkState    `json:"trunks,omitempty"`
	Calls    []CallState     `json:"calls"`
}

// AccountStatus is one account as the server sees it.
type AccountStatus struct {
	Name   string         `json:"name"`
	Kind   ir.AccountKind `json:"kind"`
	Owner  string         `json:"owner,omitempty"`  // user.x, residence.x, device.x
	Device string         `json:"device,omitempty"` // for device accounts
	// Registered: the account has a live binding; Since is when it got
	// its first since it had none (as this server run saw it).
	Registered bool          `json:"registered"`
	Since      time.Time     `json:"since,omitzero"`
	Bindings   []BindingInfo `json:"bindings,omitempty"`
	// LastUnregistered says when and why the last binding went, while
	// the account has none.
	LastUnregistered *Happening `json:"last_unregistered,omitempty"`
	// LastFetch is the device's last provisioning fetch this run.
	LastFetch *Fetch `json:"last_fetch,omitempty"`
}

// BindingInfo is one registered contact, without the Call-ID.
type BindingInfo struct {
	Contact   string    `json:"contact"`
	Source    string    `json:"source"`
	Transport string    `json:"transport"`
	Expires   time.Time `json:"expires"`
	UserAgent string    `json:"user_agent,omitempty"`
}

// Happening is when something happened and why.
type Happening struct {
	At    time.Time `json:"at"`
	Cause string    `json:"cause,omitempty"`
}

// Fetch is a provisioning fetch.
type Fetch struct {
	At     time.Time `json:"at"`
	Path   string    `json:"path"`
	Source string    `json:"source,omitempty"`
}

// TrunkState is a trunk's registration at its carrier.
type TrunkState struct {
	Name       string     `json:"name"`
	Registered bool       `json:"registered"`
	LastError  *Happening `json:"last_error,omitempty"`
}

// CallState is a call in progress.
type CallState struct {
	Call       string    `json:"call"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	Target     string    `json:"target,omitempty"`
	Started    time.Time `json:"started"`
	AnsweredBy string    `json:"answered_by,omitempty"`
}

// gap is n events the recorder could not store just before event ID before.
type gap struct{ before, n uint64 }

// journal serves the event stream (a store.EventLog) to the admin
// endpoints: the recent events, numbered by their ID in the stream, and
// what they say about accounts that the registrar does not keep: since
// when, with which user agent, the last provisioning fetch, the trunks'
// last errors, the calls in progress. It follows the stream like any
// reader (from memory, store.EventLog.Tail), so the SIP hot path never
// waits for it; it holds the last journalSize events and reads older
// ones from the stream.
type journal struct {
	log   *store.EventLog
	epoch string
	// live says whether an account has a live binding now (the
	// registrar's answer): an unregistered event ends "since" only when it
	// took the account's last one.
	live func(account string) bool
	// run is the last ID stored before this run of the server: calls
	// started before it are not in progress, whatever the stream says.
	run  uint64
	stop func()

	mu      sync.Mutex
	ring    []Entry // ring[(id-1)%journalSize] holds ID id, for first <= id <= last
	first   uint64  // the oldest ID in ring (last+1 when none is)
	last    uint64  // ID of the newest event
	gaps    []gap   // where the recorder lost events, oldest first
	wake    chan struct{}
	since   map[string]time.Time
	agents  map[string]string // account + "\x00" + source → user agent
	unreg   map[string]Happening
	fetches map[string]Fetch // by account
	trunkEr map[string]Happening
	calls   map[string]*CallState
}

func newJournalState(live func(string) bool) *journal {
	return &journal{
		live: live, stop: func() {}, first: 1,
		ring: make([]Entry, journalSize), wake: make(chan struct{}),
		since: map[string]time.Time{}, agents: map[string]string{}, unreg: map[string]Happening{},
		fetches: map[string]Fetch{}, trunkEr: map[string]Happening{}, calls: map[string]*CallState{},
	}
}

// newJournal follows log from the last journalSize events it holds: what
// they say about accounts (last fetches, user agents) carries over a
// restart; the calls in progress do not. Only those are read from the
// stream: the events the recorder stores from now on come from memory
// (store.EventLog.Tail), with the IDs the stream gave them.
func newJournal(log *store.EventLog, live func(account string) bool, logger *slog.Logger) (*journal, error) {
	j := newJournalState(live)
	j.log, j.epoch = log, log.Epoch()
	ctx := context.Background()
	first, last, err := log.Bounds(ctx)
	if err != nil {
		return nil, err
	}
	from := max(first, last+1-min(last, journalSize))
	j.run, j.first, j.last = last, from, from-1
	j.stop = log.Tail(from, nil, j.add, func(err error) {
		logger.Error("admin journal: events cannot be read from the event stream; they are skipped", "error", err)
	})
	return j, nil
}

func (j *journal) close() { j.stop() }

// add records r.
func (j *journal) add(r store.Record) {
	e := r.Event
	j.mu.Lock()
	defer j.mu.Unlock()
	if r.Seq <= j.last {
		return // followed twice (a consumer reset): already here
	}
	j.last = r.Seq
	if j.last-j.first >= journalSize {
		j.first = j.last - journalSize + 1
	}
	if r.Lost > 0 {
		j.gaps = append(j.gaps, gap{before: j.last, n: r.Lost})
	}
	for len(j.gaps) > 0 && j.gaps[0].before < j.first {
		j.gaps = j.gaps[1:] // older than anything kept
	}
	j.ring[(j.last-1)%journalSize] = Entry{ID: j.last, Event: e}
	switch e.Kind {
	case events.Registered:
		if _, ok := j.since[e.Account]; !ok {
			j.since[e.Account] = e.Time
		}
		delete(j.unreg, e.Account)
		if e.UserAgent != "" {
			j.agents[e.Account+"\x00"+e.Source] = e.UserAgent
		}
	case events.Unregistered:
		j.unreg[e.Account] = Happening{At: e.Time, Cause: e.Cause}
		if !j.live(e.Account) {
			delete(j.since, e.Account)
		}
	case events.ProvisionFetch:
		j.fetches[e.Account] = Fetch{At: e.Time, Path: e.Path, Source: e.Source}
	case events.TrunkRegistrationFailed:
		j.trunkEr[e.Account] = Happening{At: e.Time, Cause: e.Cause}
	case events.TrunkRegistered:
		delete(j.trunkEr, e.Account)
	case events.CallStarted:
		if len(j.calls) < journalCalls && r.Seq > j.run {
			j.calls[e.Call] = &CallState{Call: e.Call, From: e.From, To: e.To, Target: e.Target, Started: e.Time}
		}
	case events.LegAnswered:
		if c := j.calls[e.Call]; c != nil {
			c.AnsweredBy = e.Leg
		}
	case events.CallEnded, events.CallRejected:
		delete(j.calls, e.Call)
	}
	close(j.wake)
	j.wake = make(chan struct{})
}

// page returns the events after ID after, waiting up to wait for one when
// there is none yet (or until ctx ends). An ID of another epoch (the
// stream was made anew), and 0, start from the oldest event the journal
// holds; an older ID is read from the stream, so a client that fell
// behind, or restarted, resumes where it was.
func (j *journal) page(ctx context.Context, epoch string, after uint64, wait time.Duration) EventPage {
	timer := time.NewTimer(min(wait, MaxEventsWait))
	defer timer.Stop()
	fresh := after == 0 || epoch != "" && epoch != j.epoch
	for {
		j.mu.Lock()
		if fresh {
			after = j.first - 1
		}
		if j.last > after || wait <= 0 {
			if after+1 < j.first {
				j.mu.Unlock()
				return j.oldPage(ctx, after)
			}
			p := j.pageLocked(after)
			j.mu.Unlock()
			return p
		}
		wake := j.wake
		j.mu.Unlock()
		select {
		case <-wake:
		case <-timer.C:
			wait = 0
		case <-ctx.Done():
			wait = 0
		}
	}
}

func (j *journal) pageLocked(after uint64) EventPage {
	p := EventPage{Epoch: j.epoch, Next: after, Events: []Entry{}}
	for _, g := range j.gaps {
		if g.before > after {
			p.Missed += g.n
		}
	}
	for id := max(after+1, j.first); id <= j.last && len(p.Events) < journalPage; id++ {
		p.Events = append(p.Events, j.ring[(id-1)%journalSize])
		p.Next = id
	}
	return p
}

// oldPage reads the page after ID after, older than the journal holds,
// from the stream: Missed counts the IDs the stream no longer keeps
// (its limits) and the events lost before those read.
func (j *journal) oldPage(ctx context.Context, after uint64) EventPage {
	p := EventPage{Epoch: j.epoch, Next: after, Events: []Entry{}}
	rs, err := j.log.Read(ctx, after+1, journalPage)
	if err != nil && len(rs) == 0 {
		return p // the client asks again
	}
	next := after + 1
	for _, r := range rs {
		p.Missed += r.Seq - next + r.Lost
		p.Events = append(p.Events, Entry{ID: r.Seq, Event: r.Event})
		p.Next, next = r.Seq, r.Seq+1
	}
	return p
}

// accounts reports every account of p with its live bindings.
func (j *journal) accounts(p *ir.Program, lookup func(string) []BindingInfo, trunks []b2bua.TrunkStatus, now time.Time) AccountsReport {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := AccountsReport{Site: p.Site.Name, Epoch: j.epoch, Now: now, Calls: []CallState{}}
	for _, a := range p.Accounts {
		if a.Kind == ir.AccountTrunk {
			continue
		}
		st := AccountStatus{Name: a.Name, Kind: a.Kind, Device: a.Device}
		if a.Owner.Name != "" {
			st.Owner = a.Owner.String()
		}
		st.Bindings = lookup(a.Name)
		for i := range st.Bindings {
			st.Bindings[i].UserAgent = j.agents[a.Name+"\x00"+st.Bindings[i].Source]
		}
		st.Registered = len(st.Bindings) > 0
		if st.Registered {
			st.Since = j.since[a.Name]
		} else {
			delete(j.since, a.Name)
			if u, ok := j.unreg[a.Name]; ok {
				st.LastUnregistered = &u
			}
		}
		if f, ok := j.fetches[a.Name]; ok {
			st.LastFetch = &f
		}
		r.Accounts = append(r.Accounts, st)
	}
	for _, t := range trunks {
		ts := TrunkState{Name: t.Name, Registered: t.Registered}
		if h, ok := j.trunkEr[ir.AccountName(ir.AccountTrunk, t.Name)]; ok && !t.Registered {
			ts.LastError = &h
		}
		r.Trunks = append(r.Trunks, ts)
	}
	for _, c := range j.calls {
		r.Calls = append(r.Calls, *c)
	}
	slices.SortFunc(r.Calls, func(a, b CallState) int {
		return cmp.Or(a.Started.Compare(b.Started), strings.Compare(a.Call, b.Call))
	})
	return r
}

// recorder stores the site's events in its stream, in the order published.
// It reads the bus like any subscriber, so publishing never waits for the
// store; events it could not take (its buffer full) or store are counted
// and the count stored with the next event, which the journal reports as
// missed.
type recorder struct {
	sub  *events.Subscription
	log  *store.EventLog
	done chan struct{}
}

func newRecorder(bus *events.Bus, log *store.EventLog, logger *slog.Logger) *recorder {
	r := &recorder{sub: bus.Subscribe(journalSub), log: log, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		var dropped int
		var failed uint64 // events not stored since the last one stored
		// batch holds the events taken since the last flush, each with
		// the count the bus dropped before it: they go to the store
		// together, when the batch is flushed.
		type held struct {
			e    events.Event
			lost uint64
		}
		var batch []held
		// flush sends the batch and waits for the store's answer: one
		// answer for the batch (store.EventLog.AppendAsync).
		flush := func() {
			sent := 0
			for i := range batch {
				lost := batch[i].lost + failed
				if err := r.log.AppendAsync(batch[i].e, lost); err != nil {
					if failed == 0 {
						logger.Error("the event stream could not store an event; it is counted as missed", "kind", batch[i].e.Kind, "error", err)
					}
					failed = lost + 1
					continue
				}
				failed = 0
				sent++
			}
			clear(batch) // no strings kept alive until the next batch
			batch = batch[:0]
			if sent == 0 {
				return
			}
			n, err := r.log.Flush(context.Background())
			if err != nil {
				if failed == 0 {
					logger.Error("the event stream could not store events; they are counted as missed", "error", err)
				}
				failed += n
			}
		}
		// A batch is flushed when it is recorderBatch events long, or
		// recorderDelay after its first event: an answer per event, when
		// they come one by one, cost as much as storing them (issue 19).
		// Its events are sent together as it is flushed, not one by one
		// as they come: the store's server then takes them in one read
		// and one pass of its stream's loop instead of one each, which
		// at 200 door calls a second (ten events a call, a batch of about
		// ten) was a sixth of the server's CPU (issue 19). An event may
		// reach the store up to recorderDelay later than when each went
		// as it came (only a batch's last waited then), never later than
		// recorderDelay after the batch's first; the store's answer
		// comes when it did, and the readers in this process (the
		// journal, the portal) are handed a batch's events with their
		// IDs once that answer is in (store.EventLog.Tail), as before.
		timer := time.NewTimer(recorderDelay)
		timer.Stop()
		for {
			select {
			case e, ok := <-r.sub.C:
				if !ok {
					timer.Stop()
					flush()
					return
				}
				n := r.sub.Dropped()
				batch = append(batch, held{e: e, lost: uint64(n - dropped)})
				dropped = n
				if len(batch) == 1 {
					timer.Reset(recorderDelay)
				}
				if len(batch) >= recorderBatch {
					timer.Stop()
					flush()
				}
			case <-timer.C:
				flush()
			}
		}
	}()
	return r
}

// recorderBatch is how many events the recorder sends before it waits for
// the store's answer; recorderDelay how long it lets a batch grow.
const (
	recorderBatch = 256
	recorderDelay = 5 * time.Millisecond
)

// close stores what was published before it, then stops.
func (r *recorder) close() {
	r.sub.Close()
	<-r.done
}
