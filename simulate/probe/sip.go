package probe

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// sipConn is the probe's raw SIP over UDP: requests written as text, as an
// attacker writes them, to the one target address, and responses read with
// deadlines. It keeps no transaction state on purpose: the checks decide
// what to answer (or, for the amplification check, not to).
type sipConn struct {
	conn   *net.UDPConn
	target *net.UDPAddr
	domain string
}

func dialSIP(target, domain string) (*sipConn, error) {
	raddr, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: localFor(raddr.IP)})
	if err != nil {
		return nil, err
	}
	return &sipConn{conn: conn, target: raddr, domain: domain}, nil
}

// localFor is the address the probe sends from: loopback for a loopback
// target (so the server's answer comes back), else any.
func localFor(ip net.IP) net.IP {
	if ip.IsLoopback() {
		return ip
	}
	return nil
}

func (c *sipConn) Close() error { return c.conn.Close() }

func (c *sipConn) local() *net.UDPAddr { return c.conn.LocalAddr().(*net.UDPAddr) }

// request is one SIP request the probe writes.
type request struct {
	method   string
	ruri     string // Request-URI
	fromUser string
	toUser   string
	callID   string
	fromTag  string
	toTag    string
	branch   string
	cseq     int
	extra    []string // more header lines
	body     string
}

func newRequest(method, ruri, fromUser, toUser string) *request {
	return &request{method: method, ruri: ruri, fromUser: fromUser, toUser: toUser,
		callID: token(12) + "@probe", fromTag: token(6), branch: "z9hG4bK" + token(8), cseq: 1}
}

// next is the same dialog's next request: a new branch and CSeq, no
// credentials.
func (r *request) next() *request {
	n := *r
	n.branch = "z9hG4bK" + token(8)
	n.cseq++
	n.extra = nil
	return &n
}

func (c *sipConn) text(r *request) string {
	l := c.local()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", r.method, r.ruri)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=%s;rport\r\n", l.String(), r.branch)
	fmt.Fprintf(&b, "Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: <sip:%s@%s>;tag=%s\r\n", r.fromUser, c.domain, r.fromTag)
	to := fmt.Sprintf("To: <sip:%s@%s>", r.toUser, c.domain)
	if r.toTag != "" {
		to += ";tag=" + r.toTag
	}
	b.WriteString(to + "\r\n")
	fmt.Fprintf(&b, "Call-ID: %s\r\n", r.callID)
	fmt.Fprintf(&b, "CSeq: %d %s\r\n", r.cseq, r.method)
	fmt.Fprintf(&b, "Contact: <sip:%s@%s>\r\n", r.fromUser, l.String())
	if r.method == "REGISTER" {
		b.WriteString("Expires: 60\r\n")
	}
	b.WriteString("User-Agent: switchboard-probe\r\n")
	for _, h := range r.extra {
		b.WriteString(h + "\r\n")
	}
	if r.body != "" {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(r.body), r.body)
	return b.String()
}

func (c *sipConn) send(r *request) error {
	_, err := c.conn.WriteToUDP([]byte(c.text(r)), c.target)
	return err
}

// read returns the next response for callID that arrives before deadline;
// nil, nil when none did. Datagrams from any other address are dropped:
// the probe listens to its target only.
func (c *sipConn) read(callID string, deadline time.Time) (*sip.Response, error) {
	buf := make([]byte, 65535)
	for {
		if err := c.conn.SetReadDeadline(deadline); err != nil {
			return nil, err
		}
		n, from, err := c.conn.ReadFromUDP(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if !from.IP.Equal(c.target.IP) || from.Port != c.target.Port {
			continue
		}
		msg, err := sip.ParseMessage(append([]byte(nil), buf[:n]...))
		if err != nil {
			continue
		}
		res, ok := msg.(*sip.Response)
		if !ok || res.CallID() == nil || res.CallID().Value() != callID {
			continue
		}
		return res, nil
	}
}

// final sends r and returns its final response and the time from sending
// to it; nil when none came within timeout. For INVITE a provisional
// response other than 100 is returned too: the call got somewhere, and the
// caller decides whether to CANCEL it.
func (c *sipConn) final(r *request, timeout time.Duration) (*sip.Response, time.Duration, error) {
	start := time.Now()
	if err := c.send(r); err != nil {
		return nil, 0, err
	}
	deadline := start.Add(timeout)
	for {
		res, err := c.read(r.callID, deadline)
		if err != nil || res == nil {
			return nil, 0, err
		}
		if res.StatusCode >= 200 || r.method == "INVITE" && res.StatusCode > 100 {
			if r.method == "INVITE" && res.StatusCode >= 300 {
				c.ack(r, res)
			}
			return res, time.Since(start), nil
		}
	}
}

// ack acknowledges a final non-2xx response to INVITE r (same branch, RFC
// 3261 §17.1.1.3), so the server stops retransmitting it.
func (c *sipConn) ack(r *request, res *sip.Response) {
	a := *r
	a.method, a.body, a.extra = "ACK", "", nil
	if to := res.To(); to != nil {
		a.toTag, _ = to.Params.Get("tag")
	}
	_ = c.send(&a)
}

// authorize adds the digest answer to res's challenge for r.
func authorize(r *request, res *sip.Response, user, password string) error {
	hdr, name := "WWW-Authenticate", "Authorization"
	if res.StatusCode == 407 {
		hdr, name = "Proxy-Authenticate", "Proxy-Authorization"
	}
	var chal *digest.Challenge
	for _, h := range res.GetHeaders(hdr) {
		ch, err := digest.ParseChallenge(h.Value())
		if err == nil && digest.CanDigest(ch) {
			chal = ch
			break
		}
	}
	if chal == nil {
		return fmt.Errorf("%d without a digest challenge", res.StatusCode)
	}
	chal.Algorithm = strings.ToUpper(chal.Algorithm)
	cred, err := digest.Digest(chal, digest.Options{Method: r.method, URI: r.ruri, Username: user, Password: password, Count: 1})
	if err != nil {
		return err
	}
	r.extra = append(r.extra, name+": "+cred.String())
	return nil
}

// authenticated sends r, answers the challenge with user and password and
// returns the final response to the authenticated request; r is left as
// that request (for ACK, CANCEL, BYE).
func (c *sipConn) authenticated(r *request, user, password string, timeout time.Duration) (*sip.Response, *request, error) {
	res, _, err := c.final(r, timeout)
	if err != nil {
		return nil, r, err
	}
	if res == nil {
		return nil, r, fmt.Errorf("no answer to %s within %s", r.method, timeout)
	}
	if res.StatusCode != 401 && res.StatusCode != 407 {
		return res, r, nil
	}
	n := r.next()
	n.body = r.body
	if err := authorize(n, res, user, password); err != nil {
		return nil, n, err
	}
	res, _, err = c.final(n, timeout)
	if err == nil && res == nil {
		err = fmt.Errorf("no answer to the authenticated %s within %s", r.method, timeout)
	}
	return res, n, err
}

func token(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// status is "401 Unauthorized" for evidence lines.
func status(res *sip.Response) string {
	if res == nil {
		return "no answer"
	}
	return fmt.Sprintf("%d %s", res.StatusCode, res.Reason)
}
