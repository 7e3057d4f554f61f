package site

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"time"

	"switchboard/compiler/ir"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/events"
)

// Sizes of what the journal keeps: the last journalSize events (a site's
// walk-through is a few hundred; a client that falls further behind is
// told how many it missed), at most journalPage of them an answer, and at
// most journalCalls calls in progress (a call whose end was lost to a full
// subscription must not stay forever).
const (
	journalSize  = 4096
	journalPage  = 512
	journalCalls = 4096
	journalSub   = 4096 // the subscription's buffer
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
	// Epoch names this run of the server: IDs count from 1 in each, so a
	// client holding an ID of another epoch starts again from the oldest.
	Epoch  string  `json:"epoch"`
	Events []Entry `json:"events"`
	// Next is the ID to ask after next time (the last one handed out, or
	// the one asked after when there was none).
	Next uint64 `json:"next"`
	// Missed is how many events after the one asked for are no longer
	// kept (the journal holds the last few thousand) or were lost because
	// the journal fell behind the server.
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

// gap is n events the subscription dropped just before event ID before.
type gap struct{ before, n uint64 }

// journal keeps the recent events, numbered, for the admin endpoints, and
// what they say about accounts that the registrar does not keep: since
// when, with which user agent, the last provisioning fetch, the trunks'
// last errors, the calls in progress. It reads the bus like any
// subscriber, so the SIP hot path never waits for it.
type journal struct {
	sub   *events.Subscription
	epoch string
	// live says whether an account has a live binding now (the
	// registrar's answer): an unregistered event ends "since" only when it
	// took the account's last one.
	live func(account string) bool
	done chan struct{}

	mu      sync.Mutex
	ring    []Entry // ring[i%journalSize] holds ID i+1
	last    uint64  // ID of the newest event
	gaps    []gap   // where the subscription dropped events, oldest first
	wake    chan struct{}
	since   map[string]time.Time
	agents  map[string]string // account + "\x00" + source → user agent
	unreg   map[string]Happening
	fetches map[string]Fetch // by account
	trunkEr map[string]Happening
	calls   map[string]*CallState
}

func newJournal(bus *events.Bus, live func(account string) bool) *journal {
	var b [8]byte
	_, _ = rand.Read(b[:])
	j := &journal{
		sub: bus.Subscribe(journalSub), live: live, epoch: hex.EncodeToString(b[:]), done: make(chan struct{}),
		ring: make([]Entry, journalSize), wake: make(chan struct{}),
		since: map[string]time.Time{}, agents: map[string]string{}, unreg: map[string]Happening{},
		fetches: map[string]Fetch{}, trunkEr: map[string]Happening{}, calls: map[string]*CallState{},
	}
	go j.run()
	return j
}

func (j *journal) close() {
	j.sub.Close()
	<-j.done
}

func (j *journal) run() {
	defer close(j.done)
	var dropped int
	for e := range j.sub.C {
		n := j.sub.Dropped()
		j.add(e, uint64(n-dropped))
		dropped = n
	}
}

// add records e; lost events were dropped before it.
func (j *journal) add(e events.Event, lost uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.last++
	if lost > 0 {
		j.gaps = append(j.gaps, gap{before: j.last, n: lost})
	}
	for len(j.gaps) > 0 && j.last > journalSize && j.gaps[0].before <= j.last-journalSize {
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
		if len(j.calls) < journalCalls {
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
// there is none yet (or until ctx ends). An ID of another epoch (another
// run of the server) counts from the oldest event kept.
func (j *journal) page(ctx context.Context, epoch string, after uint64, wait time.Duration) EventPage {
	timer := time.NewTimer(min(wait, MaxEventsWait))
	defer timer.Stop()
	if epoch != "" && epoch != j.epoch {
		after = 0
	}
	for {
		j.mu.Lock()
		if j.last > after || wait <= 0 {
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
	oldest := uint64(1)
	if j.last > journalSize {
		oldest = j.last - journalSize + 1
	}
	from := after + 1
	if from < oldest {
		p.Missed = oldest - from
		from = oldest
	}
	for _, g := range j.gaps {
		if g.before > after {
			p.Missed += g.n
		}
	}
	for id := from; id <= j.last && len(p.Events) < journalPage; id++ {
		p.Events = append(p.Events, j.ring[(id-1)%journalSize])
		p.Next = id
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
