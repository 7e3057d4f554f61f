package sipstack

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// msg is a SIP message of a test call: first line, Call-ID, CSeq, From
// and To users, optional To tag and extra headers, and a body.
func msg(first, callID, cseq, from, to, toTag, extra, body string) []byte {
	tt := ""
	if toTag != "" {
		tt = ";tag=" + toTag
	}
	return fmt.Appendf(nil, "%s\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-%s\r\nFrom: \"Gate\" <sip:%s@site.example>;tag=f\r\n"+
		"To: <sip:%s@site.example>%s\r\nCall-ID: %s\r\nCSeq: %s\r\n%sContent-Length: %d\r\n\r\n%s",
		first, cseq, from, to, tt, callID, cseq, extra, len(body), body)
}

var (
	gateAddr  = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5062}
	sarahAddr = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5070}
)

// A call's record: the INVITE and its challenge from before the call
// existed, the forked leg named by its account, never a body or a
// credential, and nothing of other Call-IDs.
func TestTraceCall(t *testing.T) {
	tr := NewTrace()
	const sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"
	tr.record(true, gateAddr, msg("INVITE sip:1@site.example SIP/2.0", "c1", "1 INVITE", "device.gate", "1", "", "", sdp))
	tr.record(false, gateAddr, msg("SIP/2.0 407 Proxy Authentication Required", "c1", "1 INVITE", "device.gate", "1", "sl-1", "Proxy-Authenticate: Digest nonce=\"n0nce\"\r\n", ""))
	tr.record(true, gateAddr, msg("REGISTER sip:site.example SIP/2.0", "reg", "5 REGISTER", "app.sarah", "app.sarah", "", "", ""))
	tr.record(true, gateAddr, msg("INVITE sip:1@site.example SIP/2.0", "c1", "2 INVITE", "device.gate", "1", "", "Proxy-Authorization: Digest response=\"s3cret\"\r\n", sdp))
	tr.Begin("c1", "device.gate")
	tr.Leg("c1", "leg1", "app.sarah")
	tr.record(false, sarahAddr, msg("INVITE sip:app.sarah@127.0.0.1:5070 SIP/2.0", "leg1", "1 INVITE", "device.gate", "app.sarah", "", "", sdp))
	tr.record(true, sarahAddr, msg("SIP/2.0 180 Ringing", "leg1", "1 INVITE", "device.gate", "app.sarah", "t2", "", ""))
	tr.record(true, sarahAddr, msg("OPTIONS sip:site.example SIP/2.0", "opt", "1 OPTIONS", "app.sarah", "site", "", "", ""))
	// A password in a URI's user part (RFC 3261 §19.1.1 advises against
	// it) is not kept either.
	tr.record(true, gateAddr, msg("BYE sip:1:pa55word@site.example SIP/2.0", "c1", "3 BYE", "device.gate:pa55word", "1", "b", "", ""))
	// Nor one with characters the grammar does not allow in it, which a
	// client may send all the same.
	tr.record(true, gateAddr, msg("BYE sip:1:pa;5w@rd@site.example SIP/2.0", "c1", "4 BYE", "device.gate", "1", "b", "", ""))
	tr.End("c1")

	got, ok := tr.Call("c1")
	if !ok {
		t.Fatal("no record of call c1")
	}
	want := CallTrace{Call: "c1", Ended: true, Messages: []TracedMessage{
		{In: true, Peer: "device.gate", Addr: gateAddr.String(), FirstLine: "INVITE sip:1@site.example SIP/2.0", CSeq: "1 INVITE", From: "device.gate", To: "1"},
		{In: false, Peer: "device.gate", Addr: gateAddr.String(), FirstLine: "SIP/2.0 407 Proxy Authentication Required", CSeq: "1 INVITE", From: "device.gate", To: "1"},
		{In: true, Peer: "device.gate", Addr: gateAddr.String(), FirstLine: "INVITE sip:1@site.example SIP/2.0", CSeq: "2 INVITE", From: "device.gate", To: "1"},
		{In: false, Peer: "app.sarah", Addr: sarahAddr.String(), FirstLine: "INVITE sip:app.sarah@127.0.0.1:5070 SIP/2.0", CSeq: "1 INVITE", From: "device.gate", To: "app.sarah"},
		{In: true, Peer: "app.sarah", Addr: sarahAddr.String(), FirstLine: "SIP/2.0 180 Ringing", CSeq: "1 INVITE", From: "device.gate", To: "app.sarah"},
		{In: true, Peer: "device.gate", Addr: gateAddr.String(), FirstLine: "BYE sip:1@site.example SIP/2.0", CSeq: "3 BYE", From: "device.gate", To: "1"},
		{In: true, Peer: "device.gate", Addr: gateAddr.String(), FirstLine: "BYE sip:1@site.example SIP/2.0", CSeq: "4 BYE", From: "device.gate", To: "1"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("call record (-want +got):\n%s", diff)
	}
	s := fmt.Sprintf("%+v", got)
	for _, secret := range []string{"s3cret", "n0nce", "v=0", "pa55word", "pa;5w", "rd@"} {
		if strings.Contains(s, secret) {
			t.Errorf("the record holds %q: %s", secret, s)
		}
	}
	if _, ok := tr.Call("reg"); ok {
		t.Error("a REGISTER's Call-ID has a record")
	}
}

// The bounds: messages per call, calls that ended, new INVITEs that never
// became calls.
func TestTraceBounds(t *testing.T) {
	tr := NewTrace()
	tr.Begin("c1", "device.gate")
	for i := range traceMessages + 5 {
		tr.record(true, gateAddr, msg("INFO sip:x SIP/2.0", "c1", fmt.Sprint(i, " INFO"), "device.gate", "1", "t", "", ""))
	}
	got, _ := tr.Call("c1")
	if len(got.Messages) != traceMessages || !got.More {
		t.Errorf("%d messages kept, more %v; want %d and more", len(got.Messages), got.More, traceMessages)
	}
	tr.End("c1")

	for i := range TraceFinished + 10 {
		id := fmt.Sprint("call-", i)
		tr.Begin(id, "device.gate")
		tr.record(true, gateAddr, msg("INVITE sip:1@x SIP/2.0", id, "1 INVITE", "device.gate", "1", "", "", ""))
		tr.End(id)
	}
	if _, ok := tr.Call("call-0"); ok {
		t.Error("the oldest ended call is still kept")
	}
	if _, ok := tr.Call(fmt.Sprint("call-", TraceFinished+9)); !ok {
		t.Error("the newest ended call is not kept")
	}
	if n := len(tr.calls); n != TraceFinished {
		t.Errorf("%d calls kept; want %d", n, TraceFinished)
	}

	// A flood of INVITEs that never become calls keeps traceTentative.
	for i := range 1000 {
		tr.record(true, gateAddr, msg("INVITE sip:1@x SIP/2.0", fmt.Sprint("spoof-", i), "1 INVITE", "x", "1", "", "", ""))
	}
	if n := len(tr.tentative); n != traceTentative {
		t.Errorf("%d tentative INVITEs kept; want %d", n, traceTentative)
	}
	if n, want := len(tr.legs), traceTentative+TraceFinished; n != want {
		t.Errorf("%d Call-IDs traced; want %d", n, want)
	}
	// What is counted is what is kept.
	size := 0
	for _, c := range tr.calls {
		size += c.size
	}
	for _, c := range tr.tentative {
		size += c.size
	}
	if size != tr.bytes {
		t.Errorf("bytes counted %d; the records hold %d", tr.bytes, size)
	}
}

// The framer finds the messages of a stream however it is cut, skipping
// bodies and keep-alives.
func TestFramer(t *testing.T) {
	a := msg("INVITE sip:1@x SIP/2.0", "c1", "1 INVITE", "device.gate", "1", "", "", "v=0\r\n\r\nbody with an empty line\r\n")
	b := msg("SIP/2.0 180 Ringing", "c1", "1 INVITE", "device.gate", "1", "t", "", "")
	stream := string(a) + "\r\n\r\n" + string(b)
	for _, size := range []int{1, 2, 7, 64, len(stream)} {
		var f framer
		var got []string
		for i := 0; i < len(stream); i += size {
			f.feed([]byte(stream[i:min(i+size, len(stream))]), func(head []byte) {
				first, _, _ := strings.Cut(string(head), "\r\n")
				got = append(got, first)
			})
		}
		want := []string{"INVITE sip:1@x SIP/2.0", "SIP/2.0 180 Ringing"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("cut every %d bytes (-want +got):\n%s", size, diff)
		}
	}
}

// Over a stream (TCP, TLS), the messages are found in the bytes however
// the peer wrote them, each way.
func TestTraceConn(t *testing.T) {
	tr := NewTrace()
	tr.Begin("c1", "app.sarah")
	client, server := net.Pipe()
	defer client.Close()
	l := &oneConnListener{conn: server}
	c, err := TraceListener(l, tr).Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	invite := msg("INVITE sip:1@site.example SIP/2.0", "c1", "1 INVITE", "app.sarah", "1", "", "", "v=0\r\n")
	done := make(chan error, 1)
	go func() {
		// Cut mid-header and mid-body, with a keep-alive before.
		for _, part := range [][]byte{[]byte("\r\n\r\n"), invite[:20], invite[20 : len(invite)-2], invite[len(invite)-2:]} {
			if _, err := client.Write(part); err != nil {
				done <- err
				return
			}
		}
		_, err := io.ReadAll(client)
		done <- err
	}()
	buf := make([]byte, 7)
	for n := 0; n < len(invite)+4; {
		k, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		n += k
	}
	if _, err := c.Write(msg("SIP/2.0 100 Trying", "c1", "1 INVITE", "app.sarah", "1", "", "", "")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, _ := tr.Call("c1")
	var lines []string
	for _, m := range got.Messages {
		lines = append(lines, fmt.Sprintf("%v %s %s", m.In, m.Peer, m.FirstLine))
	}
	want := []string{"true app.sarah INVITE sip:1@site.example SIP/2.0", "false app.sarah SIP/2.0 100 Trying"}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}

type oneConnListener struct {
	net.Listener
	conn net.Conn
}

func (l *oneConnListener) Accept() (net.Conn, error) { return l.conn, nil }
