package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"switchboard/compiler/ir"
	"switchboard/runtime/events"
	"switchboard/runtime/interop/peer"
	"switchboard/simulate/device"
)

// sippPath returns SIPp, or skips the test loudly when it is not installed.
func sippPath(t *testing.T) string {
	t.Helper()
	return peer.Require(t, "sipp", "install it with `apt-get install -y sip-tester`")
}

// pcapDir is where Debian's sip-tester puts its RTP pcaps.
const pcapDir = "/usr/share/sip-tester"

// needPcap skips the test loudly when the DTMF pcaps are missing, or
// when SIPp may not play them (needRawSocket).
func needPcap(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pcapDir, "dtmf_2833_pound.pcap")); err != nil {
		peer.Missing(t, pcapDir+"/dtmf_2833_pound.pcap is missing (SIPp cannot send RFC 2833 DTMF)", "install it with `apt-get install -y sip-tester`")
	}
	needRawSocket(t)
}

var placeholder = regexp.MustCompile(`@[A-Z_]+@`)

// scenario reads testdata/sipp/name and fills in its @NAME@ placeholders
// from subs. A value ending in ".xml" is a fragment in testdata/sipp,
// inserted whole (it may hold placeholders of its own).
func scenario(t *testing.T, name string, subs map[string]string) string {
	t.Helper()
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join("testdata", "sipp", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	text := read(name)
	keys := make([]string, 0, len(subs))
	for k := range subs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for range 4 {
		before := text
		for _, k := range keys {
			v := subs[k]
			if strings.HasSuffix(v, ".xml") {
				v = read(v)
			}
			text = strings.ReplaceAll(text, "@"+k+"@", v)
		}
		if text == before {
			break
		}
	}
	if left := placeholder.FindAllString(text, -1); len(left) > 0 {
		t.Fatalf("scenario %s: no value for %v", name, left)
	}
	return text
}

// sippOptions describe one SIPp run.
type sippOptions struct {
	scenario string            // a file in testdata/sipp
	subs     map[string]string // placeholders; DOMAIN and PCAP_DIR are preset
	ip       string            // -i: 127.0.0.1 unless set
	port     int               // -p: a free port unless set
	args     []string
}

// sipp starts one SIPp run of one call against the server.
func (s *server) sipp(t *testing.T, name string, o sippOptions) *process {
	t.Helper()
	bin := sippPath(t)
	subs := map[string]string{"DOMAIN": domain, "PCAP_DIR": pcapDir}
	for k, v := range o.subs {
		subs[k] = v
	}
	dir := t.TempDir()
	sf := filepath.Join(dir, "scenario.xml")
	if err := os.WriteFile(sf, []byte(scenario(t, o.scenario, subs)), 0o644); err != nil {
		t.Fatal(err)
	}
	if o.ip == "" {
		o.ip = "127.0.0.1"
	}
	if o.port == 0 {
		o.port = freeUDPPort(t, o.ip, 1)
	}
	mp := freeUDPPort(t, o.ip, 4)
	args := []string{s.addr, "-sf", sf, "-i", o.ip, "-p", strconv.Itoa(o.port), "-mp", strconv.Itoa(mp),
		"-m", "1", "-nostdin", "-timeout", "25s", "-timeout_error",
		"-trace_err", "-error_file", filepath.Join(dir, "errors.log"),
		"-trace_msg", "-message_file", filepath.Join(dir, "messages.log")}
	return start(t, "sipp "+name, dir, bin, append(args, o.args...)...)
}

// pass waits for a SIPp run and fails the test unless every call of it
// succeeded (exit status 0).
func (p *process) pass(t *testing.T) {
	t.Helper()
	if code := p.wait(); code != 0 {
		t.Errorf("%s exited %d\n%s", p.name, code, p.report())
	}
}

// report is what a failed run printed and logged.
func (p *process) report() string {
	var b strings.Builder
	out := p.out.String()
	if i := strings.LastIndex(out, "Messages  Retrans"); i > 0 {
		out = out[max(0, i-200):] // SIPp's last screen is enough
	}
	fmt.Fprintf(&b, "--- output ---\n%s\n", out)
	for _, f := range []string{"errors.log", "messages.log"} {
		if data, err := os.ReadFile(filepath.Join(p.dir, f)); err == nil {
			fmt.Fprintf(&b, "--- %s ---\n%s\n", f, data)
		}
	}
	return b.String()
}

// received returns the SIP messages a SIPp run received, from its
// -trace_msg log.
func (p *process) received(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(p.dir, "messages.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, block := range strings.Split(string(data), "\n-----------------------------------------------") {
		if !strings.Contains(block, "message received") {
			continue
		}
		if _, msg, ok := strings.Cut(block, ":\n\n"); ok {
			out = append(out, strings.TrimSpace(msg))
		}
	}
	return out
}

// register registers account from a SIPp on port (a free one when 0) and
// returns the port.
func (s *server) sippRegister(t *testing.T, account string, port int) int {
	t.Helper()
	if port == 0 {
		port = freeUDPPort(t, "127.0.0.1", 1)
	}
	reg := s.sipp(t, "register "+account, sippOptions{scenario: "register.xml", port: port,
		args: []string{"-s", account, "-au", account, "-ap", s.password(account)}})
	if code := reg.wait(); code != 0 {
		t.Fatalf("%s exited %d\n%s", reg.name, code, reg.report())
	}
	s.waitEvent("registered "+account, registered(account))
	return port
}

// sippEndpoint registers account with SIPp, then runs scenario (a UAS)
// on the registered port: SIPp is the account's phone.
func (s *server) sippEndpoint(t *testing.T, account, scenario string, subs map[string]string) *process {
	t.Helper()
	port := s.sippRegister(t, account, 0)
	uas := s.sipp(t, account, sippOptions{scenario: scenario, subs: subs, port: port})
	waitUDPBound(t, port, uas)
	return uas
}

// doorCall is the door station gate calling code with SIPp; final is the
// fragment that ends it, with its placeholders.
func (s *server) doorCall(t *testing.T, code string, subs map[string]string, password string) *process {
	t.Helper()
	all := map[string]string{"ACCOUNT": "device.gate"}
	for k, v := range subs {
		all[k] = v
	}
	if password == "" {
		password = s.password("device.gate")
	}
	return s.sipp(t, "door station", sippOptions{scenario: "door_call.xml", subs: all,
		args: []string{"-s", code, "-au", "device.gate", "-ap", password,
			// SIPp's digest uri is sip:host:port unless told (-auth_uri,
			// without "sip:"); the server checks that it names the
			// Request-URI (RFC 7616 §3.4.6).
			"-auth_uri", code + "@" + s.addr}})
}

var (
	answeredByCaller = map[string]string{"FINAL": "final_answered.xml", "AFTER_ACK": "", "HANGUP": "hangup_caller.xml", "HOLD": "0"}
	answerThenBye    = map[string]string{"AFTER_ACK": "", "HANGUP": "hangup_callee.xml"}
)

// TestSIPpRegister registers SIPp with digest authentication: the right
// password is accepted, and a wrong password and an unknown user get the
// same answer — a fresh 401 whose only differences are the nonce and the
// per-request tags — so a scanner learns nothing about which users exist.
func TestSIPpRegister(t *testing.T) {
	s := startServer(t, serverConfig{})
	port := s.sippRegister(t, "app.alice", 0)
	e := s.waitEvent("registered", registered("app.alice"))
	if e.Source != "127.0.0.1:"+strconv.Itoa(port) {
		t.Errorf("binding source %q, want SIPp's socket 127.0.0.1:%d", e.Source, port)
	}

	refused := func(account, password string) string {
		p := s.sipp(t, "register "+account, sippOptions{scenario: "register_refused.xml",
			args: []string{"-s", account, "-au", account, "-ap", password}})
		p.pass(t)
		msgs := p.received(t)
		if len(msgs) == 0 {
			t.Fatalf("%s received nothing", p.name)
		}
		return normalise(msgs[len(msgs)-1])
	}
	wrong := refused("app.bob", "not-bobs-password")
	unknown := refused("app.nobody", "any-password")
	if !strings.HasPrefix(wrong, "SIP/2.0 401 ") {
		t.Errorf("wrong password answered:\n%s", wrong)
	}
	if wrong != unknown {
		t.Errorf("a wrong password and an unknown user are told apart:\nwrong password:\n%s\nunknown user:\n%s", wrong, unknown)
	}
	if n := len(s.find(registered("app.bob"))) + len(s.find(registered("app.nobody"))); n != 0 {
		t.Errorf("%d registrations with wrong credentials", n)
	}
	// SIPp may exit before the server has published its verdict on the
	// last REGISTER: wait for both events.
	causes := map[string]string{}
	for _, a := range []string{"app.bob", "app.nobody"} {
		e := s.waitEvent("auth_failed for "+a, func(e events.Event) bool { return e.Kind == events.AuthFailed && e.Account == a })
		causes[a] = e.Cause
	}
	if causes["app.bob"] != "wrong password" || causes["app.nobody"] != "unknown user" {
		t.Errorf("auth_failed causes (for the operator's eyes only) = %v", causes)
	}
}

// normalise blanks what differs between any two answers: nonces, tags,
// branches, Call-IDs, CSeq numbers, ports and dates.
func normalise(msg string) string {
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(msg, "\r\n", "\n"), "\n") {
		name, _, ok := strings.Cut(l, ":")
		switch {
		case !ok || strings.HasPrefix(l, "SIP/2.0"):
		case strings.EqualFold(name, "WWW-Authenticate"), strings.EqualFold(name, "Proxy-Authenticate"):
			l = regexp.MustCompile(`nonce="[^"]*"`).ReplaceAllString(l, `nonce="…"`)
		case strings.EqualFold(name, "Content-Length"):
		default:
			l = name + ": …"
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

// TestSIPpDoorForkOneAnswers: the gate calls flat 1A, whose three
// endpoints ring at once — SIPp as alice's app, which answers; baresip as
// bob's app and SIPp as the hall monitor, which ring. Alice's answer wins;
// the others get CANCEL with Reason cause=200 "Call completed elsewhere"
// (RFC 3326) and end with 487.
func TestSIPpDoorForkOneAnswers(t *testing.T) {
	sippPath(t)
	s := startServer(t, serverConfig{})
	alice := s.sippEndpoint(t, "app.alice", "uas_answer.xml", answerThenBye)
	monitor := s.sippEndpoint(t, "device.monitor-1a", "uas_ring.xml", map[string]string{"CAUSE": "200"})
	var bob *baresip
	var bobSIPp *process
	if _, err := exec.LookPath("baresip"); err == nil {
		bob = s.baresip(t, "app.bob", "manual")
	} else {
		t.Log("baresip is not installed (apt-get install -y baresip-core): bob's app is a second SIPp instead")
		bobSIPp = s.sippEndpoint(t, "app.bob", "uas_ring.xml", map[string]string{"CAUSE": "200"})
	}

	door := s.doorCall(t, "1A", answeredByCaller, "")
	door.pass(t)
	alice.pass(t)
	monitor.pass(t)
	if bobSIPp != nil {
		bobSIPp.pass(t)
	}
	if bob != nil {
		bob.waitEvent(t, "CALL_INCOMING")
		bob.waitEvent(t, "CALL_CLOSED")
		if bob.saw("CALL_ESTABLISHED") {
			t.Error("bob's baresip established the call alice had answered")
		}
	}

	s.waitEvent("leg_answered by alice", legEvent(events.LegAnswered, "app.alice"))
	for _, leg := range []string{"app.bob", "device.monitor-1a"} {
		e := s.waitEvent("leg_cancelled "+leg, legEvent(events.LegCancelled, leg))
		if e.Cause != "Call completed elsewhere" {
			t.Errorf("%s cancelled with cause %q", leg, e.Cause)
		}
	}
	if n := len(s.find(legEvent(events.LegCancelled, "app.alice"))); n != 0 {
		t.Errorf("the answering leg was cancelled too")
	}
	ended := s.waitEvent("call_ended", kind(events.CallEnded))
	if ended.Cause != "caller hung up" {
		t.Errorf("call_ended cause %q", ended.Cause)
	}
}

// TestSIPpSequentialResidence: flat 2B rings carol, then dan, 20s each.
// Carol's SIPp rings alone until her share of the ring timeout passes, is
// cancelled with cause=480 "No answer", and only then dan's SIPp rings and
// answers.
func TestSIPpSequentialResidence(t *testing.T) {
	s := startServer(t, serverConfig{})
	carol := s.sippEndpoint(t, "app.carol", "uas_ring.xml", map[string]string{"CAUSE": "480"})
	dan := s.sippEndpoint(t, "app.dan", "uas_answer.xml", answerThenBye)

	door := s.doorCall(t, "2B", answeredByCaller, "")
	s.waitEvent("carol ringing", legEvent(events.LegRinging, "app.carol"))
	if dan.exited() || len(s.find(legEvent(events.LegRinging, "app.dan"))) > 0 {
		t.Fatal("dan rang during carol's turn")
	}
	s.clock.Advance(20 * time.Second)
	door.pass(t)
	carol.pass(t)
	dan.pass(t)
	if e := s.waitEvent("carol cancelled", legEvent(events.LegCancelled, "app.carol")); e.Cause != "No answer" {
		t.Errorf("carol cancelled with cause %q", e.Cause)
	}
	s.waitEvent("dan answered", legEvent(events.LegAnswered, "app.dan"))
}

// TestSIPpNoAnswerFallback: nobody answers flat 3C within its 20s; erin's
// SIPp is cancelled (cause=480) and the door station gets 480, as the
// residence's no_answer = "hangup" says.
func TestSIPpNoAnswerFallback(t *testing.T) {
	s := startServer(t, serverConfig{})
	erin := s.sippEndpoint(t, "app.erin", "uas_ring.xml", map[string]string{"CAUSE": "480"})
	door := s.doorCall(t, "3C", map[string]string{"FINAL": "final_refused.xml", "STATUS": "480"}, "")
	s.waitEvent("erin ringing", legEvent(events.LegRinging, "app.erin"))
	s.clock.Advance(20 * time.Second)
	door.pass(t)
	erin.pass(t)
	fb := s.waitEvent("fallback", kind(events.Fallback))
	if fb.Cause != "no answer → hangup" || fb.Status != 480 || fb.Target != "residence.flat-3c" {
		t.Errorf("fallback = %+v", fb)
	}
}

// TestSIPpDTMFOpensDoor: alice's SIPp answers the gate's call and sends
// "#" as RFC 2833 telephone-events from sip-tester's pcap. The server
// records door_opened — alice, the gate, relay "door" — and the door
// station (a simulated device, which can report what it hears) receives
// the digits intact, as real hardware needs them to fire its relay.
func TestSIPpDTMFOpensDoor(t *testing.T) {
	sippPath(t)
	needPcap(t)
	s := startServer(t, serverConfig{})
	alice := s.sippEndpoint(t, "app.alice", "uas_answer.xml",
		map[string]string{"AFTER_ACK": "play_pound.xml", "HANGUP": "hangup_callee.xml"})
	gate := s.device("device.gate")

	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	call, err := gate.Dial(ctx, "1A")
	if err != nil {
		t.Fatal(err)
	}
	opened := s.waitEvent("door_opened", kind(events.DoorOpened))
	if opened.Account != "app.alice" || opened.Device != "gate" || opened.Relay != "door" || opened.Digits != "#" {
		t.Errorf("door_opened = %+v", opened)
	}
	if opened.Origin.IsZero() {
		t.Error("door_opened names no origin")
	}
	if err := call.WaitDigits(ctx, "#"); err != nil {
		t.Errorf("door station: %v", err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	alice.pass(t)
	if n := len(s.find(kind(events.DoorOpened))); n != 1 {
		t.Errorf("%d door_opened events for one \"#\" (the end packet comes three times)", n)
	}
	if n := len(s.find(kind(events.DoorRefused))); n != 0 {
		t.Errorf("%d door_refused events", n)
	}
}

// TestSIPpRefusedDTMFTriggerAccounts: the relay may be opened only by the
// accounts its trigger lists (ir.TriggerAccounts — a build directory's
// dialplan.json can say so; the language does not yet). Alice lives in
// flat 1A but is not on the list: her "#" is recorded as door_refused, not
// door_opened.
func TestSIPpRefusedDTMFTriggerAccounts(t *testing.T) {
	sippPath(t)
	needPcap(t)
	s := startServer(t, serverConfig{edit: func(p *ir.Program) {
		for i := range p.Devices {
			if p.Devices[i].Name == "gate" {
				p.Devices[i].Relays[0].Trigger = ir.Trigger{Policy: ir.TriggerAccounts, Accounts: []string{"app.bob"}}
			}
		}
	}})
	alice := s.sippEndpoint(t, "app.alice", "uas_answer.xml",
		map[string]string{"AFTER_ACK": "play_pound.xml", "HANGUP": "hangup_callee.xml"})
	gate := s.device("device.gate")
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	call, err := gate.Dial(ctx, "1A")
	if err != nil {
		t.Fatal(err)
	}
	s.waitEvent("alice's dtmf", func(e events.Event) bool { return e.Kind == events.DTMF && e.Account == "app.alice" })
	if err := call.WaitDigits(ctx, "#"); err != nil {
		t.Errorf("door station: %v", err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	alice.pass(t)
	s.waitEvent("call_ended", kind(events.CallEnded))
	if opened := s.find(kind(events.DoorOpened)); len(opened) > 0 {
		t.Errorf("door opened for %s, whom the relay's trigger does not list", opened[0].Account)
	}
	if refused := s.find(kind(events.DoorRefused)); len(refused) != 1 || refused[0].Account != "app.alice" || refused[0].Relay != "door" {
		t.Errorf("door_refused events = %+v, want one for app.alice", refused)
	}
}

// TestSIPpVisitorDTMFRefused: with the default trigger (the endpoints the
// door called), the one non-resident whose digits reach a door call is the
// visitor at the panel: the caller's side. SIPp as the gate sends "#"
// once alice has answered. The resident hears it intact, the door does not
// open, and the attempt is recorded as door_refused by the gate's account.
func TestSIPpVisitorDTMFRefused(t *testing.T) {
	sippPath(t)
	needPcap(t)
	s := startServer(t, serverConfig{})
	alice := s.device("app.alice")
	alice.SetAnswer(device.Pickup, 0)
	door := s.doorCall(t, "1A", map[string]string{"FINAL": "final_answered.xml", "AFTER_ACK": "play_pound.xml", "HANGUP": "hangup_callee.xml"}, "")

	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	in, err := alice.WaitIncoming(ctx, func(in []device.Incoming) bool { return len(in) == 1 && in[0].Answered })
	if err != nil {
		t.Fatal(err)
	}
	call := alice.Answered(in[0].CallID)
	if call == nil {
		t.Fatal("alice has no answered call")
	}
	if err := call.WaitDigits(ctx, "#"); err != nil {
		t.Errorf("alice: %v", err)
	}
	s.waitEvent("the gate's dtmf", func(e events.Event) bool { return e.Kind == events.DTMF && e.Account == "device.gate" })
	refused := s.waitEvent("door_refused", kind(events.DoorRefused))
	if refused.Account != "device.gate" || refused.Device != "gate" || refused.Relay != "door" {
		t.Errorf("door_refused = %+v", refused)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	door.pass(t)
	if opened := s.find(kind(events.DoorOpened)); len(opened) > 0 {
		t.Errorf("the visitor's own \"#\" opened the door: %+v", opened[0])
	}
}

// TestSIPpCarrierDDI: a SIPp "carrier" at the trunk's address delivers a
// call for erin's DDI without credentials; erin's SIPp answers. A number
// that is not one of the trunk's DDIs gets 404.
func TestSIPpCarrierDDI(t *testing.T) {
	sippPath(t)
	s := startServer(t, serverConfig{})
	erin := s.sippEndpoint(t, "app.erin", "uas_answer.xml", answerThenBye)
	carrier := func(number string, subs map[string]string) *process {
		all := map[string]string{"ACCOUNT": "+35318880000", "OFFER": "carrier_offer_sdp.xml"}
		for k, v := range subs {
			all[k] = v
		}
		return s.sipp(t, "carrier", sippOptions{scenario: "carrier_call.xml", ip: carrierIP, subs: all, args: []string{"-s", number}})
	}

	carrier("+35315550103", answeredByCaller).pass(t)
	erin.pass(t)
	started := s.waitEvent("call_started", kind(events.CallStarted))
	if started.From != "trunk.carrier" || started.Target != "user.erin" {
		t.Errorf("call_started = %+v", started)
	}
	s.waitEvent("erin answered", legEvent(events.LegAnswered, "app.erin"))

	carrier("+35315550199", map[string]string{"FINAL": "final_refused.xml", "STATUS": "404"}).pass(t)
	s.waitEvent("call_rejected", func(e events.Event) bool { return e.Kind == events.CallRejected && e.Status == 404 })
}

// TestSIPpCarrierSIPI: a carrier interworking with ISUP sends its INVITE's
// SDP in multipart/mixed beside the ISUP message (SIP-I, RFC 3204). The
// call connects, and erin's phone is offered plain SDP. A body with no
// SDP at all gets 415, naming what is accepted.
func TestSIPpCarrierSIPI(t *testing.T) {
	sippPath(t)
	s := startServer(t, serverConfig{})
	erin := s.sippEndpoint(t, "app.erin", "uas_answer.xml", answerThenBye)
	carrier := func(offer string, subs map[string]string) *process {
		all := map[string]string{"ACCOUNT": "+35318880000", "OFFER": offer}
		for k, v := range subs {
			all[k] = v
		}
		return s.sipp(t, "carrier", sippOptions{scenario: "carrier_call.xml", ip: carrierIP, subs: all, args: []string{"-s", "+35315550103"}})
	}

	carrier("carrier_offer_sipi.xml", answeredByCaller).pass(t)
	erin.pass(t)
	s.waitEvent("erin answered", legEvent(events.LegAnswered, "app.erin"))
	var invite string
	for _, m := range erin.received(t) {
		if strings.HasPrefix(m, "INVITE ") {
			invite = m
		}
	}
	if !strings.Contains(invite, "Content-Type: application/sdp") || strings.Contains(invite, "ISUP") || !strings.Contains(invite, "m=audio ") {
		t.Errorf("erin was not offered plain SDP:\n%s", invite)
	}

	refused := carrier("carrier_offer_text.xml", map[string]string{"FINAL": "final_refused.xml", "STATUS": "415"})
	refused.pass(t)
	for _, m := range refused.received(t) {
		if strings.HasPrefix(m, "SIP/2.0 415") && !strings.Contains(m, "Accept: application/sdp") {
			t.Errorf("415 without Accept: application/sdp:\n%s", m)
		}
	}
}

// TestSIPpUnauthenticatedInviteRefused: an INVITE without credentials gets
// 407, and so does one with a wrong password; nothing rings.
func TestSIPpUnauthenticatedInviteRefused(t *testing.T) {
	sippPath(t)
	s := startServer(t, serverConfig{})
	alice := s.device("app.alice")
	door := s.doorCall(t, "1A", map[string]string{"FINAL": "final_refused.xml", "STATUS": "407"}, "not-the-gates-password")
	door.pass(t)
	msgs := door.received(t)
	var challenges int
	for _, m := range msgs {
		if strings.HasPrefix(m, "SIP/2.0 407") && strings.Contains(m, "Proxy-Authenticate: Digest") {
			challenges++
		}
	}
	if challenges < 2 {
		t.Errorf("got %d 407 challenges, want one for no credentials and one for wrong ones", challenges)
	}
	if e := s.waitEvent("auth_failed", kind(events.AuthFailed)); e.Account != "device.gate" || e.Status != 407 {
		t.Errorf("auth_failed = %+v", e)
	}
	if started := s.find(kind(events.CallStarted)); len(started) > 0 {
		t.Errorf("an unauthenticated INVITE started a call: %+v", started[0])
	}
	if in := alice.Incoming(); len(in) > 0 {
		t.Errorf("alice rang: %+v", in)
	}
}
