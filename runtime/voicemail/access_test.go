package voicemail

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/audio"
	"switchboard/runtime/events"
)

// access runs Access with keys typed ahead, the clock advancing whenever
// the menu waits (so it ends by timing out if the keys do not end it).
func (e *testEnv) access(box string, c Caller, keys string) (l *fakeLine, err error) {
	e.t.Helper()
	e.bubble(func(*testing.T) {
		l = newFakeLine(audio.PCMU, e.clk)
		err = e.drive(l, keys, func() error { return e.s.Access(context.Background(), l, box, c) })
	})
	return l, err
}

// accessTyped runs Access with every key pressed before it starts: keys
// typed ahead of the prompts.
func (e *testEnv) accessTyped(box string, c Caller, keys string) (l *fakeLine, err error) {
	e.t.Helper()
	e.bubble(func(*testing.T) {
		l = newFakeLine(audio.PCMU, e.clk)
		l.keys(keys)
		err = e.run(func() error { return e.s.Access(context.Background(), l, box, c) })
	})
	return l, err
}

// threeMessages gives mary one saved and two new messages; listening
// order is 2, 3, 1.
func threeMessages(e *testEnv) {
	e.addMessage("mary", FolderSaved, epoch.Add(-2*time.Hour), 1, 300)
	e.addMessage("mary", FolderNew, epoch.Add(-time.Hour), 2, 400)
	e.addMessage("mary", FolderNew, epoch.Add(-30*time.Minute), 3, 500)
}

// folders describes a box: "id:folder" for each message, by id.
func folders(ms []Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(rune('0'+m.ID)) + ":" + string(m.Folder)
	}
	return out
}

func TestMenu(t *testing.T) {
	tests := []struct {
		name   string
		keys   string
		want   []string // messages in listening order
		played []string // must appear, in this order
	}{
		{"exit at once", "#", []string{"2:new", "3:new", "1:saved"}, []string{"vm-goodbye"}},
		{"no key: menu three times, goodbye", "", []string{"2:new", "3:new", "1:saved"},
			[]string{"vm-you-have", "num-2", "vm-new-messages", "vm-main-menu", "vm-main-menu", "vm-main-menu", "vm-goodbye"}},
		{"listen: the first new one is heard", "1", []string{"3:new", "1:saved", "2:saved"},
			[]string{"vm-message", "num-1", "audio(2.00s)", "vm-message-menu"}},
		// After 7 or 9 the next message plays, and so is heard.
		{"listen, delete", "17", []string{"1:saved", "3:saved"}, []string{"audio(2.00s)", "vm-deleted", "vm-message", "num-2", "audio(3.00s)"}},
		{"listen, save", "19", []string{"1:saved", "2:saved", "3:saved"}, []string{"audio(2.00s)", "vm-saved", "audio(3.00s)"}},
		{"next, delete the second", "1 6 7", []string{"1:saved", "2:saved"}, []string{"audio(2.00s)", "audio(3.00s)", "vm-deleted", "audio(1.00s)"}},
		{"to the end", "1 6 6 6", []string{"1:saved", "2:saved", "3:saved"},
			[]string{"audio(2.00s)", "audio(3.00s)", "num-3", "audio(1.00s)", "vm-no-more", "vm-main-menu"}},
		{"delete the saved one", "1 6 6 7", []string{"2:saved", "3:saved"}, []string{"audio(1.00s)", "vm-deleted", "vm-no-more"}},
		{"previous", "1 6 4 7", []string{"1:saved", "3:saved"}, []string{"audio(2.00s)", "audio(3.00s)", "audio(2.00s)", "vm-deleted"}},
		{"previous at the first repeats it", "1 4 7", []string{"1:saved", "3:saved"}, []string{"audio(2.00s)", "audio(2.00s)", "vm-deleted"}},
		{"repeat, then delete", "1 5 7", []string{"1:saved", "3:saved"}, []string{"audio(2.00s)", "audio(2.00s)", "vm-deleted"}},
		{"help with a message", "1 * 7", []string{"1:saved", "3:saved"}, []string{"audio(2.00s)", "vm-message-menu", "vm-deleted"}},
		{"previous skips a deleted one", "1 7 6 4", []string{"1:saved", "3:saved"},
			[]string{"vm-deleted", "audio(3.00s)", "audio(1.00s)", "vm-message", "num-2", "audio(3.00s)"}},
		{"exit while listening", "1 #", []string{"3:new", "1:saved", "2:saved"}, []string{"audio(2.00s)", "vm-goodbye"}},
		{"main menu ignores other keys", "7 9 5 #", []string{"2:new", "3:new", "1:saved"}, []string{"vm-goodbye"}},
		{"options and back", "0 * #", []string{"2:new", "3:new", "1:saved"}, []string{"vm-options-menu", "vm-main-menu", "vm-goodbye"}},
		{"exit from options", "0 #", []string{"2:new", "3:new", "1:saved"}, []string{"vm-goodbye"}},
		{"listen, back in the main menu, listen again", "1 6 6 6 1 7", []string{"2:saved", "3:saved"},
			[]string{"vm-no-more", "vm-main-menu", "audio(1.00s)", "vm-deleted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			threeMessages(e)
			l, err := e.access(Own, mary, tt.keys)
			if err != nil {
				t.Fatalf("Access: %v", err)
			}
			if d := cmp.Diff(tt.want, folders(e.messages("mary"))); d != "" {
				t.Errorf("box after %q (-want +got):\n%s", tt.keys, d)
			}
			if !subsequence(tt.played, l.Played()) {
				t.Errorf("played %v\nwant in order %v", l.Played(), tt.played)
			}
			if contains(l.Played(), "vm-enter-pin") {
				t.Error("own device asked for a PIN")
			}
			// Memory and disk agree.
			e.open(Config{Dir: e.dir, Clock: e.clk, Logger: discardLogger()})
			if d := cmp.Diff(tt.want, folders(e.messages("mary"))); d != "" {
				t.Errorf("box on disk (-want +got):\n%s", d)
			}
		})
	}
}

