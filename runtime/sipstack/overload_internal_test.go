package sipstack

import (
	"fmt"
	"math"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"
)

// Admission decides on the count of calls being set up, never on how
// long they took: the clock stands still here unless a step moves it.
func TestAdmission(t *testing.T) {
	type step struct {
		op      string // admit, admits, done, wait, delay (the scheduler's queueing delay is wait); socket, half, drained, one: datagrams read (see below)
		call    string
		wait    time.Duration
		want    bool // for admit and admits
		setting int  // calls being set up after the step
	}
	tests := []struct {
		name     string
		budget   int
		maxDelay time.Duration
		steps    []step
	}{
		{"refused past the budget, admitted again once a set-up ends", 2, 0, []step{
			{op: "admit", call: "a", want: true, setting: 1},
			{op: "admit", call: "b", want: true, setting: 2},
			{op: "admits", call: "c", want: false, setting: 2},
			{op: "admit", call: "c", want: false, setting: 2},
			{op: "done", call: "a", setting: 1},
			{op: "admits", call: "c", want: true, setting: 1},
			{op: "admit", call: "c", want: true, setting: 2},
		}},
		{"a call admitted is admitted again whatever the count", 1, 0, []step{
			{op: "admit", call: "a", want: true, setting: 1},
			{op: "admit", call: "a", want: true, setting: 1}, // a retransmission, or the answer to the challenge
			{op: "admit", call: "b", want: false, setting: 1},
			{op: "done", call: "a", setting: 0},
			{op: "admit", call: "b", want: true, setting: 1},
			{op: "admit", call: "a", want: true, setting: 1}, // a late retransmission of a call set up
		}},
		{"a finished set-up is remembered for a retention period at least, forgotten after two", 1, 0, []step{
			{op: "admit", call: "a", want: true, setting: 1},
			{op: "done", call: "a", setting: 0},
			{op: "wait", wait: setupRetention + time.Second, setting: 0},
			{op: "admit", call: "b", want: true, setting: 1},
			{op: "admit", call: "a", want: true, setting: 1},
			{op: "done", call: "b", setting: 0},
			{op: "wait", wait: setupRetention + time.Second, setting: 0},
			{op: "admit", call: "c", want: true, setting: 1},
			{op: "admit", call: "a", want: false, setting: 1},
		}},
		{"a set-up never ended stops counting after an INVITE's lifetime", 1, 0, []step{
			{op: "admit", call: "lost", want: true, setting: 1},
			{op: "admit", call: "b", want: false, setting: 1},
			{op: "wait", wait: setupRetention + time.Second, setting: 1},
			{op: "admit", call: "b", want: true, setting: 1},
		}},
		{"Admits counts nothing", 1, 0, []step{
			{op: "admits", call: "a", want: true, setting: 0},
			{op: "admits", call: "b", want: true, setting: 0},
			{op: "admit", call: "b", want: true, setting: 1},
		}},
		{"refused while the queueing delay is past its limit, admitted once it is back", 0, 50 * time.Millisecond, []step{
			{op: "admit", call: "1", want: true, setting: 1},
			{op: "admit", call: "2", want: true, setting: 2},
			{op: "admit", call: "3", want: true, setting: 3},
			{op: "admit", call: "4", want: true, setting: 4},
			{op: "admit", call: "5", want: true, setting: 5},
			{op: "admit", call: "6", want: true, setting: 6},
			{op: "admit", call: "7", want: true, setting: 7},
			{op: "delay", wait: 80 * time.Millisecond, setting: 7},
			{op: "admit", call: "a", want: true, setting: 8}, // fewer than delayFloor were being set up
			{op: "admits", call: "b", want: false, setting: 8},
			{op: "admit", call: "b", want: false, setting: 8},
			{op: "admit", call: "a", want: true, setting: 8}, // admitted already
			{op: "done", call: "a", setting: 7},
			{op: "admit", call: "a", want: true, setting: 7}, // a late retransmission
			{op: "admit", call: "b", want: true, setting: 8}, // below the floor again
			{op: "admit", call: "c", want: false, setting: 8},
			{op: "delay", wait: 50 * time.Millisecond, setting: 8},
			{op: "admit", call: "c", want: true, setting: 9},
		}},
		{"either measure refuses", 9, 50 * time.Millisecond, []step{
			{op: "admit", call: "1", want: true, setting: 1},
			{op: "admit", call: "2", want: true, setting: 2},
			{op: "admit", call: "3", want: true, setting: 3},
			{op: "admit", call: "4", want: true, setting: 4},
			{op: "admit", call: "5", want: true, setting: 5},
			{op: "admit", call: "6", want: true, setting: 6},
			{op: "admit", call: "7", want: true, setting: 7},
			{op: "admit", call: "8", want: true, setting: 8},
			{op: "admit", call: "a", want: true, setting: 9},
			{op: "admit", call: "b", want: false, setting: 9},
			{op: "done", call: "a", setting: 8},
			{op: "delay", wait: time.Second, setting: 8},
			{op: "admit", call: "b", want: false, setting: 8},
			{op: "delay", wait: 0, setting: 8},
			{op: "admit", call: "b", want: true, setting: 9},
		}},
		{"refused while datagrams wait in the socket past the limit, admitted once they do not", 0, 50 * time.Millisecond, []step{
			{op: "admit", call: "1", want: true, setting: 1},
			{op: "admit", call: "2", want: true, setting: 2},
			{op: "admit", call: "3", want: true, setting: 3},
			{op: "admit", call: "4", want: true, setting: 4},
			{op: "admit", call: "5", want: true, setting: 5},
			{op: "admit", call: "6", want: true, setting: 6},
			{op: "socket", wait: 80 * time.Millisecond, setting: 6},
			{op: "admit", call: "7", want: true, setting: 7}, // fewer than delayFloor were being set up
			{op: "admit", call: "8", want: true, setting: 8},
			{op: "admits", call: "b", want: false, setting: 8},
			{op: "admit", call: "b", want: false, setting: 8},
			{op: "admit", call: "8", want: true, setting: 8}, // admitted already: a retransmission, or the answer to our challenge
			{op: "socket", wait: 50 * time.Millisecond, setting: 8},
			{op: "admit", call: "b", want: true, setting: 9},
			{op: "socket", wait: time.Second, setting: 9},
			{op: "delay", wait: 0, setting: 9}, // the scheduler's delay does not clear the socket's
			{op: "admit", call: "c", want: false, setting: 9},
		}},
		{"the socket's wait counts when it stands: every datagram of a block waited", 0, 30 * time.Millisecond, []step{
			{op: "admit", call: "1", want: true, setting: 1},
			{op: "admit", call: "2", want: true, setting: 2},
			{op: "admit", call: "3", want: true, setting: 3},
			{op: "admit", call: "4", want: true, setting: 4},
			{op: "admit", call: "5", want: true, setting: 5},
			{op: "admit", call: "6", want: true, setting: 6},
			{op: "admit", call: "7", want: true, setting: 7},
			{op: "admit", call: "8", want: true, setting: 8},
			// A burst that drains: its last datagram found the socket empty.
			{op: "drained", wait: time.Second, setting: 8},
			{op: "admit", call: "a", want: true, setting: 9},
			// Half a block waiting long: not yet a standing wait.
			{op: "half", wait: time.Second, setting: 9},
			{op: "admit", call: "b", want: true, setting: 10},
			// The rest of the block waited too.
			{op: "half", wait: time.Second, setting: 10},
			{op: "admit", call: "c", want: false, setting: 10},
			// Fewer datagrams than a block, over a whole period, all short.
			{op: "wait", wait: DelayPeriod, setting: 10},
			{op: "one", wait: 0, setting: 10},
			{op: "admit", call: "c", want: true, setting: 11},
		}},
		{"a few datagrams over a period are no queue, however long each waited", 0, 30 * time.Millisecond, []step{
			{op: "admit", call: "1", want: true, setting: 1},
			{op: "admit", call: "2", want: true, setting: 2},
			{op: "admit", call: "3", want: true, setting: 3},
			{op: "admit", call: "4", want: true, setting: 4},
			{op: "admit", call: "5", want: true, setting: 5},
			{op: "admit", call: "6", want: true, setting: 6},
			{op: "admit", call: "7", want: true, setting: 7},
			{op: "admit", call: "8", want: true, setting: 8},
			{op: "wait", wait: DelayPeriod, setting: 8},
			{op: "one", wait: time.Second, setting: 8},
			{op: "admit", call: "a", want: true, setting: 9},
			{op: "socket", wait: time.Second, setting: 9},
			{op: "admit", call: "b", want: false, setting: 9},
		}},
		{"once the read loop measures waits, the scheduler's delay stands aside", 0, 30 * time.Millisecond, []step{
			{op: "admit", call: "1", want: true, setting: 1},
			{op: "admit", call: "2", want: true, setting: 2},
			{op: "admit", call: "3", want: true, setting: 3},
			{op: "admit", call: "4", want: true, setting: 4},
			{op: "admit", call: "5", want: true, setting: 5},
			{op: "admit", call: "6", want: true, setting: 6},
			{op: "admit", call: "7", want: true, setting: 7},
			{op: "admit", call: "8", want: true, setting: 8},
			{op: "delay", wait: time.Second, setting: 8},
			{op: "admit", call: "a", want: false, setting: 8},
			{op: "one", wait: 0, setting: 8},
			{op: "admit", call: "a", want: true, setting: 9},
			{op: "delay", wait: time.Second, setting: 9},
			{op: "admit", call: "b", want: true, setting: 10},
		}},
		{"no budget: everything admitted", 0, 0, []step{
			{op: "admit", call: "a", want: true, setting: 0},
			{op: "admit", call: "b", want: true, setting: 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1_800_000_000, 0)
			a := newAdmission(tt.budget, tt.maxDelay, 0, func() time.Time { return now })
			for i, s := range tt.steps {
				switch s.op {
				case "admit", "admits":
					f := a.Admit
					if s.op == "admits" {
						f = a.Admits
					}
					if got := f(s.call); got != s.want {
						t.Errorf("step %d: %s(%q) = %v, want %v", i, s.op, s.call, got, s.want)
					}
				case "done":
					a.Done(s.call)
				case "wait":
					now = now.Add(s.wait)
				case "delay":
					a.observe(s.wait)
				case "socket": // a block of datagrams, each waited s.wait
					for range waitBlock {
						a.Waited(s.wait)
					}
				case "half": // half a block
					for range waitBlock / 2 {
						a.Waited(s.wait)
					}
				case "drained": // a block, the last of which waited nothing
					for range waitBlock - 1 {
						a.Waited(s.wait)
					}
					a.Waited(0)
				case "one":
					a.Waited(s.wait)
				}
				if got := a.Setting(); got != s.setting {
					t.Errorf("step %d (%s %q): %d calls being set up, want %d", i, s.op, s.call, got, s.setting)
				}
			}
		})
	}
}

