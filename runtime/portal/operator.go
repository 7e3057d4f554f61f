package portal

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"switchboard/compiler/ir"
	"switchboard/runtime/events"
)

// The operator's live event stream (server-sent events) is bounded: so
// many connections at once, each reading from one shared ring of recent
// events (a connection's only buffer is its place in the ring; one that
// falls further behind is told how many it missed), each ended when idle.
const (
	// MaxStreams is how many event streams may be open at once; more are
	// answered 503.
	MaxStreams = 8
	// streamRing is how many recent events the stream keeps for a
	// reconnecting client (Last-Event-ID) and for slow readers.
	streamRing = 512
	// StreamIdle ends a stream that sent nothing for this long: the
	// browser reconnects, with Last-Event-ID, and resumes.
	StreamIdle = 2 * time.Minute
	// streamWrite bounds one write to a client that stopped reading.
	streamWrite = 10 * time.Second
)

// stream is the event ring the operator's streams read.
type stream struct {
	sub  *events.Subscription
	done chan struct{}

	mu      sync.Mutex
	ring    []streamEvent // ring[0] oldest; at most streamRing
	nextID  uint64        // the next event's id; ids start at 1
	changed chan struct{}
	open    int
	// left is closed and replaced whenever a stream ends: tests wait on it.
	left chan struct{}
}

type streamEvent struct {
	id uint64
	e  events.Event
}

func newStream(bus *events.Bus) *stream {
	s := &stream{done: make(chan struct{}), nextID: 1, changed: make(chan struct{}), left: make(chan struct{})}
	if bus == nil {
		close(s.done)
		return s
	}
	s.sub = bus.Subscribe(1024)
	go func() {
		defer close(s.done)
		for e := range s.sub.C {
			s.add(e)
		}
	}()
	return s
}

func (s *stream) close() {
	if s.sub != nil {
		s.sub.Close()
	}
	<-s.done
}

func (s *stream) add(e events.Event) {
	// Digits are what someone keyed (a door code): not for a screen.
	e.Digits = ""
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ring) == streamRing {
		// Drop the oldest by moving the start: append moves the ring to
		// a new array when it runs out of room, a copy every streamRing
		// events rather than one every event.
		s.ring = s.ring[1:]
	}
	s.ring = append(s.ring, streamEvent{s.nextID, e})
	s.nextID++
	close(s.changed)
	s.changed = make(chan struct{})
}

// after returns the kept events after id, how many after id are no
// longer kept, and a channel closed at the next event.
func (s *stream) after(id uint64) (out []streamEvent, missed uint64, changed <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id >= s.nextID {
		// An id from before a restart: everything kept is new.
		id = 0
	}
	if len(s.ring) > 0 && s.ring[0].id > id+1 {
		missed = s.ring[0].id - id - 1
	}
	for _, se := range s.ring {
		if se.id > id {
			out = append(out, se)
		}
	}
	return out, missed, s.changed
}

func (s *stream) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open >= MaxStreams {
		return false
	}
	s.open++
	return true
}

func (s *stream) leave() {
	s.mu.Lock()
	s.open--
	close(s.left)
	s.left = make(chan struct{})
	s.mu.Unlock()
}

// count returns the streams open and a channel closed when one ends.
func (s *stream) count() (int, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open, s.left
}

// expiredEvent is the stream's last event when its session ends: the
// page stops reconnecting and says so.
const expiredEvent = "event: expired\ndata: Your session has expired: log in again.\n\n"

