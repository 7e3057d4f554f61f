package b2bua

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// errNotSDP is a message body that is neither SDP nor holds any.
var errNotSDP = errors.New("the body is not application/sdp and holds no SDP part")

// sdpOf is the SDP a message carries: its body when that is
// application/sdp (or has no Content-Type, as some phones send), the
// application/sdp part of a multipart body (a carrier's SIP-I sends the
// SDP alongside ISUP, RFC 3204), nil when it has no body, errNotSDP when
// the body is something else.
func sdpOf(m interface {
	Body() []byte
	GetHeader(string) sip.Header
}) ([]byte, error) {
	body := m.Body()
	if len(body) == 0 {
		return nil, nil
	}
	h := m.GetHeader("Content-Type")
	if h == nil {
		return body, nil
	}
	mt, params, err := mime.ParseMediaType(h.Value())
	if err != nil {
		return nil, errNotSDP
	}
	switch {
	case mt == "application/sdp":
		return body, nil
	case strings.HasPrefix(mt, "multipart/") && params["boundary"] != "":
		r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := r.NextPart()
			if err != nil {
				return nil, errNotSDP
			}
			if pt, _, err := mime.ParseMediaType(p.Header.Get("Content-Type")); err == nil && pt == "application/sdp" {
				sdp, err := io.ReadAll(p)
				if err != nil || len(sdp) == 0 {
					return nil, errNotSDP
				}
				return sdp, nil
			}
		}
	}
	return nil, errNotSDP
}

// refuseBody answers a request whose body we cannot use (RFC 3261
// §8.2.3): 415, saying what we accept.
func refuseBody(tx sip.ServerTransaction, req *sip.Request) {
	respond(tx, req, 415, "Unsupported Media Type", sip.NewHeader("Accept", "application/sdp"))
}
