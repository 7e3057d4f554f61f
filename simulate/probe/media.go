package probe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"switchboard/compiler/ir"
	"switchboard/simulate/device"
)

// strangerIP is where the media check's stranger sends from: another
// loopback address, so that it is not the caller's.
var strangerIP = netip.MustParseAddr("127.0.0.2")

// mediaLatch sets up a call between two of the site's accounts, an app
// calling a user's extension answered by the probe's own simulated
// endpoint of that user, then sends RTP from a stranger's address to the
// relay port offered to the caller before the caller sends anything. The
// callee's audio must not reach the stranger.
func (p *prober) mediaLatch(ctx context.Context) Result {
	if !p.t.SIP.IsValid() {
		return skip(noTarget)
	}
	if !p.t.SIP.Addr().IsLoopback() {
		return skip("the stranger sends from " + strangerIP.String() + ", which needs a loopback target")
	}
	caller, callee, ext, ok := p.mediaPair()
	if !ok {
		return skip("the site has no app account and a second user with an extension and an endpoint")
	}
	callerPW, ok1 := p.site.Password(caller.Name)
	calleePW, ok2 := p.site.Password(callee.Name)
	if !ok1 || !ok2 {
		return skip("no passwords for " + caller.Name + " and " + callee.Name)
	}
	stranger, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(strangerIP, 0)))
	if err != nil {
		return skip(fmt.Sprintf("no socket on %s: %v", strangerIP, err))
	}
	defer stranger.Close()

	ctx, cancel := context.WithTimeout(ctx, 4*p.l.Timeout)
	defer cancel()
	dev, err := device.New(device.Config{Account: callee.Name, Password: calleePW, Domain: p.site.Program.Site.Domain,
		Server: p.t.SIP.String(), IP: p.t.SIP.Addr()})
	if err != nil {
		return errResult("the callee", err)
	}
	defer dev.Close()
	dev.SetAnswer(device.Pickup, 0)
	if st, err := dev.Register(ctx, time.Minute); err != nil || st != 200 {
		return Result{Status: Fail, Summary: fmt.Sprintf("the callee %s could not register: %d %v", callee.Name, st, err)}
	}
	// The probe's contact goes again when the check ends.
	defer func() {
		uctx, ucancel := context.WithTimeout(context.Background(), p.l.Timeout)
		defer ucancel()
		_, _ = dev.Register(uctx, 0)
	}()

	c, err := p.dial()
	if err != nil {
		return errResult("socket", err)
	}
	defer c.Close()
	rtp, err := net.ListenUDP("udp", &net.UDPAddr{IP: c.local().IP})
	if err != nil {
		return errResult("socket", err)
	}
	defer rtp.Close()
	r := newRequest("INVITE", p.callURI(ext), caller.Username, ext)
	r.body = sdpOffer(c.local().IP.String(), rtp.LocalAddr().(*net.UDPAddr).Port)
	res, last, err := c.authenticated(r, caller.AuthName, callerPW, p.l.Timeout)
	if err != nil {
		return errResult("the call", err)
	}
	for res != nil && res.StatusCode < 200 {
		res, err = c.read(last.callID, time.Now().Add(p.l.Timeout))
		if err != nil {
			return errResult("the call", err)
		}
	}
	if res == nil || res.StatusCode >= 300 {
		if res != nil {
			c.ack(last, res)
		} else {
			c.cancel(last)
		}
		return Result{Status: Fail, Summary: fmt.Sprintf("the call %s → %s (%s) was not answered: %s", caller.Name, ext, callee.Name, status(res))}
	}
	defer c.hangup(c.ack2xx(last, res))
	relay, err := sdpAudio(string(res.Body()))
	if err != nil {
		return errResult("the answer's SDP", err)
	}
	if relay.Addr() != p.t.SIP.Addr() {
		return skip(fmt.Sprintf("the relay is at %s, not the target's address: the probe sends only to its target", relay.Addr()))
	}

	// The callee talks at the pace of real audio (a 20 ms frame at a
	// time) while the stranger sprays the caller's relay port, as an
	// attacker would, and the caller has sent nothing yet: where each
	// frame goes shows where the relay is latched. (A burst could be
	// relayed before the relay had read the stranger's first packet.)
	var call *device.Call
	for _, in := range dev.Incoming() {
		if cl := dev.Answered(in.CallID); cl != nil {
			call = cl
		}
	}
	if call == nil {
		return Result{Status: Fail, Summary: "the callee's side of the call is not up"}
	}
	const frames = 25
	deadline := time.Now().Add(frames*20*time.Millisecond + time.Second)
	var wg sync.WaitGroup
	var got [2]int
	for i, conn := range []*net.UDPConn{rtp, stranger} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = countPackets(conn, relay, deadline)
		}()
	}
	tick := time.NewTicker(20 * time.Millisecond)
	var sendErr error
	for i := 0; i < frames && sendErr == nil; i++ {
		if _, err := stranger.WriteToUDPAddrPort(rtpPacket(uint16(i), 0x5eed), relay); err != nil {
			sendErr = fmt.Errorf("the stranger's packet: %w", err)
			break
		}
		<-tick.C
		if err := call.SendSilence(1); err != nil {
			sendErr = fmt.Errorf("the callee's audio: %w", err)
		}
	}
	tick.Stop()
	wg.Wait()
	if sendErr != nil {
		return errResult("media", sendErr)
	}
	ev := []string{
		fmt.Sprintf("call %s → %s answered by the probe's %s; relay port for the caller %s", caller.Name, ext, callee.Name, relay),
		fmt.Sprintf("a stranger at %s sent %d RTP packets to it, the first before the callee's audio; the caller sent none", strangerIP, frames),
		fmt.Sprintf("of the callee's %d frames (and any it sent on answering), the caller received %d, the stranger %d", frames, got[0], got[1]),
	}
	switch {
	case got[1] > 0:
		return Result{Status: Fail, Summary: "a stranger's packet took the call's audio", Evidence: ev}
	case got[0] == 0:
		return Result{Status: Fail, Summary: "no audio reached the caller either", Evidence: ev}
	}
	return Result{Status: Pass, Summary: "a stranger's packets did not divert the call's audio", Evidence: ev}
}

