package notify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// CheckSyncTimeout bounds a check-sync: a phone answers a NOTIFY within
// milliseconds, and over UDP three retransmissions (0.5, 1 and 2 s) fit in
// it. A stale registration, whose address nobody answers any more, must
// not hold the operator (POST /admin/check-sync) for a transaction's 32 s.
const CheckSyncTimeout = 4 * time.Second

// CheckSync asks device (account's) to fetch its provisioning files
// again: an unsolicited NOTIFY with Event: check-sync;reboot=false to each
// of its registered contacts, which is what Yealink, Grandstream, Akuvox
// and most other phones act on. The contacts are asked at once, and
// together within CheckSyncTimeout (or ctx's deadline, when sooner). It
// returns how many accepted it, and an error naming each contact that
// refused it or did not answer in time.
func CheckSync(ctx context.Context, stack Stack, domain, device, account string, contacts []Device) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, CheckSyncTimeout)
	defer cancel()
	errs := make([]error, len(contacts))
	var wg sync.WaitGroup
	for i, ct := range contacts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = checkSync(ctx, stack, domain, device, account, ct)
		}()
	}
	wg.Wait()
	ok := 0
	var failed []error
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			failed = append(failed, err)
		}
	}
	return ok, errors.Join(failed...)
}

// checkSync sends one contact the NOTIFY; nil when it accepted.
func checkSync(ctx context.Context, stack Stack, domain, device, account string, ct Device) error {
	req := sip.NewRequest(sip.NOTIFY, ct.URI)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", Host: domain}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: account, Host: domain}, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Event", "check-sync;reboot=false"))
	req.AppendHeader(sip.NewHeader("Subscription-State", "terminated"))
	for _, p := range ct.Path {
		req.AppendHeader(sip.NewHeader("Route", p))
	}
	if ct.Dest != "" {
		req.SetDestination(ct.Dest)
	}
	req.AppendHeader(stack.Contact(req.Destination(), ct.Transport))
	if ct.Transport != "" {
		req.SetTransport(ct.Transport)
	}
	req.SetBody(nil)
	res, err := stack.Send(ctx, req)
	switch {
	case err == nil && res.StatusCode >= 200 && res.StatusCode < 300:
		return nil
	case err == nil:
		return fmt.Errorf("device %q at %s answered %d %s", device, ct.URI.String(), res.StatusCode, res.Reason)
	case ctx.Err() != nil:
		return fmt.Errorf("device %q at %s did not answer in time", device, ct.URI.String())
	default:
		return fmt.Errorf("device %q at %s: %w", device, ct.URI.String(), err)
	}
}

// respond answers req with a response of its own.
func respond(tx sip.ServerTransaction, req *sip.Request, status int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, status, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}