// subsequence reports whether want appears in got in order.
func subsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

func TestMenuAnnouncesNewMessages(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want []string
	}{
		{0, []string{"vm-you-have", "num-0", "vm-new-messages"}},
		{1, []string{"vm-you-have", "num-1", "vm-new-message"}},
		{23, []string{"vm-you-have", "num-20", "num-3", "vm-new-messages"}},
	} {
		e := newEnv(t)
		for i := range tt.n {
			e.addMessage("mary", FolderNew, epoch.Add(time.Duration(i)*time.Minute), 1, 440)
		}
		l, err := e.access(Own, mary, "")
		if err != nil {
			t.Fatal(err)
		}
		if got := l.Played(); !cmp.Equal(got[:len(tt.want)], tt.want) {
			t.Errorf("%d new: played %v", tt.n, got)
		}
	}
}

func TestMenuChangePIN(t *testing.T) {
	tests := []struct {
		keys    string
		changed string // the new PIN, "" when unchanged
	}{
		{"0 5 2468# 2468# #", "2468"},
		{"0 5 135792# 135792# #", "135792"},
		{"0 5 2468. 2468. #", "2468"}, // a pause ends an entry as # does
		{"0 5 2468# 1357# #", ""},
		{"0 5 24# #", ""},
		{"0 5 1234567# #", ""},
		{"0 5 12*2468# 2468# #", "2468"}, // * starts an entry over
		{"0 5 # #", ""},
		{"0 5 . #", ""}, // nothing keyed: back to the options
		{"0 5 2468# . #", ""},
	}
	for _, tt := range tests {
		t.Run(tt.keys, func(t *testing.T) {
			e := newEnv(t)
			l, err := e.access(Own, mary, tt.keys)
			if err != nil {
				t.Fatal(err)
			}
			pinPath := filepath.Join(e.dir, "mary", pinFile)
			data, err := os.ReadFile(pinPath)
			if tt.changed == "" {
				if err == nil {
					t.Fatalf("PIN stored: %s", data)
				}
				if !contains(l.Played(), "vm-pin-not-changed") {
					t.Errorf("played %v", l.Played())
				}
				return
			}
			if err != nil {
				t.Fatalf("no PIN stored: %v (played %v)", err, l.Played())
			}
			if strings.Contains(string(data), `"`+tt.changed+`"`) {
				t.Errorf("pin.json holds the PIN in the clear: %s", data)
			}
			b, _ := e.s.box("mary")
			if !e.s.checkPIN(b, tt.changed) || e.s.checkPIN(b, "2580") {
				t.Error("after the change: new PIN refused, or the initial one still accepted")
			}
			if !contains(l.Played(), "vm-pin-changed") {
				t.Errorf("played %v", l.Played())
			}
			if evs := e.events(events.VoicemailPINChanged); len(evs) != 1 || evs[0].Target != "mailbox.mary" {
				t.Errorf("events %+v", evs)
			}
		})
	}
}

