package sipstack

import (
	"bytes"
	"fmt"
	"net"
	goruntime "runtime"
	"strings"
	"testing"
	"time"
	"weak"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"
)

// recorder is a PacketConn that keeps what is written to it.
type recorder struct {
	net.PacketConn
	sent [][]byte
	to   []string // as strings: a test may look for what keeps an address
}

func (r *recorder) WriteTo(b []byte, to net.Addr) (int, error) {
	r.sent = append(r.sent, append([]byte(nil), b...))
	r.to = append(r.to, to.String())
	return len(b), nil
}

// TestAnsweredGenerations checks how long a remembered response lasts:
// through answeredGens-1 rotations (a full Timer J), not one more.
func TestAnsweredGenerations(t *testing.T) {
	var a answered
	defer a.close()
	// The test turns the generations itself: the timer put would start
	// is there already, and never fires.
	a.period = time.Hour
	a.timer = time.AfterFunc(time.Hour, func() {})
	conn := &recorder{}
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060}
	a.put("k", []byte("SIP/2.0 200 OK\r\n\r\n"), dst, nil)
	for i := range answeredGens - 1 {
		if !a.resend(conn, "k", nil) {
			t.Fatalf("forgotten after %d rotations", i)
		}
		a.rotate()
	}
	if !a.resend(conn, "k", nil) {
		t.Fatalf("forgotten after %d rotations", answeredGens-1)
	}
	if len(conn.sent) != answeredGens || string(conn.sent[0]) != "SIP/2.0 200 OK\r\n\r\n" {
		t.Errorf("sent %q", conn.sent)
	}
	a.rotate()
	if a.resend(conn, "k", nil) {
		t.Errorf("still remembered after %d rotations", answeredGens)
	}
	a.mu.Lock()
	stopped := a.timer == nil
	a.mu.Unlock()
	if !stopped {
		t.Error("the rotation runs on with nothing to forget")
	}
	if a.resend(conn, "other", nil) {
		t.Error("resent a response never remembered")
	}
}

// A remembered answer keeps a copy of its bytes and its destination as
// bytes, not the objects the read loop and the handler made: not the
// source address of the request (which the answer's destination often
// is), not the response buffer (reused for the next answer).
func TestRegisterAnswerKeepsNoAddressOrBuffer(t *testing.T) {
	var sent []byte
	r := NewRegister(func(req *sip.Request, tx sip.ServerTransaction) {
		if err := tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil)); err != nil {
			t.Fatal(err)
		}
	})
	defer r.Close()
	conn := &recorder{}
	src := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 10), Port: 5060}
	gone := weak.Make(src)
	if !r.Serve(conn, []byte(registerSeeds[0]), src) || len(conn.sent) != 1 {
		t.Fatalf("served, sent %q", conn.sent)
	}
	sent = conn.sent[0]
	// Whatever the pool hands out next is written over.
	buf := respBufs.Get().(*bytes.Buffer)
	buf.Reset()
	buf.WriteString(strings.Repeat("x", buf.Cap()))
	respBufs.Put(buf)
	src = nil
	goruntime.GC()
	if gone.Value() != nil {
		t.Error("the remembered answer keeps the request's source address")
	}
	if !r.Serve(conn, []byte(registerSeeds[0]), &net.UDPAddr{IP: net.IPv4(192, 0, 2, 10), Port: 5060}) || len(conn.sent) != 2 {
		t.Fatalf("retransmission: sent %q", conn.sent)
	}
	if diff := cmp.Diff(string(sent), string(conn.sent[1])); diff != "" {
		t.Errorf("the retransmission's answer (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("192.0.2.10:5060", conn.to[1]); diff != "" {
		t.Errorf("the retransmission's answer went to (-want +got):\n%s", diff)
	}
}

// Many answers over several chunks and generations: each is found with
// its own bytes and destination until its generation goes, one put again
// stays with its newer generation, and a key never put is not found.
func TestAnsweredManyAnswers(t *testing.T) {
	var a answered
	defer a.close()
	a.period = time.Hour
	a.timer = time.AfterFunc(time.Hour, func() {})
	const perGen = 200 // with 500-byte answers, several chunks a generation
	answer := func(i int) string {
		return fmt.Sprintf("SIP/2.0 200 OK\r\nX: %d\r\n%s\r\n\r\n", i, strings.Repeat("h", 480))
	}
	dst := func(i int) *net.UDPAddr {
		if i%2 == 1 {
			return &net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 1024 + i}
		}
		return &net.UDPAddr{IP: net.IPv4(198, 51, 100, byte(i)), Port: 1024 + i}
	}
	for g := range 3 {
		for i := g * perGen; i < (g+1)*perGen; i++ {
			a.put(fmt.Sprint("key", i), []byte(answer(i)), dst(i), nil)
		}
		a.rotate()
	}
	a.put("key0", []byte(answer(0)), dst(0), nil) // generation 3, the newest
	check := func(i int, want bool) {
		t.Helper()
		conn := &recorder{}
		if got := a.resend(conn, fmt.Sprint("key", i), nil); got != want {
			t.Fatalf("key%d found %v, want %v", i, got, want)
		}
		if !want {
			return
		}
		if diff := cmp.Diff(answer(i), string(conn.sent[0])); diff != "" {
			t.Errorf("key%d (-want +got):\n%s", i, diff)
		}
		if diff := cmp.Diff(dst(i).String(), conn.to[0]); diff != "" {
			t.Errorf("key%d went to (-want +got):\n%s", i, diff)
		}
	}
	for i := range 3 * perGen {
		check(i, true)
	}
	check(3*perGen, false)
	a.rotate()
	a.rotate() // generation 0's answers go, but for key0
	check(0, true)
	check(1, false)
	check(perGen-1, false)
	check(perGen, true)
}

