package b2bua

import (
	"context"
	"fmt"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/runtime/events"
)

// CheckSync asks a device to fetch its provisioning files again: an
// unsolicited NOTIFY with Event: check-sync;reboot=false to each of its
// registered contacts, which is what Yealink, Grandstream, Akuvox and
// most other phones act on. It returns how many contacts accepted it.
func (s *Server) CheckSync(ctx context.Context, device string) (int, error) {
	st := s.st()
	d := st.program.Device(device)
	if d == nil {
		return 0, fmt.Errorf("no device %q", device)
	}
	contacts := st.reg.Contacts(d.Account)
	if len(contacts) == 0 {
		return 0, fmt.Errorf("device %q is not registered", device)
	}
	ok := 0
	var lastErr error
	for _, ct := range contacts {
		req := sip.NewRequest(sip.NOTIFY, ct.URI)
		from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", Host: st.program.Site.Domain}, Params: sip.NewParams()}
		from.Params.Add("tag", sip.GenerateTagN(16))
		req.AppendHeader(from)
		req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: d.Account, Host: st.program.Site.Domain}, Params: sip.NewParams()})
		req.AppendHeader(sip.NewHeader("Event", "check-sync;reboot=false"))
		req.AppendHeader(sip.NewHeader("Subscription-State", "terminated"))
		if ct.Dest != "" {
			req.SetDestination(ct.Dest)
		}
		req.AppendHeader(s.contactHeader(req.Destination(), ct.Transport))
		if ct.Transport != "" {
			req.SetTransport(ct.Transport)
		}
		req.SetBody(nil)
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		res, err := s.client().Do(cctx, req, sipgo.ClientRequestBuild)
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
	s.publish(events.Event{Kind: events.CheckSync, Device: device, Account: d.Account, Status: map[bool]int{true: 200, false: 0}[ok > 0], Origin: d.Origin})
	if ok == 0 {
		return 0, lastErr
	}
	return ok, nil
}
