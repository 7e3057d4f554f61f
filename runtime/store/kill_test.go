package store_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"switchboard/runtime/events"
	"switchboard/runtime/store"
)

// killChild is set in the child process of TestKilledKeepsWhatWasAcked:
// the directory it stores into.
const killChild = "SWITCHBOARD_STORE_KILL_CHILD"

// An event and a key the server acknowledged are on disk, even when the
// process is killed (SIGKILL, no shutdown) right after: a child process
// stores them, says so, and is killed; the store opened again has them.
func TestKilledKeepsWhatWasAcked(t *testing.T) {
	if dir := os.Getenv(killChild); dir != "" {
		killedChild(dir)
		return
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestKilledKeepsWhatWasAcked$")
	cmd.Env = append(os.Environ(), killChild+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	stored := ""
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "stored ") {
			stored = l
			break
		}
	}
	_ = cmd.Process.Kill() // SIGKILL: no shutdown, nothing flushed on the way out
	_ = cmd.Wait()
	if stored != "stored 500" {
		t.Fatalf("the child did not store its events: %q", stored)
	}

	// Its recovery warns that the TTL state was not saved: expected.
	s, err := store.Open(store.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := s.EventLog(ctx, "killed", store.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := l.Read(ctx, 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 500 || rs[499].Call != "c500" {
		t.Errorf("after SIGKILL the stream holds %d events, want the 500 acknowledged", len(rs))
	}
	kv, err := s.KV(ctx, "registrations", "killed")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, err := kv.Get(ctx, "app.mary"); err != nil || string(v) != "binding" {
		t.Errorf("after SIGKILL the key holds %q, %v, %v", v, ok, err)
	}
}

func killedChild(dir string) {
	ctx := context.Background()
	s, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		fmt.Println("open:", err)
		return
	}
	l, err := s.EventLog(ctx, "killed", store.Limits{})
	if err != nil {
		fmt.Println("stream:", err)
		return
	}
	for i := 1; i <= 500; i++ {
		if _, err := l.Append(ctx, events.Event{Kind: events.CallStarted, Call: fmt.Sprint("c", i)}, 0); err != nil {
			fmt.Println("append:", err)
			return
		}
	}
	kv, err := s.KV(ctx, "registrations", "killed")
	if err == nil {
		err = kv.Put(ctx, "app.mary", []byte("binding"), time.Hour)
	}
	if err != nil {
		fmt.Println("put:", err)
		return
	}
	fmt.Println("stored 500")
	select {} // killed here
}
