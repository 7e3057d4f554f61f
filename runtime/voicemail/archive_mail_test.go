package voicemail

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
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

	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/email"
	"switchboard/email/emailtest"
	"switchboard/runtime/clock/clocktest"
)

// writeArchivable makes box under dir with two real messages (WAV and
// metadata) and returns their WAV files by message ID.
func writeArchivable(t *testing.T, dir, box string) map[int][]byte {
	t.Helper()
	d := filepath.Join(dir, box)
	if err := os.MkdirAll(d, 0o750); err != nil {
		t.Fatal(err)
	}
	wav := testWAV(t)
	msgs := []Message{
		{ID: 1, Box: box, Folder: FolderNew, Time: epoch.Add(-48 * time.Hour), DurationMS: 3004, Codec: "PCMU",
			From: From{Account: "device.front-gate", Display: "Front gate", Number: "front-gate"}},
		{ID: 2, Box: box, Folder: FolderSaved, Time: epoch.Add(-time.Hour), DurationMS: 65000, Codec: "PCMU",
			From: From{Account: "trunk.carrier", Number: "+35315550199"}},
	}
	out := map[int][]byte{}
	for i, m := range msgs {
		data := append(append([]byte(nil), wav...), byte(i)) // two different files
		if err := os.WriteFile(filepath.Join(d, m.Name()+".wav"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, m.Name()+".json"), marshalMeta(&m), 0o600); err != nil {
			t.Fatal(err)
		}
		out[m.ID] = data
	}
	return out
}

// readArchiveMail reads a mail back with the standard library: its
// headers, its text and its attachments by file name.
func readArchiveMail(t *testing.T, data string) (mail.Header, string, map[string][]byte) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatalf("net/mail: %v", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	var text string
	files := map[string][]byte{}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for i := 0; ; i++ {
		p, err := r.NextRawPart()
		if err == io.EOF {
			return msg.Header, text, files
		}
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		body, _ := io.ReadAll(p)
		if i == 0 {
			b, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
			if err != nil {
				t.Fatal(err)
			}
			text = string(b)
			continue
		}
		_, dparams, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		if err != nil || p.Header.Get("Content-Type") == "" || !strings.HasPrefix(p.Header.Get("Content-Type"), "audio/wav") {
			t.Errorf("attachment %d: %v", i, p.Header)
		}
		files[dparams["filename"]], err = base64.StdEncoding.DecodeString(strings.ReplaceAll(string(body), "\r\n", ""))
		if err != nil {
			t.Fatal(err)
		}
	}
}

// A removed person's archived box reaches the site's owner: one mail
// through a real SMTP server, listing every message and carrying its
// recording; a reload and a restart send nothing more.
func TestArchiveMailedToOwnerOnce(t *testing.T) {
	dir := t.TempDir()
	p := irtest.HarbourView()
	until := epoch.Add(30 * 24 * time.Hour)
	p.Retired = []ir.Retired{{Identity: "id-tom", User: "tom", Data: "archive", ArchiveUntil: until, Owner: "mary"}}
	wavs := writeArchivable(t, dir, "id-tom")
	srv := emailtest.Start(t)
	var logs bytes.Buffer
	open := func() *Service {
		s, err := Open(Config{Program: func() *ir.Program { return p }, Dir: dir, Clock: clocktest.New(epoch),
			Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
			Mailer:   &email.SMTPMailer{Addr: srv.Addr, Timeout: 10 * time.Second},
			MailFrom: "voicemail@harbour-view.example.net"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	s := open()
	if got := s.Retire(p, epoch); len(got) != 1 || got[0].Outcome != "archived" {
		t.Fatalf("Retire = %+v", got)
	}
	s.Retire(p, epoch) // a reload while the mail may still be on its way
	s.Close()          // waits for the mail
	got := srv.Received()
	if len(got) != 1 {
		t.Fatalf("%d mails, want 1", len(got))
	}
	if diff := cmp.Diff([]string{"mary@example.com"}, got[0].To); diff != "" {
		t.Errorf("recipient (-want +got):\n%s", diff)
	}
	h, text, files := readArchiveMail(t, got[0].Data)
	if subj, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject")); subj != "Voicemail of tom, archived (2 messages)" {
		t.Errorf("Subject %q", subj)
	}
	for _, want := range []string{
		"Hello Mary,",
		"tom was removed from Harbour View Apartments",
		"until Tue 31 Mar 2026",
		"msg-000001.wav  Fri 27 Feb 2026 09:00 GMT  0:03  Front gate (front-gate)",
		"msg-000002.wav  Sun 1 Mar 2026 08:00 GMT  1:05  +35315550199",
		"The recordings are attached.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the mail's text lacks %q:\n%s", want, text)
		}
	}
	wantFiles := map[string][]byte{"msg-000001.wav": wavs[1], "msg-000002.wav": wavs[2]}
	if diff := cmp.Diff(wantFiles, files); diff != "" {
		t.Errorf("attachments (-want +got):\n%s", diff)
	}
	if !exists(filepath.Join(dir, archiveDir, "id-tom", archiveMailFile)) {
		t.Errorf("no record of the mail beside the archive")
	}

	// A restart, and a reload after it: the record says it was sent.
	s = open()
	s.Retire(p, epoch.Add(time.Hour))
	s.Retire(p, epoch.Add(2*time.Hour))
	s.Close()
	if n := len(srv.Received()); n != 1 {
		t.Errorf("%d mails after a restart, want still 1", n)
	}
	if strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("warnings or errors logged:\n%s", logs.String())
	}
}

