package sipstack

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// BenchmarkAnsweredPut measures remembering a 200 to a phone's REGISTER
// and sending it again to its retransmission: "lines" kept sharing the
// request's lines (a scanned REGISTER's), "whole" as its bytes.
func BenchmarkAnsweredPut(b *testing.B) {
	req := []byte(registerSeeds[1])
	answer := []byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-0;rport=5061;received=127.0.0.1\r\n" +
		"From: <sip:app.u1@bench.example>;tag=1SIPpTag001\r\nTo: <sip:app.u1@bench.example>;tag=b3c1f2e4\r\n" +
		"Call-ID: 1-1@127.0.0.1\r\nCSeq: 2 REGISTER\r\nContent-Length: 0\r\nContact: <sip:app.u1@127.0.0.1:5061>;expires=3600\r\n" +
		"Date: Sat, 05 Dec 2026 22:00:00 GMT\r\n\r\n")
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5061}
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprintf("z9hG4bK-%d-1-0__127.0.0.1:5061__REGISTER", i)
	}
	for _, form := range []string{"lines", "whole"} {
		b.Run(form, func(b *testing.B) {
			r := req
			if form == "whole" {
				r = nil
			}
			var a answered
			defer a.close()
			a.period = time.Hour
			a.timer = time.AfterFunc(time.Hour, func() {})
			conn := &recorder{}
			i := 0
			for b.Loop() {
				k := keys[i%len(keys)]
				if i%len(keys) == 0 {
					a.rotate()
					a.rotate()
					a.rotate()
					a.rotate()
					a.rotate()
					conn.sent, conn.to = conn.sent[:0], conn.to[:0]
				}
				a.put(k, answer, dst, r)
				if !a.resend(conn, k, r) {
					b.Fatal("not found")
				}
				i++
			}
			if got := string(conn.sent[len(conn.sent)-1]); !strings.HasPrefix(got, "SIP/2.0 200 OK\r\nVia") || got != string(answer) {
				b.Fatalf("resent %q", got)
			}
		})
	}
}