// operatorEvents streams the site's events as server-sent events, each
// with its id; a reconnect with Last-Event-ID resumes after it.
//
// Streaming is not activity: the session is resolved without keeping it
// alive (resolveQuiet), so an open operator page does not hold its
// session open through its reconnects; only pages and forms do. When the
// session expires (or ends: logged out, the installer changed) the
// stream sends expiredEvent and ends. Without a session it answers 401,
// which stops the browser's EventSource from reconnecting.
func (p *Portal) operatorEvents(w http.ResponseWriter, r *http.Request) {
	v := p.resolveQuiet(r)
	if v == nil {
		p.fail(w, r, nil, http.StatusUnauthorized, "Your session has ended: log in again.")
		return
	}
	if decide(v.Person.Role, v.Person.User, "", ir.RightBindDevices) != allow {
		p.fail(w, r, v, http.StatusForbidden, "This page is not yours to open.")
		return
	}
	if !p.stream.enter() {
		w.Header().Set("Retry-After", "30")
		p.fail(w, r, v, http.StatusServiceUnavailable, "Too many event streams are open.")
		return
	}
	defer p.stream.leave()
	last, _ := strconv.ParseUint(r.Header.Get("Last-Event-ID"), 10, 64)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	// A retry hint, and a first flush so the client sees the stream open.
	if _, err := fmt.Fprint(w, "retry: 3000\n\n"); err != nil || rc.Flush() != nil {
		return
	}
	// idle is closed once StreamIdle passes with nothing sent; each send
	// arms a new one (the clock is the portal's, so tests control it).
	var idle chan struct{}
	var timer interface{ Stop() bool }
	arm := func() {
		if timer != nil {
			timer.Stop()
		}
		c := make(chan struct{})
		idle, timer = c, p.clk.AfterFunc(StreamIdle, func() { close(c) })
	}
	arm()
	defer func() { timer.Stop() }()
	expired, stopWatch := p.watchSession(v.Session)
	defer stopWatch()
	end := func() {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWrite))
		if _, err := fmt.Fprint(w, expiredEvent); err == nil {
			_ = rc.Flush()
		}
	}
	for {
		evs, missed, changed := p.stream.after(last)
		if missed > 0 || len(evs) > 0 {
			// A session that ended (logged out, expired, the installer
			// changed) ends its streams at their next event.
			if p.resolveQuiet(r) == nil {
				end()
				return
			}
			_ = rc.SetWriteDeadline(time.Now().Add(streamWrite))
			if missed > 0 {
				fmt.Fprintf(w, "event: missed\ndata: %d\n\n", missed)
			}
			for _, se := range evs {
				data, _ := json.Marshal(se.e)
				fmt.Fprintf(w, "id: %d\nevent: site\ndata: %s\n\n", se.id, data)
				last = se.id
			}
			if rc.Flush() != nil {
				return
			}
			arm()
		}
		select {
		case <-changed:
		case <-expired:
			end()
			return
		case <-idle:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// watchSession returns a channel closed when s ends: a timer on the
// portal's clock falls due when s would expire unused, and arms itself
// again when a page used s meanwhile. stop stops the watch.
func (p *Portal) watchSession(s *session) (ended <-chan struct{}, stop func()) {
	c := make(chan struct{})
	var mu sync.Mutex
	var timer interface{ Stop() bool }
	stopped := false
	var check func()
	check = func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		end, ok := p.sessions.ends(s)
		if !ok {
			stopped = true
			close(c)
			return
		}
		timer = p.clk.AfterFunc(end.Sub(p.clk.Now()), check)
	}
	check()
	return c, func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		if timer != nil {
			timer.Stop()
		}
	}
}

type accountRow struct {
	Account, Kind, Owner, Agent, Source string
	Registrations                       int
}

// operatorPage is the installer's view: registrations per account, the
// trunks, the calls in progress and the live event stream.
func (p *Portal) operatorPage(w http.ResponseWriter, r *http.Request, v *visit) {
	var rows []accountRow
	online := 0
	for _, a := range v.Program.Accounts {
		row := accountRow{Account: a.Name, Kind: string(a.Kind), Owner: accountLabel(v.Program, a.Name)}
		if p.cfg.Bindings != nil {
			bs := p.cfg.Bindings(a.Name)
			row.Registrations = len(bs)
			if len(bs) > 0 {
				row.Agent, row.Source = bs[0].UserAgent, bs[0].Source
				online++
			}
		}
		rows = append(rows, row)
	}
	// Every trunk of the program; one the server does not register (no
	// credentials given, or authenticated by address) says so.
	registering := map[string]bool{}
	if p.cfg.Trunks != nil {
		for _, t := range p.cfg.Trunks() {
			registering[t.Name] = t.Registered
		}
	}
	type trunkRow struct {
		Name, State string
		Registered  bool
	}
	var trunks []trunkRow
	for _, t := range v.Program.Trunks {
		row := trunkRow{Name: t.Name, State: "not registering (no credentials given, or authenticated by address)"}
		if reg, ok := registering[t.Name]; ok {
			row.Registered, row.State = reg, map[bool]string{true: "registered", false: "not registered"}[reg]
		}
		trunks = append(trunks, row)
	}
	data := map[string]any{"Accounts": rows, "Online": online, "Trunks": trunks, "Live": p.liveCalls(v.Program)}
	if p.cfg.Site != nil {
		switch cl, err := p.cfg.Site.Commissioning(); {
		case err != nil:
			p.log.Error("portal: reading the commissioning checklist", "error", err)
			data["ChecklistNote"] = "The commissioning checklist could not be read from the state."
		case cl == nil:
			data["ChecklistNote"] = "The site was not commissioned yet: run switchboard commission against this server."
		default:
			data["Checklist"] = checklistView(cl)
		}
	}
	p.render(w, r, v, http.StatusOK, pageOperator, data)
}

// checklistView counts the checklist's cases and lists those not passed,
// the failed first.
func checklistView(cl *Checklist) map[string]any {
	counts := map[string]int{}
	var failed, open []CheckCase
	for _, c := range cl.Cases {
		counts[c.Status]++
		switch c.Status {
		case "failed":
			failed = append(failed, c)
		case "open":
			open = append(open, c)
		}
	}
	return map[string]any{"Updated": cl.Updated, "Total": len(cl.Cases), "Passed": counts["passed"], "Failed": counts["failed"],
		"Open": counts["open"], "Skipped": counts["skipped"], "Pending": append(failed, open...)}
}
