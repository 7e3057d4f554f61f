package sipstack

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/udp"
)

func TestNewRequest(t *testing.T) {
	tests := []struct {
		name string
		data string
		want bool
	}{
		{"a new INVITE", string(invite(doorLines...)), true},
		{"a re-INVITE", string(invite(replace(doorLines, 3, "To: <sip:R1@bench.example>;tag=abc")...)), false},
		{"a compact To with a tag, odd case", string(invite(replace(doorLines, 3, "t: <sip:R1@bench.example>;TAG=abc")...)), false},
		{"a new REGISTER", "REGISTER sip:bench.example SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-r\r\nTo: <sip:a@bench.example>\r\nCall-ID: r\r\nCSeq: 1 REGISTER\r\n\r\n", true},
		{"a new SUBSCRIBE", "SUBSCRIBE sip:a@bench.example SIP/2.0\r\nTo: <sip:a@bench.example>\r\n\r\n", true},
		{"a request without its header's end", "INVITE sip:a@b SIP/2.0\r\nTo: <sip:a@b>;tag=1\r\n", true},
		{"no To at all", "INVITE sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n", true},
		{"a response", "SIP/2.0 200 OK\r\nTo: <sip:a@b>\r\nCSeq: 1 INVITE\r\n\r\n", false},
		{"an ACK", "ACK sip:a@b SIP/2.0\r\nTo: <sip:a@b>;tag=1\r\n\r\n", false},
		{"a BYE", "BYE sip:a@b SIP/2.0\r\nTo: <sip:a@b>;tag=1\r\n\r\n", false},
		{"a CANCEL (no To tag, but it ends a call)", "CANCEL sip:a@b SIP/2.0\r\nTo: <sip:a@b>\r\n\r\n", false},
		{"an OPTIONS", "OPTIONS sip:a@b SIP/2.0\r\nTo: <sip:a@b>\r\n\r\n", false},
		{"a keep-alive", "\r\n\r\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := newRequest([]byte(tc.data)); got != tc.want {
				t.Errorf("newRequest = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRing(t *testing.T) {
	r := newRing(3)
	big := bytes.Repeat([]byte("x"), slotKeep+1)
	var got []string
	b := make([]byte, 2*slotKeep)
	for i, d := range [][]byte{[]byte("a"), big, []byte("c"), []byte("d")} {
		if r.full() {
			r.drop()
		}
		r.push(d, nil, time.Unix(int64(i), 0))
	}
	for r.n > 0 {
		n, _, at := r.pop(b)
		got = append(got, fmt.Sprintf("%d:%d", at.Unix(), n))
	}
	if diff := cmp.Diff([]string{"1:4097", "2:1", "3:1"}, got); diff != "" {
		t.Errorf("popped (-want +got):\n%s", diff)
	}
	for i, s := range r.d {
		if cap(s.buf) > slotKeep {
			t.Errorf("slot %d keeps a buffer of %d bytes", i, cap(s.buf))
		}
	}
}

// testServer is a sipgo server on a loopback socket read through
// ReadyConn as runtime/b2bua reads it: new INVITEs screened by an
// Admission (refused from a scan, or in the handler), BYEs answered 200,
// admitted INVITEs 486 (the call's set-up ends there).
type testServer struct {
	addr      net.Addr
	admission *Admission
	rc        *ReadyConn
	// serve starts reading the socket; what was sent to it before waits
	// there.
	serve func()
}

func startTestServer(t *testing.T, maxDelay time.Duration) *testServer {
	t.Helper()
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	// No scheduler watch: the measure under test is the read loop's.
	a := newAdmission(0, maxDelay, 1, time.Now)
	// Calls ringing, so that the delay may refuse (delayFloor).
	for i := range delayFloor {
		a.Admit(fmt.Sprintf("ringing-%d", i))
	}
	st := NewStateless(func(*sip.Request) *sip.Response { return nil })
	st.Refuse(a)
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		id := req.CallID().Value()
		if !a.Admit(id) {
			_ = tx.Respond(a.Refusal(req))
			return
		}
		_ = tx.Respond(sip.NewResponseFromRequest(req, 486, "Busy Here", nil))
		a.Done(id)
	})
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	uc := udp.New(pc.(*net.UDPConn))
	if !uc.Stamp() {
		t.Skip("no receive stamps here")
	}
	_ = uc.SetReadBuffer(4 << 20)
	var closing atomic.Bool
	rc := NewReadyConn(uc, &closing, st.Serve)
	rc.MeasureWait(uc.Received, a.Waited)
	done := make(chan struct{})
	serve := func() {
		go func() { defer close(done); _ = srv.ServeUDP(rc) }()
		t.Cleanup(func() { closing.Store(true); uc.Close(); <-done })
	}
	return &testServer{addr: uc.LocalAddr(), admission: a, rc: rc, serve: serve}
}

// client is a loopback UDP socket that speaks to a testServer.
type client struct {
	t    *testing.T
	conn *net.UDPConn
	srv  net.Addr
}

func newClient(t *testing.T, srv net.Addr) *client {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadBuffer(4 << 20)
	return &client{t: t, conn: c, srv: srv}
}

func (c *client) request(method, callID, toTag string) []byte {
	to := "<sip:R1@bench.example>"
	if toTag != "" {
		to += ";tag=" + toTag
	}
	return []byte(fmt.Sprintf("%s sip:R1@127.0.0.1 SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s;branch=z9hG4bK-%s-%s;rport\r\nMax-Forwards: 70\r\n"+
		"From: <sip:door@bench.example>;tag=d\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: 1 %s\r\n"+
		"Contact: <sip:door@%s>\r\nContent-Length: 0\r\n\r\n",
		method, c.conn.LocalAddr(), method, callID, to, callID, method, c.conn.LocalAddr()))
}

func (c *client) send(b []byte) {
	if _, err := c.conn.WriteTo(b, c.srv); err != nil {
		c.t.Fatal(err)
	}
}

// answer reads the next final response; nil after timeout.
func (c *client) answer(timeout time.Duration) *sip.Response {
	buf := make([]byte, 8192)
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
		n, _, err := c.conn.ReadFrom(buf)
		if err != nil {
			return nil
		}
		msg, err := sip.ParseMessage(buf[:n])
		if err != nil {
			c.t.Fatalf("an answer that does not parse: %v\n%s", err, buf[:n])
		}
		res, ok := msg.(*sip.Response)
		if !ok {
			c.t.Fatalf("a request from the server:\n%s", msg)
		}
		if res.StatusCode >= 200 {
			return res
		}
	}
}

