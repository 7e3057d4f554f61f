package simulate

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The canonical ladder does not depend on how the machine interleaved the
// legs of a forked call: the same messages, carried in another order that
// each device and the server could have seen, draw the same ladder — and
// nothing is drawn before what caused it.
func TestCanonicalLadder(t *testing.T) {
	in := func(from, summary string) SIPMessage { return SIPMessage{From: from, To: "server", Summary: summary} }
	out := func(to, summary string) SIPMessage { return SIPMessage{From: "server", To: to, Summary: summary} }
	gateInvite := in("device.gate", "INVITE (device.gate → 1A)")
	trying := out("device.gate", "100 Trying (1 INVITE; device.gate → 1A)")
	ringing := out("device.gate", "180 Ringing (1 INVITE; device.gate → 1A)")
	inv := func(who string) SIPMessage { return out(who, "INVITE (device.gate → "+who+")") }
	rang := func(who string) SIPMessage { return in(who, "180 Ringing (7 INVITE; device.gate → "+who+")") }
	cancel := func(who string) SIPMessage { return out(who, "CANCEL (device.gate → "+who+")") }
	cancelled := func(who string) SIPMessage { return in(who, "200 OK (7 CANCEL; device.gate → "+who+")") }
	terminated := func(who string) SIPMessage {
		return in(who, "487 Request Terminated (7 INVITE; device.gate → "+who+")")
	}
	ack := func(who string) SIPMessage { return out(who, "ACK (device.gate → "+who+")") }

	want := []SIPMessage{
		gateInvite, trying,
		inv("app.mary"), rang("app.mary"),
		inv("app.sarah"), rang("app.sarah"),
		ringing,
		cancel("app.mary"), cancelled("app.mary"), terminated("app.mary"), ack("app.mary"),
		cancel("app.sarah"), cancelled("app.sarah"), terminated("app.sarah"), ack("app.sarah"),
		out("device.gate", "486 Busy Here (1 INVITE; device.gate → 1A)"),
		in("device.gate", "ACK (device.gate → 1A)"),
	}
	for _, tc := range []struct {
		name string
		msgs []SIPMessage
	}{
		{"already canonical", want},
		{"the INVITEs in the other order, the answers as they came", []SIPMessage{
			gateInvite, trying, inv("app.sarah"), inv("app.mary"), rang("app.sarah"), rang("app.mary"), ringing,
			cancel("app.sarah"), cancel("app.mary"), cancelled("app.mary"), cancelled("app.sarah"),
			terminated("app.sarah"), ack("app.sarah"), terminated("app.mary"), ack("app.mary"),
			out("device.gate", "486 Busy Here (1 INVITE; device.gate → 1A)"), in("device.gate", "ACK (device.gate → 1A)"),
		}},
		{"a device answers before the server sent the next INVITE", []SIPMessage{
			gateInvite, trying, inv("app.mary"), rang("app.mary"), inv("app.sarah"), rang("app.sarah"), ringing,
			cancel("app.mary"), cancelled("app.mary"), cancel("app.sarah"), terminated("app.mary"), cancelled("app.sarah"),
			ack("app.mary"), terminated("app.sarah"), ack("app.sarah"),
			out("device.gate", "486 Busy Here (1 INVITE; device.gate → 1A)"), in("device.gate", "ACK (device.gate → 1A)"),
		}},
	} {
		if diff := cmp.Diff(want, canonical(tc.msgs)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}

	// With nothing of the caller's between them, the fork's INVITEs and
	// the CANCELs are still two runs: a run never holds a leg twice.
	noRinging := []SIPMessage{gateInvite, trying, inv("app.sarah"), inv("app.mary"), cancel("app.sarah"), cancel("app.mary")}
	want2 := []SIPMessage{gateInvite, trying, inv("app.mary"), inv("app.sarah"), cancel("app.mary"), cancel("app.sarah")}
	if diff := cmp.Diff(want2, canonical(noRinging)); diff != "" {
		t.Errorf("no ringing (-want +got):\n%s", diff)
	}

	// What the server decided after hearing a leg stays after it: the
	// 180 to the caller after the first callee's 180, the CANCEL of the
	// others after the answer, the 200 to the caller after the answer.
	answered := []SIPMessage{
		gateInvite, trying, inv("app.sarah"), inv("app.mary"), rang("app.sarah"), ringing, rang("app.mary"),
		in("app.mary", "200 OK (7 INVITE; device.gate → app.mary)"), ack("app.mary"), cancel("app.sarah"),
		out("device.gate", "200 OK (1 INVITE; device.gate → 1A)"), cancelled("app.sarah"), terminated("app.sarah"), ack("app.sarah"),
		in("device.gate", "ACK (device.gate → 1A)"),
	}
	want = []SIPMessage{
		gateInvite, trying,
		inv("app.mary"), rang("app.mary"), in("app.mary", "200 OK (7 INVITE; device.gate → app.mary)"), ack("app.mary"),
		inv("app.sarah"), rang("app.sarah"),
		ringing,
		cancel("app.sarah"), cancelled("app.sarah"), terminated("app.sarah"), ack("app.sarah"),
		out("device.gate", "200 OK (1 INVITE; device.gate → 1A)"),
		in("device.gate", "ACK (device.gate → 1A)"),
	}
	if diff := cmp.Diff(want, canonical(answered)); diff != "" {
		t.Errorf("answered (-want +got):\n%s", diff)
	}
}

func TestAutomatic(t *testing.T) {
	for summary, want := range map[string]bool{
		"ACK (a → b)":                       true,
		"100 Trying (1 INVITE; a → b)":      true,
		"200 OK (2 BYE; a → b)":             true,
		"200 OK (CANCEL; a → b)":            true,
		"200 OK (1 INVITE; a → b)":          false,
		"180 Ringing (INVITE; a → b)":       false,
		"INVITE (a → b)":                    false,
		"CANCEL (a → b)":                    false,
		"487 Request Terminated (INVITE; )": false,
	} {
		if got := automatic(summary); got != want {
			t.Errorf("automatic(%q) = %v, want %v", summary, got, want)
		}
	}
}