// A mail the server did not take is sent at the next Retire (start or
// reload), and only then recorded.
func TestArchiveMailRetried(t *testing.T) {
	dir := t.TempDir()
	p := irtest.HarbourView()
	p.Retired = []ir.Retired{{Identity: "id-tom", User: "tom", Data: "archive", ArchiveUntil: epoch.Add(24 * time.Hour)}}
	writeArchivable(t, dir, "id-tom")
	var mu sync.Mutex
	fail := errors.New("421 try later")
	var sent []email.Message
	s, err := Open(Config{Program: func() *ir.Program { return p }, Dir: dir, Clock: clocktest.New(epoch), Logger: discardLogger(),
		Mailer: mailerFunc(func(m email.Message) error {
			mu.Lock()
			defer mu.Unlock()
			if fail != nil {
				return fail
			}
			sent = append(sent, m)
			return nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	s.Retire(p, epoch)
	s.mail.Wait()
	if exists(filepath.Join(dir, archiveDir, "id-tom", archiveMailFile)) {
		t.Fatalf("a refused mail was recorded as sent")
	}
	mu.Lock()
	fail = nil
	mu.Unlock()
	s.Retire(p, epoch.Add(time.Minute))
	s.Retire(p, epoch.Add(2*time.Minute))
	s.Close()
	if len(sent) != 1 || !exists(filepath.Join(dir, archiveDir, "id-tom", archiveMailFile)) {
		t.Errorf("sent %d, recorded %v; want 1, true", len(sent), exists(filepath.Join(dir, archiveDir, "id-tom", archiveMailFile)))
	}
}

// Without a mail server, the archive is only kept: said once at WARN,
// with where it is and until when, however often the site reloads.
func TestArchiveWithoutSMTPWarnsOnce(t *testing.T) {
	dir := t.TempDir()
	p := irtest.HarbourView()
	p.Retired = []ir.Retired{{Identity: "id-tom", User: "tom", Data: "archive", ArchiveUntil: time.Date(2026, 3, 31, 9, 0, 0, 0, time.UTC)}}
	writeArchivable(t, dir, "id-tom")
	var logs bytes.Buffer
	s, err := Open(Config{Program: func() *ir.Program { return p }, Dir: dir, Clock: clocktest.New(epoch),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		s.Retire(p, epoch.Add(time.Duration(i)*time.Hour))
	}
	s.Close()
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d log lines, want 1:\n%s", len(lines), logs.String())
	}
	for _, want := range []string{"level=WARN", "serve -smtp", "archive=" + filepath.Join(dir, archiveDir, "id-tom"), "until=2026-03-31"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("the warning lacks %q: %s", want, lines[0])
		}
	}
	if exists(filepath.Join(dir, archiveDir, "id-tom", archiveMailFile)) {
		t.Errorf("recorded as mailed without a mail server")
	}
}

func TestSiteOwner(t *testing.T) {
	type owner struct {
		Name, Addr string
		OK         bool
	}
	tests := []struct {
		name  string
		users []ir.User
		inst  *ir.Installer
		want  owner
	}{
		{"the owner's notify_email first",
			[]ir.User{{Name: "a", Role: "user", Email: "a@x.example"}, {Name: "o", DisplayName: "Olive Byrne", Role: "owner", Email: "o@x.example", NotifyEmail: "olive@home.example"}},
			nil, owner{"Olive Byrne", "olive@home.example", true}},
		{"else their login",
			[]ir.User{{Name: "o", DisplayName: "Olive Byrne", Role: "owner", Email: "o@x.example"}},
			&ir.Installer{Company: "DDS", Email: "s@dds.example"}, owner{"Olive Byrne", "o@x.example", true}},
		{"an owner with only a mobile has no address",
			[]ir.User{{Name: "o", DisplayName: "Olive Byrne", Role: "owner"}},
			nil, owner{"Olive Byrne", "", false}},
		{"the installer who owns the site",
			[]ir.User{{Name: "a", Role: "admin", Email: "a@x.example"}},
			&ir.Installer{Company: "DDS", Email: "s@dds.example", OwnsSite: true}, owner{"DDS", "s@dds.example", true}},
		{"an installer who does not own it is nobody's owner",
			nil, &ir.Installer{Company: "DDS", Email: "s@dds.example"}, owner{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &ir.Program{Users: tt.users}
			p.Site.Installer = tt.inst
			var got owner
			got.Name, got.Addr, got.OK = siteOwner(p)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("siteOwner (-want +got):\n%s", diff)
			}
		})
	}
}

// The mail is the same bytes for the same archive, so a send retried
// after a lost reply is the same message (one Message-ID).
func TestComposeArchiveMailDeterministic(t *testing.T) {
	n := ArchiveNotice{To: "mary@example.com", Name: "Mary Byrne", Site: "Harbour View", User: "tom", Identity: "id-tom",
		Until: epoch.Add(24 * time.Hour), Now: epoch,
		Messages: []Message{{ID: 1, Time: epoch, DurationMS: 1000}}, WAVs: map[int][]byte{1: []byte("RIFF")}}
	a, err := ComposeArchiveMail(n, "vm@example.net")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ComposeArchiveMail(n, "vm@example.net")
	if !bytes.Equal(a.Data, b.Data) {
		t.Errorf("two compositions differ")
	}
}
