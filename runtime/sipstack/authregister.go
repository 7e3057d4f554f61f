package sipstack

import (
	"bytes"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/emiago/sipgo/sip"
)

// The other half of registration traffic is the REGISTER with
// credentials, answered 200 when they are right (RFC 3261 §10.3). sipgo's
// parser made about 2.7 KB of objects of each (every header line, every
// parameter, the body) and cost some 7.6 µs of its 30 (issue 19), and the
// collector's time for that garbage another tenth, for an answer that
// echoes five header lines and lists the bindings.
//
// So such a REGISTER over UDP is scanned first too (scanAuthRegister):
// when every line is of a form the scan is sure of, it hands the
// registrar a ScannedRegister — the lines a registration reads, the
// Contacts parsed by sipgo's own header parser — and the registrar
// answers it with a 200 written from the scanned lines (RespondOK), or
// declines it having done nothing, and the datagram goes the parsed way.
// The registrar declines everything but a 200: a challenge, a refusal or
// a stale nonce are the parsed way's to decide and write.
//
// What the scan is sure of is narrow, and chosen so that sipgo's parser
// would take the request, and sipgo's writer would write the lines the
// 200 echoes byte for byte as they came (FuzzScannedRegister compares
// both paths' answers): one Via, "SIP/2.0/UDP host[:port]" with token
// parameters and an RFC 3261 branch; From and To as
// ["display name" ]<sip:user@host[:port][;params]>[;params] of plain
// characters; a CSeq "n REGISTER"; one Authorization line; Contact,
// Expires, User-Agent, Max-Forwards, Content-Length 0 and header fields
// sipgo keeps as text. Everything else — a wildcard Contact, Path,
// Require, Proxy-Authorization, Route, a body, a folded line, a CR or LF
// inside a line, a control character, a header name that is not a
// token, more lines or bytes than the limits below — goes the parsed way.

// ScannedRegister is a REGISTER with credentials over UDP as the scan
// read it: what the registrar and the digest check read of it. Its
// strings are copies; it is valid only during the handler's call.
type ScannedRegister struct {
	// Source is where it came from (host:port), Recipient its
	// Request-URI as sipgo parses it.
	Source    string
	Recipient sip.Uri
	// ToUser is the user name its To registers.
	ToUser string
	CallID string
	CSeq   uint32
	// Authorization is the value of its one Authorization line.
	Authorization string
	// Contacts are its Contact lines as sipgo's parser reads them, one
	// *sip.ContactHeader each (none a wildcard).
	Contacts []sip.Header
	// Expires is its Expires value ("" with HasExpires false: none).
	Expires    string
	HasExpires bool
	// UserAgent is its first User-Agent value.
	UserAgent string

	head requestHead
	r    *Register
	conn net.PacketConn
	src  net.Addr
	// key is its transaction's key (sip.ServerTxKeyMake), in keyBuf
	// unless longer.
	key    []byte
	keyBuf [128]byte
	sent   bool
	data   []byte // the datagram, for the answer kept for retransmissions
}

// RespondOK sends the 200 to the REGISTER: its status line and the lines
// it echoes (the Via with rport's value and received, From, To with a
// tag, Call-ID, CSeq), as the registrar writes them for a parsed request,
// then tail, the rest of the header as written ("Content-Length: 0",
// the Contacts, Date, and the empty line). It remembers the answer for
// retransmissions (Timer J), as a parsed REGISTER's 200 is.
func (s *ScannedRegister) RespondOK(tail []byte) error {
	buf := respBufs.Get().(*bytes.Buffer)
	defer respBufs.Put(buf)
	buf.Reset()
	var tag [16]byte
	randomTag(tag[:])
	s.head.writeHead(buf, "200 OK", string(tag[:]), s.Source, ocFeedback{})
	buf.Write(tail)
	s.sent = true
	// Counted before it leaves: whoever gets the answer sees it counted.
	registersScanned.Add(1)
	tx := udpServerTx{answered: &s.r.answered, conn: s.conn, key: txKey{b: s.key}, src: s.src, data: s.data}
	return tx.sendTo(buf.Bytes(), s.head.dest(s.src), true)
}

// Scanned has REGISTERs over UDP with credentials answered from a scan
// when handler takes them: it answers with RespondOK and reports true,
// or reports false having done nothing (nothing counted, nothing stored,
// nothing sent), and the REGISTER goes the parsed way. Call it before
// serving.
func (r *Register) Scanned(handler func(*ScannedRegister) bool) {
	r.scanned = handler
}

