package sipstack

import (
	"fmt"
	"math"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Overload: when the server cannot keep up, new calls are refused early,
// with 503 Service Unavailable and a Retry-After (RFC 3261 §21.5.4), instead
// of being queued until their transactions time out.
//
// Without it, a server offered more calls than it can set up accepts them
// all: each new INVITE gets a transaction, a media session and three forked
// INVITEs, and all of them then share the one core with everything already
// in progress. Every call slows down; callers and callees retransmit, which
// is more work still; the socket's receive buffer overflows and drops
// responses, which brings more retransmissions. Measured (issue 19): at
// twice the rate it can carry the server completed less than half of it,
// with calls waiting 35 s for their 200, and its memory grew past 1 GB.
// Kamailio at the same load failed calls fast.
//
// Two measures decide, and either refuses:
//
//   - How long new requests wait before the read loop takes them up.
//     Over UDP (ReadyConn, priority.go) the loop takes what the socket
//     holds into two queues and hands on what continues admitted work
//     first; new requests (INVITE, REGISTER, SUBSCRIBE without a To tag)
//     wait in the second, and the loop yields the processor to the
//     goroutines handling what it handed on before it turns to them. So
//     a new request's wait, from the kernel's receive stamp
//     (SO_TIMESTAMPNS, package udp) to the moment it leaves the queue
//     (Waited), is the server's whole backlog as a new call meets it:
//     the socket, the admitted work ahead of it, and the goroutines
//     waiting for the CPU (sipgo runs every message in a goroutine of
//     its own). It sees a busy core whatever the cause: more calls than
//     the core carries, or another process taking part of it. What
//     counts is the standing wait: when every request of a block read in
//     a row waited, a backlog has formed, and new INVITEs are refused as
//     they leave the queue, at the cost of a scan and a send, before it
//     grows into drops at a full receive buffer — which drop whatever
//     comes, the answers and ACKs of calls admitted long ago as much as
//     new INVITEs, each drop bringing a retransmission (measured, issue
//     19: with three CPU burners on its core the server dropped 21 000
//     datagrams in 8 s and completed 7 calls/s, p99 37 s). Past the
//     limit (serve -max-queue-delay, DefaultQueueDelay) new calls are
//     refused until the backlog drains below it again, and only while a
//     few calls (delayFloor) are being set up: a server waiting with
//     fewer has a cause other than its calls. Where the read loop cannot
//     measure (no receive stamps, or a socket shared by several sites
//     through a demultiplexer), the Go scheduler's own measure of how
//     long goroutines wait to run stands in (runtime/metrics,
//     /sched/latencies:seconds, the 90th percentile of each DelayPeriod,
//     smoothed over about two); Waited says why it stands aside
//     otherwise.
//   - The number of calls being set up: initial INVITEs admitted and not
//     yet given a final response. By Little's law it is the rate of new
//     calls times how long each takes to set up, so it also rises when
//     set-ups take longer, and it bounds what an admitted burst may hold
//     (media sessions, forked transactions) before the delay shows. A call
//     that rings for half a minute is one call being set up all that time;
//     the default budget (DefaultCallSetups, serve -max-call-setups) is far
//     beyond what any building rings at once.
//
// Only new initial INVITEs are refused: never a request inside a dialog
// (ACK, BYE, CANCEL, a re-INVITE, which carry a To tag and never reach
// Admit), and never a retransmission of an INVITE already admitted, nor
// the INVITE that answers our own challenge of an admitted one (the same
// Call-ID, a new CSeq): a call once admitted is carried to its end, since
// the work it cost so far would otherwise be wasted. Finished set-ups are
// remembered for a transaction's lifetime (64·T1) so that a late
// retransmission of an answered INVITE is not refused either.
//
// Over UDP the refusal is sent statelessly from the listener's read loop,
// before sipgo makes a transaction (package sipstack, Stateless), as
// Kamailio's sl_send_reply would send it, from a scan of the INVITE's
// header lines rather than a parse (refuse.go): it costs a fraction of
// what a call costs, so a server refusing most of what it is offered
// still spends most of its core on the calls it admitted.
//
// RFC 7339 (SIP overload control) is feedback between SIP servers: an
// upstream client that advertises support (a bare "oc" in its top Via)
// is told, in the same Via of the responses, by how much to reduce what
// it sends ("oc", a percentage for the "loss" algorithm, §6), for how
// long ("oc-validity") and in which order ("oc-seq"), and throttles at
// its side, so that the server need not refuse what the client would
// otherwise send. Our clients are door stations, phones and apps, which
// send one call at a time and implement none of it; a carrier trunk is
// the only upstream server, and none we know of advertises "oc". Still,
// where it costs nothing, the refusals carry it: a 503 to a client that
// advertised "oc" has the share of new calls refused in the last second
// (at least 1 %) as its reduction (ocFeedback) — the scanned ones, that
// is, nearly all of them (Refusal says why not the others). Other
// responses carry no
// feedback: that would be a header edit in every response the server
// sends, for clients we have not met. Without the client's advertisement
// RFC 7339 §5.10 falls back to 503 with Retry-After, which is what this
// does. The Retry-After is short (DefaultRetryAfter): a proxy in front
// of us may take a 503 as "this server is down" for that long (RFC 3263
// §4.3), the on/off behaviour RFC 7339 was written to avoid, and a short
// one keeps such an outage short. It is sent to clients that support
// "oc" too, as RFC 3261 asks of a 503; such a client follows the "oc"
// reduction rather than stopping.

// DefaultCallSetups is the default budget of calls being set up at once.
// It is the second measure, a bound on what set-ups may hold (a media
// session, a transaction per callee) rather than the first sign of
// overload: a call's set-up time is mostly its callees' — their ringing, or
// a load generator's own delays — so a tight budget refuses calls a server
// with a free core could carry (bench/sip at 800/s offered on a calm
// machine: a budget of 200 refused 518 of 4 800 calls with the core half
// idle; the queueing delay alone, 106). 1 000 is still several times what
// the busiest building rings at once.
const DefaultCallSetups = 1000

// DefaultRetryAfter is the Retry-After of a refusal, in seconds.
const DefaultRetryAfter = 2

// DefaultQueueDelay is the default limit of the queueing delay. A door
// call's set-up crosses the queue four or five times, and must stay under
// a second (and each crossing under T1, 500 ms, or the callees' INVITEs
// are retransmitted for nothing). Measured with bench/sip on one core: at
// half the clean maximum the delay's 90th percentile is well under a
// millisecond; near the maximum it reaches 30–100 ms in bursts while every
// call still answers within 350 ms; past it, it grows without bound.
const DefaultQueueDelay = 150 * time.Millisecond

// delayFloor is how many calls must be being set up for the queueing delay
// to refuse one: with fewer, the server's own calls are not what keeps its
// work waiting (another process, a machine busy elsewhere), and refusing a
// call would relieve nothing.
const delayFloor = 8

// DelayPeriod is how often the queueing delay is measured.
const DelayPeriod = 100 * time.Millisecond

// setupRetention is how long a set-up is remembered after it ended, and
// the longest an admitted one is counted without ending: 64·T1, the
// longest an INVITE transaction lasts.
const setupRetention = 64 * 500 * time.Millisecond

// Admission bounds the calls being set up at once; see the comment above.
type Admission struct {
	budget     int
	maxDelay   time.Duration
	retryAfter string
	now        func() time.Time
	// delay is the last measured queueing delay (time.Duration).
	delay atomic.Int64
	// wait is the standing wait in the socket (time.Duration): the
	// shortest of the last block of datagrams read; see Waited.
	wait atomic.Int64
	// queued is set once the read loop measures waits (Waited): the
	// scheduler's measure then stands aside (see Waited).
	queued atomic.Bool
	// block is the block of datagrams being read and its shortest
	// wait, published is when wait was last set; the read loop's alone.
	block struct {
		n   int
		min time.Duration
	}
	published time.Time
	stop      chan struct{}
	once      sync.Once

	mu sync.Mutex
	// setting are the Call-IDs of the calls being set up, with when
	// each was admitted.
	setting map[string]time.Time
	// ended and endedBefore are the Call-IDs whose set-up ended within
	// the last one or two retention periods (rotated as a pair).
	ended, endedBefore map[string]struct{}
	rotated            time.Time

	refused atomic.Int64

	// offered and refusing count the new calls decided since window
	// began, reduction is the share refused in the window before (a
	// percentage): RFC 7339 feedback (ocFeedback). a.mu.
	offered, refusing int
	window            time.Time
	reduction         int
}

// ocAlgo is the RFC 7339 algorithm of our feedback: loss-based, the one
// every client that supports it must know (§5.1).
const ocAlgo = `oc-algo="loss"`

// ocValidity is how long, in milliseconds, a client should apply the
// reduction it was told (oc-validity): a second, about the window it was
// measured over, so that a client stops reducing soon after we stop
// refusing.
const ocValidity = 1000

// ocFeedback is what a refusal tells a client that supports RFC 7339.
type ocFeedback struct {
	reduction int    // the percentage of requests to shed, 1–100
	seq       string // oc-seq: when it was given, in seconds
}

// feedback is the RFC 7339 feedback to send with a refusal now: the
// share of new calls refused in the last window, or in this one so far
// when that is more.
func (a *Admission) feedback() ocFeedback {
	a.mu.Lock()
	now := a.now()
	a.roll(now)
	r := a.reduction
	if a.offered > 0 {
		r = max(r, (100*a.refusing+a.offered-1)/a.offered)
	}
	a.mu.Unlock()
	ms := now.UnixMilli()
	return ocFeedback{
		reduction: min(max(r, 1), 100),
		seq:       strconv.FormatInt(ms/1000, 10) + "." + fmt.Sprintf("%03d", ms%1000),
	}
}

// roll starts a new window of the counts behind feedback when a second
// has passed. a.mu is held.
func (a *Admission) roll(now time.Time) {
	if now.Sub(a.window) < time.Second {
		return
	}
	a.reduction = 0
	if a.offered > 0 && now.Sub(a.window) < 2*time.Second {
		a.reduction = (100*a.refusing + a.offered - 1) / a.offered
	}
	a.offered, a.refusing, a.window = 0, 0, now
}

// NewAdmission bounds the calls being set up at once to budget and the
// queueing delay to maxDelay (0 or less: no bound on either); a refusal
// carries Retry-After retryAfter seconds. With a maxDelay it measures the
// delay until Close.
func NewAdmission(budget int, maxDelay time.Duration, retryAfter int) *Admission {
	a := newAdmission(budget, maxDelay, retryAfter, time.Now)
	if maxDelay > 0 {
		go a.watch(DelayPeriod)
	}
	return a
}

func newAdmission(budget int, maxDelay time.Duration, retryAfter int, now func() time.Time) *Admission {
	if retryAfter < 1 {
		retryAfter = DefaultRetryAfter
	}
	return &Admission{
		budget: budget, maxDelay: maxDelay, retryAfter: strconv.Itoa(retryAfter), now: now, stop: make(chan struct{}),
		setting: map[string]time.Time{}, ended: map[string]struct{}{}, endedBefore: map[string]struct{}{},
		rotated: now(), published: now(),
	}
}

// Close stops measuring.
func (a *Admission) Close() {
	if a != nil {
		a.once.Do(func() { close(a.stop) })
	}
}

// schedLatencies is the Go scheduler's histogram of how long goroutines
// waited, runnable, before they ran.
const schedLatencies = "/sched/latencies:seconds"

// watch measures the queueing delay every period until Close.
func (a *Admission) watch(period time.Duration) {
	sample := []metrics.Sample{{Name: schedLatencies}}
	var prev []uint64
	// The first period counts from now, not from the process's start-up
	// (which loaded and compiled the site, and is no backlog of calls).
	if metrics.Read(sample); sample[0].Value.Kind() == metrics.KindFloat64Histogram {
		prev = append(prev, sample[0].Value.Float64Histogram().Counts...)
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
		}
		if a.queued.Load() {
			return // the read loop measures instead (Waited)
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindFloat64Histogram {
			return // not measured by this Go
		}
		h := sample[0].Value.Float64Histogram()
		// Smoothed over about two periods: a single pause (a garbage
		// collection) does not refuse a tenth of a second's calls.
		a.observe((a.Delay() + quantileSince(h, prev, 0.9)) / 2)
		prev = append(prev[:0], h.Counts...)
	}
}

// observe records a measured queueing delay.
func (a *Admission) observe(d time.Duration) { a.delay.Store(int64(d)) }

// Delay is the last measured queueing delay.
func (a *Admission) Delay() time.Duration {
	if a == nil {
		return 0
	}
	return time.Duration(a.delay.Load())
}

// Waited records how long the datagram the listener just read waited in
// its socket's receive buffer (the kernel's receive time to the read,
// ReadyConn). Called from the read loop for every datagram, before the
// datagram is handled.
//
// What counts is the standing wait, not the last one: the shortest wait
// of a block of waitBlock datagrams read one after the other (or of
// those read since it was last measured, DelayPeriod ago or more, when
// fewer come: a datagram after a quiet spell counts on its own), as
// CoDel (RFC 8289)
// judges a queue by its minimum sojourn over an interval. A server that
// keeps up empties its socket now and then, and some datagram of every
// block finds it nearly empty; one that falls behind never does, and
// every datagram of the block waited. The last wait alone would refuse
// for a burst that drains, or for the moment the server's thread was
// off its core: with one CPU burner beside it, the server refused half
// of 400 calls/s it then carried with -max-queue-delay 0 (p99 468 ms,
// none refused; issue 19, bench/sip on a busy machine).
//
// On the priority path (ReadyConn, priority.go) it is told only of new
// requests, and the wait runs from the kernel's receive stamp to when the
// read loop takes the request from its own queue, after it has yielded
// to the goroutines handling what it handed on before: the backlog of
// the server's own work, which is what the scheduler's measure (Delay)
// stood for. Once Waited is called that measure stands aside, and
// its watch stops. The scheduler's p90 counts every goroutine's wait in
// the process, whatever it belongs to, smoothed over two periods; it
// refused calls the server then carried in about one bench run in three
// to seven (issue 19), and with the read loop's wait it brought nothing
// the wait does not see.
func (a *Admission) Waited(d time.Duration) {
	if a == nil {
		return
	}
	if !a.queued.Load() {
		a.queued.Store(true)
		a.delay.Store(0)
	}
	now := a.now()
	b := &a.block
	if b.n == 0 {
		b.min = d
	}
	b.min = min(b.min, d)
	b.n++
	switch {
	case b.n >= waitBlock:
		a.wait.Store(int64(b.min))
	case now.Sub(a.published) < DelayPeriod:
		return
	case b.n < standingFloor:
		// A few datagrams in a period are no queue, however long each
		// waited: a lightly loaded server whose thread was off its
		// core for a moment (another process, a collection) has
		// nothing to refuse.
		a.wait.Store(0)
	default:
		a.wait.Store(int64(b.min))
	}
	b.n = 0
	a.published = now
}

// standingFloor is how many datagrams a period must bring for their
// wait to stand: fewer, one at a time, each wait is how long the read
// loop took to wake, not a queue. (Found by a test: a server given one
// call at a time while a goroutine burned its only processor refused a
// fifth of them on a busy machine, each refusing the next period's.)
const standingFloor = 8

// waitBlock is how many datagrams in a row must all have waited for the
// wait to stand: at the clean maximum of door calls (about 8 000
// datagrams a second) a few milliseconds of traffic.
const waitBlock = 32

// Wait is the standing wait in the socket (see Waited).
func (a *Admission) Wait() time.Duration {
	if a == nil {
		return 0
	}
	return time.Duration(a.wait.Load())
}

// quantileSince is the q-quantile of what h counted since it counted prev
// (nil: since the start), as the lower bound of its bucket; 0 when
// nothing was counted.
func quantileSince(h *metrics.Float64Histogram, prev []uint64, q float64) time.Duration {
	var total uint64
	for i, c := range h.Counts {
		if i < len(prev) {
			c -= prev[i]
		}
		total += c
	}
	if total == 0 {
		return 0
	}
	want := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range h.Counts {
		if i < len(prev) {
			c -= prev[i]
		}
		seen += c
		if seen >= want {
			lo := h.Buckets[i]
			if math.IsInf(lo, -1) || lo < 0 {
				lo = 0
			}
			return time.Duration(lo * float64(time.Second))
		}
	}
	return 0
}

// Admit decides on a new initial INVITE (no To tag) of call callID and
// reports whether it may go on: always for a call already admitted (a
// retransmission, or the INVITE answering our challenge) or one whose
// set-up ended recently (a late retransmission), otherwise only while the
// queueing delay is within its limit and fewer than the budget's calls
// are being set up. An admitted call must be matched by Done.
func (a *Admission) Admit(callID string) bool { return a.admit(callID, true) }

// Admits reports whether Admit would admit call callID, and counts nothing:
// for an INVITE about to be challenged, which must not hold a place in the
// budget (a flood of unauthenticated INVITEs would fill it), but which need
// not be challenged when its answer would be refused anyway.
func (a *Admission) Admits(callID string) bool { return a.admit(callID, false) }

// bounded reports whether a refuses anything at all.
func (a *Admission) bounded() bool { return a != nil && (a.budget > 0 || a.maxDelay > 0) }

func (a *Admission) admit(callID string, count bool) bool {
	if !a.bounded() {
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.setting[callID]; ok {
		return true
	}
	now := a.now()
	a.rotate(now)
	if _, ok := a.ended[callID]; ok {
		return true
	}
	if _, ok := a.endedBefore[callID]; ok {
		return true
	}
	a.roll(now)
	a.offered++
	if a.maxDelay > 0 && len(a.setting) >= delayFloor && ((!a.queued.Load() && a.Delay() > a.maxDelay) || a.Wait() > a.maxDelay) {
		a.refused.Add(1)
		a.refusing++
		return false
	}
	if a.budget > 0 && len(a.setting) >= a.budget {
		a.expire(now)
		if len(a.setting) >= a.budget {
			a.refused.Add(1)
			a.refusing++
			return false
		}
	}
	if count {
		a.setting[callID] = now
	}
	return true
}

// Done says the set-up of call callID ended (the caller has a final
// response, or the INVITE was refused); its retransmissions are still
// admitted for a while.
func (a *Admission) Done(callID string) {
	if a == nil || (a.budget <= 0 && a.maxDelay <= 0) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.setting[callID]; !ok {
		return
	}
	delete(a.setting, callID)
	a.rotate(a.now())
	a.ended[callID] = struct{}{}
}

// rotate forgets the set-ups that ended more than two retention periods
// ago, a period at a time. a.mu is held.
func (a *Admission) rotate(now time.Time) {
	if now.Sub(a.rotated) < setupRetention {
		return
	}
	a.endedBefore, a.ended = a.ended, a.endedBefore
	clear(a.ended)
	a.rotated = now
	a.expire(now)
}

// expire stops counting set-ups admitted longer ago than any INVITE
// transaction lasts: an INVITE sipgo dropped after we admitted it (a
// malformed one) never reaches the handler that would call Done. a.mu is
// held; it runs at the budget, over at most the budget's entries, and
// once a retention period.
func (a *Admission) expire(now time.Time) {
	for id, t := range a.setting {
		if now.Sub(t) > setupRetention {
			delete(a.setting, id)
		}
	}
}

// Setting is how many calls are being set up.
func (a *Admission) Setting() int {
	if a == nil {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.setting)
}

// Refused is how many INVITEs Admit has refused.
func (a *Admission) Refused() int64 {
	if a == nil {
		return 0
	}
	return a.refused.Load()
}

// Refusal is the response to an INVITE Admit refused: 503 with
// Retry-After. It carries no RFC 7339 feedback: sipgo's parser misreads
// a quoted Via parameter (the oc-algo="loss" an RFC 7339 client sends),
// so the Via it parsed cannot be written back faithfully; the scanned
// refusal (refuse.go), which copies the Via as it came, carries it, and
// is what nearly every INVITE refused over UDP gets.
func (a *Admission) Refusal(req *sip.Request) *sip.Response {
	res := sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, "Service Unavailable", nil)
	res.AppendHeader(sip.NewHeader("Retry-After", a.retryAfter))
	return res
}
