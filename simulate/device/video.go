package device

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/rtp"

	rtmedia "switchboard/runtime/media"
)

// video is the socket of a call's video stream: a door station's camera
// sends H.264 packets on it, a monitor's or app's screen counts what
// arrives.
type video struct {
	conn rtmedia.PacketConn
	ssrc uint32

	mu      sync.Mutex
	remote  netip.AddrPort // where the peer's SDP says its video goes
	seq     uint16
	ts      uint32
	got     int           // H.264 packets received
	arrived chan struct{} // signalled when one arrives
}

func newVideo(listen rtmedia.ListenFunc, ip netip.Addr) (*video, error) {
	if listen == nil {
		listen = rtmedia.ListenUDP
	}
	conn, err := listen(netip.AddrPortFrom(ip, 0))
	if err != nil {
		return nil, err
	}
	v := &video{conn: conn, ssrc: uint32(time.Now().UnixNano()) ^ 0x5a5a5a5a, arrived: make(chan struct{}, 1)}
	go v.read()
	return v, nil
}

func (v *video) port() int {
	ap, _ := netip.ParseAddrPort(v.conn.LocalAddr().String())
	return int(ap.Port())
}

func (v *video) read() {
	b := readBuffers.Get().(*[1500]byte)
	defer readBuffers.Put(b)
	buf := b[:]
	for {
		n, _, err := v.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		var p rtp.Packet
		if p.Unmarshal(buf[:n]) != nil || p.PayloadType < 96 {
			continue
		}
		v.mu.Lock()
		v.got++
		v.mu.Unlock()
		select {
		case v.arrived <- struct{}{}:
		default:
		}
	}
}

// send sends frames packets of a made-up H.264 picture (an IDR slice
// header and filler), one per frame, 40 ms apart in RTP time.
func (v *video) send(pt uint8, frames int) error {
	payload := make([]byte, 600)
	payload[0] = 0x65 // NAL unit header: IDR slice, nal_ref_idc 3
	for range frames {
		v.mu.Lock()
		v.seq++
		v.ts += 3600
		p := rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, PayloadType: pt, SequenceNumber: v.seq, Timestamp: v.ts, SSRC: v.ssrc}, Payload: payload}
		remote := v.remote
		v.mu.Unlock()
		if !remote.IsValid() || remote.Port() == 0 {
			return fmt.Errorf("no video address from the other party")
		}
		b, err := p.Marshal()
		if err != nil {
			return err
		}
		if _, err := v.conn.WriteToUDPAddrPort(b, remote); err != nil {
			return err
		}
	}
	return nil
}

// SendVideo sends frames pictures from the device's camera, as a door
// station streams who is at the door.
func (c *Call) SendVideo(frames int) error {
	v := c.media.video
	if v == nil {
		return fmt.Errorf("%s has no video in this call", c.d.account)
	}
	return v.send(ptH264, frames)
}

// WaitVideo waits until the call has received at least n video packets.
func (c *Call) WaitVideo(ctx context.Context, n int) error {
	v := c.media.video
	if v == nil {
		return fmt.Errorf("%s has no video in this call", c.d.account)
	}
	for {
		v.mu.Lock()
		got := v.got
		v.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d video packets received: %w", got, n, ctx.Err())
		case <-v.arrived:
		}
	}
}
