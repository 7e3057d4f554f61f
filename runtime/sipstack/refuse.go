package sipstack

import (
	"bytes"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// A server refusing most of what it is offered spends most of its core on
// the refusals: measured (issue 19, three CPU burners on the server's
// core, 800 calls/s offered), the stateless path took a quarter of the
// server's CPU, more than half of it parsing whole INVITEs (body and all)
// with sipgo's parser only to copy five header fields into a 503. Every
// microsecond of it is taken from the calls admitted.
//
// So a new INVITE read over UDP is first scanned, not parsed: its header
// lines are split and the five a response copies (Via, From, To, Call-ID,
// CSeq; RFC 3261 §8.2.6.2) picked out by name, long or compact, which is
// enough to know that it is a new call (no To tag) and which one
// (Call-ID). When Admission refuses it, the 503 is written from those
// lines as they came, as Kamailio's sl_send_reply writes its replies.
// Anything the scan is not sure of — a folded line, a CR or LF inside a
// line, a field twice, a To that mentions a tag anywhere, a CSeq that is
// not INVITE's or not below 2**31, a top Via with received or rport
// twice, more Vias than it keeps, no end of the header — goes the parsed
// way, which decides the same. What the scan does not check (the syntax of the URIs
// and addresses) it copies as it came: a request the parser would have
// dropped as malformed may get a 503 instead, which tells its sender no
// more than a 503 to a well-formed one, and is no larger than it.

// maxScannedVias is how many Via lines a scanned INVITE may have; more
// go the parsed way. A door station or a phone sends one; every proxy
// on the way adds one.
const maxScannedVias = 4

// requestHead is what a scanned answer needs of a request: the header
// lines a response copies, values as they came (trimmed), and where its
// top Via asks the response to go.
type requestHead struct {
	vias                   [maxScannedVias][]byte
	nvia                   int
	from, to, callID, cseq []byte
	port                   int  // the top Via's sent-by port; 0 when it names none
	rport                  bool // the top Via has rport without a value (RFC 3581)
	// topEnd is where the top Via's value ends in vias[0], rportEnd
	// where its rport parameter does.
	topEnd, rportEnd int
	// oc: the top Via has oc without a value, the client's word that it
	// takes RFC 7339 feedback; ocEnd is where that parameter ends, and
	// algoStart, algoEnd where its oc-algo parameter is (both 0: none).
	oc                        bool
	ocEnd, algoStart, algoEnd int
	// credentials: the request has an Authorization or
	// Proxy-Authorization line; require: a Require line (what a
	// REGISTER's scanned challenge must leave to the parsed way).
	credentials, require bool
}

// scanInvite picks out the header lines of data, an INVITE request, that
// a refusal needs, and reports whether it is a new call it is sure of.
func scanInvite(data []byte) (requestHead, bool) {
	return scanRequest(data, invitePrefix, "INVITE", false)
}

// scanRequest picks out the header lines of data, a request whose
// request line starts with prefix ("METHOD "), that a scanned answer
// needs, and reports whether it is a request of method outside a dialog
// (no To tag) that it is sure of. With plain, it gives up at the first
// line of credentials or Require: the caller answers only requests
// without (and half of the REGISTERs it sees have credentials).
func scanRequest(data, prefix []byte, method string, plain bool) (requestHead, bool) {
	var h requestHead
	end := bytes.Index(data, []byte("\r\n\r\n"))
	if end < 0 || !bytes.HasPrefix(data, prefix) {
		return h, false
	}
	head := data[:end+2]
	eol := bytes.Index(head, []byte("\r\n"))
	if strayEOL(head[:eol]) {
		return h, false
	}
	// "METHOD uri SIP/2.0", one space apart (RFC 3261 §7.1).
	_, rl, _ := bytes.Cut(head[:eol], []byte(" "))
	uri, version, ok := bytes.Cut(rl, []byte(" "))
	if !ok || !sipURI(uri) || !bytes.Equal(version, []byte("SIP/2.0")) {
		return h, false
	}
	head = head[eol+2:] // past the request line
	for len(head) > 0 {
		eol := bytes.Index(head, []byte("\r\n"))
		line := head[:eol]
		head = head[eol+2:]
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
			return h, false // folded (RFC 3261 §7.3.1): the parser's
		}
		if strayEOL(line) {
			return h, false
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return h, false
		}
		name := bytes.TrimRight(line[:colon], " \t")
		value := bytes.TrimSpace(line[colon+1:])
		var field *[]byte
		switch {
		case is(name, "via", "v"):
			if h.nvia == maxScannedVias {
				return h, false
			}
			h.vias[h.nvia] = value
			h.nvia++
			continue
		case is(name, "from", "f"):
			field = &h.from
		case is(name, "to", "t"):
			field = &h.to
		case is(name, "call-id", "i"):
			field = &h.callID
		case is(name, "cseq", ""):
			field = &h.cseq
		case is(name, "authorization", ""), is(name, "proxy-authorization", ""):
			if plain {
				return h, false
			}
			h.credentials = true
			continue
		case is(name, "require", ""):
			if plain {
				return h, false
			}
			h.require = true
			continue
		default:
			continue
		}
		if *field != nil || len(value) == 0 {
			return h, false
		}
		*field = value
	}
	if h.nvia == 0 || h.from == nil || h.to == nil || h.callID == nil || h.cseq == nil {
		return h, false
	}
	// A tag anywhere in To (a header parameter: in a dialog; or one of
	// its URI's): the parser tells which.
	if containsFold(h.to, "tag") {
		return h, false
	}
	seq, m, _ := bytes.Cut(h.cseq, []byte(" "))
	if m = bytes.TrimLeft(m, " \t"); !cseqNumber(seq) || string(m) != method {
		return h, false
	}
	return h, h.topVia()
}

