package voicemail

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/email"
	"switchboard/runtime/audio"
	"switchboard/runtime/audio/audiotest"
	"switchboard/runtime/events"
)

func testWAV(t *testing.T) []byte {
	t.Helper()
	var m audiotest.File
	w, _ := audio.NewWAVWriter(&m, audio.FormatULaw)
	w.WritePCM(audio.Tone(make([]int16, 3*audio.Rate+37), 440, 8000, 0))
	w.Close()
	return m.Bytes()
}

// parsedMail is an e-mail read back with the standard library.
type parsedMail struct {
	header   mail.Header
	text     string
	filename string
	ctype    string
	attached []byte
}

func parseMail(t *testing.T, data []byte) parsedMail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("net/mail: %v", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	out := parsedMail{header: msg.Header}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for i := 0; ; i++ {
		p, err := r.NextRawPart()
		if err == io.EOF {
			if i != 2 {
				t.Fatalf("%d parts, want 2", i)
			}
			return out
		}
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		body, _ := io.ReadAll(p)
		switch i {
		case 0:
			if p.Header.Get("Content-Type") != "text/plain; charset=utf-8" || p.Header.Get("Content-Transfer-Encoding") != "quoted-printable" {
				t.Errorf("text part header %v", p.Header)
			}
			text, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
			if err != nil {
				t.Fatal(err)
			}
			out.text = string(text)
		case 1:
			out.ctype = p.Header.Get("Content-Type")
			if p.Header.Get("Content-Transfer-Encoding") != "base64" {
				t.Errorf("attachment encoding %q", p.Header.Get("Content-Transfer-Encoding"))
			}
			disp, dparams, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
			if err != nil || disp != "attachment" {
				t.Errorf("Content-Disposition %q", p.Header.Get("Content-Disposition"))
			}
			out.filename = dparams["filename"]
			for _, line := range strings.Split(string(body), "\r\n") {
				if len(line) > 76 {
					t.Errorf("base64 line of %d characters", len(line))
				}
			}
			out.attached, err = base64.StdEncoding.DecodeString(strings.ReplaceAll(string(body), "\r\n", ""))
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestComposeMail(t *testing.T) {
	wav := testWAV(t)
	n := Notification{
		To: "mary.work@example.com", Name: "Mary Byrne", Site: "Harbour View Apartments",
		Message: Message{ID: 12, Box: "mary", Folder: FolderNew, Time: time.Date(2026, 3, 1, 9, 30, 5, 0, time.UTC),
			DurationMS: 3004, Codec: "PCMU", From: From{Account: "device.front-gate", Display: "Front gate", Number: "front-gate"}, Reason: "busy"},
		WAV: wav,
	}
	m, err := ComposeMail(n, "voicemail@harbour-view.example.net")
	if err != nil {
		t.Fatal(err)
	}
	if m.From != "voicemail@harbour-view.example.net" || m.To != "mary.work@example.com" {
		t.Errorf("envelope %s → %s", m.From, m.To)
	}
	p := parseMail(t, m.Data)
	subject, _ := new(mime.WordDecoder).DecodeHeader(p.header.Get("Subject"))
	for name, want := range map[string]string{
		"From":       `"Harbour View Apartments voicemail" <voicemail@harbour-view.example.net>`,
		"To":         `"Mary Byrne" <mary.work@example.com>`,
		"Date":       "Sun, 01 Mar 2026 09:30:05 +0000",
		"Message-Id": "<vm.mary.12.1772357405@harbour-view.example.net>",
	} {
		if got := p.header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if subject != "New voicemail from Front gate (front-gate) (0:03)" {
		t.Errorf("Subject %q", subject)
	}
	for _, want := range []string{"Hello Mary,", "Front gate (front-gate) left you a voicemail message at Harbour View Apartments.",
		"Length:    0:03", "Because:   busy", "Received:  Sun 1 Mar 2026 09:30:05 UTC", "mary, message 12", "msg-000012.wav"} {
		if !strings.Contains(p.text, want) {
			t.Errorf("text lacks %q:\n%s", want, p.text)
		}
	}
	if p.filename != "msg-000012.wav" || !strings.HasPrefix(p.ctype, "audio/wav") {
		t.Errorf("attachment %q, %q", p.filename, p.ctype)
	}
	if !bytes.Equal(p.attached, wav) {
		t.Error("the attachment is not the message's file")
	}
	if w, err := audio.ReadWAV(p.attached); err != nil || len(w.Samples) != 3*audio.Rate+37 {
		t.Errorf("attached WAV: %v", err)
	}
	// Deterministic.
	again, _ := ComposeMail(n, "voicemail@harbour-view.example.net")
	if !bytes.Equal(again.Data, m.Data) {
		t.Error("two compositions differ")
	}
	// The site's time zone, when the system knows it.
	if dublin, err := time.LoadLocation("Europe/Dublin"); err == nil {
		n.Location = dublin
		n.Message.Time = time.Date(2026, 7, 1, 9, 30, 5, 0, time.UTC)
		m, _ := ComposeMail(n, "voicemail@harbour-view.example.net")
		p := parseMail(t, m.Data)
		if got := p.header.Get("Date"); got != "Wed, 01 Jul 2026 10:30:05 +0100" || !strings.Contains(p.text, "10:30:05 IST") {
			t.Errorf("Dublin Date %q, text %q", got, p.text)
		}
	}
}

// What a caller controls (display name, number) cannot add headers or
// break the MIME structure.
func TestComposeMailHostileCaller(t *testing.T) {
	n := Notification{To: "mary@example.com", Name: "Mary\r\nBcc: x@evil.example",
		Message: Message{ID: 1, Box: "mary", Time: epoch, DurationMS: 1000,
			From: From{Display: "Eve\r\nBcc: all@evil.example\r\n\r\n--vm-", Number: "\x00+1555\n"}},
		WAV: testWAV(t)}
	m, err := ComposeMail(n, "vm@example.net")
	if err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, m.Data)
	if p.header.Get("Bcc") != "" || strings.Contains(string(m.Data), "\r\nBcc:") {
		t.Errorf("caller injected a header:\n%s", m.Data[:400])
	}
	if !strings.Contains(p.text, "Eve") {
		t.Errorf("text %q", p.text)
	}
	if _, err := ComposeMail(Notification{To: "not an address"}, "vm@example.net"); err == nil {
		t.Error("bad recipient accepted")
	}
}

func TestCallerText(t *testing.T) {
	for _, tt := range []struct {
		f    From
		want string
	}{
		{From{}, "An unknown caller"},
		{From{Account: "device.lobby"}, "device.lobby"},
		{From{Display: "Lobby", Account: "device.lobby"}, "Lobby (device.lobby)"},
		{From{Display: "+35315550100", Number: "+35315550100", Account: "trunk.carrier"}, "+35315550100"},
		{From{Display: "Ann", Number: "+35315550100", Account: "trunk.carrier"}, "Ann (+35315550100)"},
	} {
		if got := callerText(tt.f); got != tt.want {
			t.Errorf("callerText(%+v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}

// fakeMailer keeps what it was given; fail makes it refuse.
type fakeMailer struct {
	mu   sync.Mutex
	sent []email.Message
	fail error
}

func (f *fakeMailer) send(m email.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.sent = append(f.sent, m)
	return nil
}

func TestNotify(t *testing.T) {
	tests := []struct {
		name       string
		notify     string // mary's notify_email
		deleteSent bool
		fail       error
		wantTo     string // "" for no mail
		wantKept   bool
		wantEvents []events.Kind
	}{
		{"to the login", "", false, nil, "mary@example.com", true, []events.Kind{events.VoicemailMailed}},
		{"to notify_email", "mary.work@example.com", false, nil, "mary.work@example.com", true,
			[]events.Kind{events.VoicemailMailed}},
		{"delete after notify", "", true, nil, "mary@example.com", false, []events.Kind{events.VoicemailMailed, events.VoicemailDeleted}},
		{"failure keeps the message", "", true, errors.New("550 mailbox unavailable"), "", true, []events.Kind{events.VoicemailMailFailed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fm := &fakeMailer{fail: tt.fail}
			e := newEnv(t, func(c *Config) {
				c.Mailer = mailerFunc(fm.send)
				c.DeleteAfterNotify = tt.deleteSent
			})
			e.prog.User("mary").NotifyEmail = tt.notify
			changes := 0
			e.s.Watch(func(string) { changes++ })
			l := newFakeLine(audio.PCMU, e.clk)
			if err := e.deposit(l, "mary", gate, func() { l.speak(1.5, 440, 0); l.keys("#") }); err != nil {
				t.Fatal(err)
			}
			e.s.Close() // waits for the mail
			if tt.wantTo == "" {
				if len(fm.sent) != 0 {
					t.Errorf("mailed %d", len(fm.sent))
				}
			} else {
				if len(fm.sent) != 1 || fm.sent[0].To != tt.wantTo || fm.sent[0].From != "voicemail@harbour-view.example.net" {
					t.Fatalf("sent %+v", fm.sent)
				}
				p := parseMail(t, fm.sent[0].Data)
				if !strings.Contains(p.text, "Hello Mary,") || len(p.attached) == 0 {
					t.Errorf("mail text %q", p.text)
				}
			}
			ms := e.messages("mary")
			if (len(ms) == 1) != tt.wantKept {
				t.Errorf("kept %d messages, want kept %v", len(ms), tt.wantKept)
			}
			if tt.wantKept && tt.fail == nil && !ms[0].Mailed {
				t.Error("message not marked mailed")
			}
			if !tt.wantKept {
				if files := e.boxFiles("mary"); len(files) != 0 {
					t.Errorf("files left %v", files)
				}
				if changes != 2 {
					t.Errorf("%d change notifications, want 2 (left, deleted)", changes)
				}
			}
			var kinds []events.Kind
			for _, ev := range e.events(events.VoicemailMailed, events.VoicemailMailFailed, events.VoicemailDeleted) {
				kinds = append(kinds, ev.Kind)
			}
			if d := cmp.Diff(tt.wantEvents, kinds); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
			if tt.fail != nil {
				data, _ := os.ReadFile(filepath.Join(e.dir, "mary", ms[0].Name()+".json"))
				if m, err := parseMeta(data); err != nil || m.Mailed {
					t.Errorf("failed mail marked mailed: %s", data)
				}
			}
		})
	}
}

// nextEvent waits for the next event of one of kinds, for at most 30 s
// of real time: the service's clock is the test's, but its mail goes out
// on goroutines of their own, and a loaded machine can keep them waiting
// (5 s once ran out in TestMailRetried beside four packages under -count=3
// and a race-detector burner).
func (e *testEnv) nextEvent(kinds ...events.Kind) events.Event {
	e.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev := <-e.sub.C:
			if contains(kinds, ev.Kind) {
				return ev
			}
		case <-deadline:
			e.t.Fatalf("no %v event", kinds)
			return events.Event{}
		}
	}
}

// An e-mail the mail server does not take for now (unreachable, 4xx) is
// tried again after 1 minute, then 5, … on the service's clock; one it
// refuses for good (5xx) is not. Either way the message stays in the box
// until mailed.
func TestMailRetried(t *testing.T) {
	var mu sync.Mutex
	attempts := 0
	fails := []error{
		errors.New("dial tcp 192.0.2.25:25: connect: connection refused"),
		&email.Refusal{Code: 451, Text: "greylisted, try again later"},
	}
	e := newEnv(t, func(c *Config) {
		c.Mailer = mailerFunc(func(email.Message) error {
			mu.Lock()
			defer mu.Unlock()
			attempts++
			if attempts <= len(fails) {
				return fails[attempts-1]
			}
			return nil
		})
	})
	l := newFakeLine(audio.PCMU, e.clk)
	if err := e.deposit(l, "mary", gate, func() { l.speak(1, 440, 0); l.keys("#") }); err != nil {
		t.Fatal(err)
	}
	for _, wait := range []string{"1m0s", "5m0s"} {
		ev := e.nextEvent(events.VoicemailMailFailed)
		if !strings.Contains(ev.Cause, "trying again in "+wait) {
			t.Fatalf("mail_failed cause %q, want a retry in %s", ev.Cause, wait)
		}
		e.clk.Advance(time.Hour) // past the wait, not the next
	}
	e.nextEvent(events.VoicemailMailed)
	if ms := e.messages("mary"); len(ms) != 1 || !ms[0].Mailed {
		t.Errorf("messages %+v, want one, mailed", ms)
	}

	// A permanent refusal is not tried again.
	mu.Lock()
	attempts = 0
	fails = []error{&email.Refusal{Code: 550, Text: "no such mailbox"}}
	mu.Unlock()
	l = newFakeLine(audio.PCMU, e.clk)
	if err := e.deposit(l, "mary", gate, func() { l.speak(1, 440, 0); l.keys("#") }); err != nil {
		t.Fatal(err)
	}
	if ev := e.nextEvent(events.VoicemailMailFailed); strings.Contains(ev.Cause, "trying again") {
		t.Errorf("a 550 is tried again: %q", ev.Cause)
	}
	e.clk.Advance(24 * time.Hour)
	e.s.Close()
	mu.Lock()
	defer mu.Unlock()
	if attempts != 1 {
		t.Errorf("%d attempts after a 550, want 1", attempts)
	}
}
