package sites

import (
	"bytes"
	"strings"
)

// head is what the demultiplexer reads of a SIP message: enough to route
// it, nothing more.
type head struct {
	response bool
	method   string // a request's
	uri      string // a request's Request-URI
	callID   string
	to, from string // the headers' values, as they came
}

var responsePrefix = []byte("SIP/2.0 ")

// scan reads the start line and the Call-ID, To and From headers (long or
// compact names, any case) of msg. ok is false when msg is not a SIP
// message: no start line, or no Call-ID.
func scan(msg []byte) (h head, ok bool) {
	line, rest, found := bytes.Cut(msg, []byte("\n"))
	if !found {
		return head{}, false
	}
	line = bytes.TrimRight(line, "\r")
	if bytes.HasPrefix(line, responsePrefix) {
		h.response = true
	} else {
		// METHOD SP Request-URI SP SIP/2.0
		m, r, ok1 := bytes.Cut(line, []byte(" "))
		u, v, ok2 := bytes.Cut(r, []byte(" "))
		if !ok1 || !ok2 || len(m) == 0 || !bytes.Equal(v, []byte("SIP/2.0")) {
			return head{}, false
		}
		h.method, h.uri = string(m), string(u)
	}
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			break // end of the header
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue // a folded line or garbage: not a header we read
		}
		name = bytes.TrimSpace(name)
		v := string(bytes.TrimSpace(value))
		switch {
		case bytes.EqualFold(name, []byte("Call-ID")) || bytes.EqualFold(name, []byte("i")):
			h.callID = v
		case bytes.EqualFold(name, []byte("To")) || bytes.EqualFold(name, []byte("t")):
			h.to = v
		case bytes.EqualFold(name, []byte("From")) || bytes.EqualFold(name, []byte("f")):
			h.from = v
		}
	}
	return h, h.callID != ""
}

// callIDOf is the Call-ID of msg, "" when it has none; for the requests a
// site sends.
func callIDOf(msg []byte) string {
	h, _ := scan(msg)
	return h.callID
}

// hostOf is the host of a SIP URI or of a To or From header value (with
// or without angle brackets and a display name), lower-cased and without
// port; "" when there is none.
func hostOf(v string) string {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "\"") {
		// A quoted display name may hold anything, < and @ too.
		end := 1
		for end < len(v) && v[end] != '"' {
			if v[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(v) {
			return ""
		}
		v = v[end+1:]
	}
	if i := strings.IndexByte(v, '<'); i >= 0 {
		v = v[i+1:]
		if j := strings.IndexByte(v, '>'); j >= 0 {
			v = v[:j]
		}
	} else if i := strings.IndexByte(v, ';'); i >= 0 {
		// Without brackets, parameters after the URI are the header's.
		v = v[:i]
	}
	v = strings.TrimSpace(v)
	switch {
	case len(v) >= 4 && strings.EqualFold(v[:4], "sip:"):
		v = v[4:]
	case len(v) >= 5 && strings.EqualFold(v[:5], "sips:"):
		v = v[5:]
	default:
		return ""
	}
	// The userinfo ends at the last @ before any parameter or header.
	if end := strings.IndexAny(v, ";?"); end >= 0 {
		v = v[:end]
	}
	if i := strings.LastIndexByte(v, '@'); i >= 0 {
		v = v[i+1:]
	}
	if strings.HasPrefix(v, "[") {
		if j := strings.IndexByte(v, ']'); j >= 0 {
			return strings.ToLower(v[:j+1])
		}
		return ""
	}
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[:i]
	}
	return strings.ToLower(v)
}
