package device

import (
	"context"
	"fmt"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Watch is a device's dialog-event subscription (RFC 4235) to someone's
// calls, as a phone's busy-lamp-field key holds one: it can be refreshed
// and ended in its dialog. The NOTIFYs arrive as the device's
// Notifications, with Event "dialog".
type Watch struct {
	d      *Device
	target string
	callID sip.CallIDHeader
	from   *sip.FromHeader
	toTag  string
	cseq   uint32
}

// Watch subscribes to the dialog package of target (an extension or a
// user) for expires. It returns the subscription once the server accepts
// it, and the final status either way.
func (d *Device) Watch(ctx context.Context, target string, expires time.Duration) (*Watch, int, error) {
	w := &Watch{d: d, target: target, callID: sip.CallIDHeader(sip.GenerateTagN(24))}
	w.from = &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: d.account, Host: d.hub.domain}, Params: sip.NewParams()}
	w.from.Params.Add("tag", sip.GenerateTagN(16))
	status, err := w.subscribe(ctx, expires)
	if err != nil || status != 200 {
		return nil, status, err
	}
	return w, status, nil
}

// Refresh refreshes the subscription for expires, in its dialog; 0 ends
// it (RFC 6665 §4.1.2.3).
func (w *Watch) Refresh(ctx context.Context, expires time.Duration) (int, error) {
	return w.subscribe(ctx, expires)
}

func (w *Watch) subscribe(ctx context.Context, expires time.Duration) (int, error) {
	d := w.d
	req := sip.NewRequest(sip.SUBSCRIBE, d.serverURI(w.target))
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: w.target, Host: d.hub.domain}, Params: sip.NewParams()}
	if w.toTag != "" {
		to.Params.Add("tag", w.toTag)
	}
	req.AppendHeader(to)
	req.AppendHeader(sip.HeaderClone(w.from))
	cid := w.callID
	req.AppendHeader(&cid)
	w.cseq++
	req.AppendHeader(&sip.CSeqHeader{SeqNo: w.cseq, MethodName: sip.SUBSCRIBE})
	req.AppendHeader(d.contact())
	req.AppendHeader(sip.NewHeader("Event", "dialog"))
	req.AppendHeader(sip.NewHeader("Accept", "application/dialog-info+xml"))
	req.AppendHeader(sip.NewHeader("Expires", fmt.Sprint(int(expires.Seconds()))))
	res, err := d.doAuthorizedResponse(ctx, req)
	if err != nil {
		return 0, err
	}
	if cs := req.CSeq(); cs != nil && cs.SeqNo > w.cseq {
		w.cseq = cs.SeqNo // a challenge was answered with the next number
	}
	if res.StatusCode == 200 && w.toTag == "" {
		if t := res.To(); t != nil {
			w.toTag, _ = t.Params.Get("tag")
		}
	}
	return res.StatusCode, nil
}
