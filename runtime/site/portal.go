package site

import (
	"context"
	"fmt"
	"time"

	"switchboard/runtime/portal"
)

// portalTrunks are the trunks' registrations, for the portal's operator
// view.
func (s *Site) portalTrunks() []portal.Trunk {
	var out []portal.Trunk
	for _, t := range s.server.Status().Trunks {
		out = append(out, portal.Trunk{Name: t.Name, Registered: t.Registered})
	}
	return out
}

// How long a ring test from the portal rings and then waits for the
// digit that confirms it: short enough for a page to wait on.
const (
	portalRing    = 20 * time.Second
	portalConfirm = 15 * time.Second
)

// portalRingTest runs a ring test for the portal, sharing the admin
// endpoint's bound on the tests running at once.
func (s *Site) portalRingTest(ctx context.Context, user string) (portal.RingResult, error) {
	select {
	case s.ringTests <- struct{}{}:
		defer func() { <-s.ringTests }()
	default:
		return portal.RingResult{}, fmt.Errorf("%d ring tests are running; try again when one is over", maxRingTests)
	}
	res, err := s.RingTest(ctx, user, portalRing, portalConfirm)
	if err != nil {
		return portal.RingResult{}, err
	}
	return portal.RingResult{Rang: res.Rang, Answered: res.Answered, Digits: res.Digits, Confirmed: res.Confirmed, Reason: res.Reason}, nil
}

// PortalHistoryChanged returns a channel closed at the next event the
// portal's door log and call history take in (nil without a portal): a
// test of a page waits on it instead of reloading on a timer.
func (s *Site) PortalHistoryChanged() <-chan struct{} {
	if s.portal == nil {
		return nil
	}
	return s.portal.HistoryChanged()
}
