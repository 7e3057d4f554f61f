package interop

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
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
	"switchboard/runtime/media/mediatest"
	"switchboard/runtime/voicemail"
	"switchboard/simulate/device"
)

// rtpCapture is the audio of a pcap of one RTP stream, as SIPp plays it.
type rtpCapture struct {
	payloadType uint8
	packets     int
	payload     []byte        // every packet's payload, in order: the codec's bytes
	duration    time.Duration // of the audio: RTP time from the first packet to the end of the last
}

// readRTPCapture reads a classic pcap (not pcapng) of Ethernet/IPv4/UDP
// frames holding one RTP stream of a G.711 codec, and checks that its
// timestamps run on without a gap, so its audio lasts exactly as long as
// its payload.
func readRTPCapture(path string) (*rtpCapture, error) {
	packets, err := mediatest.ReadPcapUDP(path)
	if err != nil {
		return nil, err
	}
	c := &rtpCapture{}
	var next uint32
	for _, pkt := range packets {
		if len(pkt) < 12 || pkt[0]>>6 != 2 || pkt[0]&0x30 != 0 {
			return nil, errors.New("not plain RTP (version 2, no padding or extension)")
		}
		pt, ts, hdr := pkt[1]&0x7f, binary.BigEndian.Uint32(pkt[4:]), 12+4*int(pkt[0]&0x0f)
		if hdr > len(pkt) {
			return nil, errors.New("truncated RTP header")
		}
		body := pkt[hdr:]
		if c.packets == 0 {
			c.payloadType = pt
		} else if pt != c.payloadType || ts != next {
			return nil, fmt.Errorf("packet %d: payload type %d, timestamp %d; want %d, %d", c.packets, pt, ts, c.payloadType, next)
		}
		next = ts + uint32(len(body)) // G.711: a byte a sample
		c.packets++
		c.payload = append(c.payload, body...)
	}
	if c.packets == 0 {
		return nil, errors.New("no RTP packets")
	}
	c.duration = time.Duration(len(c.payload)) * time.Second / audio.Rate
	return c, nil
}

