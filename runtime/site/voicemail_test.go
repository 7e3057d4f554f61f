package site

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/email"
	"switchboard/email/emailtest"
	"switchboard/runtime/store"
)

// With a store, the site keeps its voicemail there: the boxes an older
// version left as files are imported at the first start and the files
// moved aside; offboarding deletes and archives boxes in the store; the
// archive is mailed once, across a restart on the same store.
func TestVoicemailKeptInStore(t *testing.T) {
	data := t.TempDir()
	vm := filepath.Join(data, "voicemail")
	for _, box := range []string{"tom-old", "eve"} {
		if err := os.MkdirAll(filepath.Join(vm, box), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(vm, box, "msg-000001.wav"), []byte("RIFF-"+box), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	db, err := store.Open(store.Options{Dir: data, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	srv := emailtest.Start(t)
	opts := Options{Logger: quiet, DataDir: data, Store: db, Mailer: &email.SMTPMailer{Addr: srv.Addr, Timeout: 10 * time.Second}}
	owned := func(c Config) Config {
		c.Program.Site.Installer = &ir.Installer{Company: "Dublin Door Systems", Email: "support@dds.example", OwnsSite: true}
		return c
	}
	a := owned(swapConfig(t, "a", "alice", "password-a"))
	a.Program.Retired = []ir.Retired{{Identity: "tom-old", User: "tom", Data: "delete"}}
	s, err := New(a, opts)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := db.Objects(context.Background(), "voicemail", swapDomain)
	if err != nil {
		t.Fatal(err)
	}
	objects := func() []string {
		t.Helper()
		names, err := objs.Names(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(names)
		return names
	}
	if d := cmp.Diff([]string{"eve/msg-000001.wav"}, objects()); d != "" {
		t.Errorf("at start: objects (-want +got):\n%s", d)
	}
	if _, err := os.Stat(filepath.Join(vm+".imported", "eve", "msg-000001.wav")); err != nil {
		t.Errorf("the imported files were not moved aside: %v", err)
	}

	b := owned(swapConfig(t, "b", "alice", "password-a"))
	b.Program.Retired = append(a.Program.Retired, ir.Retired{Identity: "eve", User: "eve", Data: "archive", ArchiveUntil: time.Now().Add(24 * time.Hour)})
	if err := s.Swap(b); err != nil {
		t.Fatal(err)
	}
	s.Close() // waits for the mail in flight
	if d := cmp.Diff([]string{".archive/eve/msg-000001.wav"}, objects()); d != "" {
		t.Errorf("after the reload: objects (-want +got):\n%s", d)
	}
	got := srv.Received()
	if len(got) != 1 {
		t.Fatalf("%d mails, want 1", len(got))
	}
	if !strings.Contains(got[0].Data, base64.StdEncoding.EncodeToString([]byte("RIFF-eve"))) {
		t.Errorf("the recording is not attached:\n%s", got[0].Data)
	}

	s, err = New(b, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if n := len(srv.Received()); n != 1 {
		t.Errorf("%d mails after the restart, want still 1", n)
	}
	if d := cmp.Diff([]string{".archive/eve/msg-000001.wav"}, objects()); d != "" {
		t.Errorf("after the restart: objects (-want +got):\n%s", d)
	}
}
