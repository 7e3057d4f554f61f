package sipstack

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// The destinations that refused TCP are remembered for RefusedFor, and
// no more of them than maxRefused: an attacker registering from many
// addresses cannot grow the table.
func TestOversizeRefused(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	o := &Oversize{Limit: DefaultUDPMTU, Now: func() time.Time { return now }}
	o.remember("192.0.2.1:5060")
	if !o.isRefused("192.0.2.1:5060") {
		t.Fatal("a destination that refused is not remembered")
	}
	now = now.Add(RefusedFor + time.Second)
	if o.isRefused("192.0.2.1:5060") {
		t.Fatal("a refusal is remembered past RefusedFor")
	}
	for i := range 3 * maxRefused {
		o.remember(fmt.Sprintf("192.0.2.%d:%d", i%250, 1024+i))
		if len(o.refused) > maxRefused {
			t.Fatalf("%d destinations remembered, at most %d", len(o.refused), maxRefused)
		}
	}
}

func TestOversizeWantsTCP(t *testing.T) {
	req := func(transport string, body int) *sip.Request {
		r := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "mary", Host: "192.0.2.7", Port: 5060})
		r.SetTransport(transport)
		r.SetBody([]byte(strings.Repeat("a", body)))
		return r
	}
	refused := &Oversize{Limit: DefaultUDPMTU}
	refused.remember("192.0.2.7:5060")
	for _, tc := range []struct {
		name   string
		o      *Oversize
		req    *sip.Request
		direct bool
		want   bool
	}{
		{"large, direct", &Oversize{Limit: DefaultUDPMTU}, req("UDP", 1300), true, true},
		{"small", &Oversize{Limit: DefaultUDPMTU}, req("UDP", 100), true, false},
		{"through NAT", &Oversize{Limit: DefaultUDPMTU}, req("UDP", 1300), false, false},
		{"already TCP", &Oversize{Limit: DefaultUDPMTU}, req("TCP", 1300), true, false},
		{"limit 0", &Oversize{}, req("UDP", 1300), true, false},
		{"nil", nil, req("UDP", 1300), true, false},
		{"refused lately", refused, req("UDP", 1300), true, false},
	} {
		if got := tc.o.wantsTCP(tc.req, tc.direct); got != tc.want {
			t.Errorf("%s: wantsTCP %v, want %v", tc.name, got, tc.want)
		}
	}
}
