package notify

import (
	"context"
	"fmt"
	"time"

	"github.com/emiago/sipgo/sip"
)

// CheckSync asks device (account's) to fetch its provisioning files
// again: an unsolicited NOTIFY with Event: check-sync;reboot=false to each
// of its registered contacts, which is what Yealink, Grandstream, Akuvox
// and most other phones act on. It returns how many contacts accepted it,
// and when none did, the last refusal.
func CheckSync(ctx context.Context, stack Stack, domain, device, account string, contacts []Device) (int, error) {
	ok := 0
	var lastErr error
	for _, ct := range contacts {
		req := sip.NewRequest(sip.NOTIFY, ct.URI)
		from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", Host: domain}, Params: sip.NewParams()}
		from.Params.Add("tag", sip.GenerateTagN(16))
		req.AppendHeader(from)
		req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: account, Host: domain}, Params: sip.NewParams()})
		req.AppendHeader(sip.NewHeader("Event", "check-sync;reboot=false"))
		req.AppendHeader(sip.NewHeader("Subscription-State", "terminated"))
		if ct.Dest != "" {
			req.SetDestination(ct.Dest)
		}
		req.AppendHeader(stack.Contact(req.Destination(), ct.Transport))
		if ct.Transport != "" {
			req.SetTransport(ct.Transport)
		}
		req.SetBody(nil)
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		res, err := stack.Send(cctx, req)
		cancel()
		switch {
		case err != nil:
			lastErr = err
		case res.StatusCode >= 200 && res.StatusCode < 300:
			ok++
		default:
			lastErr = fmt.Errorf("device %q answered %d %s", device, res.StatusCode, res.Reason)
		}
	}
	if ok == 0 {
		return 0, lastErr
	}
	return ok, nil
}

// respond answers req with a response of its own.
func respond(tx sip.ServerTransaction, req *sip.Request, status int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, status, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}
