package sipstack

import (
	"bytes"
	"testing"
)

// FuzzNewRequest feeds datagrams to the priority read path's scan, which
// reads every datagram on the SIP UDP socket before anything parses it
// (issue 13, point 3: every parser of network input is fuzzed). Whatever
// arrives, it does not panic, a response or a keep-alive is never new
// work, and only a request of a method that starts work can be.
func FuzzNewRequest(f *testing.F) {
	f.Add(invite(doorLines...))
	f.Add(invite(replace(doorLines, 3, "t: <sip:R1@bench.example>;TAG=abc")...))
	f.Add([]byte("REGISTER sip:bench.example SIP/2.0\r\nTo: <sip:a@bench.example>\r\nCall-ID: r\r\n\r\n"))
	f.Add([]byte("INVITE sip:a@b SIP/2.0\r\nTo: <sip:a@b>;tag=1\r\n"))
	f.Add([]byte("INVITE\r\n\r\n"))
	f.Add([]byte("SUBSCRIBE x\r\nTo:\r\n\r\n"))
	f.Add([]byte("SIP/2.0 200 OK\r\nTo: <sip:a@b>\r\n\r\n"))
	f.Add([]byte("\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fresh := newRequest(data)
		if !fresh {
			return
		}
		starts := false
		for _, m := range freshMethods {
			starts = starts || bytes.HasPrefix(data, m)
		}
		if !starts {
			t.Fatalf("new work, but not an INVITE, REGISTER or SUBSCRIBE: %q", data)
		}
	})
}