// strayEOL reports whether line, a line of a request's header without
// its CRLF, holds a CR or LF of its own. sipgo's parser refuses a CR
// without LF (its lines end at the first CR) and keeps a lone LF inside a
// value; a scanned answer copies lines as they came, and a peer that ends
// lines at either would read the rest as header fields of the server's
// answer (a challenge of the sender's choosing, say).
func strayEOL(line []byte) bool {
	return bytes.IndexByte(line, '\r') >= 0 || bytes.IndexByte(line, '\n') >= 0
}

// cseqNumber reports whether seq is a CSeq's sequence number as sipgo's
// parser takes it: digits, below 2**31 (RFC 3261 §8.1.1.5). A larger one
// fails its parse, and the request would get no answer.
func cseqNumber(seq []byte) bool {
	if len(seq) == 0 {
		return false
	}
	n := 0
	for _, c := range seq {
		if c < '0' || c > '9' {
			return false
		}
		if n = n*10 + int(c-'0'); n > 1<<31-1 {
			return false
		}
	}
	return true
}

// only reports whether b is made of the bytes of set alone.
func only(b []byte, set string) bool {
	for _, c := range b {
		if strings.IndexByte(set, c) < 0 {
			return false
		}
	}
	return true
}

// sipURI reports whether uri is a sip: or sips: URI with something in
// it (the parser checks the rest).
func sipURI(uri []byte) bool {
	scheme, rest, ok := bytes.Cut(uri, []byte(":"))
	return ok && len(rest) > 0 && (bytes.EqualFold(scheme, []byte("sip")) || bytes.EqualFold(scheme, []byte("sips")))
}

// is reports whether name is the header name long or its compact form
// short (none when empty), in any case.
func is(name []byte, long, short string) bool {
	return equalFold(name, long) || (short != "" && equalFold(name, short))
}