// mediaPair picks an app account to call from, and a different user's
// extension with one of that user's endpoints to answer it.
func (p *prober) mediaPair() (caller, callee ir.Account, ext string, ok bool) {
	prog := p.site.Program
	for _, a := range prog.Accounts {
		if a.Kind != ir.AccountApp {
			continue
		}
		for _, u := range prog.Users {
			if u.Extension == "" || len(u.Endpoints) == 0 || ir.UserRef(u.Name) == a.Owner {
				continue
			}
			if e := prog.Account(u.Endpoints[0]); e != nil {
				return a, *e, u.Extension, true
			}
		}
	}
	return ir.Account{}, ir.Account{}, "", false
}

// countPackets counts the datagrams from "from" that conn receives before
// deadline.
func countPackets(conn *net.UDPConn, from netip.AddrPort, deadline time.Time) int {
	_ = conn.SetReadDeadline(deadline)
	buf := make([]byte, 2048)
	n := 0
	for {
		_, src, err := conn.ReadFromUDPAddrPort(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) || err != nil {
			return n
		}
		if src.Addr().Unmap() == from.Addr() {
			n++
		}
	}
}

// rtpPacket is one PCMU frame of silence.
func rtpPacket(seq uint16, ssrc uint32) []byte {
	b := make([]byte, 12+160)
	b[0] = 0x80
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], uint32(seq)*160)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	for i := 12; i < len(b); i++ {
		b[i] = 0xff
	}
	return b
}

// sdpAudio is the audio address of an SDP body (the media-level c= line,
// else the session's).
func sdpAudio(body string) (netip.AddrPort, error) {
	var addr netip.Addr
	port := -1
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "c=IN IP4 "); ok && (port < 0 || !addr.IsValid()) {
			if a, err := netip.ParseAddr(strings.Fields(v)[0]); err == nil {
				addr = a
			}
		}
		if v, ok := strings.CutPrefix(line, "m=audio "); ok && port < 0 {
			if n, err := strconv.Atoi(strings.Fields(v)[0]); err == nil {
				port = n
			}
		}
	}
	if !addr.IsValid() || port <= 0 {
		return netip.AddrPort{}, fmt.Errorf("no audio address in %q", body)
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}
