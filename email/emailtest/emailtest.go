// Package emailtest is a real SMTP server (emersion/go-smtp) on loopback
// for tests of what switchboard mails: it keeps every message it
// receives, so a test can read what was sent and count how often.
package emailtest

import (
	"io"
	"net"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// Mail is one message the server took.
type Mail struct {
	From string
	To   []string
	Data string
}

// Server is a running SMTP server. Its address is Addr.
type Server struct {
	Addr string

	mu   sync.Mutex
	mail []Mail
}

// Start listens on 127.0.0.1:0 and serves until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	srv := &Server{}
	s := smtp.NewServer(srv)
	s.Domain = "mail.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Addr = ln.Addr().String()
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return srv
}

// Received is every message taken so far, in order.
func (srv *Server) Received() []Mail {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return append([]Mail(nil), srv.mail...)
}

// NewSession implements smtp.Backend.
func (srv *Server) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &session{srv: srv}, nil
}

type session struct {
	srv *Server
	cur Mail
}

func (s *session) Reset()        { s.cur = Mail{} }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.cur.From = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}

// Data keeps the message; it is in Received before the client hears
// that it was accepted.
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = string(b)
	s.srv.mu.Lock()
	s.srv.mail = append(s.srv.mail, s.cur)
	s.srv.mu.Unlock()
	return nil
}
