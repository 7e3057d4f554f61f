package b2bua_test

import (
	"context"
	"slices"
	"testing"

	"switchboard/runtime/events"
	"switchboard/simulate/device"
)

// TestReinviteRelayed: a re-INVITE from either party of an answered call
// reaches the other in its own dialog, with the SDP through the media
// relay, and the answer comes back: the caller puts the callee on hold
// (sendonly, answered recvonly) and takes it off, the callee does the
// same, and the media still flows afterwards.
func TestReinviteRelayed(t *testing.T) {
	_, addr := startCarrierHub(t, "", false)
	h := startTrunkServer(t, addr, serverOptions{noCred: true})
	mary, tom := h.device("app.mary"), h.device("app.tom")
	tom.SetAnswer(device.Pickup, 0)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	call, err := mary.Dial(ctx, "102")
	if err != nil {
		t.Fatal(err)
	}
	in := tom.Incoming()
	answered := tom.Answered(in[0].CallID)
	if answered == nil {
		t.Fatal("tom has no answered call")
	}

	for _, step := range []struct {
		who       string
		from      *device.Call
		to        *device.Call
		offer     string
		answer    string
		cause     string
		reoffered []string
	}{
		{"mary holds", call, answered, "sendonly", "recvonly", "caller: sendonly", []string{"sendonly"}},
		{"mary resumes", call, answered, "sendrecv", "sendrecv", "caller: sendrecv", []string{"sendonly", "sendrecv"}},
		{"tom holds", answered, call, "sendonly", "recvonly", "callee: sendonly", []string{"sendonly"}},
		{"tom resumes", answered, call, "sendrecv", "sendrecv", "callee: sendrecv", []string{"sendonly", "sendrecv"}},
	} {
		got, err := step.from.Reinvite(ctx, step.offer)
		if err != nil {
			t.Fatalf("%s: %v", step.who, err)
		}
		if got != step.answer {
			t.Errorf("%s: answered %s, want %s", step.who, got, step.answer)
		}
		if got := step.to.Reoffers(); !slices.Equal(got, step.reoffered) {
			t.Errorf("%s: the other party was offered %v, want %v", step.who, got, step.reoffered)
		}
		if e := h.next("call_updated", kindOf(events.CallUpdated)); e.Cause != step.cause || e.Leg != "app.tom" {
			t.Errorf("%s: call_updated = %+v", step.who, e)
		}
	}
	if err := call.SendDTMF("7"); err != nil {
		t.Fatal(err)
	}
	if err := answered.WaitDigits(ctx, "7"); err != nil {
		t.Errorf("after the re-INVITEs: %v", err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatalf("hang-up after the re-INVITEs: %v", err)
	}
	h.next("call_ended", kindOf(events.CallEnded))
}

// TestReinviteOverTrunk: a call out put on hold; the carrier challenges
// the re-INVITE as it did the INVITE, and the server answers once.
func TestReinviteOverTrunk(t *testing.T) {
	car, addr := startCarrierHub(t, trunkPassword, false)
	h := startTrunkServer(t, addr, serverOptions{vars: siteTrunkVars})
	// Calls go out only once the trunk is registered (480 before).
	h.next("trunk_registered", kindOf(events.TrunkRegistered))
	mary := h.device("app.mary")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	call, err := mary.Dial(ctx, "+15550100")
	if err != nil {
		t.Fatal(err)
	}
	defer call.Hangup(ctx)
	if got, err := call.Reinvite(ctx, "sendonly"); err != nil || got != "recvonly" {
		t.Fatalf("hold over the trunk: %q, %v", got, err)
	}
	in := car.net.Incoming()
	if got := car.net.Answered(in[0].CallID).Reoffers(); !slices.Equal(got, []string{"sendonly"}) {
		t.Errorf("the carrier was offered %v, want [sendonly]", got)
	}
	if n := len(car.received()); n != 4 {
		t.Errorf("the carrier received %d INVITEs, want 4 (each challenged once)", n)
	}
}
