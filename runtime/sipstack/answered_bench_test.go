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
// the address the read loop made): "lines" with the request's datagram,
// as a scanned REGISTER's answer is kept, "whole" without, as a parsed
// one's.
func BenchmarkAnsweredMemory(b *testing.B) {
	const n = 27000
	answer := func(i int) string {
		return "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-" + fmt.Sprint(i) + "-1-3;rport=5061;received=127.0.0.1\r\n" +
			"From: <sip:app.u1@bench.example>;tag=1SIPpTag001\r\nTo: <sip:app.u1@bench.example>;tag=b3c1f2e4\r\n" +
			"Call-ID: 1-1@127.0.0.1\r\nCSeq: 2 REGISTER\r\nContent-Length: 0\r\nContact: <sip:app.u1@127.0.0.1:5061>;expires=3600\r\n" +
			"Date: Sat, 05 Dec 2026 22:00:00 GMT\r\n\r\n"
	}
	keys := make([]string, n)
	reqs := make([][]byte, n)
	answers := make([][]byte, n)
	for i := range keys {
		reqs[i] = []byte(strings.Replace(registerSeeds[1], "branch=z9hG4bK-1-0", fmt.Sprintf("branch=z9hG4bK-%d-1-3", i), 1))
		answers[i] = []byte(answer(i))
		req, err := sip.ParseMessage(reqs[i])
		if err != nil {
			b.Fatal(err)
		}
		if keys[i], err = sip.ServerTxKeyMake(req); err != nil {
			b.Fatal(err)
		}
	}
	for _, form := range []string{"lines", "whole"} {
		b.Run(form, func(b *testing.B) {
			var per float64
			for b.Loop() {
				var a answered
				a.period = time.Hour
				a.timer = time.AfterFunc(time.Hour, func() {})
				var before, after goruntime.MemStats
				goruntime.GC()
				goruntime.ReadMemStats(&before)
				for i := range n {
					var req []byte
					if form == "lines" {
						req = reqs[i]
					}
					a.put(strings.Clone(keys[i]), answers[i], &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 25010}, req)
				}
				goruntime.GC()
				goruntime.ReadMemStats(&after)
				per = float64(after.HeapAlloc-before.HeapAlloc) / n
				goruntime.KeepAlive(keys)
				a.close()
			}
			b.ReportMetric(per, "B/answer")
		})
	}
}
