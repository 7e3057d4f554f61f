package simulate_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/simulate"
	"switchboard/simulate/device"
	"switchboard/simulate/memnet"
)

// sipPeer is a bare sipgo user agent on one socket: server and client,
// no application behind it.
type sipPeer struct {
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	addr   string
}

func newSIPPeer(tb testing.TB, conn net.PacketConn) *sipPeer {
	tb.Helper()
	ua, err := sipgo.NewUA()
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		tb.Fatal(err)
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientConnectionAddr(conn.LocalAddr().String()))
	if err != nil {
		tb.Fatal(err)
	}
	p := &sipPeer{ua: ua, srv: srv, client: client, addr: conn.LocalAddr().String()}
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	served, ready := device.Serving(conn)
	go func() { _ = srv.ServeUDP(served) }()
	tb.Cleanup(func() { conn.Close(); ua.Close() })
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		tb.Fatal("sipgo listener did not start")
	}
	return p
}

// call places one plain call to the callee: INVITE, 200, ACK, BYE, 200.
func (p *sipPeer) call(ctx context.Context, callee string) error {
	host, port, _ := sip.ParseAddr(callee)
	to := sip.Uri{Scheme: "sip", User: "callee", Host: host, Port: port}
	inv := sip.NewRequest(sip.INVITE, to)
	inv.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	inv.SetBody([]byte("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"))
	res, err := p.client.Do(ctx, inv)
	if err != nil {
		return err
	}
	if res.StatusCode != 200 {
		return fmt.Errorf("INVITE: %d", res.StatusCode)
	}
	inDialog := func(method sip.RequestMethod, seq uint32) *sip.Request {
		r := sip.NewRequest(method, to)
		r.AppendHeader(sip.HeaderClone(inv.From()))
		r.AppendHeader(sip.HeaderClone(res.To()))
		r.AppendHeader(sip.HeaderClone(inv.CallID()))
		r.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
		return r
	}
	if err := p.client.WriteRequest(inDialog(sip.ACK, inv.CSeq().SeqNo), sipgo.ClientRequestBuild); err != nil {
		return err
	}
	if res, err = p.client.Do(ctx, inDialog(sip.BYE, inv.CSeq().SeqNo+1)); err != nil {
		return err
	}
	if res.StatusCode != 200 {
		return fmt.Errorf("BYE: %d", res.StatusCode)
	}
	return nil
}

// BenchmarkSIPStackFloor is what the SIP stack alone costs: two bare
// sipgo user agents placing plain calls (INVITE, 200, ACK, BYE, 200) at
// each other, nothing behind them, in memory and over loopback UDP, with
// as many callers as the simulation has workers. cpu-µs/msg is the floor
// under any simulated case: it multiplies by the SIP messages a suite
// exchanges.
func BenchmarkSIPStackFloor(b *testing.B) {
	for _, transport := range []string{simulate.TransportMemory, simulate.TransportUDP} {
		b.Run(transport, func(b *testing.B) {
			simulate.TuneProcess(transport)
			var listen func() net.PacketConn
			if transport == simulate.TransportMemory {
				mn := memnet.New()
				listen = func() net.PacketConn {
					c, err := mn.Listen(netip.MustParseAddrPort("192.0.2.1:0"))
					if err != nil {
						b.Fatal(err)
					}
					return c
				}
			} else {
				listen = func() net.PacketConn {
					c, err := net.ListenPacket("udp", "127.0.0.1:0")
					if err != nil {
						b.Fatal(err)
					}
					return c
				}
			}
			callers := 2
			var peers [][2]*sipPeer
			for range callers {
				peers = append(peers, [2]*sipPeer{newSIPPeer(b, listen()), newSIPPeer(b, listen())})
			}
			ctx := context.Background()
			cpu := processCPU()
			start := time.Now()
			calls := 0
			for b.Loop() {
				var wg sync.WaitGroup
				errs := make([]error, callers)
				for i, pp := range peers {
					wg.Go(func() {
						for range 100 {
							if err := pp[0].call(ctx, pp[1].addr); err != nil {
								errs[i] = err
								return
							}
						}
					})
				}
				wg.Wait()
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
				calls += 100 * callers
			}
			used, wall := processCPU()-cpu, time.Since(start)
			b.ReportMetric(float64(calls)/wall.Seconds(), "calls/s")
			b.ReportMetric(float64(used.Microseconds())/float64(calls*5), "cpu-µs/msg")
		})
	}
}

// BenchmarkRTPDatagramFloor is what one RTP-sized datagram costs over
// loopback UDP, sent by one socket and read by another in this process
// (both ends are ours in a simulation): the floor under the media of a
// suite run with -transport udp.
func BenchmarkRTPDatagramFloor(b *testing.B) {
	rx, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		b.Fatal(err)
	}
	defer rx.Close()
	_ = rx.SetReadBuffer(1 << 20)
	tx, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Close()
	to := rx.LocalAddr().(*net.UDPAddr).AddrPort()
	pkt := make([]byte, 12+160) // an RTP header and 20 ms of G.711
	done := make(chan int)
	const burst = 64 // in flight at most, well inside the receive buffer
	credit := make(chan struct{}, burst)
	for range burst {
		credit <- struct{}{}
	}
	go func() {
		buf := make([]byte, 1500)
		n := 0
		for {
			if _, _, err := rx.ReadFromUDPAddrPort(buf); err != nil {
				done <- n
				return
			}
			n++
			credit <- struct{}{}
		}
	}()
	cpu := processCPU()
	sent := 0
	for b.Loop() {
		<-credit
		if _, err := tx.WriteToUDPAddrPort(pkt, to); err != nil {
			b.Fatal(err)
		}
		sent++
	}
	for range burst { // every datagram in flight read: all credit back
		<-credit
	}
	used := processCPU() - cpu
	rx.Close()
	<-done
	b.ReportMetric(float64(used.Nanoseconds())/1e3/float64(sent), "cpu-µs/datagram")
}
