package apply

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strings"
	"time"
)

// Mailer sends a composed message.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// Message is a composed mail: envelope and RFC 5322 data.
type Message struct {
	From string // envelope sender
	To   string // one recipient
	Data []byte
}

// SMTPMailer sends through an SMTP server with net/smtp: STARTTLS when the
// server offers it, AUTH PLAIN when a user is set (net/smtp sends it only
// over TLS or to localhost).
type SMTPMailer struct {
	Addr           string // host:port
	User, Password string // optional
	Timeout        time.Duration
}

// Send implements Mailer.
func (s *SMTPMailer) Send(ctx context.Context, m Message) error {
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("mail server %s: %w", s.Addr, err)
	}
	conn.SetDeadline(time.Now().Add(timeout))
	host, _, _ := net.SplitHostPort(s.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("mail server %s: %w", s.Addr, err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(nil); err != nil {
			return fmt.Errorf("mail server %s: STARTTLS: %w", s.Addr, err)
		}
	}
	if s.User != "" {
		if err := c.Auth(smtp.PlainAuth("", s.User, s.Password, host)); err != nil {
			return fmt.Errorf("mail server %s: login: %w", s.Addr, err)
		}
	}
	if err := c.Mail(m.From); err != nil {
		return fmt.Errorf("mail server %s: sender %s: %w", s.Addr, m.From, err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("mail server %s: recipient %s: %w", s.Addr, m.To, err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("mail server %s: %w", s.Addr, err)
	}
	if _, err := w.Write(m.Data); err != nil {
		return fmt.Errorf("mail server %s: %w", s.Addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail server %s: %w", s.Addr, err)
	}
	return c.Quit()
}

// Invitation is what one person's invitation says.
type Invitation struct {
	To       string // the notification address (notify_email, else email)
	Name     string // the person's full name
	SiteName string // the site's display name
	// Portal is the person's own app and portal login, when they have an
	// email address.
	PortalUser, PortalPassword string
	// SIP is their own SIP app account, when they have app = true.
	SIPUser, SIPAuthName, SIPPassword, SIPDomain string
	// App says which app to use.
	App string
	// Installer is who installed the site (a company name): named so the
	// person knows who to ask, never with the installer's login.
	Installer string
}

// ErrInstallerLogin is returned by Compose when a message would show the
// installer's login.
var ErrInstallerLogin = errors.New("the invitation would show the installer's login")

// Compose writes an invitation as a plain-text mail from from. It refuses
// (ErrInstallerLogin) a message that would contain forbidden — the
// installer's login — anywhere, headers included.
func Compose(inv Invitation, from string, forbidden string, now time.Time) (Message, error) {
	var body strings.Builder
	first := inv.Name
	if f, _, ok := strings.Cut(inv.Name, " "); ok {
		first = f
	}
	fmt.Fprintf(&body, "Hello %s,\n\n", first)
	fmt.Fprintf(&body, "You now have your own login for the door intercom and phones of %s.\n", inv.SiteName)
	fmt.Fprintf(&body, "It is yours alone: please do not share it with anyone, including the\npeople you live or work with. Each of them gets a login of their own.\n\n")
	if inv.SIPUser != "" {
		fmt.Fprintf(&body, "To answer the door and make calls, install %s on your\nphone and add this account:\n\n", inv.App)
		fmt.Fprintf(&body, "  Username:   %s\n", inv.SIPUser)
		if inv.SIPAuthName != "" && inv.SIPAuthName != inv.SIPUser {
			fmt.Fprintf(&body, "  Auth name:  %s\n", inv.SIPAuthName)
		}
		fmt.Fprintf(&body, "  Password:   %s\n", inv.SIPPassword)
		fmt.Fprintf(&body, "  Domain:     %s\n\n", inv.SIPDomain)
	}
	if inv.PortalUser != "" {
		fmt.Fprintf(&body, "Your login for the app and the web portal (your settings, voicemail,\nwho may open the door):\n\n")
		fmt.Fprintf(&body, "  Login:      %s\n", inv.PortalUser)
		fmt.Fprintf(&body, "  Password:   %s\n\n", inv.PortalPassword)
	}
	if inv.Installer != "" {
		fmt.Fprintf(&body, "The system was installed by %s. If you did not expect this\nmessage, tell the owner of the building or the installer.\n", inv.Installer)
	} else {
		fmt.Fprintf(&body, "If you did not expect this message, tell the owner of the building.\n")
	}

	var qp bytes.Buffer
	w := quotedprintable.NewWriter(&qp)
	w.Write([]byte(strings.ReplaceAll(body.String(), "\n", "\r\n")))
	w.Close()

	id := make([]byte, 12)
	rand.Read(id)
	_, domain, _ := strings.Cut(from, "@")
	var h strings.Builder
	fmt.Fprintf(&h, "From: %s\r\n", (&mail.Address{Name: inv.SiteName, Address: from}).String())
	fmt.Fprintf(&h, "To: %s\r\n", (&mail.Address{Name: inv.Name, Address: inv.To}).String())
	fmt.Fprintf(&h, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", "Your login for "+inv.SiteName))
	fmt.Fprintf(&h, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&h, "Message-ID: <%s@%s>\r\n", hex.EncodeToString(id), domain)
	fmt.Fprintf(&h, "MIME-Version: 1.0\r\n")
	fmt.Fprintf(&h, "Content-Type: text/plain; charset=utf-8\r\n")
	fmt.Fprintf(&h, "Content-Transfer-Encoding: quoted-printable\r\n\r\n")
	data := append([]byte(h.String()), qp.Bytes()...)

	if forbidden != "" {
		lower := strings.ToLower(forbidden)
		if strings.Contains(strings.ToLower(string(data)), lower) || strings.Contains(strings.ToLower(body.String()), lower) {
			return Message{}, ErrInstallerLogin
		}
	}
	return Message{From: from, To: inv.To, Data: data}, nil
}
