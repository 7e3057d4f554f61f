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
