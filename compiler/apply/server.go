package apply

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Server is a running `switchboard serve`, reached through its admin
// endpoints.
type Server interface {
	// Reload makes the server load the dial plan just written.
	Reload(ctx context.Context) error
	// CheckSync asks the server to send one device a SIP NOTIFY
	// check-sync, so it fetches its provisioning files now.
	CheckSync(ctx context.Context, device string) error
}

// HTTPServer talks to serve's admin endpoints: POST /admin/reload and POST
// /admin/check-sync?device=NAME on its -admin address (loopback only, with
// the admin token).
type HTTPServer struct {
	Base   string // "http://127.0.0.1:8080"
	Client *http.Client
	// Token is serve's admin token, sent as "Authorization: Bearer Token".
	Token string
}

// NewHTTPServer returns the Server at addr: "host:port" or an http(s) URL.
func NewHTTPServer(addr string) (*HTTPServer, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("the server address %q is not host:port or an http URL", addr)
	}
	return &HTTPServer{Base: strings.TrimSuffix(u.String(), "/"), Client: &http.Client{Timeout: 30 * time.Second}}, nil
}

// Reload implements Server.
func (s *HTTPServer) Reload(ctx context.Context) error {
	return s.post(ctx, "/admin/reload")
}

// CheckSync implements Server.
func (s *HTTPServer) CheckSync(ctx context.Context, device string) error {
	return s.post(ctx, "/admin/check-sync?device="+url.QueryEscape(device))
}

func (s *HTTPServer) post(ctx context.Context, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Base+path, nil)
	if err != nil {
		return err
	}
	if s.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.Token)
	}
	res, err := s.Client.Do(req)
	if err != nil {
		return fmt.Errorf("the server at %s does not answer: %s", s.Base, unwrapURLError(err))
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode/100 != 2 {
		msg := strings.TrimSpace(string(body))
		if msg == "" {
			msg = res.Status
		}
		return fmt.Errorf("the server said: %s", msg)
	}
	return nil
}