// RegistersAnswered counts the final answers a Register remembered, not
// its challenges (serve's memory policy reads it as the rate of
// registrations).
func TestRegistersAnsweredCountsFinalAnswers(t *testing.T) {
	status := 401
	r := NewRegister(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, status, "", nil))
	})
	defer r.Close()
	conn := &recorder{}
	src := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 10), Port: 5060}
	before := RegistersAnswered()
	r.Serve(conn, []byte(registerSeeds[0]), src)
	if got := RegistersAnswered() - before; got != 0 {
		t.Errorf("after a challenge: %d answers counted, want 0", got)
	}
	status = 200
	again := []byte(strings.Replace(registerSeeds[0], "CSeq: 1826", "CSeq: 1827", 1))
	r.Serve(conn, again, src)
	r.Serve(conn, again, src) // a retransmission: answered as remembered
	if got := RegistersAnswered() - before; got != 1 || len(conn.sent) != 3 {
		t.Errorf("after a 200: %d answers counted (want 1), %d sent (want 3)", got, len(conn.sent))
	}
}

// TestRespondBytes checks a response a handler writes as bytes: sent
// where the request's answer goes (rport: its source), and remembered, so
// that a retransmission gets the same bytes without the handler.
func TestRespondBytes(t *testing.T) {
	calls := 0
	const answer = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"
	r := NewRegister(func(req *sip.Request, tx sip.ServerTransaction) {
		calls++
		w, ok := tx.(interface {
			RespondBytes([]byte) error
		})
		if !ok {
			t.Fatalf("the transaction %T takes no bytes", tx)
		}
		if err := w.RespondBytes([]byte(answer)); err != nil {
			t.Fatal(err)
		}
	})
	defer r.Close()
	conn := &recorder{}
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	data := []byte(registerSeeds[1])
	for range 2 {
		if !r.Serve(conn, data, src) {
			t.Fatal("not served")
		}
	}
	if calls != 1 {
		t.Errorf("handler ran %d times, want once", calls)
	}
	want := [][]byte{[]byte(answer), []byte(answer)}
	if d := cmp.Diff(want, conn.sent); d != "" {
		t.Errorf("sent (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{src.String(), src.String()}, conn.to); d != "" {
		t.Errorf("sent to (-want +got):\n%s", d)
	}
}

// A REGISTER whose header has a lone LF is read as Kamailio reads it,
// the LF ending its line, and answered: the lines after it are header
// fields of the request, echoed inside none of the answer's. One with a
// lone CR is dropped unanswered at the read loop's entry (CRLF, which
// every datagram ReadyConn reads passes), before Register reads it:
// sipgo's parser would keep the CR in the value, and the answer would
// carry it.
func TestRegisterLoneLineEnds(t *testing.T) {
	for _, tt := range []struct {
		name string
		data []byte
		drop bool
	}{
		{"in the Call-ID", register(replace(phoneLines, 4, "Call-ID: 1-2\nWWW-Authenticate: Digest realm=\"evil\"")...), false},
		{"in the Via", register(replace(phoneLines, 0, "Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK-1\nX: y;rport")...), false},
		{"with credentials", register(append(replace(phoneLines, 2, "From: <sip:app.u1@bench.example>;tag=1\nX: y"), `Authorization: Digest username="app.u1"`)...), false},
		{"every line", bytes.ReplaceAll(register(phoneLines...), []byte("\r\n"), []byte("\n")), false},
		{"a CR in the Call-ID", register(replace(phoneLines, 4, "Call-ID: 1-2\rWWW-Authenticate: Digest realm=\"evil\"")...), true},
		{"a CR with credentials", register(append(replace(phoneLines, 2, "From: <sip:app.u1@bench.example>;tag=1\rX: y"), `Authorization: Digest username="app.u1"`)...), true},
		{"in the body only", append(bytes.TrimSuffix(register(phoneLines...), []byte("Content-Length: 0\r\n\r\n")), "Content-Length: 5\r\n\r\na\nb\rc"...), false},
		{"none", register(phoneLines...), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			r := NewRegister(func(req *sip.Request, tx sip.ServerTransaction) {
				calls++
				_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil))
			})
			defer r.Close()
			conn := &recorder{}
			src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
			// As ReadyConn serves it, from a read buffer.
			msg, ok := CRLF(append(make([]byte, 0, maxMessage), tt.data...))
			served := !ok || r.Serve(conn, msg, src)
			type result struct {
				Served  bool
				Handled int
				Sent    int
			}
			want := result{true, 1, 1}
			if tt.drop {
				want = result{true, 0, 0}
			}
			if d := cmp.Diff(want, result{served, calls, len(conn.sent)}); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			for _, a := range conn.sent {
				if i := bareLineEnd(a); i >= 0 {
					t.Errorf("the answer has a lone CR or LF at %d: %q", i, a)
				}
				if bytes.Contains(a, []byte("evil")) || bytes.Contains(a, []byte("X: y")) {
					t.Errorf("the answer carries a line of the request's that it does not echo: %q", a)
				}
			}
		})
	}
}