// voicemailFile reads a box file (box/name) where the server keeps it:
// under its data directory, or in its store (an object for audio, a key
// for the rest).
func (s *server) voicemailFile(t *testing.T, path string) []byte {
	t.Helper()
	if s.db == nil {
		data, err := os.ReadFile(filepath.Join(s.dataDir, "voicemail", filepath.FromSlash(path)))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	ctx := context.Background()
	var data []byte
	var ok bool
	var err error
	if strings.HasSuffix(path, ".wav") {
		objs, oerr := s.db.Objects(ctx, "voicemail", s.prog.Site.Domain)
		if oerr != nil {
			t.Fatal(oerr)
		}
		data, ok, err = objs.Get(ctx, path, 1<<24)
	} else {
		kv, kerr := s.db.KV(ctx, "mailboxes", s.prog.Site.Domain)
		if kerr != nil {
			t.Fatal(kerr)
		}
		data, ok, err = kv.Get(ctx, path)
	}
	if err != nil || !ok {
		t.Fatalf("%s in the store: %v, %v", path, ok, err)
	}
	if _, err := os.Stat(filepath.Join(s.dataDir, "voicemail", filepath.FromSlash(path))); err == nil {
		t.Errorf("%s is in the store and in a file", path)
	}
	return data
}

// Deposit timing, for SIPp's scenario. vmBeepWait is the pause between
// the key that skips the greeting and the start of the message: the
// server must detect the key (the pcap's last end packet is 140 ms in)
// and play the 250 ms beep, and drops what arrived before its end (not
// before the recording's file is open: a slow disk once cost the whole
// message). vmSpeakMargin is waited after the capture's own length, so
// its last packets are in before the message ends.
const (
	vmBeepWait    = 1000 * time.Millisecond
	vmSpeakMargin = 500 * time.Millisecond
)

// TestSIPpLeavesVoicemail: SIPp as alice's app calls bob's extension 102.
// Bob has no device registered, so the ring ends at once and his
// voicemail answers, choosing PCMA, the codec SIPp offers first. SIPp
// skips the greeting with "1", waits out the beep and speaks
// sip-tester's g711a.pcap, then ends with "#" (and hears voicemail hang
// up) or by hanging up. The message in bob's box is that capture, byte
// for byte, in an A-law WAV: as long as the capture and as loud.
func TestSIPpLeavesVoicemail(t *testing.T) {
	sippPath(t)
	needPcap(t)
	speech := filepath.Join(pcapDir, "g711a.pcap")
	if _, err := os.Stat(speech); err != nil {
		peer.Missing(t, speech+" is missing (SIPp has nothing to say)", "install it with `apt-get install -y sip-tester`")
	}
	want, err := readRTPCapture(speech)
	if err != nil {
		t.Fatalf("%s: %v", speech, err)
	}
	if want.payloadType != audio.PCMA.PayloadType() {
		t.Fatalf("%s carries payload type %d, want PCMA (%d)", speech, want.payloadType, audio.PCMA.PayloadType())
	}
	wantRMS := audio.RMS(audio.PCMA.Decode(nil, want.payload))
	lead := leadingSilence(audio.PCMA.Decode(nil, want.payload))
	t.Logf("%s: %d RTP packets, %d bytes of PCMA: %v of audio, RMS %.0f, the first %v silent", filepath.Base(speech), want.packets, len(want.payload), want.duration, wantRMS, lead)

	for _, end := range []struct {
		name   string
		hangup string // fragment that ends the message
		why    string // how the deposit says it ended
		store  bool   // kept in serve's store, not in files
	}{
		{"pound", "voicemail_pound.xml", "#", false},
		{"hangup", "hangup_caller.xml", "hung up", false},
		{"pound, kept in the store", "voicemail_pound.xml", "#", true},
	} {
		t.Run(end.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, serverConfig{voicemail: true, store: end.store})
			begin := time.Now()
			caller := s.sipp(t, "alice leaves a message", sippOptions{scenario: "voicemail_call.xml",
				subs: map[string]string{"ACCOUNT": "app.alice", "FINAL": "final_answered.xml",
					"AFTER_ACK": "voicemail_message.xml", "HANGUP": end.hangup, "HANGUP_BY_SERVER": "hangup_callee.xml", "HOLD": "0",
					"BEEP_WAIT": strconv.Itoa(int(vmBeepWait / time.Millisecond)),
					"SPEAK":     strconv.Itoa(int((want.duration + vmSpeakMargin) / time.Millisecond))},
				args: []string{"-s", "102", "-au", "app.alice", "-ap", s.password("app.alice"), "-auth_uri", "102@" + s.addr}})
			answered := s.waitEvent("voicemail answered", legEvent(events.LegAnswered, "voicemail bob"))
			if answered.From != "app.alice" || answered.Target != "user.bob" {
				t.Errorf("leg_answered = %+v, want voicemail bob answering app.alice's call to user.bob", answered)
			}
			caller.pass(t)
			took := time.Since(begin)
			deposited := s.waitEvent("voicemail_deposited", kind(events.VoicemailDeposited))
			if deposited.Account != "app.alice" || deposited.Path != "bob/msg-000001.wav" || !strings.HasSuffix(deposited.Cause, "ended by "+end.why) {
				t.Errorf("voicemail_deposited = %+v, want app.alice's message bob/msg-000001.wav ended by %s", deposited, end.why)
			}
			if answer := caller.received(t); !sdpChose(answer, "8 PCMA/8000") {
				t.Errorf("voicemail's answer did not choose PCMA, the codec SIPp offered first:\n%s", strings.Join(answer, "\n\n"))
			}

			data := s.voicemailFile(t, deposited.Path)
			w, err := audio.ReadWAV(data)
			if err != nil {
				t.Fatalf("%s: %v", deposited.Path, err)
			}
			if w.Format != audio.FormatALaw {
				t.Errorf("%s: WAV format %d, want A-law (%d), the call's codec", deposited.Path, w.Format, audio.FormatALaw)
			}
			var meta voicemail.Message
			if err := json.Unmarshal(s.voicemailFile(t, strings.TrimSuffix(deposited.Path, ".wav")+".json"), &meta); err != nil {
				t.Errorf("%s metadata: %v", deposited.Path, err)
			}
			got := time.Duration(len(w.Raw)) * time.Second / audio.Rate
			gotRMS := audio.RMS(w.Samples)
			t.Logf("stored %s: %v (metadata %v, codec %s), RMS %.0f; the capture: %v, RMS %.0f; SIPp's call took %v",
				deposited.Path, got, meta.Duration(), meta.Codec, gotRMS, want.duration, wantRMS, took.Round(time.Millisecond))
			if meta.Codec != "PCMA" || meta.Duration() != got.Truncate(time.Millisecond) || meta.From.Account != "app.alice" {
				t.Errorf("metadata %+v, want PCMA, %v, from app.alice", meta, got)
			}

			// The message is the capture: its codec bytes unchanged (the
			// server decodes and re-encodes A-law, which gives the same
			// bytes back), with nothing lost or added but for what came
			// before the recording started — frames that arrive during
			// the greeting and the beep are not recorded. vmBeepWait
			// leaves about 600 ms for the key and the beep, so nothing is
			// lost unless the server took that much longer; the tolerance is the capture's leading silence
			// (lead: 0.6 s of near-zero samples), so no speech may be
			// lost. The end has none: vmSpeakMargin lets the last packets
			// in, and audio queued when the message ends is kept.
			//
			// A server slower than that (a busy machine) starts recording
			// later and drops more of the capture's start, by design; that
			// lateness is measured, not guessed: from the answer to the
			// recording, less the wait SIPp gives it, by the server's own
			// event times.
			recording := s.waitEvent("voicemail_recording", kind(events.VoicemailRecording))
			late := max(0, recording.Time.Sub(answered.Time)-vmBeepWait)
			lossBudget := lead + late
			switch {
			case len(w.Raw) > len(want.payload):
				t.Errorf("stored %v of audio, more than the %v SIPp sent", got, want.duration)
			case !bytes.HasSuffix(want.payload, w.Raw):
				t.Errorf("the stored audio is not the end of the capture: first difference at byte %d of %d", firstDiff(want.payload[len(want.payload)-len(w.Raw):], w.Raw), len(w.Raw))
			case want.duration-got > lossBudget:
				t.Errorf("stored %v of audio, want the capture's %v less at most its leading %v of silence and the %v the server was late to record", got, want.duration, lead, late)
			}
			// Non-silent: a recording of silence would have an RMS of 8,
			// the capture as a whole has about 1900.
			if gotRMS < 0.9*wantRMS {
				t.Errorf("stored audio RMS %.0f, want about the capture's %.0f", gotRMS, wantRMS)
			}
		})
	}
}

