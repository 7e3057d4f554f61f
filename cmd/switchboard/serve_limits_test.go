package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/icholy/digest"
)

// TestServeUnderAttack runs the real binary against what an attacker on
// the network can do to its listeners (issue 13, findings 1 and 7), over
// loopback, with bounded counts and times: a flood of malformed datagrams
// must not fill the log; idle connections beyond the limits are refused
// while a client that was there keeps working; a silent connection and a
// request whose body never comes are cut off; and a flood of connections
// under a low descriptor limit must not end the process.
func TestServeUnderAttack(t *testing.T) {
	t.Parallel()
	bin := buildSwitchboard(t)
	dir := copyExample(t, "family-home")
	env := append(os.Environ(), "SWITCHBOARD_SITE_KEY="+testSiteKey, "NO_COLOR=1")
	// serve starts `serve` with args (under a descriptor limit when
	// nofile > 0) and returns it with its ready line's addresses.
	serve := func(t *testing.T, nofile int, args ...string) (*served, map[string]string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		t.Cleanup(cancel)
		args = append(append([]string{"serve"}, args...), dir)
		cmd := exec.CommandContext(ctx, bin, args...)
		if nofile > 0 {
			// The shell lowers the limit (soft and hard) and becomes serve.
			cmd = exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, nofile), bin}, args...)...)
		}
		s := startServe(t, cmd, env)
		m := s.waitLine("ready line", regexp.MustCompile(`^switchboard serve: ready: site "[^"]+", (.*), media 127\.0\.0\.1$`))
		addrs := map[string]string{}
		for _, part := range strings.Split(m[1], ", ") {
			i := strings.LastIndex(part, " ")
			addrs[part[:i]] = part[i+1:]
		}
		return s, addrs
	}

	t.Run("malformed datagrams", func(t *testing.T) {
		s, addrs := serve(t, 0, "-listen", "127.0.0.1:0", "-http", "", "-admin", "")
		peer, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
		srv, err := net.ResolveUDPAddr("udp", addrs["sip udp"])
		if err != nil {
			t.Fatal(err)
		}
		before := len(s.log())
		junk := []byte("GARBAGE sip:x SIP/2.0\r\nVia: " + strings.Repeat("\x01junk", 12_000) + "\r\n\r\n") // 60 KB
		for round := range 20 {
			for range 10 {
				if _, err := peer.WriteTo(junk, srv); err != nil {
					t.Fatal(err)
				}
			}
			// The server reads in order: once it answers this, it has
			// read the ten before it.
			if !answersUDP(t, peer, srv, round) {
				t.Fatalf("round %d: the server stopped answering", round)
			}
		}
		if grew := len(s.log()) - before; grew > 32<<10 {
			t.Errorf("200 malformed 60 KB datagrams added %d bytes to the log, want at most %d", grew, 32<<10)
		}
	})

	t.Run("per-source limit", func(t *testing.T) {
		_, addrs := serve(t, 0, "-listen", "127.0.0.1:0", "-tcp", "127.0.0.1:0", "-http", "", "-admin", "", "-max-connections-per-source", "20")
		tcp := addrs["sip tcp"]
		// The gate registers over TCP before the flood.
		var plan struct{ Site struct{ Domain string } }
		readJSON(t, filepath.Join(dir, ".switchboard", "build", "dialplan.json"), &plan)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "credentials", "-json", dir, "device.gate")
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("credentials: %v", err)
		}
		var creds []struct{ Password string }
		if err := json.Unmarshal(out, &creds); err != nil || len(creds) != 1 {
			t.Fatalf("credentials: %v %s", err, out)
		}
		gate := sipAccount{name: "device.gate", password: creds[0].Password, domain: plan.Site.Domain}
		client := dialTCP(t, tcp)
		if code := gate.registerTCP(t, client, 1); code != 200 {
			t.Fatalf("the gate's REGISTER over TCP: %d, want 200", code)
		}
		closed := make(chan bool, 40)
		for range 40 {
			c := dialTCP(t, tcp)
			// Well within the silent-connection deadline (20 s): only
			// refused connections are closed in this time.
			go func() { closed <- closedByPeer(c, 3*time.Second) }()
		}
		refused := 0
		for range 40 {
			if <-closed {
				refused++
			}
		}
		// The client holds one of the 20; 21 of the 40 are over.
		if refused != 21 {
			t.Errorf("%d of 40 connections refused under a per-source limit of 20 with one held, want 21", refused)
		}
		if code := gate.registerTCP(t, client, 3); code != 200 {
			t.Errorf("the gate's REGISTER over TCP during the flood: %d, want 200", code)
		}
	})

	t.Run("deadlines", func(t *testing.T) {
		cert, key := selfSignedCert(t)
		_, addrs := serve(t, 0, "-listen", "127.0.0.1:0", "-tcp", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", "",
			"-tls", "127.0.0.1:0", "-cert", cert, "-key", key,
			"-sip-idle-timeout", "1s", "-handshake-timeout", "1s", "-http-read-timeout", "1s")
		// A real TLS client is answered; a handshake left half-open is
		// closed.
		tc := tls.Client(dialTCP(t, addrs["sip tls"]), &tls.Config{InsecureSkipVerify: true})
		if code := optionsTCP(t, tc, 7); code == 0 {
			t.Error("no answer over TLS")
		}
		halfOpen := dialTCP(t, addrs["sip tls"])
		if _, err := halfOpen.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}); err != nil { // a record header and one byte of it
			t.Fatal(err)
		}
		if !closedByPeer(halfOpen, 10*time.Second) {
			t.Error("a half-open TLS handshake was kept open")
		}
		silent := dialTCP(t, addrs["sip tcp"])
		idle := dialTCP(t, addrs["sip tcp"])
		if code := optionsTCP(t, idle, 1); code == 0 {
			t.Fatal("no answer over TCP")
		}
		for name, c := range map[string]net.Conn{"a connection that never sent a byte": silent, "an idle connection": idle} {
			if !closedByPeer(c, 10*time.Second) {
				t.Errorf("%s was kept open", name)
			}
		}
		// A request announcing a body that never comes.
		h := tls.Client(dialTCP(t, addrs["https"]), &tls.Config{InsecureSkipVerify: true})
		fmt.Fprintf(h, "GET /admin/status HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
		if !closedByPeer(h, 10*time.Second) {
			t.Error("an HTTP request whose body never came held its connection")
		}
	})

	t.Run("connection flood under ulimit -n 256", func(t *testing.T) {
		s, addrs := serve(t, 256, "-listen", "127.0.0.1:0", "-tcp", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", "")
		var flood []net.Conn
		for range 400 {
			c, err := net.DialTimeout("tcp", addrs["sip tcp"], 5*time.Second)
			if err != nil {
				continue // the backlog is full: as good as refused
			}
			flood = append(flood, c)
		}
		for range 100 {
			if c, err := net.DialTimeout("tcp", addrs["http"], 5*time.Second); err == nil {
				flood = append(flood, c)
			}
		}
		peer, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
		srv, _ := net.ResolveUDPAddr("udp", addrs["sip udp"])
		if !answersUDP(t, peer, srv, 1) {
			t.Error("no answer over UDP during the flood")
		}
		// The flood ends: each connection is half-closed, and waited for
		// until the server closes its side (at once for those it refused,
		// at the end of the stream for those it kept), so that its place
		// is free again.
		for _, c := range flood {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
		}
		for _, c := range flood {
			if !closedByPeer(c, 20*time.Second) {
				t.Fatalf("the server kept %s open after the client's end of stream", c.LocalAddr())
			}
			c.Close()
		}
		select {
		case err := <-s.exit:
			t.Fatalf("serve ended during the flood: %v", err)
		default:
		}
		// After the flood, TCP and HTTP answer again. A connection's
		// place comes back just after the server closes it: a dial in
		// that moment is refused (closed at once), which is the cue to
		// dial again, a few times at most.
		for attempt := 1; ; attempt++ {
			c, err := net.DialTimeout("tcp", addrs["sip tcp"], 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			code := optionsTCPErr(c, 1)
			c.Close()
			if code != 0 {
				break
			}
			if attempt == 5 {
				t.Fatal("no answer over TCP after the flood")
			}
		}
		c := dialTCP(t, addrs["http"])
		fmt.Fprintf(c, "GET /admin/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 ") {
			t.Errorf("HTTP after the flood: %q, %v", line, err)
		}
		select {
		case err := <-s.exit:
			t.Fatalf("serve ended after the flood: %v", err)
		default:
		}
	})
}

func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByPeer reports whether the other end closes c within d.
func closedByPeer(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	for {
		_, err := c.Read(make([]byte, 4096))
		if err == nil {
			continue
		}
		return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
	}
}

// sipAccount registers over TCP with hand-written requests.
type sipAccount struct{ name, password, domain string }

// registerTCP registers over c (a REGISTER, its challenge, the REGISTER
// with credentials, CSeq n and n+1) and returns the final status, 0 for
// no answer.
func (a sipAccount) registerTCP(t *testing.T, c net.Conn, n int) int {
	t.Helper()
	r := bufio.NewReader(c)
	send := func(cseq int, authz string) (int, map[string]string) {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		var b strings.Builder
		fmt.Fprintf(&b, "REGISTER sip:%s SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK-reg-%d\r\nMax-Forwards: 70\r\n", a.domain, c.LocalAddr(), cseq)
		fmt.Fprintf(&b, "From: <sip:%[1]s@%[2]s>;tag=r1\r\nTo: <sip:%[1]s@%[2]s>\r\nCall-ID: limits-register@test\r\nCSeq: %d REGISTER\r\n", a.name, a.domain, cseq)
		fmt.Fprintf(&b, "Contact: <sip:%s@%s;transport=tcp>\r\nExpires: 3600\r\n", a.name, c.LocalAddr())
		if authz != "" {
			fmt.Fprintf(&b, "Authorization: %s\r\n", authz)
		}
		b.WriteString("Content-Length: 0\r\n\r\n")
		if _, err := io.WriteString(c, b.String()); err != nil {
			return 0, nil
		}
		return readResponse(r)
	}
	code, hdrs := send(n, "")
	if code != 401 {
		return code
	}
	chal, err := digest.ParseChallenge(hdrs["www-authenticate"])
	if err != nil {
		t.Fatalf("challenge %q: %v", hdrs["www-authenticate"], err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:" + a.domain, Username: a.name, Password: a.password})
	if err != nil {
		t.Fatal(err)
	}
	code, _ = send(n+1, cred.String())
	return code
}

// readResponse reads a response without a body: its status code (0 when
// none came) and its first header field of each name, names lower-cased.
func readResponse(r *bufio.Reader) (int, map[string]string) {
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, nil
	}
	var code int
	if _, err := fmt.Sscanf(line, "SIP/2.0 %d", &code); err != nil {
		return 0, nil
	}
	hdrs := map[string]string{}
	for {
		l, err := r.ReadString('\n')
		if err != nil || l == "\r\n" {
			break
		}
		if name, value, ok := strings.Cut(l, ":"); ok {
			name = strings.ToLower(strings.TrimSpace(name))
			if _, seen := hdrs[name]; !seen {
				hdrs[name] = strings.TrimSpace(value)
			}
		}
	}
	return code, hdrs
}

// optionsRequest is an OPTIONS from a stranger, which the server answers
// (with a refusal or not: an answer).
func optionsRequest(transport, local string, n int) string {
	return fmt.Sprintf("OPTIONS sip:whitfield.example SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=z9hG4bK-limits-%d;rport\r\n"+
		"Max-Forwards: 70\r\nFrom: <sip:probe@whitfield.example>;tag=t%d\r\nTo: <sip:whitfield.example>\r\n"+
		"Call-ID: limits-%d@test\r\nCSeq: %d OPTIONS\r\nContent-Length: 0\r\n\r\n", transport, local, n, n, n, n)
}

// optionsTCP sends an OPTIONS over c and returns the response's status
// code, 0 for none.
func optionsTCP(t *testing.T, c net.Conn, n int) int {
	t.Helper()
	return optionsTCPErr(c, n)
}

func optionsTCPErr(c net.Conn, n int) int {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, optionsRequest("TCP", c.LocalAddr().String(), n)); err != nil {
		return 0
	}
	code, _ := readResponse(bufio.NewReader(c))
	return code
}

// answersUDP sends an OPTIONS from peer and reports whether a response
// comes back.
func answersUDP(t *testing.T, peer net.PacketConn, srv net.Addr, n int) bool {
	t.Helper()
	if _, err := peer.WriteTo([]byte(optionsRequest("UDP", peer.LocalAddr().String(), n)), srv); err != nil {
		t.Fatal(err)
	}
	_ = peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 65536)
	for {
		k, _, err := peer.ReadFrom(buf)
		if err != nil {
			return false
		}
		if strings.HasPrefix(string(buf[:k]), "SIP/2.0 ") && strings.Contains(string(buf[:k]), fmt.Sprintf("limits-%d@test", n)) {
			return true
		}
	}
}
