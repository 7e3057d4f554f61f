// Command noise is the background of the soak (bench/soak/run.sh): what a
// hostile network sends a server while it carries calls. It sends
// malformed SIP datagrams to the SIP UDP port, junk RTP to every UDP port
// the server process has open (its media relay's among them), and keeps a
// bounded number of half-open TCP connections to the SIP TCP port, each
// holding half a request — all at fixed, bounded rates, to loopback only.
//
// It stops after -duration or on SIGINT/SIGTERM and prints what it sent.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	var (
		sipAddr  = flag.String("sip", "127.0.0.1:5060", "the server's SIP UDP address (loopback)")
		tcpAddr  = flag.String("tcp", "", "the server's SIP TCP address (loopback); empty: no half-open connections")
		pid      = flag.Int("pid", 0, "the server's process id: its UDP ports get junk RTP (0: none)")
		sipRate  = flag.Int("sip-rate", 50, "malformed SIP datagrams per second")
		rtpRate  = flag.Int("rtp-rate", 200, "junk RTP datagrams per second, over all the server's ports")
		halfOpen = flag.Int("half-open", 50, "half-open TCP connections kept at once")
		duration = flag.Duration("duration", time.Minute, "how long to run")
	)
	flag.Parse()
	sip, err := loopback(*sipAddr)
	if err != nil {
		fail(err)
	}
	var tcp netip.AddrPort
	if *tcpAddr != "" {
		if tcp, err = loopback(*tcpAddr); err != nil {
			fail(err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()

	var n counts
	done := make(chan struct{}, 3)
	go func() { sendSIP(ctx, sip, *sipRate, &n); done <- struct{}{} }()
	go func() { sendRTP(ctx, *pid, sip.Port(), *rtpRate, &n); done <- struct{}{} }()
	go func() { holdTCP(ctx, tcp, *halfOpen, &n); done <- struct{}{} }()
	for range 3 {
		<-done
	}
	fmt.Printf("noise: %d malformed SIP datagrams, %d junk RTP datagrams to %d distinct ports, %d half-open TCP connections opened (%d refused)\n",
		n.sip.Load(), n.rtp.Load(), n.ports.Load(), n.tcp.Load(), n.tcpRefused.Load())
}

type counts struct {
	sip, rtp, ports, tcp, tcpRefused atomic.Int64
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "noise:", err)
	os.Exit(2)
}

// loopback parses addr and refuses anything but a loopback address: the
// noise is for the soak's own server.
func loopback(addr string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return ap, err
	}
	if !ap.Addr().IsLoopback() {
		return ap, fmt.Errorf("%s is not a loopback address", addr)
	}
	return ap, nil
}

// tick calls f rate times a second until ctx is done.
func tick(ctx context.Context, rate int, f func()) {
	if rate <= 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(time.Second / time.Duration(rate))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// malformed are the kinds of broken SIP a hostile network sends: cut
// short, lying about their length, missing what a transaction needs,
// nonsense in every header the server parses, oversized, and requests that
// are well formed but forged (credentials with a nonce never issued, an
// INVITE that will never be ACKed). %d is a sequence number, so no two are
// alike.
var malformed = []string{
	"INVITE sip:1A@x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK%d\r\n", // cut short
	"\x00\x01\x02\x03 garbage %d \xff\xfe\r\n\r\n",
	"REGISTER sip:x SIP/2.0\r\nContent-Length: 99999\r\n\r\nshort %d",
	"REGISTER sip:x SIP/2.0\r\nCall-ID: %d\r\nContent-Length: 0\r\n\r\n", // no Via, no CSeq
	"REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK%d;rport\r\nFrom: <sip:app.u1@bench.example>;tag=1\r\nTo: <sip:app.u1@bench.example>\r\nCall-ID: n%d\r\nCSeq: x REGISTER\r\nContact: <<<>>>\r\nExpires: -5\r\nContent-Length: 0\r\n\r\n",
	"REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK%d;rport\r\nFrom: <sip:app.u1@bench.example>;tag=1\r\nTo: <sip:app.u1@bench.example>\r\nCall-ID: f%d\r\nCSeq: 2 REGISTER\r\nContact: <sip:app.u1@127.0.0.1:9>;expires=99999999999999\r\nAuthorization: Digest username=\"app.u1\", realm=\"bench.example\", nonce=\"forged\", uri=\"sip:x\", response=\"00000000000000000000000000000000\", nc=00000001, cnonce=\"c\", qop=auth, algorithm=MD5\r\nContent-Length: 0\r\n\r\n",
	"INVITE sip:R1@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK%d;rport\r\nMax-Forwards: 70\r\nFrom: <sip:stranger@evil.example>;tag=%d\r\nTo: <sip:R1@bench.example>\r\nCall-ID: s%d\r\nCSeq: 1 INVITE\r\nContact: <sip:s@127.0.0.1:9>\r\nContent-Type: application/sdp\r\nContent-Length: 20\r\n\r\nv=0\r\nm=audio x RTP\r\n",
	"INVITE tel:+1-555-%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK%d\r\nMax-Forwards: 0\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=notours\r\nCall-ID: t%d\r\nCSeq: 1 INVITE\r\nContent-Type: multipart/mixed;boundary=\r\nContent-Length: 4\r\n\r\n--\r\n",
	"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP [::1:9;branch=%d\r\nFrom: \"\x7f\" <sip:@>\r\nTo: <>\r\nCall-ID: o%d\r\nCSeq: 4294967296 OPTIONS\r\nMax-Forwards: 99999999999\r\n\r\n",
	"BYE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK%d\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: nosuchcall%d\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
	"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK%d\r\nCall-ID: r%d\r\nCSeq: 1 INVITE\r\n\r\n", // a response to nothing
	"FOO%d sip:x SIP/2.0\r\n" + strings.Repeat("X-Long: "+strings.Repeat("a", 1000)+"\r\n", 30) + "\r\n",        // 30 KB
}

func sendSIP(ctx context.Context, dst netip.AddrPort, rate int, n *counts) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		fail(err)
	}
	defer c.Close()
	go drain(c) // the server's answers to our forgeries
	seq := 0
	tick(ctx, rate, func() {
		seq++
		tmpl := malformed[seq%len(malformed)]
		msg := fmt.Sprintf(tmpl, seqArgs(tmpl, seq)...)
		if _, err := c.WriteToUDPAddrPort([]byte(msg), dst); err == nil {
			n.sip.Add(1)
		}
	})
}

