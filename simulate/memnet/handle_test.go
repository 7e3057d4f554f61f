package memnet

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A connection with a handler gets each datagram within the sender's
// write, from the sender's address, counted as delivered; after Close
// none, and done comes once, after the last call has returned.
func TestHandle(t *testing.T) {
	n := New()
	a := listen(t, n, netip.AddrPortFrom(ipA, 0))
	b, err := n.Listen(netip.AddrPortFrom(ipB, 0))
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		Data string
		From string
	}
	var calls []got
	release := make(chan struct{})
	entered := make(chan struct{})
	done := make(chan struct{})
	b.Handle(func(p []byte, from netip.AddrPort) {
		calls = append(calls, got{string(p), from.String()})
		if string(p) == "block" {
			close(entered)
			<-release
		}
	}, func() { close(done) })

	if _, err := a.WriteToUDPAddrPort([]byte("one"), b.AddrPort()); err != nil {
		t.Fatal(err)
	}
	// Within the write: no goroutine stands between sender and handler.
	if diff := cmp.Diff([]got{{"one", a.AddrPort().String()}}, calls); diff != "" {
		t.Errorf("calls after the write (-want +got):\n%s", diff)
	}
	if s := n.Stats(); s.Delivered != 1 || s.Dropped != 0 {
		t.Errorf("stats %+v, want 1 delivered", s)
	}
	// Nothing waits to be read: the handler dealt with it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.WaitRead(ctx, b.AddrPort()); err != nil {
		t.Errorf("WaitRead: %v", err)
	}

	// Close returns while a call is under way; done waits for it.
	wrote := make(chan struct{})
	go func() {
		a.WriteToUDPAddrPort([]byte("block"), b.AddrPort())
		close(wrote)
	}()
	<-entered
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		t.Fatal("done came while a call was under way")
	default:
	}
	close(release)
	<-wrote
	<-done

	// Closed: the datagram is dropped, the handler not called.
	a.WriteToUDPAddrPort([]byte("late"), b.AddrPort())
	if len(calls) != 2 {
		t.Errorf("%d calls after Close, want the 2 before it", len(calls))
	}
	if s := n.Stats(); s.Delivered != 2 || s.Dropped != 1 {
		t.Errorf("stats %+v, want 2 delivered and 1 dropped", s)
	}
}

// done is called at once by Handle on a connection closed already.
func TestHandleClosed(t *testing.T) {
	n := New()
	c, err := n.Listen(netip.AddrPortFrom(ipA, 0))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	done := false
	c.Handle(func([]byte, netip.AddrPort) { t.Error("a closed connection's handler was called") }, func() { done = true })
	if !done {
		t.Error("done was not called")
	}
}
