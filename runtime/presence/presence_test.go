package presence

import (
	"encoding/xml"
	"strconv"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir/irtest"
	"switchboard/runtime/events"
)

// watch subscribes app.aoife to mary's calls on srv and returns the stack
// that records the NOTIFYs.
func watch(t *testing.T, srv *Server, stack *recordStack) {
	t.Helper()
	msg, err := sip.NewParser().ParseSIP([]byte(subscribeSeeds[0]))
	if err != nil {
		t.Fatal(err)
	}
	tx := &recordTx{}
	p := irtest.HarbourView()
	srv.Subscribe(msg.(*sip.Request), tx, "app.aoife", Watched(p, "101"), p)
	if len(tx.res) != 1 || tx.res[0].StatusCode != 200 {
		t.Fatalf("SUBSCRIBE answered %v", tx.res)
	}
}

// states reads the NOTIFYs sent as "direction:state" lists, one per NOTIFY.
func states(t *testing.T, stack *recordStack) []string {
	t.Helper()
	var out []string
	for _, n := range stack.sent {
		var doc struct {
			Dialogs []struct {
				Direction string `xml:"direction,attr"`
				State     string `xml:"state"`
			} `xml:"dialog"`
		}
		if err := xml.Unmarshal(n.Body(), &doc); err != nil {
			t.Fatal(err)
		}
		var ds []string
		for _, d := range doc.Dialogs {
			ds = append(ds, d.Direction+":"+d.State)
		}
		out = append(out, strings.Join(ds, " "))
	}
	return out
}

// Mary's dialogs follow the call core's events, whichever of her devices
// ring: one NOTIFY per change of her state, none for a change that is not
// hers (another leg of the same call, her second device ringing).
func TestObserve(t *testing.T) {
	ev := func(k events.Kind, from, leg string) events.Event {
		return events.Event{Kind: k, Call: "call-1", From: from, Leg: leg}
	}
	tests := []struct {
		name   string
		events []events.Event
		want   []string
	}{
		{"mary is called and answers on her desk phone", []events.Event{
			ev(events.CallStarted, "device.front-gate", ""),
			ev(events.LegRinging, "device.front-gate", "app.mary"),
			ev(events.LegRinging, "device.front-gate", "device.desk-101"),
			ev(events.LegRinging, "device.front-gate", "app.john"),
			ev(events.LegCancelled, "", "app.mary"),
			ev(events.LegAnswered, "device.front-gate", "device.desk-101"),
			ev(events.LegCancelled, "", "app.john"),
			ev(events.CallEnded, "device.front-gate", ""),
		}, []string{"", "recipient:early", "recipient:confirmed", "recipient:terminated"}},
		{"mary is called, john answers", []events.Event{
			ev(events.CallStarted, "device.front-gate", ""),
			ev(events.LegRinging, "device.front-gate", "app.mary"),
			ev(events.LegRinging, "device.front-gate", "app.john"),
			ev(events.LegAnswered, "device.front-gate", "app.john"),
			ev(events.LegCancelled, "", "app.mary"),
			ev(events.CallEnded, "device.front-gate", ""),
		}, []string{"", "recipient:early", "recipient:terminated"}},
		{"mary calls john, who is busy", []events.Event{
			ev(events.CallStarted, "app.mary", ""),
			ev(events.LegRinging, "app.mary", "app.john"),
			ev(events.LegFailed, "", "app.john"),
			ev(events.CallEnded, "app.mary", ""),
		}, []string{"", "initiator:trying", "initiator:early", "initiator:terminated"}},
		{"mary calls john, who answers", []events.Event{
			ev(events.CallStarted, "app.mary", ""),
			ev(events.LegRinging, "app.mary", "app.john"),
			ev(events.LegAnswered, "app.mary", "app.john"),
			ev(events.CallEnded, "app.mary", ""),
		}, []string{"", "initiator:trying", "initiator:early", "initiator:confirmed", "initiator:terminated"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stack := &recordStack{}
			srv := New(Config{Stack: stack, Go: func(f func()) { f() }})
			watch(t, srv, stack)
			p := irtest.HarbourView()
			for _, e := range tt.events {
				srv.Observe(p, e)
			}
			if d := cmp.Diff(tt.want, states(t, stack)); d != "" {
				t.Errorf("NOTIFYs (-want +got):\n%s", d)
			}
			if n := len(srv.calls); n != 0 {
				t.Errorf("%d calls still followed after they ended", n)
			}
		})
	}
}

// The entity is escaped: a domain is the site's to choose.
func TestBody(t *testing.T) {
	got := string(Body(`sip:101@a"b<c>.example`, 3, []Dialog{{ID: "ab12", Direction: Recipient, State: Early}}))
	want := `<?xml version="1.0" encoding="UTF-8"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="3" state="full" entity="sip:101@a&#34;b&lt;c&gt;.example">
  <dialog id="ab12" direction="recipient"><state>early</state></dialog>
</dialog-info>
`
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("body (-want +got):\n%s", d)
	}
}

// A call event for a person nobody watches costs the same whatever the
// calls in progress (issue 19): the NOTIFY body, which lists every call of
// the person, is not built for nobody. Counted in allocations, not time.
func TestObserveUnwatched(t *testing.T) {
	p := irtest.HarbourView()
	allocs := func(inProgress int) float64 {
		srv := New(Config{Stack: &recordStack{}, Go: func(f func()) { f() }})
		for i := range inProgress {
			call := "ringing-" + strconv.Itoa(i)
			srv.Observe(p, events.Event{Kind: events.CallStarted, Call: call, From: "device.front-gate"})
			srv.Observe(p, events.Event{Kind: events.LegRinging, Call: call, From: "device.front-gate", Leg: "app.mary"})
		}
		return testing.AllocsPerRun(20, func() {
			srv.Observe(p, events.Event{Kind: events.LegRinging, Call: "one-more", From: "device.front-gate", Leg: "app.mary"})
			srv.Observe(p, events.Event{Kind: events.LegCancelled, Call: "one-more", Leg: "app.mary"})
		})
	}
	if one, many := allocs(1), allocs(1000); many != one {
		t.Errorf("allocations per event with 1 call of mary's in progress: %v, with 1000: %v (want the same)", one, many)
	}
}
