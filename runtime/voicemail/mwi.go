package voicemail

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The SIP event package and body type of message-waiting indication
// (RFC 3842).
const (
	EventPackage = "message-summary"
	ContentType  = "application/simple-message-summary"
)

// Summary counts a box's voice messages: new (unheard) and old (heard or
// saved), and of each the urgent ones.
type Summary struct {
	New, Old             int
	NewUrgent, OldUrgent int
}

// MWI is an application/simple-message-summary body.
type MWI struct {
	Waiting bool
	// Account is the Message-Account URI (where to call to hear the
	// messages); empty leaves the header out.
	Account string
	Voice   Summary
}

// Body renders m (RFC 3842 §5.2): CRLF line ends, Messages-Waiting
// first.
func (m MWI) Body() []byte {
	var b bytes.Buffer
	waiting := "no"
	if m.Waiting {
		waiting = "yes"
	}
	fmt.Fprintf(&b, "Messages-Waiting: %s\r\n", waiting)
	if m.Account != "" {
		fmt.Fprintf(&b, "Message-Account: %s\r\n", m.Account)
	}
	v := m.Voice
	fmt.Fprintf(&b, "Voice-Message: %d/%d (%d/%d)\r\n", v.New, v.Old, v.NewUrgent, v.OldUrgent)
	return b.Bytes()
}

// ParseMWI reads an application/simple-message-summary body: the
// Messages-Waiting line it requires, Message-Account and Voice-Message if
// present; other message classes and headers are ignored.
func ParseMWI(body []byte) (MWI, error) {
	var m MWI
	seenWaiting := false
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return MWI{}, fmt.Errorf("message-summary: malformed line %q", line)
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "messages-waiting":
			switch strings.ToLower(value) {
			case "yes":
				m.Waiting = true
			case "no":
				m.Waiting = false
			default:
				return MWI{}, fmt.Errorf("message-summary: Messages-Waiting %q", value)
			}
			seenWaiting = true
		case "message-account":
			m.Account = value
		case "voice-message":
			v, err := parseCounts(value)
			if err != nil {
				return MWI{}, err
			}
			m.Voice = v
		}
	}
	if err := sc.Err(); err != nil {
		return MWI{}, fmt.Errorf("message-summary: %w", err)
	}
	if !seenWaiting {
		return MWI{}, errors.New("message-summary: no Messages-Waiting line")
	}
	return m, nil
}

// parseCounts reads "new/old" with an optional "(urgent-new/urgent-old)".
func parseCounts(v string) (Summary, error) {
	bad := func() (Summary, error) { return Summary{}, fmt.Errorf("message-summary: Voice-Message %q", v) }
	plain, urgent, hasUrgent := strings.Cut(v, "(")
	n, o, ok := pair(plain)
	if !ok {
		return bad()
	}
	s := Summary{New: n, Old: o}
	if hasUrgent {
		inner, ok := strings.CutSuffix(strings.TrimSpace(urgent), ")")
		if !ok {
			return bad()
		}
		if s.NewUrgent, s.OldUrgent, ok = pair(inner); !ok {
			return bad()
		}
	}
	return s, nil
}

func pair(s string) (int, int, bool) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, 0, false
	}
	x, err1 := count(a)
	y, err2 := count(b)
	return x, y, err1 == nil && err2 == nil
}

func count(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 9 || strings.Trim(s, "0123456789") != "" {
		return 0, errors.New("not a count")
	}
	return strconv.Atoi(s)
}

// MessageSummary is the message-summary body of box for the running
// program: Message-Account is the voicemail access number at the site's
// domain. A box that cannot be read counts as empty (and is logged).
func (s *Service) MessageSummary(box string) []byte {
	m := MWI{Account: s.messageAccount()}
	sum, err := s.Summary(box)
	if err != nil {
		s.log.Error("voicemail: message summary", "box", box, "error", err)
	}
	m.Voice = sum
	m.Waiting = sum.New > 0
	return m.Body()
}

// messageAccount is sip:<access number>@<domain>, or "" without one.
func (s *Service) messageAccount() string {
	p := s.cfg.Program()
	if p == nil {
		return ""
	}
	access := p.VoicemailAccess()
	if access == "" || p.Site.Domain == "" {
		return ""
	}
	return "sip:" + access + "@" + p.Site.Domain
}
