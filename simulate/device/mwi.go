package device

import (
	"context"
	"fmt"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Notification is a NOTIFY a device received.
type Notification struct {
	Event string // the Event header's value
	State string // Subscription-State
	Body  string
	At    time.Time
}

func (h *Hub) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	d := h.Device(req.Recipient.User)
	if d == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 404, "Not Found", nil))
		return
	}
	n := Notification{Body: string(req.Body()), At: time.Now()}
	if e := req.GetHeader("Event"); e != nil {
		n.Event = e.Value()
	}
	if s := req.GetHeader("Subscription-State"); s != nil {
		n.State = s.Value()
	}
	d.mu.Lock()
	d.notifications = append(d.notifications, n)
	d.mu.Unlock()
	h.mu.Lock()
	h.noted[d] = true
	h.mu.Unlock()
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	d.signal()
}

// Notifications returns the NOTIFYs the device has received.
func (d *Device) Notifications() []Notification {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Notification(nil), d.notifications...)
}

// WaitNotification waits for a NOTIFY of event whose body satisfies ok.
func (d *Device) WaitNotification(ctx context.Context, event string, ok func(body string) bool) (Notification, error) {
	for {
		for _, n := range d.Notifications() {
			if eventPackage(n.Event) == event && ok(n.Body) {
				return n, nil
			}
		}
		select {
		case <-d.notify:
		case <-ctx.Done():
			return Notification{}, fmt.Errorf("no %s NOTIFY as expected (%d received): %w", event, len(d.Notifications()), ctx.Err())
		}
	}
}

func eventPackage(v string) string {
	for i, c := range v {
		if c == ';' || c == ' ' {
			return v[:i]
		}
	}
	return v
}

// Subscribe subscribes the device to event (e.g. message-summary) at the
// server for expires; it returns the final status.
func (d *Device) Subscribe(ctx context.Context, event string, expires time.Duration) (int, error) {
	aor := sip.Uri{Scheme: "sip", User: d.account, Host: d.hub.domain}
	req := sip.NewRequest(sip.SUBSCRIBE, d.serverURI(d.account))
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(d.contact())
	req.AppendHeader(sip.NewHeader("Event", event))
	req.AppendHeader(sip.NewHeader("Accept", "application/simple-message-summary"))
	req.AppendHeader(sip.NewHeader("Expires", fmt.Sprint(int(expires.Seconds()))))
	return d.doAuthorized(ctx, req)
}

// ClearNotifications forgets the NOTIFYs every device of the hub received,
// so that a case sees only its own.
func (h *Hub) ClearNotifications() {
	h.mu.Lock()
	devs := make([]*Device, 0, len(h.noted))
	for d := range h.noted {
		devs = append(devs, d)
	}
	clear(h.noted)
	h.mu.Unlock()
	for _, d := range devs {
		d.mu.Lock()
		d.notifications = nil
		d.mu.Unlock()
	}
}
