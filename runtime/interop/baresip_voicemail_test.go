package interop

import (
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"switchboard/runtime/audio"
	"switchboard/runtime/events"
)

// TestBaresipLeavesVoicemail: alice's baresip calls bob's extension 102;
// with nothing of bob's registered his voicemail answers, in PCMU, the
// one codec this baresip offers. Alice keys "1" to skip the greeting,
// speaks (ausine's 440 Hz sine) until 2 s are recorded and keys "#";
// voicemail says the message is saved, says goodbye and hangs up, and
// baresip takes that BYE. The message is a µ-law WAV of the sine.
func TestBaresipLeavesVoicemail(t *testing.T) {
	baresipPath(t)
	s := startServer(t, serverConfig{voicemail: true})
	alice := s.baresipWith(t, "app.alice", "manual", baresipConfig{args: []string{"-s"}})
	alice.command(t, "dial", "102")
	alice.waitEvent(t, "CALL_ESTABLISHED")
	s.waitEvent("voicemail answered", legEvent(events.LegAnswered, "voicemail bob"))
	alice.command(t, "sndcode", "1")
	s.waitEvent("voicemail_recording", kind(events.VoicemailRecording))

	// Speak until the recording (a µ-law WAV, written as frames come) holds
	// 2 s of audio.
	const speak = 2 * audio.Rate
	box := filepath.Join(s.dataDir, "voicemail", "bob")
	// voicemail_recording is published as the message starts, before its
	// files (and, for a first message, bob's directory) are made: the
	// watch needs the directory now (made as the server makes it).
	if err := os.MkdirAll(box, 0o750); err != nil {
		t.Fatal(err)
	}
	written := watchDir(t, box)
	deadline := time.NewTimer(eventTimeout)
	defer deadline.Stop()
	for {
		recs, _ := filepath.Glob(filepath.Join(box, ".rec-*.wav"))
		if len(recs) == 1 {
			if fi, err := os.Stat(recs[0]); err == nil && fi.Size() >= 46+speak {
				break
			}
		}
		select {
		case <-written:
		case <-deadline.C:
			t.Fatalf("bob's box holds no recording of 2 s after %s: %q", eventTimeout, recs)
		}
	}
	alice.command(t, "sndcode", "#")
	deposited := s.waitEvent("voicemail_deposited", kind(events.VoicemailDeposited))
	if deposited.Account != "app.alice" || deposited.Path != "bob/msg-000001.wav" || !strings.HasSuffix(deposited.Cause, "ended by #") {
		t.Errorf("voicemail_deposited = %+v, want app.alice's message bob/msg-000001.wav ended by #", deposited)
	}
	data, err := os.ReadFile(filepath.Join(s.dataDir, "voicemail", filepath.FromSlash(deposited.Path)))
	if err != nil {
		t.Fatal(err)
	}
	w, err := audio.ReadWAV(data)
	if err != nil {
		t.Fatalf("%s: %v", deposited.Path, err)
	}
	// The sine: nearly all of the message's energy is at 440 Hz (a sine
	// of amplitude A has an RMS of A/√2). Measured frame by frame: a
	// frame lost or late on a busy machine leaves a phase jump that a
	// level taken over the whole message would pay for.
	level, rms := sentLevel(w.Samples, 440), audio.RMS(w.Samples)
	t.Logf("stored %s: %.2fs, format %d, 440 Hz at %.0f, RMS %.0f", deposited.Path, w.Seconds(), w.Format, level, rms)
	switch {
	case w.Format != audio.FormatULaw:
		t.Errorf("%s: WAV format %d, want µ-law (%d), the call's codec", deposited.Path, w.Format, audio.FormatULaw)
	case w.Seconds() < 2:
		t.Errorf("%s: %.2fs of audio, want at least the 2 s recorded before #", deposited.Path, w.Seconds())
	case rms < 500 || level < 0.8*math.Sqrt2*rms:
		t.Errorf("%s: 440 Hz at %.0f, RMS %.0f: not baresip's sine", deposited.Path, level, rms)
	}

	// Voicemail hangs up after its goodbye; baresip must take the BYE as
	// the end of its call. Its answer is in its SIP trace (-s).
	s.waitEvent("call_ended", kind(events.CallEnded))
	var status string
	if !alice.p.out.waitFor(eventTimeout, func(out string) bool {
		if m := byeAnswer.FindStringSubmatch(out); m != nil {
			status = m[1]
		}
		return status != ""
	}) {
		t.Fatalf("baresip did not answer the server's BYE within %s", eventTimeout)
	}
	if status != "200" {
		t.Fatalf("baresip answered the server's BYE %s: the BYE is not in the dialog of the 200 OK that answered baresip's INVITE (the BYE's From tag must be that 200's To tag)", status)
	}
	alice.waitEvent(t, "CALL_CLOSED")
}

// byeAnswer finds the status of a response to a BYE in a baresip SIP
// trace.
var byeAnswer = regexp.MustCompile(`\nSIP/2\.0 (\d{3}) [^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*?CSeq: *\d+ BYE\r?\n`)
