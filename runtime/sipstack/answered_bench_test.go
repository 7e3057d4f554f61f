package sipstack

import (
	"fmt"
	"net"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// BenchmarkAnsweredMemory reports the heap a remembered answer takes
// (B/answer): a 200 to a phone's REGISTER, as many as the end of a burst
// of 5 000 registrations a second holds with Timer J at 5 s, each put as
// Register.Serve does (its key made from the request, its destination
// the address the read loop made).
func BenchmarkAnsweredMemory(b *testing.B) {
	const n = 27000
	res := "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:25010;branch=z9hG4bK-12345-1-3;rport=25010;received=127.0.0.1\r\n" +
		"From: <sip:app.u12345@bench.example>;tag=12345SIPpTag001\r\nTo: <sip:app.u12345@bench.example>;tag=b3c1f2e4\r\n" +
		"Call-ID: 1-12345@127.0.0.1\r\nCSeq: 2 REGISTER\r\nContact: <sip:app.u12345@127.0.0.1:25010>;expires=3600\r\n" +
		"Date: Sat, 05 Dec 2026 22:00:00 GMT\r\nContent-Length: 0\r\n\r\n"
	keys := make([]string, n)
	for i := range keys {
		req, err := sip.ParseMessage([]byte(strings.Replace(registerSeeds[1], "branch=z9hG4bK-1-0", fmt.Sprintf("branch=z9hG4bK-%d-1-3", i), 1)))
		if err != nil {
			b.Fatal(err)
		}
		if keys[i], err = sip.ServerTxKeyMake(req); err != nil {
			b.Fatal(err)
		}
	}
	var per float64
	for b.Loop() {
		var a answered
		a.period = time.Hour
		a.timer = time.AfterFunc(time.Hour, func() {})
		var before, after goruntime.MemStats
		goruntime.GC()
		goruntime.ReadMemStats(&before)
		for i := range n {
			a.put(strings.Clone(keys[i]), []byte(res), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 25010})
		}
		goruntime.GC()
		goruntime.ReadMemStats(&after)
		per = float64(after.HeapAlloc-before.HeapAlloc) / n
		goruntime.KeepAlive(keys)
		a.close()
	}
	b.ReportMetric(per, "B/answer")
}