func TestPINHash(t *testing.T) {
	a, _ := hashPIN("2468")
	b, _ := hashPIN("2468")
	if a.Salt == b.Salt || a.Hash == b.Hash {
		t.Error("two hashes of one PIN share salt or hash")
	}
	if !a.matches("2468") || a.matches("2469") || a.matches("") {
		t.Error("matches is wrong")
	}
	data, _ := os.ReadFile("testdata/pin.json")
	r, err := parsePINRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	// The stored hash is PBKDF2-HMAC-SHA-256 (RFC 8018) of the PIN and
	// salt: a record written by another implementation checks here.
	if !r.matches("4711") || r.matches("4712") {
		t.Error("testdata/pin.json (PIN 4711) does not check")
	}
	for _, bad := range []string{`{}`, `{"scheme":"md5","iterations":1,"salt":"AA==","hash":"AA=="}`,
		`{"scheme":"pbkdf2-sha256","iterations":0,"salt":"AA==","hash":"AA=="}`,
		`{"scheme":"pbkdf2-sha256","iterations":99999999999,"salt":"AA==","hash":"AA=="}`, `not json`} {
		if _, err := parsePINRecord([]byte(bad)); err == nil {
			t.Errorf("parsePINRecord(%s) accepted", bad)
		}
	}
	for pin, ok := range map[string]bool{"1234": true, "123456": true, "123": false, "1234567": false, "12a4": false, "": false, "١٢٣٤": false} {
		if ValidPIN(pin) != ok {
			t.Errorf("ValidPIN(%q) = %v", pin, !ok)
		}
	}
}

func TestLogin(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func(*Config)
		box     string
		caller  Caller
		keys    string
		wantErr error
		opened  string // the box whose menu was reached; "" for none
		askPIN  bool
		events  []string // kind:cause of login events
	}{
		{"own app", nil, Own, mary, "#", nil, "mary", false, []string{"voicemail_login:own device"}},
		{"own desk phone", nil, Own, Caller{Account: "device.desk-101", Source: "192.0.2.11"}, "#", nil, "mary", false,
			[]string{"voicemail_login:own device"}},
		{"own device asked for its PIN", func(c *Config) { c.PINOwnDevices = true }, Own, mary, "2580# #", nil, "mary", true,
			[]string{"voicemail_login:PIN"}},
		{"monitor asks for a number", nil, Own, monitor, "101# 2580# #", nil, "mary", true, []string{"voicemail_login:PIN"}},
		{"another box by name", nil, "john", mary, "1470# #", nil, "john", true, []string{"voicemail_login:PIN"}},
		{"own box by name", nil, "mary", mary, "#", nil, "mary", false, []string{"voicemail_login:own device"}},
		{"ask, own number", nil, Ask, mary, "101# #", nil, "mary", false, []string{"voicemail_login:own device"}},
		{"ask, other number", nil, Ask, mary, "102# 1470# #", nil, "john", true, []string{"voicemail_login:PIN"}},
		{"wrong, then right", nil, Own, gate, "101# 1111# 101# 2580# #", nil, "mary", true,
			[]string{"voicemail_pin_failed:wrong PIN", "voicemail_login:PIN"}},
		{"three wrong", nil, Own, gate, "101# 1111# 101# 2222# 101# 3333#", ErrLogin, "", true,
			[]string{"voicemail_pin_failed:wrong PIN", "voicemail_pin_failed:wrong PIN", "voicemail_pin_failed:wrong PIN"}},
		{"unknown number fails like a wrong PIN", nil, Own, gate, "103# 1234# 999# 1234# 9# 1#", ErrLogin, "", true,
			[]string{"voicemail_pin_failed:no such mailbox", "voicemail_pin_failed:no such mailbox", "voicemail_pin_failed:no such mailbox"}},
		{"no PIN source: no PIN works", func(c *Config) { c.PINs = nil }, Own, monitor, "101# 2580# 101# 0000# 101# #", ErrLogin, "", true,
			[]string{"voicemail_pin_failed:wrong PIN", "voicemail_pin_failed:wrong PIN", "voicemail_pin_failed:wrong PIN"}},
		{"silence: asked three times, no failure counted", nil, Own, gate, "", ErrLogin, "", false, nil},
		{"silence at the PIN", nil, "mary", gate, "", ErrLogin, "", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var edits []func(*Config)
			if tt.cfg != nil {
				edits = append(edits, tt.cfg)
			}
			e := newEnv(t, edits...)
			e.addMessage("john", FolderNew, epoch, 1, 440)
			l, err := e.access(tt.box, tt.caller, tt.keys)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Access: %v, want %v", err, tt.wantErr)
			}
			inMenu := contains(l.Played(), "vm-main-menu")
			if inMenu != (tt.opened != "") {
				t.Errorf("reached the menu: %v; played %v", inMenu, l.Played())
			}
			if got := contains(l.Played(), "vm-enter-pin"); got != tt.askPIN {
				t.Errorf("asked for a PIN: %v", got)
			}
			var got []string
			for _, ev := range e.events(events.VoicemailLogin, events.VoicemailPINFailed) {
				got = append(got, string(ev.Kind)+":"+ev.Cause)
				if ev.Kind == events.VoicemailLogin && ev.Target != "mailbox."+tt.opened {
					t.Errorf("login event for %s, want mailbox.%s", ev.Target, tt.opened)
				}
				if ev.Source != tt.caller.Source || ev.Call != tt.caller.Call {
					t.Errorf("event without the caller's source and call: %+v", ev)
				}
			}
			if d := cmp.Diff(tt.events, got); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
			if l.Cause() == "" {
				t.Error("the line was not hung up")
			}
		})
	}
}