// sdpChose reports whether the first SDP answer among msgs (a 200 with
// a body) chose rtpmap ("8 PCMA/8000"): the first format of its audio
// stream.
func sdpChose(msgs []string, rtpmap string) bool {
	pt, _, _ := strings.Cut(rtpmap, " ")
	for _, m := range msgs {
		if !strings.HasPrefix(m, "SIP/2.0 200") || !strings.Contains(m, "\nm=audio ") {
			continue
		}
		for _, l := range strings.Split(strings.ReplaceAll(m, "\r\n", "\n"), "\n") {
			if f := strings.Fields(l); len(f) >= 4 && f[0] == "m=audio" && f[3] != pt {
				return false
			}
		}
		return strings.Contains(m, "a=rtpmap:"+rtpmap)
	}
	return false
}

// leadingSilence is how long s stays silent (20 ms frames of RMS below
// 50, as G.711's idle noise is) before its first sound.
func leadingSilence(s []int16) time.Duration {
	n := 0
	for n+audio.FrameSamples <= len(s) && audio.RMS(s[n:n+audio.FrameSamples]) < 50 {
		n += audio.FrameSamples
	}
	return time.Duration(n) * time.Second / audio.Rate
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestBaresipMessageWaiting: bob's baresip, with its mwi module,
// subscribes to his message summary (RFC 3842) once it has registered,
// and is told at once that nothing waits. Alice (a simulated device)
// calls bob's extension; bob declines on baresip, so his busy fallback
// sends her to his voicemail, where she leaves a message. In the same
// subscription baresip is then told that one new message waits.
func TestBaresipMessageWaiting(t *testing.T) {
	baresipPath(t)
	s := startServer(t, serverConfig{voicemail: true})
	bob := s.startBaresipWith(t, "app.bob", "manual", baresipConfig{templates: "mwi", args: []string{"-s"}})
	// The account comes only now: see testdata/baresip/mwi/accounts.
	bob.waitModuleTimers()
	bob.command(t, "uanew", fmt.Sprintf(`<sip:app.bob@%s>;auth_pass=%s;outbound="sip:%s";regint=600;answermode=manual;mwi=yes;audio_codecs=pcmu`,
		domain, s.password("app.bob"), s.addr))
	s.waitEvent("baresip registered as app.bob", registered("app.bob"))
	if body := bob.waitMWI(t, "Messages-Waiting: no"); !strings.Contains(body, "Voice-Message: 0/0") {
		t.Errorf("first message summary:\n%s\nwant Voice-Message: 0/0", body)
	}

	alice := s.device("app.alice")
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	type dialed struct {
		call *device.Call
		err  error
	}
	answered := make(chan dialed, 1)
	go func() {
		c, err := alice.Dial(ctx, "102")
		answered <- dialed{c, err}
	}()
	bob.waitEvent(t, "CALL_INCOMING")
	bob.command(t, "hangup", "") // declines: 486 Busy Here
	if fb := s.waitEvent("fallback", kind(events.Fallback)); fb.Target != "user.bob" || fb.Cause != "busy → voicemail bob" {
		t.Errorf("fallback = %+v, want user.bob's busy fallback to voicemail", fb)
	}
	d := <-answered
	if d.err != nil {
		t.Fatalf("alice's call to 102: %v", d.err)
	}
	call := d.call
	if err := call.SendDTMF("1"); err != nil { // skip the greeting
		t.Fatal(err)
	}
	s.waitEvent("voicemail_recording", kind(events.VoicemailRecording))
	if err := call.SendTone(440, 8000, 100); err != nil { // 2 s
		t.Fatal(err)
	}
	if err := call.SendDTMF("#"); err != nil {
		t.Fatal(err)
	}
	deposited := s.waitEvent("voicemail_deposited", kind(events.VoicemailDeposited))
	if deposited.Path != "bob/msg-000001.wav" {
		t.Errorf("voicemail_deposited = %+v, want bob/msg-000001.wav", deposited)
	}
	body := bob.waitMWI(t, "Messages-Waiting: yes")
	if !strings.Contains(body, "Voice-Message: 1/0") {
		t.Errorf("message summary after the deposit:\n%s\nwant Voice-Message: 1/0", body)
	}
	t.Logf("baresip's MWI_NOTIFY after the deposit:\n%s", strings.TrimSpace(body))
	if err := call.Hangup(ctx); err != nil { // during voicemail's goodbye
		t.Error(err)
	}
	s.waitEvent("call_ended", kind(events.CallEnded))

	// baresip's SIP trace (-s): one subscription (one Call-ID: the
	// SUBSCRIBE, then again with credentials), whose NOTIFYs it took.
	out := bob.p.out.String()
	ids := map[string]bool{}
	for _, m := range subscribeCallID.FindAllStringSubmatch(out, -1) {
		ids[m[1]] = true
	}
	if len(ids) != 1 {
		t.Errorf("baresip subscribed in %d dialogs (Call-IDs %v), want 1", len(ids), ids)
	}
	if n := strings.Count(out, "SIP/2.0 481 "); n != 0 {
		t.Errorf("baresip answered %d of the server's requests 481 Subscription Does Not Exist", n)
	}
}

// subscribeCallID finds the Call-ID of each SUBSCRIBE in a baresip SIP
// trace.
var subscribeCallID = regexp.MustCompile(`(?s)\nSUBSCRIBE sip:[^ ]+ SIP/2\.0\r?\n.*?\nCall-ID: *([^\r\n]+)`)

// moduleTimer is how long after loading baresip 1.0's mwi module its
// startup timer (tmr_start(&tmr, 1, tmr_handler, 0), libre's wall-clock
// milliseconds) fires at the latest.
const moduleTimer = time.Millisecond

// waitModuleTimers returns once the mwi module's startup timer is due, so
// that an account added afterwards cannot register before it fires. That
// timer subscribes again for every subscription already in the module's
// list, appending to the list it walks: if one account has registered by
// then, baresip loops for ever (thousands of SUBSCRIBEs a second, none
// retransmitted, no response ever read). The account's REGISTER,
// challenge and 200 need three turns of baresip's main loop, and every
// turn ends by running the timers that are due; so a uanew sent once the
// timer is due is handled in a turn that fires it, before the 200 can be
// read. Seen on loopback: the test reacts to "baresip is ready." within
// microseconds, and the server answers REGISTER in well under a
// millisecond, so without this the whole registration fit in that
// millisecond in 8 of 120 starts under load.
//
// This is a wait for time, not for an event: the timer fires with an
// empty list and does nothing that can be observed. b.ready is after the
// module's init, so moduleTimer after b.ready the timer is due; twice
// that allows for the wall clock libre reads being slewed against Go's
// monotonic one.
func (b *baresip) waitModuleTimers() {
	time.Sleep(time.Until(b.ready.Add(2 * moduleTimer)))
}

// waitMWI waits for baresip's mwi module to report a message-summary
// NOTIFY (ctrl_tcp event MWI_NOTIFY, the body as its param) whose body
// has line, and returns the body.
func (b *baresip) waitMWI(t *testing.T, line string) string {
	t.Helper()
	e := b.wait(t, "MWI_NOTIFY with "+line, func() (map[string]any, bool) {
		for _, e := range b.events {
			if body, _ := e["param"].(string); e["type"] == "MWI_NOTIFY" && strings.Contains(body, line) {
				return e, true
			}
		}
		return nil, false
	})
	body, _ := e["param"].(string)
	return body
}