// registersScanned counts the REGISTERs answered from a scan, of every
// Register of the process.
var registersScanned atomic.Uint64

// RegistersScanned returns how many REGISTERs with credentials over UDP
// the process has answered without parsing them.
func RegistersScanned() uint64 { return registersScanned.Load() }

// serveScanned answers data, a REGISTER with credentials from src read
// from conn, when the scan is sure of it and the handler takes it, or
// when it retransmits one answered; it reports whether it did.
func (r *Register) serveScanned(conn net.PacketConn, data []byte, src net.Addr) bool {
	s := scannedRegisters.Get().(*ScannedRegister)
	defer s.release()
	*s = ScannedRegister{r: r, conn: conn, src: src, data: data, Contacts: s.Contacts[:0]}
	if !scanAuthRegister(data, s) {
		return false
	}
	if r.answered.resendKey(conn, txKey{b: s.key}, data) {
		return true
	}
	s.Source = sourceOf(src)
	return r.scanned(s) || s.sent
}

// scannedRegisters are ScannedRegisters between REGISTERs: one is valid
// only during its handler's call, so the next REGISTER may have it, and
// the array of its Contacts (a 600-byte object and a slice a REGISTER,
// which escaped to the heap through the handler).
var scannedRegisters = sync.Pool{New: func() any { return new(ScannedRegister) }}

// release forgets what s held, but the Contacts' array, and puts it
// back in scannedRegisters.
func (s *ScannedRegister) release() {
	contacts := s.Contacts[:cap(s.Contacts)]
	clear(contacts)
	*s = ScannedRegister{Contacts: contacts[:0]}
	scannedRegisters.Put(s)
}

// Limits of a scanned REGISTER: more goes the parsed way.
const (
	maxScannedLength   = 4096 // bytes of the header
	maxScannedLines    = 32   // header lines
	maxScannedContacts = 10   // Contact lines
)

// contactParser is sipgo's parser of header lines: Contacts are read
// with it, so that the bindings the registrar keeps are the parsed way's.
var contactParser = sip.HeadersParser(sip.DefaultHeadersParser())

