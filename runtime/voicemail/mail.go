package voicemail

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"

	"switchboard/email"
	"switchboard/runtime/clock"
	"switchboard/runtime/events"
)

// Notification is what a new-message e-mail says.
type Notification struct {
	To       string // the recipient's address
	Name     string // the recipient's name
	Site     string // the site's display name
	Message  Message
	WAV      []byte         // the message's file, attached as is
	Location *time.Location // for the times shown; nil: UTC
}

// ComposeMail writes n as a multipart/mixed e-mail from from: a short
// text and the recording attached (audio/wav, base64). It is
// deterministic: the same notification gives the same bytes.
func ComposeMail(n Notification, from string) (email.Message, error) {
	loc := n.Location
	if loc == nil {
		loc = time.UTC
	}
	m := n.Message
	when := m.Time.In(loc)
	caller := callerText(m.From)
	length := clockText(m.Duration())
	site := clean(n.Site)
	file := m.Name() + ".wav"

	var text strings.Builder
	if name := clean(n.Name); name != "" {
		first, _, _ := strings.Cut(name, " ")
		fmt.Fprintf(&text, "Hello %s,\n\n", first)
	}
	fmt.Fprintf(&text, "%s left you a voicemail message", caller)
	if site != "" {
		fmt.Fprintf(&text, " at %s", site)
	}
	fmt.Fprintf(&text, ".\n\n")
	fmt.Fprintf(&text, "  From:      %s\n", caller)
	fmt.Fprintf(&text, "  Received:  %s\n", when.Format("Mon 2 Jan 2006 15:04:05 MST"))
	fmt.Fprintf(&text, "  Length:    %s\n", length)
	if m.Reason != "" {
		fmt.Fprintf(&text, "  Because:   %s\n", clean(m.Reason))
	}
	fmt.Fprintf(&text, "  Mailbox:   %s, message %d\n", clean(m.Box), m.ID)
	if m.Recovered {
		fmt.Fprintf(&text, "\nThe call was cut off by a restart of the server; this is what was\nrecorded until then.\n")
	}
	fmt.Fprintf(&text, "\nThe recording is attached (%s).\n", file)

	_, domain, _ := strings.Cut(from, "@")
	domain = strings.Trim(domain, "<> ")
	sender := "Voicemail"
	if site != "" {
		sender = site + " voicemail"
	}
	msg, err := email.Letter{
		From:        mail.Address{Name: sender, Address: from},
		To:          mail.Address{Name: clean(n.Name), Address: n.To},
		Subject:     fmt.Sprintf("New voicemail from %s (%s)", caller, length),
		Date:        when,
		MessageID:   fmt.Sprintf("vm.%s.%d.%d@%s", m.Box, m.ID, m.Time.Unix(), domain),
		Text:        text.String(),
		Attachments: []email.Attachment{{Name: file, ContentType: "audio/wav", Data: n.WAV}},
	}.Compose()
	if err != nil {
		return email.Message{}, fmt.Errorf("voicemail: %w", err)
	}
	return msg, nil
}

// clean makes a caller-supplied string safe for a header or a line of
// text: no control characters (no header injection), at most 80 runes.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > 80 {
		s = string(r[:80])
	}
	return s
}

// callerText names a caller: "Front gate (device.front-gate)", a number,
// or "An unknown caller".
func callerText(f From) string {
	display, id := clean(f.Display), clean(f.Number)
	if id == "" {
		id = clean(f.Account)
	}
	switch {
	case display != "" && id != "" && display != id:
		return display + " (" + id + ")"
	case display != "":
		return display
	case id != "":
		return id
	}
	return "An unknown caller"
}

// clockText writes a duration as m:ss.
func clockText(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// mailRetries are the waits before each new try of an e-mail the mail
// server did not take for a reason that may pass (refused for now with
// 4xx, or unreachable). After the last the message just stays in the box.
var mailRetries = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 4 * time.Hour}

