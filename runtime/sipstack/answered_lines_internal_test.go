package sipstack

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"
)

// scannedAnswers is a Register whose scanned REGISTERs are answered 200
// with tail, as the registrar answers them (the Contact with its expiry,
// the Date), its generations turned by the test only.
func scannedAnswers(t *testing.T) *Register {
	t.Helper()
	r := NewRegister(func(req *sip.Request, tx sip.ServerTransaction) {
		t.Errorf("parsed: %s", req.StartLine())
	})
	r.answered.period = time.Hour
	r.answered.timer = time.AfterFunc(time.Hour, func() {})
	r.Scanned(func(s *ScannedRegister) bool {
		tail := "Content-Length: 0\r\nContact: " + s.Contacts[0].Value() + ";expires=3600\r\nDate: Sun, 06 Dec 2026 07:00:00 GMT\r\n\r\n"
		if err := s.RespondOK([]byte(tail)); err != nil {
			t.Error(err)
		}
		return true
	})
	return r
}

// sippRegister is SIPp's REGISTER with credentials of account u%d, from
// port 5061.
func sippRegister(i int) []byte {
	lines := make([]string, len(sippLines))
	for j, l := range sippLines {
		lines[j] = strings.ReplaceAll(strings.ReplaceAll(l, "app.u1", fmt.Sprintf("app.u%d", i)), "z9hG4bK-1-0", fmt.Sprintf("z9hG4bK-%d-0", i))
	}
	return register(lines...)
}

// keptBytes is what the remembered answers take in their chunks.
func keptBytes(a *answered) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, g := range a.gens {
		for _, c := range g {
			n += len(c)
		}
	}
	return n
}

// A scanned REGISTER's 200 is kept as the lines it shares with its
// request: a burst's remembered answers take less than half their bytes
// (issue 19: some 27 000 of them at the end of a burst of 5 000 a
// second, doubled by the collector's headroom), and each retransmission
// is answered with the very bytes of the first answer.
func TestScannedAnswerKeptAsRequestLines(t *testing.T) {
	r := scannedAnswers(t)
	defer r.Close()
	const n = 200
	conn := &recorder{}
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5061}
	for i := range n {
		if !r.Serve(conn, sippRegister(i), src) {
			t.Fatalf("REGISTER %d not served", i)
		}
	}
	if len(conn.sent) != n {
		t.Fatalf("%d answers to %d REGISTERs", len(conn.sent), n)
	}
	sent := 0
	for _, a := range conn.sent {
		sent += len(a)
	}
	kept := keptBytes(&r.answered)
	t.Logf("%d answers of %d bytes kept in %d bytes (%d each)", n, sent, kept, kept/n)
	if kept*2 > sent {
		t.Errorf("%d answers of %d bytes kept in %d bytes, more than half", n, sent, kept)
	}
	for i := range n {
		again := &recorder{}
		if !r.Serve(again, sippRegister(i), src) {
			t.Fatalf("retransmission %d not served", i)
		}
		if diff := cmp.Diff(string(conn.sent[i]), string(again.sent[0])); diff != "" {
			t.Fatalf("retransmission %d answered (-first +again):\n%s", i, diff)
		}
		if diff := cmp.Diff(conn.to[i], again.to[0]); diff != "" {
			t.Fatalf("retransmission %d answered at (-first +again):\n%s", i, diff)
		}
	}
}

// An answer kept as lines is for its request's very bytes: another
// datagram under the same transaction key (same branch, sent-by and
// method) is not given it — it would echo lines of a request it does not
// answer — but answered afresh, as after Timer J.
func TestAnswerLinesOnlyForTheSameRequest(t *testing.T) {
	var a answered
	defer a.close()
	a.period = time.Hour
	a.timer = time.AfterFunc(time.Hour, func() {})
	req := register(sippLines...)
	answer := []byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-0;rport=5061;received=127.0.0.1\r\n" +
		"From: <sip:app.u1@bench.example>;tag=1SIPpTag001\r\nTo: <sip:app.u1@bench.example>;tag=x\r\nCall-ID: 1-1@127.0.0.1\r\nCSeq: 2 REGISTER\r\nContent-Length: 0\r\n\r\n")
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5061}
	a.put("k", answer, dst, req)
	conn := &recorder{}
	other := bytes.Replace(req, []byte("Expires: 3600"), []byte("Expires: 3601"), 1)
	if a.resend(conn, "k", other) {
		t.Errorf("answered another datagram under the key with %q", conn.sent)
	}
	if !a.resend(conn, "k", req) {
		t.Fatal("the retransmission not answered")
	}
	if diff := cmp.Diff(string(answer), string(conn.sent[0])); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// FuzzAnswerLines: any answer kept as lines of any request is rebuilt
// from that request byte for byte, and keeping it takes at most a few
// bytes more a line than the answer.
func FuzzAnswerLines(f *testing.F) {
	f.Add([]byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-0;rport=5061\r\nCall-ID: 1-1@127.0.0.1\r\n\r\n"), register(sippLines...))
	f.Add([]byte("SIP/2.0 200 OK\r\n\r\n"), []byte(registerSeeds[0]))
	f.Add([]byte("\r\n\r\n\r\n"), []byte("\r\n"))
	f.Add([]byte("a"), []byte(""))
	f.Fuzz(func(t *testing.T, answer, req []byte) {
		if len(answer) > 1<<12 || len(req) > 1<<12 {
			return
		}
		var a answered
		defer a.close()
		a.period = time.Hour
		a.timer = time.AfterFunc(time.Hour, func() {})
		a.put("k", answer, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5061}, req)
		if kept, most := keptBytes(&a), 8+1+18+1+8+2+len(answer)+5*(bytes.Count(answer, []byte("\r\n"))+1); kept > most {
			t.Errorf("kept %d bytes for an answer of %d", kept, len(answer))
		}
		conn := &recorder{}
		if !a.resend(conn, "k", req) {
			t.Fatal("not answered")
		}
		if !bytes.Equal(answer, conn.sent[0]) {
			t.Errorf("rebuilt %q, want %q", conn.sent[0], answer)
		}
	})
}
