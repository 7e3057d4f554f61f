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