// Wrong PINs lock a box out for everyone, for the window; the clock ends
// it.
func TestThrottleBox(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Throttle = Throttle{BoxFailures: 3, SourceFailures: 100, Window: 15 * time.Minute}
	})
	other := Caller{Account: "device.lobby", Source: "198.51.100.7", Call: "c-other"}
	if _, err := e.access("mary", gate, "1111# 2222# 3333#"); !errors.Is(err, ErrLogin) {
		t.Fatalf("wrong PINs: %v", err)
	}
	locks := e.events(events.VoicemailLocked)
	if len(locks) != 1 || locks[0].Target != "mailbox.mary" || locks[0].Source != gate.Source {
		t.Fatalf("locked events %+v", locks)
	}
	// The right PIN from elsewhere is refused now, without being asked.
	l, err := e.access("mary", other, "2580# #")
	if !errors.Is(err, ErrLocked) || !contains(l.Played(), "vm-locked") || contains(l.Played(), "vm-enter-pin") {
		t.Fatalf("locked box: %v, played %v", err, l.Played())
	}
	if evs := e.events(events.VoicemailPINFailed); len(evs) != 1 || !strings.HasPrefix(evs[0].Cause, "locked out for another ") {
		t.Errorf("refusal events %+v", evs)
	}
	// The owner's own device is not asked for a PIN, so not locked out;
	// john's box is still open.
	if l, err := e.access(Own, mary, "#"); err != nil || !contains(l.Played(), "vm-main-menu") {
		t.Errorf("owner locked out of own device: %v", err)
	}
	if l, err := e.access("john", other, "1470# #"); err != nil || !contains(l.Played(), "vm-main-menu") {
		t.Errorf("other box: %v", err)
	}
	e.clk.Advance(14 * time.Minute)
	if _, err := e.access("mary", other, "2580# #"); !errors.Is(err, ErrLocked) {
		t.Errorf("within the window: %v", err)
	}
	e.clk.Advance(time.Minute)
	if l, err := e.access("mary", other, "2580# #"); err != nil || !contains(l.Played(), "vm-main-menu") {
		t.Errorf("after the window: %v, played %v", err, l.Played())
	}
}

// Wrong PINs from one source, across boxes, lock that source out of
// every box, and no other source.
func TestThrottleSource(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Throttle = Throttle{BoxFailures: 100, SourceFailures: 4, Window: 15 * time.Minute}
	})
	other := Caller{Account: "device.lobby", Source: "198.51.100.7", Call: "c-other"}
	if _, err := e.access("john", gate, "1# 2# 3#"); !errors.Is(err, ErrLogin) {
		t.Fatal(err)
	}
	e.events()
	if _, err := e.access("mary", gate, "0000# 2580#"); !errors.Is(err, ErrLocked) {
		t.Fatalf("after the fourth failure from the gate: %v", err)
	}
	locks := e.events(events.VoicemailLocked)
	if len(locks) != 1 || locks[0].Source != gate.Source || locks[0].Target != "" || !strings.Contains(locks[0].Cause, gate.Source) {
		t.Errorf("source lock events %+v", locks)
	}
	if _, err := e.access("john", gate, "1470# #"); !errors.Is(err, ErrLocked) {
		t.Errorf("locked source reached john's box: %v", err)
	}
	if _, err := e.access("john", other, "1470# #"); err != nil {
		t.Errorf("another source was locked out too: %v", err)
	}
}

