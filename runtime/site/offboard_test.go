package site

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/email"
	"switchboard/email/emailtest"
)

// The boxes of people applies removed are archived or deleted as the
// program says when the site starts, and again at every reload: a
// removal applied while serve runs takes effect at apply's reload.
func TestRetireAtStartAndReload(t *testing.T) {
	data := t.TempDir()
	vm := filepath.Join(data, "voicemail")
	for _, box := range []string{"tom-old", "eve"} {
		if err := os.MkdirAll(filepath.Join(vm, box), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(vm, box, "msg-000001.wav"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a := swapConfig(t, "a", "alice", "password-a")
	a.Program.Retired = []ir.Retired{{Identity: "tom-old", User: "tom", Data: "delete"}}
	s, err := New(a, Options{Logger: quiet, DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(filepath.Join(vm, "tom-old")); !os.IsNotExist(err) {
		t.Errorf("at start: tom's box is still there (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(vm, "eve", "msg-000001.wav")); err != nil {
		t.Errorf("at start: eve's box was touched: %v", err)
	}

	b := swapConfig(t, "b", "alice", "password-a")
	b.Program.Retired = append(a.Program.Retired, ir.Retired{Identity: "eve", User: "eve", Data: "archive", ArchiveUntil: time.Now().Add(24 * time.Hour)})
	if err := s.Swap(b); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(vm, "eve")); !os.IsNotExist(err) {
		t.Errorf("after the reload: eve's box is still live (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(vm, ".archive", "eve", "msg-000001.wav")); err != nil {
		t.Errorf("after the reload: eve's message is not in the archive: %v", err)
	}
}

// The site's owner gets a removed person's archive by mail through the
// server's SMTP settings, at the reload that archives it, once: the
// restart after it sends nothing more. Here the installer owns the site,
// so the installer's address gets it.
func TestArchiveMailedToOwnerAcrossRestart(t *testing.T) {
	data := t.TempDir()
	vm := filepath.Join(data, "voicemail")
	if err := os.MkdirAll(filepath.Join(vm, "eve"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vm, "eve", "msg-000001.wav"), []byte("RIFF-eve"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := emailtest.Start(t)
	opts := Options{Logger: quiet, DataDir: data, Mailer: &email.SMTPMailer{Addr: srv.Addr, Timeout: 10 * time.Second}}
	owned := func(c Config) Config {
		c.Program.Site.Installer = &ir.Installer{Company: "Dublin Door Systems", Email: "support@dds.example", OwnsSite: true}
		return c
	}
	s, err := New(owned(swapConfig(t, "a", "alice", "password-a")), opts)
	if err != nil {
		t.Fatal(err)
	}
	b := owned(swapConfig(t, "b", "alice", "password-a"))
	b.Program.Retired = []ir.Retired{{Identity: "eve", User: "eve", Data: "archive", ArchiveUntil: time.Now().Add(24 * time.Hour)}}
	if err := s.Swap(b); err != nil {
		t.Fatal(err)
	}
	s.Close() // waits for the mail in flight
	got := srv.Received()
	if len(got) != 1 {
		t.Fatalf("%d mails, want 1", len(got))
	}
	if diff := cmp.Diff([]string{"support@dds.example"}, got[0].To); diff != "" {
		t.Errorf("recipient (-want +got):\n%s", diff)
	}
	if !strings.Contains(got[0].Data, "filename=msg-000001.wav") || !strings.Contains(got[0].Data, base64.StdEncoding.EncodeToString([]byte("RIFF-eve"))) {
		t.Errorf("the recording is not attached:\n%s", got[0].Data)
	}

	// serve restarts with the same program: the archive was mailed.
	s, err = New(b, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if n := len(srv.Received()); n != 1 {
		t.Errorf("%d mails after the restart, want still 1", n)
	}
}
