package listener

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"switchboard/tlstest"
)

// TestHTTPKeepAlive: net/http keeps a connection open between requests,
// and interrupts its own background read at the end of each request with
// a read deadline in the past. That timeout is the server's, not a silent
// peer: the connection must stay open for the client's next request (serve
// closed every admin and provisioning connection after one request, so a
// client reusing it, as apply's check-syncs after its reload did, got
// "server closed idle connection"). The listener's own deadlines still
// close connections (TestIdleTimeout, TestSilentConnection).
func TestHTTPKeepAlive(t *testing.T) {
	conf := &tls.Config{Certificates: []tls.Certificate{tlstest.Loopback(t)}, MinVersion: tls.VersionTLS12}
	for _, o := range []Options{
		{},                                // provisioning and admin: deadlines are net/http's
		{Handshake: bound / 2},            // with a first-bytes deadline too
		{Handshake: bound / 2, TLS: conf}, // provisioning over HTTPS
	} {
		t.Run(fmt.Sprintf("handshake=%v,tls=%v", o.Handshake, o.TLS != nil), func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			hs := &http.Server{
				Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					fmt.Fprintln(w, "ok")
				}),
				ReadHeaderTimeout: bound, IdleTimeout: bound,
			}
			go hs.Serve(New(l, o))
			t.Cleanup(func() { hs.Close() })

			var c net.Conn
			if o.TLS != nil {
				c, err = tls.Dial("tcp", l.Addr().String(), &tls.Config{InsecureSkipVerify: true})
			} else {
				c, err = net.Dial("tcp", l.Addr().String())
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(bound))
			r := bufio.NewReader(c)
			for i := range 3 {
				if _, err := fmt.Fprintf(c, "POST /admin/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"); err != nil {
					t.Fatalf("request %d: %v", i+1, err)
				}
				res, err := http.ReadResponse(r, nil)
				if err != nil {
					t.Fatalf("request %d on the same connection: %v", i+1, err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusOK || strings.EqualFold(res.Header.Get("Connection"), "close") {
					t.Fatalf("request %d: %s, Connection: %q", i+1, res.Status, res.Header.Get("Connection"))
				}
			}
		})
	}
}