// scanAuthRegister scans data, a REGISTER with credentials, into s, and
// reports whether it is sure of all of it (see the top of this file).
func scanAuthRegister(data []byte, s *ScannedRegister) bool {
	h := &s.head
	end := bytes.Index(data, []byte("\r\n\r\n"))
	if end < 0 || end+2 > maxScannedLength || !bytes.HasPrefix(data, registerPrefix) {
		return false
	}
	head := data[:end+2]
	eol := bytes.Index(head, []byte("\r\n"))
	if !plainLine(head[:eol]) {
		return false
	}
	// "REGISTER uri SIP/2.0": the parser splits at the first two spaces.
	_, rl, _ := bytes.Cut(head[:eol], []byte(" "))
	uri, version, ok := bytes.Cut(rl, []byte(" "))
	if !ok || !bytes.Equal(version, []byte("SIP/2.0")) || !sipURI(uri) {
		return false
	}
	if err := sip.ParseUri(string(uri), &s.Recipient); err != nil || s.Recipient.Wildcard {
		return false
	}
	var authorization, expires, userAgent []byte
	var contacts [maxScannedContacts][]byte
	ncontacts, lines := 0, 0
	rest := data[end+4:]
	for head = head[eol+2:]; len(head) > 0; {
		eol := bytes.Index(head, []byte("\r\n"))
		line := head[:eol]
		head = head[eol+2:]
		if lines++; lines > maxScannedLines || !plainLine(line) || line[0] == ' ' || line[0] == '\t' {
			return false // folded (RFC 3261 §7.3.1): the parser's
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return false
		}
		name := bytes.TrimRight(line[:colon], " \t")
		if len(name) == 0 || !tokenSet.has(name) {
			return false
		}
		value := bytes.TrimSpace(line[colon+1:])
		var lower [len("proxy-authorization")]byte
		if len(name) > len(lower) {
			continue // no name the scan reads: text to sipgo too
		}
		for i, c := range name {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			lower[i] = c
		}
		var field *[]byte
		switch string(lower[:len(name)]) {
		case "via", "v":
			if h.nvia > 0 {
				return false // a proxy's: the parser's
			}
			h.vias[0] = value
			h.nvia = 1
			continue
		case "from", "f":
			field = &h.from
		case "to", "t":
			field = &h.to
		case "call-id", "i":
			field = &h.callID
		case "cseq":
			field = &h.cseq
		case "authorization":
			field = &authorization
		case "expires":
			field = &expires
		case "contact", "m":
			if ncontacts == maxScannedContacts {
				return false
			}
			contacts[ncontacts] = line
			ncontacts++
			continue
		case "user-agent":
			if userAgent == nil {
				userAgent = value
			}
			continue
		case "max-forwards":
			if _, err := strconv.ParseUint(string(value), 10, 32); err != nil {
				return false
			}
			continue
		case "content-length", "l":
			if !bytes.Equal(value, []byte("0")) {
				return false
			}
			rest = nil
			continue
		case "content-type", "c", "route", "record-route", "refer-to", "referred-by", // the parser's to read
			"proxy-authorization", "require", "proxy-require", "path": // what the registrar reads and the scan does not (Supported matters only with Path)
			return false
		default:
			continue // text to sipgo too
		}
		if *field != nil || len(value) == 0 {
			return false
		}
		*field = value
	}
	if len(rest) > 0 || h.nvia == 0 || h.from == nil || h.to == nil || h.callID == nil || h.cseq == nil ||
		authorization == nil || ncontacts == 0 {
		return false
	}
	// CSeq: "n REGISTER", n as sipgo writes it back.
	seq, method, _ := bytes.Cut(h.cseq, []byte(" "))
	if !cseqNumber(seq) || (seq[0] == '0' && len(seq) > 1) || string(method) != "REGISTER" {
		return false
	}
	n, _ := strconv.ParseUint(string(seq), 10, 32)
	s.CSeq = uint32(n)
	if containsFold(h.to, "tag") || !plainAddress(h.from) || !plainAddress(h.to) || !callIDSet.has(h.callID) {
		return false
	}
	user, ok := toUser(h.to)
	if !ok || !h.topVia() || !s.plainVia() {
		return false
	}
	h.oc, h.algoEnd = false, 0 // the Via goes back as it came, but for rport
	for _, c := range contacts[:ncontacts] {
		var err error
		if s.Contacts, err = contactParser.ParseHeader(s.Contacts, c); err != nil {
			return false
		}
	}
	for _, c := range s.Contacts {
		if c, ok := c.(*sip.ContactHeader); !ok || c.Address.Wildcard {
			return false
		}
	}
	s.ToUser, s.CallID, s.Authorization = user, string(h.callID), string(authorization)
	s.Expires, s.HasExpires = string(expires), expires != nil
	s.UserAgent = string(userAgent)
	return true
}

