package sipstack

import (
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// OnReady's function has run when the first datagram comes out of
// ReadFrom, to sipgo or to serve, and Ready is still open while it runs:
// what it records is there for the first request, which a goroutine
// waiting on Ready does not promise.
func TestReadyConnOnReadyBeforeFirstDatagram(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var closing atomic.Bool
	var recorded atomic.Bool
	var servedBefore []bool // recorded, as serve saw it
	rc := NewReadyConn(pc, &closing, func(_ net.PacketConn, data []byte, _ net.Addr) bool {
		servedBefore = append(servedBefore, recorded.Load())
		return string(data) == "consumed"
	})
	readyOpen := false
	rc.OnReady(func() {
		select {
		case <-rc.Ready():
		default:
			readyOpen = true
		}
		recorded.Store(true)
	})
	peer, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	for _, m := range []string{"consumed", "handed on"} {
		if _, err := peer.WriteTo([]byte(m), pc.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	if err := pc.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 64)
	n, _, err := rc.ReadFrom(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b[:n]); got != "handed on" {
		t.Errorf("ReadFrom = %q, want the datagram serve left", got)
	}
	if !readyOpen {
		t.Error("Ready was closed before OnReady's function ran")
	}
	select {
	case <-rc.Ready():
	default:
		t.Error("Ready is open after the first read")
	}
	if len(servedBefore) != 2 || !servedBefore[0] || !servedBefore[1] {
		t.Errorf("serve saw the datagrams with OnReady's function run: %v, want [true true]", servedBefore)
	}
}
