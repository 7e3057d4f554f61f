package b2bua

import (
	"errors"
	"testing"

	"github.com/emiago/sipgo/sip"
)

const sdpText = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\n"

// The SDP of a body: plain, untyped, inside a SIP-I multipart beside
// ISUP, absent; anything else is not SDP.
func TestSDPOf(t *testing.T) {
	sipI := "--unique-boundary-1\r\nContent-Type: application/sdp\r\n\r\n" + sdpText +
		"\r\n--unique-boundary-1\r\nContent-Type: application/ISUP;version=itu-t92+\r\nContent-Disposition: signal;handling=optional\r\n\r\n\x01\x00\x49\x00\x00\x03\x02\x00\x07\x04\x10\x00\x33\x63\x21\x43\x00\x00\x03\r\n--unique-boundary-1--\r\n"
	isupOnly := "--b\r\nContent-Type: application/ISUP;version=itu-t92+\r\n\r\n\x01\x00\r\n--b--\r\n"
	tests := []struct {
		name, ctype, body string
		want              string
		err               error
	}{
		{"application/sdp", "application/sdp", sdpText, sdpText, nil},
		{"with parameters, any case", "Application/SDP; charset=utf-8", sdpText, sdpText, nil},
		{"no Content-Type", "", sdpText, sdpText, nil},
		{"no body", "application/sdp", "", "", nil},
		{"SIP-I multipart", `multipart/mixed;boundary=unique-boundary-1`, sipI, sdpText, nil},
		{"multipart without SDP", `multipart/mixed; boundary="b"`, isupOnly, "", errNotSDP},
		{"another type", "text/plain", "hello", "", errNotSDP},
		{"malformed Content-Type", "multipart/mixed; boundary", sipI, "", errNotSDP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "1A", Host: "pbx.example"})
			if tt.ctype != "" {
				req.AppendHeader(sip.NewHeader("Content-Type", tt.ctype))
			}
			req.SetBody([]byte(tt.body))
			got, err := sdpOf(req)
			if string(got) != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("sdpOf = %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

// Whatever a peer sends as a body and its type, sdpOf returns SDP bytes
// that are in the body, or errNotSDP; it never panics.
func FuzzSDPOf(f *testing.F) {
	f.Add("application/sdp", sdpText)
	f.Add("multipart/mixed;boundary=b", "--b\r\nContent-Type: application/sdp\r\n\r\n"+sdpText+"\r\n--b--\r\n")
	f.Add("multipart/mixed; boundary=\"x\"", "--x\r\nContent-Type: application/isup\r\n\r\n\x01\r\n--x--")
	f.Add("text/plain", "hi")
	f.Fuzz(func(t *testing.T, ctype, body string) {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "1A", Host: "pbx.example"})
		if ctype != "" {
			req.AppendHeader(sip.NewHeader("Content-Type", ctype))
		}
		req.SetBody([]byte(body))
		got, err := sdpOf(req)
		if err != nil && !errors.Is(err, errNotSDP) {
			t.Fatalf("error %v", err)
		}
		if err == nil && len(body) > 0 && len(got) == 0 {
			t.Fatalf("no SDP and no error for %q", body)
		}
	})
}
