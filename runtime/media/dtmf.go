package media

import (
	"encoding/binary"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"
)

// digits maps RFC 4733 DTMF event codes 0–15 to their keys.
const digits = "0123456789*#ABCD"

// telephoneEvent is one RFC 4733 §2.3 event report: the first four bytes
// of a telephone-event payload.
type telephoneEvent struct {
	event    uint8
	end      bool
	volume   uint8
	duration uint16
}

// parseTelephoneEvent reads the event report at the start of payload.
func parseTelephoneEvent(payload []byte) (telephoneEvent, bool) {
	if len(payload) < 4 {
		return telephoneEvent{}, false
	}
	return telephoneEvent{
		event:    payload[0],
		end:      payload[1]&0x80 != 0,
		volume:   payload[1] & 0x3f,
		duration: binary.BigEndian.Uint16(payload[2:4]),
	}, true
}

// eventKey identifies one event: RFC 4733 §2.5.1 gives every packet of an
// event (updates and the retransmitted end) the event's start timestamp.
type eventKey struct{ ssrc, ts uint32 }

// detector turns the telephone-event packets one party sends into digits,
// each reported once. It belongs to one socket's reader goroutine and is
// not safe for concurrent use.
type detector struct {
	hdr rtp.Header // reused, so parsing does not allocate

	cur      eventKey
	curEvent uint8
	curOpen  bool // cur is a digit whose end has not been seen

	done [8]eventKey // recently reported events, a ring
	next int
	n    int
}

// packet inspects one RTP packet known to carry telephone-event and calls
// emit for each digit it completes.
//
// A digit completes with its first end packet (E bit); the two
// retransmissions of the end (§2.5.1.4) and reordered updates carry the
// same key and are ignored. Should all three end packets be lost, the
// digit is still reported when the next event starts (marker bit, new
// timestamp): senders never overlap events. A long event split into
// segments (§2.5.1.3) starts its later segments without the marker, so it
// is not reported twice.
func (d *detector) packet(pkt []byte, emit func(rune)) {
	n, err := d.hdr.Unmarshal(pkt)
	if err != nil || d.hdr.Version != 2 {
		return
	}
	end := len(pkt)
	if d.hdr.Padding {
		pad := int(pkt[end-1])
		if pad == 0 || end-pad < n {
			return
		}
		end -= pad
	}
	ev, ok := parseTelephoneEvent(pkt[n:end])
	if !ok || int(ev.event) >= len(digits) {
		return // not a DTMF digit (flash, tones, …): forwarded, not reported
	}
	key := eventKey{d.hdr.SSRC, d.hdr.Timestamp}
	if d.reported(key) {
		return
	}
	if key != d.cur {
		if d.curOpen && d.hdr.Marker {
			d.report(d.cur, d.curEvent, emit)
		}
		d.cur, d.curEvent, d.curOpen = key, ev.event, true
	}
	if ev.end {
		d.report(key, ev.event, emit)
	}
}

func (d *detector) reported(k eventKey) bool {
	for i := range d.n {
		if d.done[i] == k {
			return true
		}
	}
	return false
}

func (d *detector) report(k eventKey, event uint8, emit func(rune)) {
	d.done[d.next] = k
	d.next = (d.next + 1) % len(d.done)
	d.n = min(d.n+1, len(d.done))
	if k == d.cur {
		d.curOpen = false
	}
	emit(rune(digits[event]))
}

// Collector keeps the recent DTMF digits of each side of a call, so a
// server can ask whether a multi-digit code ("1234", "#") was just keyed.
// Digits further apart than the inter-digit timeout start a new string.
// It is safe for concurrent use: Relay callbacks run on socket goroutines.
type Collector struct {
	timeout time.Duration
	now     func() time.Time

	mu    sync.Mutex
	sides [2]collected
}

type collected struct {
	digits []byte
	last   time.Time
}

// maxCollected bounds each side's string; codes are short.
const maxCollected = 32

// NewCollector returns a collector with the given inter-digit timeout,
// telling time by now (a clock.Clock's Now).
func NewCollector(timeout time.Duration, now func() time.Time) *Collector {
	return &Collector{timeout: timeout, now: now}
}

// Add records a digit sent by side at the given time and returns the
// side's recent string, ending with it.
func (c *Collector) Add(side Side, digit rune, at time.Time) string {
	if side > Callee || !strings.ContainsRune(digits, digit) {
		return c.Recent(side)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.sides[side]
	if len(s.digits) > 0 && at.Sub(s.last) > c.timeout {
		s.digits = s.digits[:0]
	}
	if len(s.digits) == maxCollected {
		s.digits = append(s.digits[:0], s.digits[1:]...)
	}
	s.digits = append(s.digits, byte(digit))
	s.last = at
	return string(s.digits)
}

// Recent returns side's current string: empty once the inter-digit timeout
// has passed since its last digit.
func (c *Collector) Recent(side Side) string {
	if side > Callee {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.sides[side]
	if len(s.digits) == 0 || c.now().Sub(s.last) > c.timeout {
		return ""
	}
	return string(s.digits)
}

// EndsWith reports whether side's recent string ends with code. An empty
// code never matches.
func (c *Collector) EndsWith(side Side, code string) bool {
	return code != "" && strings.HasSuffix(c.Recent(side), code)
}

// Reset forgets side's digits, as after a code was acted on.
func (c *Collector) Reset(side Side) {
	if side > Callee {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sides[side].digits = c.sides[side].digits[:0]
}