// plainLine reports whether line, a line without its CRLF, has something
// in it and no control character but tabs (no CR or LF of its own above
// all, strayEOL).
func plainLine(line []byte) bool {
	if len(line) == 0 {
		return false
	}
	for _, c := range line {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// charSet is a set of bytes, for the scan's checks of what a value is
// made of (strings.IndexByte per byte was a tenth of the scan).
type charSet [256]bool

func newCharSet(chars string) *charSet {
	var s charSet
	for i := range len(chars) {
		s[chars[i]] = true
	}
	return &s
}

// has reports whether b is made of the bytes of s alone.
func (s *charSet) has(b []byte) bool {
	for _, c := range b {
		if !s[c] {
			return false
		}
	}
	return true
}

var (
	tokenSet   = newCharSet(tokenChars)
	callIDSet  = newCharSet(callIDChars)
	displaySet = newCharSet(displayChars)
	userSet    = newCharSet(userChars)
	hostSet    = newCharSet(hostChars)
	paramSet   = newCharSet(paramChars)
	digitSet   = newCharSet("0123456789")
)

// tokenChars are RFC 3261's token characters: a header name of others
// (sipgo trims Unicode spaces off names) is the parser's to read.
const tokenChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"

// callIDChars are the characters of a Call-ID the scan takes (RFC 3261
// §25.1 word, without the quote and brackets).
const callIDChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~()/:?{}[]@$"

// paramChars are the characters of a parameter's name and value the scan
// takes.
const paramChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!*_+'~"

// hostChars are the characters of a host name or IPv4 address.
const hostChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-"

// displayChars are the characters of a quoted display name the scan
// takes.
const displayChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -._+'()"

// plainAddress reports whether v, a From or To value, is
// ["display" ]<sip:user@host[:port][;params]>[;params] of the plain
// characters above: a form sipgo's parser takes and its writer writes
// back as it came.
func plainAddress(v []byte) bool {
	if len(v) > 0 && v[0] == '"' {
		end := bytes.IndexByte(v[1:], '"')
		if end <= 0 || !displaySet.has(v[1:end+1]) || v[1] == ' ' || v[end] == ' ' {
			return false
		}
		v = v[end+2:]
		if len(v) < 2 || v[0] != ' ' || v[1] != '<' {
			return false
		}
		v = v[1:]
	}
	if len(v) == 0 || v[0] != '<' {
		return false
	}
	gt := bytes.IndexByte(v, '>')
	if gt < 0 {
		return false
	}
	uri, params := v[1:gt], v[gt+1:]
	scheme, rest, ok := bytes.Cut(uri, []byte(":"))
	if !ok || !(string(scheme) == "sip" || string(scheme) == "sips") {
		return false
	}
	user, rest, ok := bytes.Cut(rest, []byte("@"))
	if !ok || len(user) == 0 || !userSet.has(user) {
		return false
	}
	hostPort, uriParams, hasParams := bytes.Cut(rest, []byte(";"))
	if !plainHostPort(hostPort) {
		return false
	}
	// A ';' with no parameter after it is not written back by sipgo
	// (FuzzScanAuthRegister: "From: <sip:0@0>;").
	if hasParams && (len(uriParams) == 0 || !plainParams(uriParams)) {
		return false
	}
	if len(params) == 0 {
		return true
	}
	return len(params) > 1 && params[0] == ';' && plainParams(params[1:])
}

// plainHostPort reports whether v is host[:port], a host name or IPv4
// address and a port as sipgo writes it back (no leading zero, not 0).
func plainHostPort(v []byte) bool {
	host, port, hasPort := bytes.Cut(v, []byte(":"))
	if len(host) == 0 || !hostSet.has(host) {
		return false
	}
	if !hasPort {
		return true
	}
	p, err := strconv.Atoi(string(port))
	return err == nil && p > 0 && p <= 0xffff && port[0] != '0' && digitSet.has(port)
}

// plainParams reports whether v is name[=value] parameters separated by
// ';', each of paramChars, none empty.
func plainParams(v []byte) bool {
	for len(v) > 0 {
		p, rest, _ := bytes.Cut(v, []byte(";"))
		name, value, hasValue := bytes.Cut(p, []byte("="))
		if len(name) == 0 || !paramSet.has(name) || (hasValue && (len(value) == 0 || !paramSet.has(value))) {
			return false
		}
		if len(rest) == 0 && len(v) > len(p) {
			return false // a trailing ';'
		}
		v = rest
	}
	return true
}

// plainVia reports whether the top Via, read by topVia, is
// "SIP/2.0/UDP host[:port];params" of a host name or IPv4 address, with
// an RFC 3261 branch (the transaction key is made of it), and sets s.key
// to the key sipgo makes of it (sip.ServerTxKeyMake).
func (s *ScannedRegister) plainVia() bool {
	v := s.head.vias[0]
	rest, ok := bytes.CutPrefix(v, []byte("SIP/2.0/UDP "))
	if !ok {
		return false
	}
	hostPort, params, ok := bytes.Cut(rest, []byte(";"))
	if !ok || !plainHostPort(hostPort) || !plainParams(params) {
		return false
	}
	var branch []byte
	for p := range bytes.SplitSeq(params, []byte(";")) {
		if name, value, _ := bytes.Cut(p, []byte("=")); string(name) == "branch" {
			if branch != nil {
				return false
			}
			branch = value
		} else if equalFold(name, "branch") {
			return false // sipgo reads names as they came
		}
	}
	b, ok := bytes.CutPrefix(branch, []byte(sip.RFC3261BranchMagicCookie))
	if !ok || len(b) == 0 {
		return false
	}
	host, _, _ := bytes.Cut(hostPort, []byte(":"))
	port := s.head.port
	if port == 0 {
		port = int(sip.DefaultPort("UDP"))
	}
	key := append(s.keyBuf[:0], branch...)
	key = append(key, sip.TxSeperator...)
	key = append(key, host...)
	key = append(key, sip.TxSeperator...)
	key = strconv.AppendInt(key, int64(port), 10)
	key = append(key, sip.TxSeperator...)
	key = append(key, sip.REGISTER...)
	s.key = key
	return true
}
