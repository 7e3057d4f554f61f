package b2bua_test

import (
	"context"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"switchboard/runtime/events"
	"switchboard/simulate/device"
)

// carrierInvite is an INVITE from the carrier for number, sent to the
// contact the server registered.
func carrierInvite(contact sip.Uri, number, serverAddr string) *sip.Request {
	req := sip.NewRequest(sip.INVITE, contact)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: number, Host: carrierRealm}})
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "+353861234567", Host: carrierRealm}, Params: sip.NewParams()}
	from.Params.Add("tag", "carrier-spare")
	req.AppendHeader(from)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"))
	req.SetDestination(serverAddr)
	return req
}

// TestCarrierCallsSpareNumber: the carrier's call to +35315550100, in the
// trunk's pool and nobody's, rings the trunk's unassigned user (Tom, who
// declines: 603), and never Mary, who holds the other number; without
// unassigned it is refused with 404.
func TestCarrierCallsSpareNumber(t *testing.T) {
	for _, tt := range []struct {
		name       string
		unassigned string
		status     int
		rings      string
	}{
		{"default 404", "", 404, ""},
		{"unassigned rings tom", "unassigned = user.tom\n", 603, "app.tom"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(trunkSite, `numbers  = ["+35315550100", "+35315550101"]`, `numbers  = ["+35315550100", "+35315550101"]`+"\n  "+tt.unassigned, 1)
			car := startRegistrar(t)
			h := startTrunkServer(t, car.addr, serverOptions{vars: siteTrunkVars, src: src})
			first, _ := car.exchange(t)
			h.next("trunk_registered", kindOf(events.TrunkRegistered))
			mary, tom := h.device("app.mary"), h.device("app.tom")
			mary.SetAnswer(device.Decline, 0)
			tom.SetAnswer(device.Decline, 0)

			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			res, err := car.client.Do(ctx, carrierInvite(first.Contact().Address, "+35315550100", h.addr))
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tt.status {
				t.Errorf("the carrier's call to the spare number ended with %d, want %d", res.StatusCode, tt.status)
			}
			if in := mary.Incoming(); len(in) != 0 {
				t.Errorf("mary was rung for a number she does not hold: %+v", in)
			}
			in := tom.Incoming()
			switch {
			case tt.rings == "" && len(in) != 0:
				t.Errorf("tom was rung with no unassigned destination: %+v", in)
			case tt.rings != "" && (len(in) != 1 || in[0].From != "+353861234567"):
				t.Errorf("tom's calls: %+v, want the carrier's, presenting the caller's number", in)
			}
		})
	}
}