// notify e-mails a new message to its box's owner, off the calling
// goroutine.
func (s *Service) notify(boxName string, id int) { s.notifyTry(boxName, id, 0) }

// retryMail tries the e-mail of message id again after its attempt-th
// failure, on the service's clock, unless it was the last or the service
// is closing. It reports whether it will.
func (s *Service) retryMail(boxName string, id, attempt int) bool {
	if attempt >= len(mailRetries) {
		return false
	}
	ref := msgRef{box: boxName, id: id}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.retries == nil {
		s.retries = map[msgRef]clock.Timer{}
	}
	s.retries[ref] = s.clk.AfterFunc(mailRetries[attempt], func() {
		s.mu.Lock()
		_, due := s.retries[ref]
		delete(s.retries, ref)
		s.mu.Unlock()
		if due {
			s.notifyTry(boxName, id, attempt+1)
		}
	})
	return true
}

// notifyTry is notify's attempt-th try (0 the first).
func (s *Service) notifyTry(boxName string, id, attempt int) {
	if s.cfg.Mailer == nil {
		return
	}
	p := s.cfg.Program()
	if p == nil {
		return
	}
	u := owner(p, boxName)
	to := ""
	if u != nil {
		to = u.NotifyEmail
		if to == "" {
			to = u.Email
		}
	}
	if to == "" {
		return
	}
	b, err := s.box(boxName)
	if err != nil {
		return
	}
	m, ok := b.get(id)
	if !ok {
		return
	}
	data, err := b.wav(id)
	if err != nil {
		s.log.Error("voicemail: reading a message to mail it", "box", boxName, "message", id, "error", err)
		return
	}
	from := s.cfg.MailFrom
	if from == "" {
		from = "voicemail@" + p.Site.Domain
	}
	loc := time.UTC
	if tz := p.Site.Timezone; tz != "" {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		}
	}
	n := Notification{To: to, Site: p.Site.DisplayName, Message: m, WAV: data, Location: loc}
	if u != nil {
		n.Name = u.DisplayName
	}
	if n.Site == "" {
		n.Site = p.Site.Name
	}
	msg, err := ComposeMail(n, from)
	if err != nil {
		s.log.Error("voicemail: composing a notification", "box", boxName, "message", id, "error", err)
		s.publish(events.Event{Kind: events.VoicemailMailFailed, Cause: err.Error()}, boxName)
		return
	}
	s.mail.Add(1)
	go func() {
		defer s.mail.Done()
		if err := s.cfg.Mailer.Send(context.Background(), msg); err != nil {
			again := !email.Permanent(err) && s.retryMail(boxName, id, attempt)
			cause := fmt.Sprintf("%s to %s: %v", m.Name(), to, err)
			if again {
				cause += fmt.Sprintf("; trying again in %s", mailRetries[attempt])
			}
			s.log.Error("voicemail: e-mailing a message; it stays in the box", "box", boxName, "message", id, "to", to, "error", err, "retry", again)
			s.publish(events.Event{Kind: events.VoicemailMailFailed, Cause: cause}, boxName)
			return
		}
		mailed := events.Event{Kind: events.VoicemailMailed, Cause: m.Name() + " to " + to}
		if s.cfg.DeleteAfterNotify {
			s.publish(mailed, boxName)
			if ok, err := b.remove(id); err != nil {
				s.log.Error("voicemail: deleting a mailed message", "box", boxName, "message", id, "error", err)
			} else if ok {
				s.publish(events.Event{Kind: events.VoicemailDeleted, Cause: m.Name() + " after its e-mail"}, boxName)
				s.changed(boxName)
			}
			return
		}
		// Marked before it is said: who reads the box on the event (the
		// portal, a test) finds the message mailed.
		if _, err := b.update(id, func(m *Message) { m.Mailed = true }); err != nil {
			s.log.Error("voicemail: marking a message mailed", "box", boxName, "message", id, "error", err)
		}
		s.publish(mailed, boxName)
	}()
}
