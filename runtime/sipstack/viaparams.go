package sipstack

import (
	"bytes"
)

// RFC 3261 §7.3.1 makes parameter names case-insensitive; sipgo looks
// its Via parameters up case-sensitively (HeaderParams.Get). A request
// over UDP whose Via says `Rport` was answered at its Via's sent-by port
// instead of the address it came from (RFC 3581 §4) — behind a NAT, at
// nobody — and one whose Via says `Branch=` had no branch for sipgo's
// transaction matching. The register scan and responseDest already match
// rport in any case; for every request sipgo parses from a datagram,
// lowerTopViaParams lowercases the topmost Via's parameter names in the
// datagram itself, before the parse, so sipgo's lookups find them.
// Only names change, never values, and a name's case carries no meaning,
// so the Via the answer echoes is still the request's (§8.2.6.2, compared
// by §20.42's rules). Streams need nothing: their answers go back over
// the connection they came in on, whatever the Via says.

// lowerTopViaParams lowercases, in place, the parameter names of the
// first Via value in data's header (the topmost hop: up to the first
// comma outside a quoted string, on the first Via or v header line) when
// data is a request. Values, quoted strings and every other header are
// left as they are; it never changes data's length.
func lowerTopViaParams(data []byte) {
	// Responses' Vias name our own hops: nothing to answer.
	if bytes.HasPrefix(data, []byte("SIP/")) {
		return
	}
	first := true
	for len(data) > 0 {
		lf := bytes.IndexByte(data, '\n')
		line := data
		if lf >= 0 {
			line, data = data[:lf], data[lf+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			if first {
				continue // keep-alive CRLFs before the request line
			}
			return // the header's end: no Via
		}
		if first {
			first = false
			continue // the request line
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		name := bytes.TrimRight(line[:colon], " \t")
		if bytes.EqualFold(name, []byte("via")) || bytes.EqualFold(name, []byte("v")) {
			lowerParamNames(line[colon+1:])
			return
		}
	}
}

// lowerParamNames lowercases the names of the parameters of the first
// value of a Via header field (v), up to its first comma outside a
// quoted string. Empty values before it are skipped, as sipgo skips
// them.
func lowerParamNames(v []byte) {
	quoted, escaped, inName, seen := false, false, false, false
	for i, c := range v {
		seen = seen || c != ' ' && c != '\t' && c != ','
		switch {
		case quoted:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				quoted = false
			}
		case c == '"':
			quoted, inName = true, false
		case c == ',' && seen:
			return
		case c == ';':
			inName = true
		case c == '=':
			inName = false
		case inName && 'A' <= c && c <= 'Z':
			v[i] = c + 'a' - 'A'
		}
	}
}
