package sipstack

import (
	"net"
	"testing"
	"time"
)

// recorder is a PacketConn that keeps what is written to it.
type recorder struct {
	net.PacketConn
	sent [][]byte
}

func (r *recorder) WriteTo(b []byte, _ net.Addr) (int, error) {
	r.sent = append(r.sent, append([]byte(nil), b...))
	return len(b), nil
}

// TestAnsweredGenerations checks how long a remembered response lasts:
// through answeredGens-1 rotations (a full Timer J), not one more.
func TestAnsweredGenerations(t *testing.T) {
	var a answered
	defer a.close()
	// The test turns the generations itself: the timer put would start
	// is there already, and never fires.
	a.period = time.Hour
	a.timer = time.AfterFunc(time.Hour, func() {})
	conn := &recorder{}
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060}
	a.put("k", []byte("SIP/2.0 200 OK\r\n\r\n"), dst)
	for i := range answeredGens - 1 {
		if !a.resend(conn, "k") {
			t.Fatalf("forgotten after %d rotations", i)
		}
		a.rotate()
	}
	if !a.resend(conn, "k") {
		t.Fatalf("forgotten after %d rotations", answeredGens-1)
	}
	if len(conn.sent) != answeredGens || string(conn.sent[0]) != "SIP/2.0 200 OK\r\n\r\n" {
		t.Errorf("sent %q", conn.sent)
	}
	a.rotate()
	if a.resend(conn, "k") {
		t.Errorf("still remembered after %d rotations", answeredGens)
	}
	a.mu.Lock()
	stopped := a.timer == nil
	a.mu.Unlock()
	if !stopped {
		t.Error("the rotation runs on with nothing to forget")
	}
	if a.resend(conn, "other") {
		t.Error("resent a response never remembered")
	}
}