// flood sends invites new INVITEs with a BYE of an established call after
// every every-th, all before the server reads its socket, then lets the
// server read on one processor; it returns the methods of the final
// answers as they came, and the answers counted by status and method.
func flood(t *testing.T, srv *testServer, invites, every int) (order []string, answers map[string]int) {
	c := newClient(t, srv.addr)
	byes := 0
	for i := range invites {
		c.send(c.request("INVITE", fmt.Sprintf("flood-%d", i), ""))
		if every > 0 && i%every == every-1 {
			c.send(c.request("BYE", fmt.Sprintf("call-%d", byes), "callee"))
			byes++
		}
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	srv.serve()
	answers = map[string]int{}
	for len(order) < invites+byes {
		res := c.answer(5 * time.Second)
		if res == nil {
			break
		}
		answers[fmt.Sprintf("%d %s", res.StatusCode, res.CSeq().MethodName)]++
		order = append(order, string(res.CSeq().MethodName))
		if res.StatusCode == 503 {
			if ra := res.GetHeader("Retry-After"); ra == nil || ra.Value() == "" {
				t.Errorf("a 503 without Retry-After:\n%s", res)
			}
		}
	}
	t.Logf("answers %v", answers)
	if got := answers["200 BYE"]; got != byes {
		t.Errorf("%d BYEs answered 200 of %d: %v", got, byes, answers)
	}
	if answers["503 INVITE"] == 0 {
		t.Errorf("no new INVITE refused: %v", answers)
	}
	if got := answers["503 INVITE"] + answers["486 INVITE"]; got != invites {
		t.Errorf("%d new INVITEs answered 503 or 486, want all %d: %v", got, invites, answers)
	}
	return order, answers
}

// A flood of new INVITEs with the BYEs of established calls among them,
// on one processor (issue 19): the BYEs are answered before the new
// calls, which are refused with 503 and Retry-After.
//
// The burst is sent before the server reads its socket, so all of it
// waits there; the server then runs on one processor. Read in order,
// every BYE would wait behind the INVITEs before it, and its 200 would
// go out after their refusals (sent from the read loop itself, while
// sipgo's goroutine for the BYE waits its turn): without the priority
// path all 20 came after all 200 refusals.
func TestPriorityInDialogBeforeNewCalls(t *testing.T) {
	const invites, every = 200, 10 // fewer than the new queue holds
	order, _ := flood(t, startTestServer(t, time.Millisecond), invites, every)
	// Where the BYEs' answers came: all of them first, but for a
	// goroutine the machine's own load may delay (the runtime preempts a
	// goroutine whose thread was off its core for 10 ms, and puts it
	// last); the median must be among the first.
	var at []int
	for i, m := range order {
		if m == "BYE" {
			at = append(at, i)
		}
	}
	if len(at) == 0 {
		t.Fatal("no BYE answered")
	}
	if median := at[len(at)/2]; median >= invites/every {
		t.Errorf("the BYEs answered at %v of %d answers; want them first", at, len(order))
	}
}

// More new INVITEs at once than the queue of new requests holds: the
// oldest are taken up out of their turn as others come, and every one is
// answered (a first version dropped them, to come back as
// retransmissions until their callers gave up).
func TestPriorityNewQueueOverflows(t *testing.T) {
	srv := startTestServer(t, time.Millisecond)
	const invites = 3 * freshDepth
	flood(t, srv, invites, 0)
	if d := srv.rc.Overflowed(); d == 0 {
		t.Errorf("no new request overflowed a queue of %d, after a burst of %d", freshDepth, invites)
	}
}

// A lightly loaded server refuses nothing while a goroutine of its own
// burns the processor it has: the wait a new call finds is its own
// queue's, not every goroutine's. One call at a time, each answered
// before the next is made, with calls ringing (above delayFloor) and the
// default limit.
func TestPriorityNoRefusalBesideBurner(t *testing.T) {
	srv := startTestServer(t, DefaultQueueDelay)
	srv.serve()
	c := newClient(t, srv.addr)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	ctx, cancel := context.WithCancel(context.Background())
	burning := make(chan struct{})
	go func() {
		defer close(burning)
		for ctx.Err() == nil {
			for range 1000 {
			}
		}
	}()
	defer func() { cancel(); <-burning }()
	answers := map[int]int{}
	const calls = 40
	for i := range calls {
		c.send(c.request("INVITE", fmt.Sprintf("light-%d", i), ""))
		res := c.answer(5 * time.Second)
		if res == nil {
			t.Fatalf("call %d not answered", i)
		}
		answers[res.StatusCode]++
	}
	if diff := cmp.Diff(map[int]int{486: calls}, answers); diff != "" {
		t.Errorf("answers to %d calls one at a time (-want +got):\n%s", calls, diff)
	}
}

// A traced socket keeps the priority path (the admin's trace is on
// whenever serve has an admin token), and records what it reads early.
func TestTraceKeepsPriorityPath(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, ok := TracePacketConn(pc, NewTrace()).(nowReader); ok {
		t.Error("a socket that cannot be read without waiting is traced as one that can")
	}
	tr := NewTrace()
	traced := TracePacketConn(udp.New(pc.(*net.UDPConn)), tr)
	now, ok := traced.(nowReader)
	if !ok {
		t.Fatal("the traced socket lost ReadFromNow: no priority path under a trace")
	}
	c := newClient(t, pc.LocalAddr())
	tr.Begin("traced-1", "door")
	c.send(c.request("BYE", "traced-1", "callee"))
	buf := make([]byte, 4096)
	// Loopback delivers before the send returns.
	if _, _, ok, err := now.ReadFromNow(buf); !ok || err != nil {
		t.Fatalf("ReadFromNow: ok %v, %v", ok, err)
	}
	got, _ := tr.Call("traced-1")
	if len(got.Messages) != 1 || !strings.HasPrefix(got.Messages[0].FirstLine, "BYE ") {
		t.Errorf("the trace has %+v, want the BYE read", got.Messages)
	}
}
