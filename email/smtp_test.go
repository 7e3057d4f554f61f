package email

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"

	"switchboard/tlstest"
)

// server is a real SMTP server (emersion/go-smtp) on loopback that keeps
// what it receives, refuses recipients named in refuse, and checks the
// login user/pw when a client logs in.
type server struct {
	addr   string
	refuse map[string]*smtp.SMTPError

	mu     sync.Mutex
	got    []Message
	logins []string
}

func startServer(t *testing.T, tlsConfig *tls.Config) *server {
	t.Helper()
	srv := &server{refuse: map[string]*smtp.SMTPError{}}
	s := smtp.NewServer(srv)
	s.Domain = "mail.test"
	s.AllowInsecureAuth = true
	s.TLSConfig = tlsConfig
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.addr = ln.Addr().String()
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return srv
}

func (srv *server) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{srv: srv}, nil }

type session struct {
	srv *server
	cur Message
}

func (s *session) Reset()        { s.cur = Message{} }
func (s *session) Logout() error { return nil }
func (s *session) AuthMechanisms() []string {
	return []string{sasl.Plain}
}
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pw string) error {
		if user != "user" || pw != "pw" {
			return errors.New("bad login")
		}
		s.srv.mu.Lock()
		s.srv.logins = append(s.srv.logins, user)
		s.srv.mu.Unlock()
		return nil
	}), nil
}
func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.cur.From = from; return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if e := s.srv.refuse[to]; e != nil {
		return e
	}
	s.cur.To = to
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = b
	s.srv.mu.Lock()
	s.srv.got = append(s.srv.got, s.cur)
	s.srv.mu.Unlock()
	return nil
}

func (srv *server) received() []Message {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return append([]Message(nil), srv.got...)
}

var letter = Message{From: "vm@hv.example", To: "mary@example.com", Data: []byte("Subject: hi\r\n\r\nhello\r\n")}

func TestSMTPSend(t *testing.T) {
	srv := startServer(t, nil)
	m := &SMTPMailer{Addr: srv.addr, User: "user", Password: "pw", Timeout: 10 * time.Second}
	if err := m.Send(context.Background(), letter); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Message{letter}, srv.received()); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"user"}, srv.logins); diff != "" {
		t.Errorf("logins (-want +got):\n%s", diff)
	}
	m.Password = "wrong"
	if err := m.Send(context.Background(), letter); err == nil || !strings.Contains(err.Error(), "login") {
		t.Errorf("Send with a wrong password = %v", err)
	}
}

// A server's refusal is a *Refusal, and a 5xx one is permanent: the
// voicemail retry reads it so.
func TestSMTPRefusal(t *testing.T) {
	srv := startServer(t, nil)
	srv.refuse["later@example.com"] = &smtp.SMTPError{Code: 451, Message: "greylisted"}
	srv.refuse["never@example.com"] = &smtp.SMTPError{Code: 550, Message: "no such mailbox"}
	m := &SMTPMailer{Addr: srv.addr}
	tests := []struct {
		to        string
		code      int
		permanent bool
	}{
		{"later@example.com", 451, false},
		{"never@example.com", 550, true},
	}
	for _, tt := range tests {
		err := m.Send(context.Background(), Message{From: letter.From, To: tt.to, Data: letter.Data})
		var r *Refusal
		if !errors.As(err, &r) || r.Code != tt.code {
			t.Errorf("Send to %s = %v, want a %d refusal", tt.to, err, tt.code)
		}
		if got := Permanent(err); got != tt.permanent {
			t.Errorf("Permanent(%v) = %v, want %v", err, got, tt.permanent)
		}
	}
	if got := srv.received(); len(got) != 0 {
		t.Errorf("refused mail arrived: %v", got)
	}
	// Not reaching the server at all may pass.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	err := (&SMTPMailer{Addr: addr}).Send(context.Background(), letter)
	if err == nil || Permanent(err) {
		t.Errorf("Send to a closed port = %v, want an error that is not permanent", err)
	}
}

// A server that offers STARTTLS gets TLS before anything else: with a
// certificate the system does not trust, nothing is sent.
func TestSMTPStartTLS(t *testing.T) {
	srv := startServer(t, &tls.Config{Certificates: []tls.Certificate{tlstest.Loopback(t)}})
	err := (&SMTPMailer{Addr: srv.addr, User: "user", Password: "pw"}).Send(context.Background(), letter)
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Send = %v, want a STARTTLS certificate error", err)
	}
	if len(srv.received()) != 0 || len(srv.logins) != 0 {
		t.Error("mail or login went through an untrusted connection")
	}
}

func TestLoopback(t *testing.T) {
	for host, want := range map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true, "192.0.2.1": false, "mail.example": false} {
		if got := loopback(host); got != want {
			t.Errorf("loopback(%q) = %v, want %v", host, got, want)
		}
	}
}
