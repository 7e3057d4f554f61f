package b2bua

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/runtime/events"
)

// RingTestResult is what a ring test found.
type RingTestResult struct {
	// Call names the test in the events it published (their Call).
	Call string `json:"call"`
	User string `json:"user"`
	// Rang are the accounts offered the call, Answered the one that
	// answered, Digits what it keyed.
	Rang      []string `json:"rang"`
	Answered  string   `json:"answered,omitempty"`
	Digits    string   `json:"digits,omitempty"`
	Confirmed bool     `json:"confirmed"`
	// Reason says why the test was not confirmed.
	Reason string `json:"reason,omitempty"`
}

// ringTestFrom is the user part the server calls from in a ring test,
// and the From of its events.
const ringTestFrom = "ring-test"

// RingTest has the server call a person the way a call to their extension
// would — every registered contact of their endpoints at once — for the
// commissioning of cases no visitor can trigger. Whoever answers first
// (the others are cancelled) hears prompt, repeated from the moment the
// answer's media is accepted, until they key a digit, which confirms the
// test — a digit keyed while the prompt speaks too, which stops it; ring
// bounds the ringing, confirm the wait for the digit. Its events (call_started with Cause "ring test",
// leg_ringing, leg_answered, dtmf, call_ended) name the test's Call.
func (s *Server) RingTest(ctx context.Context, user string, prompt []int16, ring, confirm time.Duration) (RingTestResult, error) {
	st := s.st()
	u := st.program.User(user)
	if u == nil {
		return RingTestResult{}, fmt.Errorf("no user %q", user)
	}
	if s.cfg.LocalMedia == nil {
		return RingTestResult{}, errors.New("the server has no media of its own to play the ring test's prompt")
	}
	c := s.client()
	if c == nil {
		return RingTestResult{}, errNoClient
	}
	res := RingTestResult{Call: "ring-test-" + sip.GenerateTagN(16), User: user, Rang: []string{}}
	type target struct {
		account string
		ct      Contact
	}
	var targets []target
	var ips []netip.Addr
	for _, a := range u.Endpoints {
		for _, ct := range st.reg.Contacts(a) {
			targets = append(targets, target{a, ct})
			ips = append(ips, hostIP(ct.dest()))
		}
	}
	if len(targets) == 0 {
		res.Reason = fmt.Sprintf("none of %s's endpoints is registered", user)
		return res, nil
	}
	ep := s.cfg.LocalMedia()
	defer ep.Close()
	offer, err := ep.Offer(ips...)
	if err != nil {
		return res, fmt.Errorf("ring test media: %w", err)
	}
	ref := "user." + user
	s.publish(events.Event{Kind: events.CallStarted, Call: res.Call, From: ringTestFrom, To: u.Extension, Target: ref, Cause: "ring test", Origin: u.Origin})
	end := func(cause string) {
		s.publish(events.Event{Kind: events.CallEnded, Call: res.Call, From: ringTestFrom, Target: ref, Cause: cause, Origin: u.Origin})
	}

	type answer struct {
		i    int
		sess *sipgo.DialogClientSession
	}
	answers := make(chan answer, len(targets))
	cancels := make([]context.CancelFunc, len(targets))
	var mu sync.Mutex
	var wg sync.WaitGroup
	domain := st.program.Site.Domain
	for i, t := range targets {
		bctx, cancel := context.WithTimeout(ctx, ring)
		cancels[i] = cancel
		req := sip.NewRequest(sip.INVITE, t.ct.URI)
		from := &sip.FromHeader{DisplayName: "Ring test", Address: sip.Uri{Scheme: "sip", User: ringTestFrom, Host: domain}, Params: sip.NewParams()}
		from.Params.Add("tag", sip.GenerateTagN(16))
		req.AppendHeader(from)
		req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: t.account, Host: domain}, Params: sip.NewParams()})
		for _, p := range t.ct.Path {
			req.AppendHeader(sip.NewHeader("Route", p))
		}
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(offer)
		if t.ct.Dest != "" {
			req.SetDestination(t.ct.Dest)
		}
		if t.ct.Transport != "" {
			req.SetTransport(t.ct.Transport)
		}
		if s.cfg.Trace != nil {
			id := sip.CallIDHeader(sip.GenerateTagN(32))
			req.AppendHeader(&id)
			s.cfg.Trace.Leg(res.Call, string(id), t.account)
		}
		dua := &sipgo.DialogUA{Client: c, ContactHDR: *s.contactHeader(t.ct.dest(), t.ct.Transport)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sess, err := dua.WriteInvite(bctx, req)
			if err != nil {
				return
			}
			rang := false
			err = sess.WaitAnswer(bctx, sipgo.AnswerOptions{OnResponse: func(r *sip.Response) error {
				if !rang && (r.StatusCode == 180 || r.StatusCode == 183) {
					rang = true
					mu.Lock()
					res.Rang = append(res.Rang, t.account)
					mu.Unlock()
					s.publish(events.Event{Kind: events.LegRinging, Call: res.Call, Leg: t.account, From: ringTestFrom, Target: ref, Status: r.StatusCode, Origin: u.Origin})
				}
				return nil
			}})
			if err != nil {
				sess.Close()
				return
			}
			answers <- answer{i, sess}
		}()
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	var won answer
	select {
	case won = <-answers:
	case <-allDone:
		select {
		case won = <-answers:
		default:
		}
	}
	for i, cancel := range cancels {
		if won.sess == nil || i != won.i {
			cancel() // the others are cancelled (CANCEL once they rang)
		}
	}
	// A second answer racing the first is acknowledged and hung up.
	go func() {
		<-allDone
		close(answers)
		for a := range answers {
			bctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = a.sess.Ack(bctx)
			_ = a.sess.Bye(bctx)
			a.sess.Close()
			cancel()
		}
	}()
	if won.sess == nil {
		res.Reason = "nobody answered"
		end("no answer")
		return res, nil
	}
	defer cancels[won.i]()
	sess, t := won.sess, targets[won.i]
	defer sess.Close()
	mu.Lock()
	if !contains(res.Rang, t.account) {
		res.Rang = append(res.Rang, t.account)
	}
	mu.Unlock()
	res.Answered = t.account
	// The callee may hang up first: its BYE belongs to this dialog, not to
	// a call of the call core (onBye asks ringTestBye first). It may come
	// as soon as our ACK reaches the callee (RFC 3261 §15), so the dialog
	// is known before the ACK leaves; known only after, a BYE in that
	// moment was answered 481.
	hungUp := make(chan struct{})
	dialogID := callIDOf(sess.InviteRequest)
	s.ringTests.Store(dialogID, hungUp)
	defer s.ringTests.Delete(dialogID)
	actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sess.Ack(actx); err != nil {
		res.Reason = "the answer could not be acknowledged: " + err.Error()
		end("ring test failed")
		return res, nil
	}
	s.publish(events.Event{Kind: events.LegAnswered, Call: res.Call, Leg: t.account, From: ringTestFrom, Target: ref, Origin: u.Origin})
	hangup := func(cause string) {
		bctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sess.Bye(bctx)
		end(cause)
	}
	if err := ep.Accept(sess.InviteResponse.Body()); err != nil {
		res.Reason = "the answer's media: " + err.Error()
		hangup("ring test failed")
		return res, nil
	}
	pctx, stopPrompt := context.WithCancel(ctx)
	defer stopPrompt()
	go func() {
		for len(prompt) > 0 && pctx.Err() == nil {
			if ep.Play(pctx, prompt) != nil {
				return
			}
		}
	}()
	timeout := make(chan struct{})
	timer := s.clk.AfterFunc(confirm, func() { close(timeout) })
	defer timer.Stop()
	select {
	case d := <-ep.Digits():
		res.Digits, res.Confirmed = string(d), true
		s.publish(events.Event{Kind: events.DTMF, Call: res.Call, Account: t.account, Digits: res.Digits, Target: ref, Origin: u.Origin})
		stopPrompt()
		hangup("ring test confirmed")
	case <-hungUp:
		res.Reason = fmt.Sprintf("%s hung up without keying a digit", t.account)
		end("callee hung up")
	case <-timeout:
		res.Reason = fmt.Sprintf("%s answered but keyed no digit within %s", t.account, confirm)
		hangup("ring test not confirmed")
	case <-ctx.Done():
		res.Reason = "the ring test was stopped"
		hangup("ring test stopped")
	}
	return res, nil
}

// ringTestBye answers a BYE of an answered ring test's dialog and tells
// the ring test; false when req belongs to no ring test.
func (s *Server) ringTestBye(req *sip.Request, tx sip.ServerTransaction) bool {
	v, ok := s.ringTests.LoadAndDelete(callIDOf(req))
	if !ok {
		return false
	}
	respond(tx, req, 200, "OK")
	close(v.(chan struct{}))
	return true
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