// The throttle's table stays bounded however many sources fail.
func TestThrottleBounded(t *testing.T) {
	e := newEnv(t)
	for i := range 3000 {
		e.s.fail("", "src-"+string(rune(i)))
		if i%1000 == 999 {
			e.clk.Advance(DefaultLockout)
		}
	}
	e.s.throttle.mu.Lock()
	n := e.s.throttle.sources.Len()
	e.s.throttle.mu.Unlock()
	if n > 2100 {
		t.Errorf("%d sources tracked", n)
	}
}

// recordGreeting records mary's greeting through the options menu and
// leaves; it runs in e's bubble.
func recordGreeting(t *testing.T, e *testEnv) *fakeLine {
	l := newFakeLine(audio.PCMA, e.clk)
	started := make(chan struct{}, 1)
	e.s.onRecord = func() { started <- struct{}{} }
	l.keys("0 1")
	errc := make(chan error, 1)
	go func() { errc <- e.s.Access(context.Background(), l, Own, mary) }()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("greeting recording never started")
	}
	l.speak(2, 600, 0)
	l.keys("#")
	// Once it is saved, leave: # in the options menu.
	for saved := false; !saved; {
		select {
		case ev := <-e.sub.C:
			saved = ev.Kind == events.VoicemailGreeting
		case <-time.After(10 * time.Second):
			t.Fatal("no greeting event")
		}
	}
	if err := e.drive(l, "#", func() error { return <-errc }); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestMenuRecordGreeting(t *testing.T) {
	e := newEnv(t)
	// In a bubble: the menu is driven (drive) once the greeting is saved.
	var l *fakeLine
	e.bubble(func(t *testing.T) { l = recordGreeting(t, e) })
	data, err := os.ReadFile(filepath.Join(e.dir, "mary", greetingFile))
	if err != nil {
		t.Fatal(err)
	}
	w, err := audio.ReadWAV(data)
	if err != nil || w.Format != audio.FormatALaw || w.Seconds() != 2 || audio.ToneLevel(w.Samples, 600) < 7000 {
		t.Fatalf("greeting: %v, format %d, %.2f s", err, w.Format, w.Seconds())
	}
	if !subsequence([]string{"vm-record-greeting", "beep", "vm-greeting-saved", "vm-options-menu", "vm-goodbye"}, l.Played()) {
		t.Errorf("played %v", l.Played())
	}
	for _, f := range e.boxFiles("mary") {
		if strings.HasPrefix(f, ".") {
			t.Errorf("left behind %s", f)
		}
	}
}

// Keys typed ahead cut the prompts short and still count.
func TestMenuTypeAhead(t *testing.T) {
	e := newEnv(t)
	threeMessages(e)
	l, err := e.accessTyped(Own, mary, "1 7 #")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"3:new", "1:saved"}, folders(e.messages("mary"))); d != "" {
		t.Errorf("box (-want +got):\n%s", d)
	}
	if got := l.Played(); !cmp.Equal(got, []string{"vm-goodbye"}) {
		t.Errorf("played %v, want only the goodbye that nothing interrupts", got)
	}
}

// Keys in any order never break the menu: it ends, the box stays
// consistent, no debris, no PIN in the clear.
func FuzzMenu(f *testing.F) {
	for _, seed := range []string{"#", "1", "17", "1666", "0 5 2468# 2468#", "0 1 #", "1 4 4 5 6 7 9 * #", "0*0*0*1", "##########"} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, keys string, own bool) {
		var typed []rune
		for _, r := range keys {
			if strings.ContainsRune("0123456789*#ABCD", r) && len(typed) < 60 {
				typed = append(typed, r)
			}
		}
		e := newEnv(t)
		threeMessages(e)
		c := gate
		if own {
			c = mary
		}
		_, err := e.access(Own, c, string(typed))
		if err != nil && !errors.Is(err, ErrLogin) && !errors.Is(err, ErrLocked) {
			t.Fatalf("Access(%q): %v", string(typed), err)
		}
		ms := e.messages("mary")
		if len(ms) > 3 {
			t.Fatalf("%d messages", len(ms))
		}
		sum, _ := e.s.Summary("mary")
		if sum.New+sum.Old != len(ms) {
			t.Fatalf("summary %+v for %d messages", sum, len(ms))
		}
		for _, name := range e.boxFiles("mary") {
			if strings.HasPrefix(name, ".") {
				t.Fatalf("left behind %s", name)
			}
			if name == pinFile {
				data, _ := os.ReadFile(filepath.Join(e.dir, "mary", name))
				if _, err := parsePINRecord(data); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
