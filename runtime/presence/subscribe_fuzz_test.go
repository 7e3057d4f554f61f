package presence

import (
	"context"
	"encoding/xml"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir/irtest"
	"switchboard/runtime/events"
)

// recordTx is a server transaction that keeps the responses sent on it.
type recordTx struct {
	mu  sync.Mutex
	res []*sip.Response
}

func (r *recordTx) Terminate()                         {}
func (r *recordTx) OnTerminate(sip.FnTxTerminate) bool { return true }
func (r *recordTx) Done() <-chan struct{}              { return nil }
func (r *recordTx) Err() error                         { return nil }
func (r *recordTx) Acks() <-chan *sip.Request          { return nil }
func (r *recordTx) OnCancel(sip.FnTxCancel) bool       { return true }
func (r *recordTx) Respond(res *sip.Response) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res = append(r.res, res)
	return nil
}

// recordStack answers every NOTIFY 200 and keeps them.
type recordStack struct {
	mu   sync.Mutex
	sent []*sip.Request
}

func (s *recordStack) Send(_ context.Context, req *sip.Request) (*sip.Response, error) {
	s.mu.Lock()
	s.sent = append(s.sent, req)
	s.mu.Unlock()
	return sip.NewResponseFromRequest(req, 200, "OK", nil), nil
}

func (s *recordStack) Contact(string, string) sip.Header {
	return &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: 5060}}
}

// subscribeSeeds are dialog SUBSCRIBEs as phones send them: a Yealink BLF
// key's, a refresh, an unsubscribe, and malformed ones.
var subscribeSeeds = []string{
	"SUBSCRIBE sip:101@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK1\r\nFrom: <sip:app.tom@h.example>;tag=a\r\nTo: <sip:101@h.example>\r\nCall-ID: s1\r\nCSeq: 1 SUBSCRIBE\r\nContact: <sip:app.tom@10.0.0.5>\r\nEvent: dialog\r\nAccept: application/dialog-info+xml\r\nExpires: 1800\r\n\r\n",
	"SUBSCRIBE sip:mary@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK2\r\nFrom: <sip:app.tom@h.example>;tag=b\r\nTo: <sip:mary@h.example>;tag=x\r\nCall-ID: s2\r\nCSeq: 2 SUBSCRIBE\r\nContact: <sip:app.tom@10.0.0.5>\r\nEvent: dialog\r\nExpires: 0\r\n\r\n",
	"SUBSCRIBE sip:app.mary@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK3\r\nFrom: <sip:app.tom@h.example>;tag=c\r\nTo: <sip:app.mary@h.example>\r\nCall-ID: s3\r\nCSeq: 1 SUBSCRIBE\r\nContact: <sip:app.tom@10.0.0.5>\r\nRecord-Route: <sip:edge.example;lr>\r\nEvent: dialog\r\nAccept: text/plain, application/*;q=0.5\r\nExpires: 99999999999999999999\r\n\r\n",
	"SUBSCRIBE sip:101@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK4\r\nFrom: <sip:app.tom@h.example>;tag=d\r\nTo: <sip:101@h.example>\r\nCall-ID: s4\r\nCSeq: 1 SUBSCRIBE\r\nContact: <sip:app.tom@10.0.0.5>\r\nEvent: dialog\r\nAccept: text/plain\r\nExpires: -5\r\n\r\n",
	"SUBSCRIBE sip:101@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK5\r\nFrom: <sip:app.tom@h.example>;tag=e\r\nTo: <sip:101@h.example>\r\nCall-ID: s5\r\nCSeq: 1 SUBSCRIBE\r\nContact: <sip:app.tom@10.0.0.5>\r\nEvent: dialog\r\nExpires: 5\r\n\r\n",
}

// FuzzSubscribe feeds SUBSCRIBEs as sipgo parses them off the network
// through what presence reads of them — the person watched, Accept,
// Expires, the dialog identifiers and the route set — from an
// authenticated account. Each answer is one response with a status the
// package sends; an accepted one carries Expires within the limits, and
// every NOTIFY body is well-formed dialog-info XML; the limits hold.
func FuzzSubscribe(f *testing.F) {
	for _, s := range subscribeSeeds {
		f.Add([]byte(s))
	}
	p := irtest.HarbourView()
	lim := Limits{PerAccount: 2, Total: 3, MinExpires: time.Minute, MaxExpires: time.Hour}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := sip.NewParser().ParseSIP(data)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			return
		}
		stack := &recordStack{}
		var wg sync.WaitGroup
		srv := New(Config{Stack: stack, Limits: lim, Publish: func(events.Event) {},
			Go: func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }})
		person := Watched(p, req.Recipient.User)
		if person == "" {
			person = p.Users[0].Name
		}
		for range 4 { // past the per-account limit
			tx := &recordTx{}
			srv.Subscribe(req, tx, "app.tom", person, p)
			if len(tx.res) != 1 {
				t.Fatalf("%d responses to one SUBSCRIBE", len(tx.res))
			}
			res := tx.res[0]
			switch res.StatusCode {
			case 200:
				e := res.GetHeader("Expires")
				if e == nil {
					t.Fatal("200 without Expires")
				}
				n, err := strconv.Atoi(e.Value())
				if err != nil || n < 0 || time.Duration(n)*time.Second > lim.MaxExpires || (n > 0 && time.Duration(n)*time.Second < lim.MinExpires) {
					t.Fatalf("Expires %q outside the limits", e.Value())
				}
			case 423:
				if res.GetHeader("Min-Expires") == nil {
					t.Fatal("423 without Min-Expires")
				}
			case 400, 403, 406, 481, 503:
			default:
				t.Fatalf("status %d", res.StatusCode)
			}
			if n := srv.Count(); n > lim.PerAccount {
				t.Fatalf("%d subscriptions held for one account", n)
			}
		}
		srv.Observe(p, events.Event{Kind: events.CallStarted, Call: "c", From: "app.mary"})
		wg.Wait()
		srv.Close()
		for _, n := range stack.sent {
			var doc struct {
				XMLName xml.Name `xml:"urn:ietf:params:xml:ns:dialog-info dialog-info"`
			}
			if err := xml.Unmarshal(n.Body(), &doc); err != nil {
				t.Fatalf("NOTIFY body %q: %v", n.Body(), err)
			}
		}
	})
}
