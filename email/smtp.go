package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTPMailer sends through an SMTP server with emersion/go-smtp: STARTTLS
// when the server offers it, AUTH PLAIN when a user is set — and then only
// over TLS or to this machine, so a password never crosses a network in
// the clear.
type SMTPMailer struct {
	Addr           string // host:port
	User, Password string // optional
	// Timeout bounds the whole exchange; zero: 30 seconds.
	Timeout time.Duration
}

// Send implements Mailer. A server's refusal is a *Refusal.
func (s *SMTPMailer) Send(ctx context.Context, m Message) error {
	if err := s.send(ctx, m); err != nil {
		return fmt.Errorf("mail server %s: %w", s.Addr, err)
	}
	return nil
}

func (s *SMTPMailer) send(ctx context.Context, m Message) error {
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host, _, _ := net.SplitHostPort(s.Addr)
	c, err := s.dial(ctx, nil)
	if err != nil {
		return err
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		// go-smtp upgrades a connection to TLS only as it opens it: take
		// a new one that starts with STARTTLS.
		c.Quit()
		if c, err = s.dial(ctx, &tls.Config{ServerName: host}); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	defer c.Close()
	if s.User != "" {
		if _, isTLS := c.TLSConnectionState(); !isTLS && !loopback(host) {
			return errors.New("the server offers no STARTTLS: not sending the password in the clear")
		}
		if err := c.Auth(sasl.NewPlainClient("", s.User, s.Password)); err != nil {
			return fmt.Errorf("login: %w", refusal(err))
		}
	}
	if err := c.Mail(m.From, nil); err != nil {
		return fmt.Errorf("sender %s: %w", m.From, refusal(err))
	}
	if err := c.Rcpt(m.To, nil); err != nil {
		return fmt.Errorf("recipient %s: %w", m.To, refusal(err))
	}
	w, err := c.Data()
	if err != nil {
		return refusal(err)
	}
	if _, err := w.Write(m.Data); err != nil {
		return refusal(err)
	}
	if err := w.Close(); err != nil {
		return refusal(err)
	}
	return refusal(c.Quit())
}

// dial opens a client to the server whose connection ends with ctx,
// starting TLS first when tlsConfig is set.
func (s *SMTPMailer) dial(ctx context.Context, tlsConfig *tls.Config) (*smtp.Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// A cancelled context closes the connection, which ends any command
	// waiting on the server.
	context.AfterFunc(ctx, func() { conn.Close() })
	if tlsConfig == nil {
		return smtp.NewClient(conn), nil
	}
	c, err := smtp.NewClientStartTLS(conn, tlsConfig)
	if err != nil {
		return nil, refusal(err)
	}
	// The TLS handshake happens at the first command after STARTTLS:
	// make it happen here, so that its failure reads as one.
	if err := c.Noop(); err != nil {
		c.Close()
		return nil, refusal(err)
	}
	return c, nil
}

// refusal turns go-smtp's reply errors into a *Refusal, so callers (the
// voicemail retry) need not know the client.
func refusal(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return &Refusal{Code: se.Code, Text: se.Message}
	}
	return err
}

// loopback reports whether host names this machine, where a password in
// the clear crosses no network (net/smtp's rule, kept).
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