// seqArgs fills every %d of tmpl with seq.
func seqArgs(tmpl string, seq int) []any {
	args := make([]any, strings.Count(tmpl, "%d"))
	for i := range args {
		args[i] = seq
	}
	return args
}

func drain(c *net.UDPConn) {
	buf := make([]byte, 65536)
	for {
		if _, _, err := c.ReadFromUDP(buf); err != nil {
			return
		}
	}
}

// sendRTP sends junk to the UDP ports process pid has open, other than
// the SIP port: RTP-looking headers with random payload types (telephone
// events among them), bare RTCP, short and random datagrams. The ports
// are looked up again every second, as calls open and close them.
func sendRTP(ctx context.Context, pid int, sipPort uint16, rate int, n *counts) {
	if pid == 0 {
		<-ctx.Done()
		return
	}
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		fail(err)
	}
	defer c.Close()
	go drain(c)
	var ports []uint16
	seen := map[uint16]bool{}
	refreshed := time.Time{}
	seq := uint16(0)
	tick(ctx, rate, func() {
		if time.Since(refreshed) > time.Second {
			ports = udpPorts(pid, sipPort)
			refreshed = time.Now()
		}
		if len(ports) == 0 {
			return
		}
		port := ports[rand.IntN(len(ports))]
		if !seen[port] {
			seen[port] = true
			n.ports.Add(1)
		}
		seq++
		pkt := junkRTP(seq)
		if _, err := c.WriteToUDPAddrPort(pkt, netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port)); err == nil {
			n.rtp.Add(1)
		}
	})
}

func junkRTP(seq uint16) []byte {
	switch seq % 4 {
	case 0: // RTP header, random payload type and payload
		p := make([]byte, 12+rand.IntN(400))
		for i := range p {
			p[i] = byte(rand.UintN(256))
		}
		p[0] = 0x80
		p[2], p[3] = byte(seq>>8), byte(seq)
		return p
	case 1: // a telephone-event for "#" on payload type 101, end bit set
		return []byte{0x80, 0xe5, byte(seq >> 8), byte(seq), 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef, 11, 0x8a, 0x03, 0x20}
	case 2: // an RTCP receiver report with a length that lies
		return []byte{0x81, 201, 0xff, 0xff, 0xde, 0xad, 0xbe, 0xef}
	}
	p := make([]byte, rand.IntN(12)) // shorter than any header
	for i := range p {
		p[i] = byte(rand.UintN(256))
	}
	return p
}

// udpPorts are the local ports of the UDP sockets process pid has open on
// IPv4 loopback or any address, but skip.
func udpPorts(pid int, skip uint16) []uint16 {
	inodes := map[string]bool{}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	for _, e := range ents {
		if l, err := os.Readlink(dir + "/" + e.Name()); err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/udp", pid))
	if err != nil {
		return nil
	}
	defer f.Close()
	var ports []uint16
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
		if len(fields) < 10 || !inodes[fields[9]] {
			continue
		}
		host, port, ok := strings.Cut(fields[1], ":")
		if !ok || (host != "0100007F" && host != "00000000") {
			continue
		}
		p, err := strconv.ParseUint(port, 16, 16)
		if err != nil || uint16(p) == skip {
			continue
		}
		ports = append(ports, uint16(p))
	}
	return ports
}

// holdTCP keeps limit connections to dst open, each having sent the first
// half of a request and nothing more; every second it replaces a tenth of
// them, so connections come and go as a slow-loris client's do.
func holdTCP(ctx context.Context, dst netip.AddrPort, limit int, n *counts) {
	if !dst.IsValid() || limit <= 0 {
		<-ctx.Done()
		return
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	d := net.Dialer{Timeout: time.Second}
	open := func() {
		c, err := d.DialContext(ctx, "tcp", dst.String())
		if err != nil {
			n.tcpRefused.Add(1)
			return
		}
		n.tcp.Add(1)
		_, _ = c.Write([]byte("INVITE sip:R1@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKslow\r\nContent-Length: 1000\r\n"))
		conns = append(conns, c)
	}
	for len(conns) < limit && ctx.Err() == nil {
		open()
		if n.tcpRefused.Load() > int64(limit) {
			break
		}
	}
	tick(ctx, 1, func() {
		k := max(1, limit/10)
		for i := 0; i < k && len(conns) > 0; i++ {
			conns[0].Close()
			conns = conns[1:]
		}
		for len(conns) < limit {
			before := n.tcpRefused.Load()
			open()
			if n.tcpRefused.Load() != before {
				return
			}
		}
	})
}
