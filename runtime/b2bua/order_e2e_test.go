package b2bua_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/runtime/clock"
	"switchboard/runtime/events"
	"switchboard/runtime/site"
)

// sendOrder is the server's socket, recording the status of every
// response to an INVITE it sends, by Call-ID, in the order the kernel
// takes them: the lock is held across the write, so two writes from two
// goroutines are recorded as they were sent.
type sendOrder struct {
	net.PacketConn
	mu   sync.Mutex
	sent map[string][]int
}

func (o *sendOrder) WriteTo(b []byte, a net.Addr) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, err := o.PacketConn.WriteTo(b, a)
	if err == nil && bytes.HasPrefix(b, []byte("SIP/2.0 ")) && len(b) > 11 {
		var status int
		fmt.Sscanf(string(b[8:11]), "%d", &status)
		callID, invite := "", false
		for line := range strings.SplitSeq(string(b), "\r\n") {
			name, value, _ := strings.Cut(line, ":")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "call-id", "i":
				callID = strings.TrimSpace(value)
			case "cseq":
				invite = strings.HasSuffix(strings.TrimSpace(value), "INVITE")
			}
		}
		if invite {
			o.sent[callID] = append(o.sent[callID], status)
		}
	}
	return n, err
}

// TestDoorHearsNoProvisionalAfterFinal places door calls (the gate rings
// flat 1A, mary answers at once, the gate hangs up) and checks, on the
// server's socket, that no response to the gate's INVITE is a
// provisional sent after the final (RFC 3261 §17.2.1). The gate's sipgo
// may still log a 180 or 100 as unhandled ("Unhandled sip response", 1–2
// per 1 000 calls here, December 2026, while every call's responses
// left in order): its transaction layer hands each response it reads to
// a goroutine of its own, so the 200 read after the 180 can reach the
// client transaction first and end it. That is the receiver's doing.
func TestDoorHearsNoProvisionalAfterFinal(t *testing.T) {
	order := &sendOrder{sent: map[string][]int{}}
	h := startSiteWrapped(t, e2eSite, "127.0.0.1:0", func(o *site.Options) { o.Clock = clock.Real },
		func(c net.PacketConn) net.PacketConn { order.PacketConn = c; return order })
	gate := h.doorAnsweredAtOnce()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const calls = 200
	for n := 1; n <= calls; n++ {
		call, err := gate.Dial(ctx, "1A")
		if err != nil {
			t.Fatal(err)
		}
		h.waitCount(events.LegAnswered, n)
		if err := call.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
		h.waitCount(events.CallEnded, n)
	}
	order.mu.Lock()
	defer order.mu.Unlock()
	doors := 0
	var sample []int
	for callID, sent := range order.sent {
		if !strings.Contains(fmt.Sprint(sent), "200") {
			continue // a leg of the server's own, or not answered
		}
		doors++
		sample = sent
		final := false
		for _, s := range sent {
			if s >= 200 {
				final = true
			} else if final {
				t.Errorf("call %s: the server sent %d after the final response (sent %v)", callID, s, sent)
			}
		}
	}
	if doors != calls {
		t.Errorf("%d door calls answered on the wire, want %d (one sent %v)", doors, calls, sample)
	}
}
