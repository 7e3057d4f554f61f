package simulate

import (
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Every device shares the in-memory hub's address, so the ladder names
// the far side of each message from its headers: a request's sender
// (From) coming in, its recipient (To) going out, and the other way round
// for responses.
func TestLadderNamesTheParties(t *testing.T) {
	hub := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5070}
	l := &ladder{names: map[string]string{hub.String(): "devices"}}
	msg := func(first, from, to, cseq string) []byte {
		return []byte(first + "\r\nFrom: <sip:" + from + "@example.net>;tag=1\r\nTo: <sip:" + to + "@example.net>\r\nCSeq: " + cseq + "\r\n\r\n")
	}
	l.record(dirIn, hub, msg("INVITE sip:1A@example.net SIP/2.0", "device.gate", "1A", "1 INVITE"))
	l.record(dirOut, hub, msg("SIP/2.0 100 Trying", "device.gate", "1A", "1 INVITE"))
	l.record(dirOut, hub, msg("INVITE sip:app.mary@example.net SIP/2.0", "device.gate", "app.mary", "7 INVITE"))
	l.record(dirIn, hub, msg("SIP/2.0 180 Ringing", "device.gate", "app.mary", "7 INVITE"))
	l.record(dirIn, hub, []byte("\r\n\r\n")) // a keep-alive: not recorded
	l.record(dirOut, hub, []byte("garbage"))

	got, more := l.messages()
	want := []SIPMessage{
		{From: "device.gate", To: "server", Summary: "INVITE (device.gate → 1A)"},
		{From: "server", To: "device.gate", Summary: "100 Trying (1 INVITE; device.gate → 1A)"},
		{From: "server", To: "app.mary", Summary: "INVITE (device.gate → app.mary)"},
		{From: "app.mary", To: "server", Summary: "180 Ringing (7 INVITE; device.gate → app.mary)"},
		{From: "server", To: "devices", Summary: "garbage ( → )"},
	}
	if diff := cmp.Diff(want, got); diff != "" || more {
		t.Errorf("messages (-want +got):\n%s(more %v)", diff, more)
	}
	lines := []string{
		"server ← device.gate INVITE (device.gate → 1A)",
		"server → device.gate 100 Trying (1 INVITE; device.gate → 1A)",
		"server → app.mary INVITE (device.gate → app.mary)",
		"server ← app.mary 180 Ringing (7 INVITE; device.gate → app.mary)",
		"server → devices  garbage ( → )",
		"… (more messages not shown)",
	}
	if diff := cmp.Diff(lines, ladderLines(got, true)); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

// What the previous case left in flight arrives whenever a loaded machine
// gets to it; the ladder shows only the dialogs and transactions that
// began in the case. (CI once opened a failure's ladder on the 200 to the
// previous case's presence NOTIFY.)
func TestLadderShowsOnlyTheCasesOwnTraffic(t *testing.T) {
	hub := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5070}
	l := &ladder{names: map[string]string{hub.String(): "devices"}}
	msg := func(first, callID, from, to, cseq string) []byte {
		return []byte(first + "\r\nFrom: <sip:" + from + "@example.net>;tag=1\r\nTo: " + to + "\r\nCall-ID: " + callID + "\r\nCSeq: " + cseq + "\r\n\r\n")
	}
	// The 200 to a NOTIFY the server sent before the case.
	l.record(dirIn, hub, msg("SIP/2.0 200 OK", "old-notify", "device.hall", "<sip:device.hall@example.net>;tag=9", "2 NOTIFY"))
	// A NOTIFY in a subscription made before the case (To has a tag).
	l.record(dirOut, hub, msg("NOTIFY sip:device.hall@example.net SIP/2.0", "old-sub", "device.hall", "<sip:device.hall@example.net>;tag=9", "3 NOTIFY"))
	// The case's call, its answer, and a SUBSCRIBE made in the case.
	l.record(dirIn, hub, msg("INVITE sip:1A@example.net SIP/2.0", "call", "device.gate", "<sip:1A@example.net>", "1 INVITE"))
	l.record(dirOut, hub, msg("SIP/2.0 180 Ringing", "call", "device.gate", "<sip:1A@example.net>;tag=5", "1 INVITE"))
	l.record(dirIn, hub, msg("SUBSCRIBE sip:1A@example.net SIP/2.0", "new-sub", "device.hall", "sip:1A@example.net", "1 SUBSCRIBE"))
	l.record(dirOut, hub, msg("NOTIFY sip:device.hall@example.net SIP/2.0", "new-sub", "device.hall", "<sip:device.hall@example.net>;tag=3", "1 NOTIFY"))

	got, more := l.messages()
	want := []SIPMessage{
		{From: "device.gate", To: "server", Summary: "INVITE (device.gate → 1A)"},
		{From: "server", To: "device.gate", Summary: "180 Ringing (1 INVITE; device.gate → 1A)"},
		{From: "device.hall", To: "server", Summary: "SUBSCRIBE (device.hall → 1A)"},
		{From: "server", To: "device.hall", Summary: "NOTIFY (device.hall → device.hall)"},
	}
	if diff := cmp.Diff(want, got); diff != "" || more {
		t.Errorf("messages (-want +got):\n%s(more %v)", diff, more)
	}
}

func TestHasTag(t *testing.T) {
	for v, want := range map[string]bool{
		"<sip:a@b>;tag=1":         true,
		" <sip:a@b;tag=x>":        false, // a URI parameter, not the header's
		"sip:a@b;TAG=2":           true,
		"\"A;tag=1\" <sip:a@b>":   false,
		"<sip:a@b> ; tag = 3":     true,
		"<sip:a@b>;transport=udp": false,
	} {
		if got := hasTag(v); got != want {
			t.Errorf("hasTag(%q) = %v, want %v", v, got, want)
		}
	}
}
