package sipdns

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzFrames: the messages read from a DNS TCP stream do not depend on how
// its reads are cut, and what is held back is never more than one message
// and its length.
func FuzzFrames(f *testing.F) {
	two := binary.BigEndian.AppendUint16(nil, 3)
	two = append(two, "abc"...)
	two = binary.BigEndian.AppendUint16(two, 0)
	f.Add(two, []byte{1, 2, 1})
	f.Add([]byte{0xff, 0xff, 1, 2}, []byte{1})
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, stream, cuts []byte) {
		var whole [][]byte
		var one frames
		one.feed(stream, func(m []byte) { whole = append(whole, bytes.Clone(m)) })

		var parts [][]byte
		var cut frames
		rest := stream
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if i < len(cuts) {
				n = min(int(cuts[i])+1, n)
			}
			cut.feed(rest[:n], func(m []byte) { parts = append(parts, bytes.Clone(m)) })
			if len(cut.buf) > 2+0xffff {
				t.Fatalf("%d bytes held back, more than one message", len(cut.buf))
			}
			rest = rest[n:]
		}
		if len(whole) != len(parts) {
			t.Fatalf("%d messages read whole, %d read in pieces", len(whole), len(parts))
		}
		for i := range whole {
			if !bytes.Equal(whole[i], parts[i]) {
				t.Fatalf("message %d differs: %x and %x", i, whole[i], parts[i])
			}
		}
		if !bytes.Equal(one.buf, cut.buf) {
			t.Fatalf("held back %x whole, %x in pieces", one.buf, cut.buf)
		}
	})
}

// FuzzSee: any bytes a name server (or anyone spoofing one) sends are read
// for their TTLs without a panic, and a TTL recorded is one the message
// holds: never more than the largest 32-bit value, never from a query.
func FuzzSee(f *testing.F) {
	// A response with one A record of TTL 300, and one with nothing but
	// an SOA (a negative answer).
	f.Add([]byte("\x00\x01\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\x01a\x04test\x00\x00\x01\x00\x01\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04\xc0\x00\x02\x01"))
	f.Add([]byte("\x00\x01\x81\x83\x00\x01\x00\x00\x00\x01\x00\x00\x01a\x04test\x00\x00\x21\x00\x01\x04test\x00\x00\x06\x00\x01\x00\x00\x0e\x10\x00\x16\x02ns\xc0\x1c\x02hm\xc0\x1c\x00\x00\x00\x01\x00\x00\x0e\x10\x00\x00\x02\x58\x00\x01\x51\x80\x00\x00\x00\x3c"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		var seen ttls
		seen.see(msg)
		if len(msg) > 2 && msg[2]&0x80 == 0 && (seen.hasPos || seen.hasNeg) {
			t.Fatalf("a TTL was read from a query (QR clear): %+v", &seen)
		}
		if seen.hasPos && seen.hasNeg {
			t.Fatalf("one message gave a positive and a negative TTL: %+v", &seen)
		}
	})
}
