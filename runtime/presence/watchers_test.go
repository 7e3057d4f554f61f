package presence

import (
	"testing"

	"switchboard/compiler/ir/irtest"
	"switchboard/runtime/events"
)

// A subscription that ends is no longer notified of its person's calls,
// and the index of watchers forgets it.
func TestObserveAfterEnd(t *testing.T) {
	stack := &recordStack{}
	srv := New(Config{Stack: stack, Go: func(f func()) { f() }})
	defer srv.Close()
	watch(t, srv, stack)
	var sub *subscription
	for _, s := range srv.subs {
		sub = s
	}
	srv.end(sub, "timeout")
	sent := len(stack.sent)
	p := irtest.HarbourView()
	srv.Observe(p, events.Event{Kind: events.CallStarted, Call: "c", From: "app.mary"})
	srv.Observe(p, events.Event{Kind: events.CallEnded, Call: "c", From: "app.mary"})
	if n := len(stack.sent) - sent; n != 0 {
		t.Errorf("%d NOTIFYs after the subscription ended", n)
	}
	if n := len(srv.watchers); n != 0 {
		t.Errorf("%d people still watched", n)
	}
}
