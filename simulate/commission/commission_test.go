package commission

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/runtime/events"
	"switchboard/runtime/site"
	"switchboard/simulate"
)

// The cases of one door button that rings a family of three together (a
// monitor and two apps), then falls back to nothing: the ring case, and
// sarah answering and opening the gate.
func familyCases() []simulate.Case {
	all := []string{"device.hall-1", "app.sarah", "app.david"}
	return []simulate.Case{
		{Name: "ring", Steps: []simulate.Step{
			simulate.Dial{From: "device.gate", To: "1"},
			simulate.ExpectRing{Accounts: all},
			simulate.Advance{D: 30 * time.Second},
			simulate.ExpectFailed{Status: 480},
			simulate.ExpectFallback{Fallback: ir.Fallback{Kind: ir.FallbackHangup}},
			simulate.ExpectOnlyRung{Accounts: all},
		}},
		{Name: "sarah opens", Steps: []simulate.Step{
			simulate.Dial{From: "device.gate", To: "1", Answer: "app.sarah"},
			simulate.ExpectRing{Accounts: all},
			simulate.ExpectAnswered{By: "app.sarah"},
			simulate.SendDTMF{From: "app.sarah", Digits: "#"},
			simulate.ExpectDoor{Open: true, Device: "gate", Relay: "door", By: "app.sarah"},
			simulate.Hangup{},
		}},
		{Name: "hall-1 opens", Steps: []simulate.Step{
			simulate.Dial{From: "device.gate", To: "1", Answer: "device.hall-1"},
			simulate.ExpectRing{Accounts: all},
			simulate.ExpectAnswered{By: "device.hall-1"},
		}},
	}
}

// call makes the journal entries of one call: started, each leg ringing,
// then what follows.
func call(rang []string, then ...events.Event) []site.Entry {
	evs := []events.Event{{Kind: events.CallStarted, From: "device.gate", To: "1"}}
	for _, a := range rang {
		evs = append(evs, events.Event{Kind: events.LegRinging, Leg: a})
	}
	evs = append(evs, then...)
	evs = append(evs, events.Event{Kind: events.CallEnded})
	var out []site.Entry
	for i, e := range evs {
		e.Call = "c1"
		out = append(out, site.Entry{ID: uint64(i + 1), Event: e})
	}
	return out
}