// The RFC 7339 feedback is the share of new calls refused, in the window
// so far or the one before, whichever is more; at least 1 % (a refusal
// is being sent) and none once a window passes without offers.
func TestFeedback(t *testing.T) {
	now := time.Unix(1_800_000_000, 5_000_000)
	a := newAdmission(1, 0, 0, func() time.Time { return now })
	var got []string
	note := func() {
		fb := a.feedback()
		got = append(got, fmt.Sprintf("%d %s", fb.reduction, fb.seq))
	}
	note() // nothing offered yet
	a.Admit("a")
	for _, id := range []string{"b", "c", "d"} {
		a.Admit(id) // refused: the budget is one
	}
	note()
	now = now.Add(time.Second)
	note() // the window before
	a.Done("a")
	a.Admit("e")
	note() // the window before still says more
	now = now.Add(2 * time.Second)
	note()
	want := []string{"1 1800000000.005", "75 1800000000.005", "75 1800000001.005", "75 1800000001.005", "1 1800000003.005"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("feedback (-want +got):\n%s", d)
	}
}

// The refusal is 503 with a Retry-After (RFC 3261 §21.5.4).
func TestAdmissionRefusal(t *testing.T) {
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "101", Host: "example.net"})
	params := sip.NewParams()
	params.Add("branch", "z9hG4bK-1")
	req.AppendHeader(&sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "127.0.0.1", Port: 5070, Params: params})
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	res := NewAdmission(1, 0, 0).Refusal(req)
	got := []string{res.StartLine(), res.GetHeader("Retry-After").Value()}
	if diff := cmp.Diff([]string{"SIP/2.0 503 Service Unavailable", "2"}, got); diff != "" {
		t.Errorf("refusal (-want +got):\n%s", diff)
	}
}

// The queueing delay is the 90th percentile of what the scheduler counted
// since the last sample, as the lower bound of its bucket.
func TestQuantileSince(t *testing.T) {
	h := &metrics.Float64Histogram{
		Buckets: []float64{math.Inf(-1), 0, 0.001, 0.01, 0.1, 1, math.Inf(1)},
		Counts:  []uint64{0, 100, 100, 10, 5, 0},
	}
	tests := []struct {
		name string
		prev []uint64
		q    float64
		want time.Duration
	}{
		{"everything so far", nil, 0.9, time.Millisecond},
		{"nothing since", []uint64{0, 100, 100, 10, 5, 0}, 0.9, 0},
		{"since: mostly slow waits", []uint64{0, 100, 95, 5, 0, 0}, 0.9, 100 * time.Millisecond},
		{"since: the median", []uint64{0, 90, 100, 10, 5, 0}, 0.5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, quantileSince(h, tt.prev, tt.q)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// The scheduler's latencies are there to be read: without them the delay
// would silently never refuse anything.
func TestSchedLatenciesMeasured(t *testing.T) {
	s := []metrics.Sample{{Name: schedLatencies}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		t.Fatalf("%s is not a histogram in this Go (%v)", schedLatencies, s[0].Value.Kind())
	}
}
