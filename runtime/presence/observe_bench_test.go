package presence

import (
	"fmt"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir/irtest"
	"switchboard/runtime/events"
)

// holdWatchers has srv hold n subscriptions of app.aoife to mary's calls.
func holdWatchers(tb testing.TB, srv *Server, n int) {
	tb.Helper()
	p := irtest.HarbourView()
	for i := range n {
		raw := strings.Replace(subscribeSeeds[0], "Call-ID: s1", fmt.Sprintf("Call-ID: w%d", i), 1)
		msg, err := sip.NewParser().ParseSIP([]byte(raw))
		if err != nil {
			tb.Fatal(err)
		}
		tx := &recordTx{}
		srv.Subscribe(msg.(*sip.Request), tx, "app.aoife", Watched(p, "101"), p)
		if len(tx.res) != 1 || tx.res[0].StatusCode != 200 {
			tb.Fatalf("SUBSCRIBE %d answered %v", i, tx.res)
		}
	}
}

// BenchmarkObserve is Observe following one call between people nobody
// watches (the front gate calls john), while the server holds 200 subscriptions to
// mary's calls: the common case of the simulated suite, where most calls
// have no watcher.
func BenchmarkObserve(b *testing.B) {
	stack := &recordStack{}
	srv := New(Config{Stack: stack, Go: func(f func()) { f() }, Limits: Limits{PerAccount: 1000, Total: 1000}})
	defer srv.Close()
	holdWatchers(b, srv, 200)
	p := irtest.HarbourView()
	sent := len(stack.sent)
	i := 0
	for b.Loop() {
		i++
		id := fmt.Sprint("call-", i)
		for _, e := range []events.Event{
			{Kind: events.CallStarted, Call: id, From: "device.front-gate"},
			{Kind: events.LegRinging, Call: id, From: "device.front-gate", Leg: "app.john"},
			{Kind: events.LegAnswered, Call: id, From: "device.front-gate", Leg: "app.john"},
			{Kind: events.CallEnded, Call: id, From: "device.front-gate"},
		} {
			srv.Observe(p, e)
		}
	}
	if len(stack.sent) != sent {
		b.Fatalf("%d NOTIFYs for calls nobody watches", len(stack.sent)-sent)
	}
}
