package interop

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"switchboard/runtime/audio"
	"switchboard/runtime/events"
	"switchboard/runtime/interop/peer"
	"switchboard/simulate/device"
)

// The trunk's credentials as serve reads them from -var:
// here the defaults of testdata/site's variables.
const (
	trunkUser     = "interop"
	trunkPassword = "not-a-real-password"
)

// startTrunkServer is startServer with the site's trunk pointed at a
// carrier on carrierIP:port and its credentials given to the server. It
// returns the function that stops the server.
func startTrunkServer(t *testing.T, port int) (*server, func()) {
	t.Helper()
	s := startServer(t, serverConfig{carrierPort: port})
	return s, s.stop
}

// sippCarrier runs SIPp as the carrier on carrierIP:port (a UAS: it
// waits for the server), with testdata/sipp/carrier_uas.xml and the
// trunk's credentials, for calls calls (each registration and each call
// out is one); answer is how its number answers a call out (a scenario
// fragment: carrier_answer.xml, carrier_early_busy.xml).
func sippCarrier(t *testing.T, port, calls int, answer string) *process {
	t.Helper()
	bin := sippPath(t)
	dir := t.TempDir()
	sf := filepath.Join(dir, "scenario.xml")
	text := scenario(t, "carrier_uas.xml", map[string]string{"USER": trunkUser, "PASSWORD": trunkPassword, "ANSWER": answer, "PCAP_DIR": pcapDir})
	if err := os.WriteFile(sf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	mp := freeUDPPort(t, carrierIP, 4)
	return start(t, "sipp carrier", dir, bin, "-sf", sf, "-i", carrierIP, "-p", strconv.Itoa(port), "-mp", strconv.Itoa(mp),
		"-m", strconv.Itoa(calls), "-nostdin", "-timeout", "25s", "-timeout_error",
		"-trace_err", "-error_file", filepath.Join(dir, "errors.log"),
		"-trace_msg", "-message_file", filepath.Join(dir, "messages.log"))
}

// TestSIPpCarrier: SIPp plays the carrier. The server registers at it,
// answering its digest challenge (SIPp's verifyauth checks the answer);
// erin's call to a public number goes out over the trunk, challenged and
// answered the same way, presenting erin's DDI; when the server stops it
// withdraws the registration, and SIPp verifies that too.
func TestSIPpCarrier(t *testing.T) {
	sippPath(t)
	port := freeUDPPort(t, carrierIP, 1)
	car := sippCarrier(t, port, 2, "carrier_answer.xml")
	waitUDPBound(t, port, car)
	s, stop := startTrunkServer(t, port)
	reg := s.waitEvent("trunk_registered", kind(events.TrunkRegistered))
	if reg.Account != "trunk.carrier" || reg.Origin.IsZero() {
		t.Errorf("trunk_registered = %+v", reg)
	}

	erin := s.device("app.erin")
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	call, err := erin.Dial(ctx, "+15550100")
	if err != nil {
		t.Fatalf("erin's call out: %v\n%s", err, car.report())
	}
	s.waitEvent("the carrier answered", legEvent(events.LegAnswered, "trunk.carrier"))
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	s.waitEvent("call_ended", kind(events.CallEnded))
	stop()
	car.pass(t)
	if e := s.waitEvent("trunk_unregistered", kind(events.TrunkUnregistered)); e.Cause != "server shutting down" {
		t.Errorf("trunk_unregistered = %+v; want the carrier's confirmation", e)
	}

	var registers, invites, inDialog []string
	for _, m := range car.received(t) {
		switch {
		case strings.HasPrefix(m, "REGISTER "):
			registers = append(registers, m)
		case strings.HasPrefix(m, "INVITE "):
			invites = append(invites, m)
		case strings.HasPrefix(m, "ACK sip:"+carrierIP), strings.HasPrefix(m, "BYE "): // to the 200's Contact
			inDialog = append(inDialog, m)
		}
	}
	// The 200's Record-Route: edge, then core.
	if len(inDialog) != 2 {
		t.Errorf("SIPp received %d ACK/BYE in the answered call's dialog, want 2", len(inDialog))
	}
	edge := regexp.MustCompile(`(?m)^Route: <sip:` + regexp.QuoteMeta(carrierIP) + `:\d+;lr;edge>\r?\n(Route: )?<sip:core\.carrier\.invalid;lr>|^Route: <sip:` + regexp.QuoteMeta(carrierIP) + `:\d+;lr;edge>, *<sip:core\.carrier\.invalid;lr>`)
	for _, m := range inDialog {
		if !edge.MatchString(m) {
			t.Errorf("not routed through the carrier's edge, then its core:\n%s", m)
		}
	}
	if len(registers) != 4 || len(invites) != 2 {
		t.Fatalf("SIPp received %d REGISTERs and %d INVITEs, want 4 (2 challenged, 2 answering) and 2", len(registers), len(invites))
	}
	for i, want := range []string{"Expires: 3600", "Expires: 3600", "Expires: 0", "Expires: 0"} {
		if !strings.Contains(registers[i], want) {
			t.Errorf("REGISTER %d has no %q:\n%s", i+1, want, registers[i])
		}
	}
	inv := invites[1]
	for _, want := range []string{"INVITE sip:+15550100@" + carrierIP, "Authorization: Digest", `username="` + trunkUser + `"`,
		"From: \"", "<sip:+35315550103@" + carrierIP + ">", "P-Asserted-Identity: "} {
		if !strings.Contains(inv, want) {
			t.Errorf("the INVITE with credentials has no %q:\n%s", want, inv)
		}
	}
	if strings.Contains(strings.Join(car.received(t), "\n"), trunkPassword) {
		t.Error("the password went over the wire")
	}
}

// TestSIPpCarrierEarlyMedia: the carrier plays an announcement as early
// media (183 with SDP, then sip-tester's g711a.pcap) and then refuses the
// call with 486. Erin hears the announcement before the refusal — the
// capture's own bytes, relayed unchanged — and then gets the 486.
func TestSIPpCarrierEarlyMedia(t *testing.T) {
	sippPath(t)
	want, err := readRTPCapture(filepath.Join(pcapDir, "g711a.pcap"))
	if err != nil {
		peer.Missing(t, "sip-tester's g711a.pcap cannot be read ("+err.Error()+")", "install it with `apt-get install -y sip-tester`")
	}
	port := freeUDPPort(t, carrierIP, 1)
	car := sippCarrier(t, port, 2, "carrier_early_busy.xml")
	waitUDPBound(t, port, car)
	s, stop := startTrunkServer(t, port)
	s.waitEvent("trunk_registered", kind(events.TrunkRegistered))

	erin := s.device("app.erin")
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	_, err = erin.Dial(ctx, "+15550100")
	var refused *device.StatusError
	if !errors.As(err, &refused) || refused.Status != 486 {
		t.Fatalf("erin's call out: %v, want 486 from the carrier\n%s", err, car.report())
	}
	heard := audio.PCMA.Encode(nil, refused.Early)
	at := bytes.Index(want.payload, heard)
	t.Logf("erin heard %v of early media (RMS %.0f) before the 486, from %v into the capture",
		time.Duration(len(heard))*time.Second/audio.Rate, audio.RMS(refused.Early), time.Duration(at)*time.Second/audio.Rate)
	switch {
	case len(heard) < audio.Rate:
		t.Errorf("erin heard %d samples of the announcement, want at least a second", len(heard))
	case at < 0:
		t.Errorf("what erin heard is not the carrier's announcement as sent")
	case at > audio.Rate/5:
		t.Errorf("the first %v of the announcement were lost", time.Duration(at)*time.Second/audio.Rate)
	}
	stop()
	car.pass(t)
}
