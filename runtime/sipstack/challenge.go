package sipstack

import (
	"bytes"
	"net"

	"github.com/emiago/sipgo/sip"
)

// Half of all registration traffic is a REGISTER without credentials and
// its 401: every registration starts with one (RFC 3261 §22.1). Parsed
// by sipgo (every header into its own object), answered by the registrar
// through sipgo's response builder (each header cloned, a UUID drawn from
// the system's random source for the To tag) and written out again,
// such a REGISTER cost a third of a registration's CPU (issue 19) for an
// answer made of five header lines copied as they came and one new one.
//
// So a REGISTER over UDP is first scanned, as a new INVITE is for a
// refusal (refuse.go): when it carries no credentials at all and
// requires no extension, what the registrar would answer depends only on
// the user name its To registers and its source (the throttle, the
// algorithms offered to that name), and Challenge's function gives that
// answer's WWW-Authenticate values; the 401 is written from the scanned
// lines. A challenge is sent statelessly on both paths (register.go): a
// retransmission gets a new one.
//
// Anything the scan is not sure of — what refuse.go lists, a To whose URI
// is not a plain sip:user@host, a user name with characters the parser
// might read otherwise — goes the parsed way, which decides the same.

// Challenge has REGISTERs over UDP without credentials answered from a
// scan of their header lines, before any parse: challenge gets the user
// name the REGISTER's To registers and its source (host:port) and
// returns the WWW-Authenticate values of the 401 the handler would send
// (one per algorithm, RFC 8760), or nil to leave the REGISTER to the
// parsed way (a throttled source: the handler refuses it). Call it
// before serving.
func (r *Register) Challenge(challenge func(user, source string) []string) {
	r.challenge = challenge
}

// challengeScanned answers data, a REGISTER from src read from conn,
// with a 401 when the scan is sure of it and has no credentials; it
// reports whether it did.
func (r *Register) challengeScanned(conn net.PacketConn, data []byte, src net.Addr) bool {
	h, ok := scanRegister(data)
	if !ok {
		return false
	}
	user, ok := toUser(h.to)
	if !ok {
		return false
	}
	source := sourceOf(src)
	values := r.challenge(user, source)
	if len(values) == 0 {
		return false
	}
	buf := respBufs.Get().(*bytes.Buffer)
	defer respBufs.Put(buf)
	buf.Reset()
	h.challenge(buf, values, source)
	if buf.Len() > sip.UDPMTUSize-200 {
		return false // the parsed way refuses to send it too, and says so
	}
	_, err := conn.WriteTo(buf.Bytes(), h.dest(src))
	return err == nil
}

// scanRegister scans data, a REGISTER, for a scanned challenge: a
// REGISTER it is sure of, without credentials or a Require line.
func scanRegister(data []byte) (requestHead, bool) {
	h, ok := scanRequest(data, registerPrefix, "REGISTER", true)
	if !ok || h.credentials || h.require {
		return h, false
	}
	// The client's word on overload control is for requests that may be
	// refused on it; a challenge carries the Via back as it came (as
	// sipgo's response builder does), with rport and received.
	h.oc, h.algoEnd = false, 0
	return h, true
}

// challenge writes the 401 with the WWW-Authenticate values to the
// REGISTER from source (host:port) to buf, as the registrar answers it through sipgo
// (sip.NewResponseFromRequest): the Vias, From, To with a tag of its
// own, Call-ID and CSeq as they came, the top Via with rport's value and
// received (RFC 3581 §4).
func (h *requestHead) challenge(buf *bytes.Buffer, values []string, source string) {
	var tag [16]byte
	randomTag(tag[:])
	h.writeHead(buf, "401 Unauthorized", string(tag[:]), source, ocFeedback{})
	for _, v := range values {
		buf.WriteString("WWW-Authenticate: ")
		buf.WriteString(v)
		buf.WriteString("\r\n")
	}
	buf.WriteString("Content-Length: 0\r\n\r\n")
}

// toUser is the user part of a To value, name-addr or addr-spec, whose
// URI is a plain sip: or sips: user@host: the name a REGISTER registers.
// Anything else (escapes, a password, a display name with brackets
// inside its quotes) is the parser's to read.
func toUser(to []byte) (string, bool) {
	uri := to
	if len(to) > 0 && to[0] == '"' {
		// A quoted display name: no quote or backslash inside it.
		end := bytes.IndexByte(to[1:], '"')
		if end < 0 || bytes.IndexByte(to[1:end+1], '\\') >= 0 {
			return "", false
		}
		uri = bytes.TrimLeft(to[end+2:], " \t")
		if len(uri) == 0 || uri[0] != '<' {
			return "", false
		}
	}
	if i := bytes.IndexByte(uri, '<'); i >= 0 {
		j := bytes.IndexByte(uri, '>')
		if j < i || bytes.IndexByte(uri[:i], '"') >= 0 {
			return "", false
		}
		uri = uri[i+1 : j]
	} else if i := bytes.IndexByte(uri, ';'); i >= 0 {
		uri = uri[:i] // addr-spec: what follows ';' are the header's parameters
	}
	scheme, rest, ok := bytes.Cut(uri, []byte(":"))
	if !ok || !(bytes.EqualFold(scheme, []byte("sip")) || bytes.EqualFold(scheme, []byte("sips"))) {
		return "", false
	}
	user, host, ok := bytes.Cut(rest, []byte("@"))
	if !ok || len(user) == 0 || !only(user, userChars) {
		return "", false
	}
	if i := bytes.IndexAny(host, ";?"); i >= 0 {
		host = host[:i]
	}
	if len(host) == 0 || !only(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") {
		return "", false
	}
	return string(user), true
}

// userChars are the characters of a user name the scan reads as the
// parser surely does: RFC 3261's unreserved and '+', not the escape '%'
// nor the separators a parser might split on.
const userChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()+"