// equalFold is bytes.EqualFold for a name of ASCII letters and '-',
// without converting it: every header line of a scanned request is
// compared with several.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		d := s[i]
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// topVia reads the top Via's sent-by port and rport: "SIP/2.0/UDP
// host[:port][;params]", alone in its line.
func (h *requestHead) topVia() bool {
	v := h.vias[0]
	if bytes.IndexByte(v, ',') >= 0 {
		return false // Vias listed in one line: the parser's to split
	}
	h.topEnd = len(v)
	proto, rest, ok := bytes.Cut(v, []byte("/UDP"))
	if !ok || !(equalFold(proto, "SIP/2.0") || bytes.EqualFold(bytes.ReplaceAll(proto, []byte(" "), nil), []byte("SIP/2.0"))) {
		return false
	}
	if len(rest) == 0 || (rest[0] != ' ' && rest[0] != '\t') {
		return false // "SIP/2.0/UDP" LWS sent-by (RFC 3261 §20.42)
	}
	rest = bytes.TrimLeft(rest, " \t")
	if bytes.ContainsAny(rest, " \t") {
		return false // space among the parameters: the parser's to read
	}
	off := len(v) - len(rest) // rest's offset in v
	sentBy := rest
	if i := bytes.IndexByte(rest, ';'); i >= 0 {
		sentBy = rest[:i]
	}
	off += len(sentBy)
	host, port := sentBy, []byte(nil)
	if len(sentBy) > 0 && sentBy[0] == '[' {
		i := bytes.IndexByte(sentBy, ']')
		if i < 0 || !only(sentBy[1:i], "0123456789abcdefABCDEF:.") {
			return false
		}
		host, port = sentBy[:i+1], sentBy[i+1:]
		if len(port) > 0 && port[0] != ':' {
			return false
		}
	} else if i := bytes.IndexByte(sentBy, ':'); i >= 0 {
		host, port = sentBy[:i], sentBy[i:]
	}
	if len(host) == 0 || (host[0] != '[' && !only(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")) {
		return false
	}
	if len(port) > 0 {
		p, err := strconv.Atoi(string(port[1:]))
		if err != nil || p <= 0 || p > 0xffff || !only(port[1:], "0123456789") {
			return false
		}
		h.port = p
	}
	// The parameters, each after a ";" at off.
	rports := 0
	for off < len(v) {
		end := bytes.IndexByte(v[off+1:], ';')
		if end < 0 {
			end = len(v)
		} else {
			end += off + 1
		}
		p := v[off+1 : end]
		if len(p) == 0 {
			return false // ";;": the parser's to read
		}
		switch {
		case hasName(p, "received"):
			// sipgo's response builder replaces it; the scan would
			// add a second one.
			return false
		case hasName(p, "rport"):
			if rports++; rports > 1 {
				return false // sipgo fills the first; the parser's to read
			}
			if len(p) == len("rport") {
				h.rport = true
				h.rportEnd = end
			}
		case bytes.EqualFold(p, []byte("oc")):
			h.oc = true
			h.ocEnd = end
		case len(p) > len("oc-algo=") && bytes.EqualFold(p[:len("oc-algo=")], []byte("oc-algo=")):
			h.algoStart, h.algoEnd = off+1, end
		}
		off = end
	}
	return true
}

// hasName reports whether p, a parameter, is named name (in any case),
// with or without a value.
func hasName(p []byte, name string) bool {
	return len(p) >= len(name) && equalFold(p[:len(name)], name) && (len(p) == len(name) || p[len(name)] == '=')
}

// dest is where the response goes: the source with rport (RFC 3581),
// otherwise the source's address and the Via's port (RFC 3261 §18.2.2),
// as responseDest does for a parsed request.
func (h *requestHead) dest(src net.Addr) net.Addr {
	if h.rport {
		return src
	}
	port := h.port
	if port == 0 {
		port = int(sip.DefaultPort("UDP"))
	}
	a, ok := src.(*net.UDPAddr)
	if !ok || a.Port == port {
		return src
	}
	return &net.UDPAddr{IP: a.IP, Port: port, Zone: a.Zone}
}

// refusal writes the 503 with Retry-After retryAfter to the INVITE from
// src to buf; the To gets a stateless tag, for its ACK (Stateless). When
// the top Via has oc, it carries the feedback fb (RFC 7339 §5.3).
func (h *requestHead) refusal(buf *bytes.Buffer, retryAfter string, src net.Addr, fb ocFeedback) {
	h.writeHead(buf, "503 Service Unavailable", statelessTag+sip.GenerateTagN(10), sourceOf(src), fb)
	buf.WriteString("Retry-After: ")
	buf.WriteString(retryAfter)
	buf.WriteString("\r\nContent-Length: 0\r\n\r\n")
}

// writeHead writes the status line and the fields a response to the
// scanned request echoes (sip.NewResponseFromRequest): the Vias, the top
// one as writeTopVia writes it, From, To with tag, Call-ID and CSeq as
// they came, each line ended. source is where the request came from
// (host:port).
func (h *requestHead) writeHead(buf *bytes.Buffer, status, tag string, source string, fb ocFeedback) {
	buf.WriteString("SIP/2.0 ")
	buf.WriteString(status)
	buf.WriteString("\r\n")
	for i, v := range h.vias[:h.nvia] {
		buf.WriteString("Via: ")
		if i == 0 {
			h.writeTopVia(buf, source, fb)
		} else {
			buf.Write(v)
		}
		buf.WriteString("\r\n")
	}
	buf.WriteString("From: ")
	buf.Write(h.from)
	buf.WriteString("\r\nTo: ")
	buf.Write(h.to)
	buf.WriteString(";tag=")
	buf.WriteString(tag)
	buf.WriteString("\r\nCall-ID: ")
	buf.Write(h.callID)
	buf.WriteString("\r\nCSeq: ")
	buf.Write(h.cseq)
	buf.WriteString("\r\n")
}

// writeTopVia writes the top Via as a response carries it: with rport's
// value and received (RFC 3581 §4, as sipgo writes them), and, when the
// client supports it, RFC 7339's oc, oc-algo, oc-validity and oc-seq.
func (h *requestHead) writeTopVia(buf *bytes.Buffer, source string, fb ocFeedback) {
	v := h.vias[0]
	host, port, _ := net.SplitHostPort(source)
	// Edits at positions in v, in order: a value after rport and oc
	// ("=" and text), oc-algo replaced by the one algorithm chosen.
	type edit struct {
		at, to int
		value  bool
		text   string
	}
	var edits [3]edit
	n := 0
	if h.rport {
		edits[n] = edit{h.rportEnd, h.rportEnd, true, port}
		n++
	}
	if h.oc {
		edits[n] = edit{h.ocEnd, h.ocEnd, true, strconv.Itoa(fb.reduction)}
		n++
		if h.algoEnd > 0 {
			edits[n] = edit{h.algoStart, h.algoEnd, false, ocAlgo}
			n++
		}
	}
	for i := 1; i < n; i++ {
		for j := i; j > 0 && edits[j].at < edits[j-1].at; j-- {
			edits[j], edits[j-1] = edits[j-1], edits[j]
		}
	}
	at := 0
	for _, e := range edits[:n] {
		buf.Write(v[at:e.at])
		if e.value {
			buf.WriteByte('=')
		}
		buf.WriteString(e.text)
		at = e.to
	}
	buf.Write(v[at:h.topEnd])
	if h.rport {
		buf.WriteString(";received=")
		buf.WriteString(host)
	}
	if h.oc {
		if h.algoEnd == 0 {
			buf.WriteString(";" + ocAlgo)
		}
		buf.WriteString(";oc-validity=" + strconv.Itoa(ocValidity) + ";oc-seq=" + fb.seq)
	}
	buf.Write(v[h.topEnd:])
}

// refuseScanned refuses data, a new INVITE from src read from conn, when
// the scan is sure of it and a refuses its call; it reports whether it
// did.
func refuseScanned(a *Admission, conn net.PacketConn, data []byte, src net.Addr) bool {
	if a == nil || !a.bounded() {
		return false
	}
	h, ok := scanInvite(data)
	if !ok || a.Admits(string(h.callID)) {
		return false
	}
	buf := respBufs.Get().(*bytes.Buffer)
	defer respBufs.Put(buf)
	buf.Reset()
	var fb ocFeedback
	if h.oc {
		fb = a.feedback()
	}
	h.refusal(buf, a.retryAfter, src, fb)
	_, err := conn.WriteTo(buf.Bytes(), h.dest(src))
	return err == nil
}

// tagChars are the characters of a To tag, as sip.GenerateTagN draws them.
const tagChars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// randomTag fills b with random tagChars, as sip.GenerateTagN does, but
// into the caller's array: every stateless answer has a tag, and
// GenerateTagN's string was an allocation of each.
func randomTag(b []byte) {
	for i := 0; i < len(b); {
		for r, n := rand.Uint64(), 0; n < 10 && i < len(b); r, n = r>>6, n+1 {
			if c := int(r & 63); c < len(tagChars) {
				b[i] = tagChars[c]
				i++
			}
		}
	}
}
