package b2bua_test

import (
	"strings"
	"testing"

	"switchboard/runtime/events"
)

// Why a call was refused never leaves the site (issue 13: a Warning header
// told a caller "door station … has no entry"). Over real SIP, each
// refusal is the status with its standard reason phrase and nothing that
// names the site's insides; the reason is in the event stream.
func TestRefusalSaysNoWhy(t *testing.T) {
	h := start(t)
	tests := []struct {
		name, account, ruri, sdp string
		status                   int
		phrase                   string
		cause                    string // in call_rejected's cause; "" for none
	}{
		{"a code the door has no entry for", "device.gate", "sip:9Z@e2e.example", "", 404, "Not Found", `door station "gate" has no entry "9Z"`},
		{"a number nothing answers", "app.mary", "sip:7777@e2e.example", "", 404, "Not Found", `nothing on this site answers "7777"`},
		{"an unusable offer", "app.mary", "sip:102@e2e.example", "v=0\r\nthis is not sdp\r\n", 488, "Not Acceptable Here", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newRawCaller(t, h, tt.account)
			rc.sdp = tt.sdp
			callID := "refusal-" + string(rune('a'+i))
			res := rc.call(tt.ruri, callID, 70)
			if res.StatusCode != tt.status || res.Reason != tt.phrase {
				t.Errorf("%d %q, want %d %q", res.StatusCode, res.Reason, tt.status, tt.phrase)
			}
			if w := res.GetHeader("Warning"); w != nil {
				t.Errorf("the refusal carries Warning: %s", w.Value())
			}
			for _, hdr := range res.Headers() {
				if v := strings.ToLower(hdr.Value()); strings.Contains(v, "door station") || strings.Contains(v, "entry") || strings.Contains(v, "sdp") {
					t.Errorf("the refusal's %s header says why: %s", hdr.Name(), hdr.Value())
				}
			}
			if tt.cause != "" {
				e := h.waitEvent("call_rejected "+callID, func(e events.Event) bool { return e.Kind == events.CallRejected && e.Call == callID })
				if !strings.Contains(e.Cause, tt.cause) {
					t.Errorf("call_rejected cause %q, want it to say %q", e.Cause, tt.cause)
				}
			}
		})
	}
}
