package voicemail

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"switchboard/runtime/audio"
	"switchboard/runtime/events"
)

// TestSetPINOpensTheBox: a PIN set from outside a call (the portal) is
// the one the menu then takes, and the initial one no longer is; a PIN
// the menu would refuse is refused.
func TestSetPINOpensTheBox(t *testing.T) {
	e := newEnv(t)
	b, err := e.s.box("mary")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.SetPIN("mary", "12", "portal mary"); err == nil {
		t.Error("a 2-digit PIN was taken")
	}
	if err := e.s.SetPIN("mary", "4711", "portal mary"); err != nil {
		t.Fatal(err)
	}
	if !e.s.checkPIN(b, "4711") || e.s.checkPIN(b, "2580") {
		t.Error("after SetPIN, the menu does not take the new PIN, or still takes the initial one")
	}
	if n := len(e.events(events.VoicemailPINChanged)); n != 1 {
		t.Errorf("%d voicemail_pin_changed events, want 1", n)
	}
}

// TestSetGreetingIsPlayed: an uploaded greeting is what callers hear;
// one of the wrong rate is refused and changes nothing.
func TestSetGreetingIsPlayed(t *testing.T) {
	e := newEnv(t)
	samples := make([]int16, 2*audio.Rate)
	for i := range samples {
		samples[i] = int16(i % 1000)
	}
	var buf seekBuffer
	w, _ := audio.NewWAVWriter(&buf, audio.FormatPCM)
	w.WritePCM(samples)
	w.Close()
	wrongRate := append([]byte(nil), buf.b...)
	wrongRate[24] = 0x44 // 8004 Hz: not the service's 8 kHz
	if err := e.s.SetGreeting("mary", wrongRate, "portal mary"); err == nil {
		t.Error("a WAV of the wrong rate was taken")
	}
	if _, err := os.Stat(filepath.Join(e.dir, "mary", greetingFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused greeting left a file: %v", err)
	}
	if err := e.s.SetGreeting("mary", buf.b, "portal mary"); err != nil {
		t.Fatal(err)
	}
	b, _ := e.s.box("mary")
	if got := b.greeting(); len(got) != len(samples) {
		t.Errorf("the greeting callers hear has %d samples, want %d", len(got), len(samples))
	}
}