func TestJudge(t *testing.T) {
	all := []string{"device.hall-1", "app.sarah", "app.david"}
	every := func(string) bool { return true }
	hallOff := func(a string) bool { return a != "device.hall-1" }
	answered := func(who string) events.Event { return events.Event{Kind: events.LegAnswered, Leg: who} }
	opened := events.Event{Kind: events.DoorOpened, Account: "app.sarah", Device: "gate", Relay: "door"}
	noAnswer := events.Event{Kind: events.Fallback, Cause: "no answer → hangup", Status: 480}
	type result struct{ Status, Detail string }
	for _, tc := range []struct {
		name    string
		entries []site.Entry
		reg     Registered
		want    map[string]result
	}{{
		name:    "rung out",
		entries: call(all, noAnswer),
		reg:     every,
		want:    map[string]result{"ring": {"passed", ""}, "sarah opens": {"open", "not called yet"}, "hall-1 opens": {"open", "not called yet"}},
	}, {
		name:    "sarah answers and opens",
		entries: call(all, answered("app.sarah"), opened),
		reg:     every,
		want:    map[string]result{"ring": {"open", "not called yet"}, "sarah opens": {"passed", ""}, "hall-1 opens": {"open", "not called yet"}},
	}, {
		name: "sarah answers at once; the others are cancelled before their 180",
		entries: call(nil, answered("app.sarah"),
			events.Event{Kind: events.LegCancelled, Leg: "device.hall-1"}, events.Event{Kind: events.LegCancelled, Leg: "app.david"}, opened),
		reg:  every,
		want: map[string]result{"ring": {"open", "not called yet"}, "sarah opens": {"passed", ""}, "hall-1 opens": {"open", "not called yet"}},
	}, {
		name:    "sarah answers and does not open",
		entries: call(all, answered("app.sarah")),
		reg:     every,
		want:    map[string]result{"ring": {"open", "not called yet"}, "sarah opens": {"open", `answered, but "door" was not opened: key its code`}, "hall-1 opens": {"open", "not called yet"}},
	}, {
		name:    "the monitor is registered and does not ring",
		entries: call([]string{"app.sarah", "app.david"}, answered("app.sarah"), opened),
		reg:     every,
		want: map[string]result{
			"ring":         {"failed", "rang sarah and david; expected also hall-1"},
			"sarah opens":  {"failed", "rang sarah and david; expected also hall-1"},
			"hall-1 opens": {"failed", "rang sarah and david; expected also hall-1"},
		},
	}, {
		name:    "the monitor is switched off",
		entries: call([]string{"app.sarah", "app.david"}, noAnswer),
		reg:     hallOff,
		want: map[string]result{
			"ring":         {"open", "hall-1 not registered (switched off?), so not rung"},
			"sarah opens":  {"open", "not called yet"},
			"hall-1 opens": {"open", "hall-1 not registered (switched off?)"},
		},
	}, {
		name:    "the monitor is switched off and sarah opens",
		entries: call([]string{"app.sarah", "app.david"}, answered("app.sarah"), opened),
		reg:     hallOff,
		want: map[string]result{
			"ring":         {"open", "not called yet"},
			"sarah opens":  {"passed", ""},
			"hall-1 opens": {"open", "hall-1 not registered (switched off?)"},
		},
	}, {
		name:    "the button rings another residence",
		entries: call([]string{"app.bob"}, answered("app.bob")),
		reg:     every,
		want: map[string]result{
			"ring":         {"failed", "rang bob; expected also hall-1, sarah and david"},
			"sarah opens":  {"failed", "rang bob; expected also hall-1, sarah and david"},
			"hall-1 opens": {"failed", "rang bob; expected also hall-1, sarah and david"},
		},
	}, {
		name:    "the door refuses sarah",
		entries: call(all, answered("app.sarah"), events.Event{Kind: events.DoorRefused, Account: "app.sarah", Device: "gate", Relay: "door", Cause: "app.sarah may not open gate"}),
		reg:     every,
		want:    map[string]result{"ring": {"open", "not called yet"}, "sarah opens": {"failed", `sarah keyed the code of "door" and the door stayed shut: app.sarah may not open gate`}, "hall-1 opens": {"open", "not called yet"}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			cl := New(&ir.Program{}, familyCases())
			calls := Calls(tc.entries)
			if len(calls) != 1 {
				t.Fatalf("%d calls", len(calls))
			}
			cl.Judge(calls[0], "e1", tc.reg)
			cl.Explain(tc.reg)
			got := map[string]result{}
			for _, it := range cl.Items {
				got[it.Name] = result{string(it.Status), it.Detail}
				if it.Status != Open && len(it.Evidence) != len(tc.entries) {
					t.Errorf("%s: evidence %v", it.Name, it.Evidence)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// A later run keeps what an earlier one decided, and a call that proves
// nothing new leaves a passed case passed.
func TestRestore(t *testing.T) {
	cl := New(&ir.Program{}, familyCases())
	cl.Restore([]Item{{Name: "ring", Status: Passed, Evidence: []uint64{4}, Epoch: "e0"}, {Name: "gone", Status: Failed}})
	cl.Judge(Calls(call(all3(), events.Event{Kind: events.CallEnded}))[0], "e1", func(string) bool { return true })
	if it := cl.Items[0]; it.Status != Passed || it.Epoch != "e0" {
		t.Errorf("ring after restore: %+v", it)
	}
	if n := cl.Count(); n != (Counts{Passed: 1, Open: 2}) {
		t.Errorf("counts %+v", n)
	}
}

func all3() []string { return []string{"device.hall-1", "app.sarah", "app.david"} }

// A ring test (the server calls the person) proves the cases of the
// person it called, by extension or DDI, once someone answered on their
// endpoints and keyed a digit; a door's case is not among them.
func TestRingTest(t *testing.T) {
	p := &ir.Program{
		Users: []ir.User{{Name: "sarah", Extension: "201"}, {Name: "david", Extension: "202"}},
		DDIs:  []ir.DDI{{Number: "+441134960201", Trunk: "carrier", Target: ir.Ref{Kind: ir.RefUser, Name: "sarah"}}},
	}
	cases := append(familyCases(),
		simulate.Case{Name: "david calls sarah on extension 201", Steps: []simulate.Step{simulate.Dial{From: "app.david", To: "201", Answer: "app.sarah"}}},
		simulate.Case{Name: "carrier → sarah", Steps: []simulate.Step{simulate.Dial{From: "trunk.carrier", To: "+441134960201", Answer: "app.sarah"}}},
		simulate.Case{Name: "sarah calls david on extension 202", Steps: []simulate.Step{simulate.Dial{From: "app.sarah", To: "202", Answer: "app.david"}}},
	)
	cl := New(p, cases)
	if diff := cmp.Diff([]string{"sarah", "david"}, cl.RingTestUsers()); diff != "" {
		t.Errorf("ring-testable users (-want +got):\n%s", diff)
	}
	ring := func(then ...events.Event) *Call {
		evs := append([]events.Event{{Kind: events.CallStarted, From: RingTestFrom, To: "201", Target: "user.sarah"},
			{Kind: events.LegRinging, Leg: "app.sarah"}}, then...)
		evs = append(evs, events.Event{Kind: events.CallEnded})
		var entries []site.Entry
		for i, e := range evs {
			e.Call = "ring-test-1"
			entries = append(entries, site.Entry{ID: uint64(100 + i), Event: e})
		}
		return Calls(entries)[0]
	}
	cl.Judge(ring(events.Event{Kind: events.LegAnswered, Leg: "app.sarah"}), "e1", func(string) bool { return true })
	got := map[string]string{}
	for _, it := range cl.Items[3:] {
		got[it.Name] = string(it.Status) + ": " + it.Detail
	}
	want := map[string]string{
		"david calls sarah on extension 201": "open: ring test: sarah answered but keyed no digit",
		"carrier → sarah":                    "open: ring test: sarah answered but keyed no digit",
		"sarah calls david on extension 202": "open: ",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unconfirmed (-want +got):\n%s", diff)
	}
	cl.Judge(ring(events.Event{Kind: events.LegAnswered, Leg: "app.sarah"}, events.Event{Kind: events.DTMF, Account: "app.sarah", Digits: "1"}), "e1", func(string) bool { return true })
	for _, it := range cl.Items[3:5] {
		if it.Status != Passed || it.Detail != "ring test: sarah answered and keyed 1" || len(it.Evidence) != 5 {
			t.Errorf("%s: %s %q %v", it.Name, it.Status, it.Detail, it.Evidence)
		}
	}
	for _, it := range cl.Items[:3] {
		if it.Status != Open {
			t.Errorf("door case %s: %s", it.Name, it.Status)
		}
	}
}
