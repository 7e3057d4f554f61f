package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/icholy/digest"
)

// rawGet sends one HTTP request as written (path unchanged: no client
// cleans it), with the given extra header lines, and returns the status
// and the body's length. With user set it first fetches the challenge and
// answers it for exactly this path.
func (p *prober) rawGet(method, path string, headers []string, user, password string) (int, int, error) {
	var auth string
	if user != "" {
		code, res, err := p.rawOnce(method, path, headers)
		if err != nil {
			return 0, 0, err
		}
		if code != http.StatusUnauthorized {
			return code, len(res.body), nil
		}
		chal, err := digest.FindChallenge(res.header)
		if err != nil {
			return code, len(res.body), nil
		}
		chal.Algorithm = strings.ToUpper(chal.Algorithm)
		cred, err := digest.Digest(chal, digest.Options{Method: method, URI: path, Username: user, Password: password, Count: 1})
		if err != nil {
			return 0, 0, err
		}
		auth = "Authorization: " + cred.String()
	}
	hs := headers
	if auth != "" {
		hs = append(append([]string{}, headers...), auth)
	}
	code, res, err := p.rawOnce(method, path, hs)
	if err != nil {
		return 0, 0, err
	}
	return code, len(res.body), nil
}

type rawResponse struct {
	header http.Header
	body   []byte
}

func (p *prober) rawOnce(method, path string, headers []string) (int, rawResponse, error) {
	return p.rawAt(p.t.HTTP, p.t.HTTPS, method, path, headers)
}

// rawAt sends one request, as written, to addr (over TLS when https).
func (p *prober) rawAt(addr netip.AddrPort, https bool, method, path string, headers []string) (int, rawResponse, error) {
	d := &net.Dialer{Timeout: p.l.Timeout}
	var conn net.Conn
	var err error
	if https {
		// The probe audits the server, it does not trust it: the
		// certificate is not its business (the TLS check looks at versions
		// and ciphers).
		conn, err = tls.DialWithDialer(d, "tcp", addr.String(), &tls.Config{InsecureSkipVerify: true})
	} else {
		conn, err = d.Dial("tcp", addr.String())
	}
	if err != nil {
		return 0, rawResponse{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(p.l.Timeout))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: switchboard-probe\r\nConnection: close\r\nContent-Length: 0\r\n", method, path, p.host(addr))
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return 0, rawResponse{}, err
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, rawResponse{}, err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, rawResponse{header: res.Header, body: body}, nil
}

// host is the Host header of a request to addr: the site's domain, as a
// device names it in its provisioning URL, so that a server of several
// sites (serve DIR DIR…, which routes HTTP by Host) hands the request to
// the site audited; the address when the site has no domain.
func (p *prober) host(addr netip.AddrPort) string {
	if p.site.Program != nil && p.site.Program.Site.Domain != "" {
		return net.JoinHostPort(p.site.Program.Site.Domain, fmt.Sprint(addr.Port()))
	}
	return addr.String()
}

// provisioning fetches one device's file without credentials, with a
// wrong password, with another device's real credentials, and through
// path tricks; none may serve anything.
func (p *prober) provisioning(ctx context.Context) Result {
	if !p.t.HTTP.IsValid() {
		return skip("no HTTP address to probe")
	}
	var own, other *File
	for i := range p.site.Files {
		f := &p.site.Files[i]
		if f.Device == "" {
			continue
		}
		if own == nil {
			own = f
		} else if other == nil && f.Device != own.Device {
			other = f
		}
	}
	if own == nil {
		return skip("the site has no device's provisioning file")
	}
	ownAcct := p.deviceAccount(own.Device)
	var ev []string
	failed := false
	// want lists the statuses expected; none means "anything that
	// serves nothing" (not 2xx: a redirect to the cleaned path, which then
	// asks for the device's own credentials, is fine).
	try := func(what, path string, headers []string, user, password string, want ...int) {
		code, n, err := p.rawGet("GET", path, headers, user, password)
		line := fmt.Sprintf("%s: GET %s → %d (%d bytes)", what, path, code, n)
		switch {
		case err != nil:
			failed = true
			line = fmt.Sprintf("%s: GET %s: %v", what, path, err)
		case len(want) > 0 && !containsInt(want, code):
			failed = true
			line += fmt.Sprintf(", want %v", want)
		case code >= 200 && code < 300:
			failed = true
			line += ", want a refusal"
		}
		ev = append(ev, line)
	}
	file := "/" + own.Path
	try("no credentials", file, nil, "", "", 401)
	if ownAcct != "" {
		try("wrong password", file, nil, ownAcct, "probe-wrong-"+token(4), 401, 403)
	}
	var otherAcct, otherPW string
	if other != nil {
		otherAcct = p.deviceAccount(other.Device)
		otherPW, _ = p.site.Password(otherAcct)
	}
	if otherAcct != "" {
		try(fmt.Sprintf("%s's credentials for %s's file", other.Device, own.Device), file, nil, otherAcct, otherPW, 403, 404)
	} else {
		ev = append(ev, "another device's credentials: the site has one device with files")
	}
	// Path tricks, with another device's credentials where the site has
	// one (authenticated, so only the path stands between it and the
	// file), else with none.
	for _, trick := range []string{
		"/x/../" + own.Path,
		"/%2e%2e/" + own.Path,
		"/x/%2e%2e/" + own.Path,
		"//" + own.Path,
		"/x%2f..%2f" + own.Path,
		"/..%2f..%2f..%2fetc%2fpasswd",
		"/../../../../etc/passwd",
		"/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
		"//etc/passwd",
		"/etc/passwd",
		"/" + strings.ReplaceAll(own.Path, "/", "%2f"),
		"/.switchboard/site.key",
	} {
		try("path trick", trick, nil, otherAcct, otherPW)
	}
	return result(failed, "provisioning files were served to no one but their device",
		"a provisioning file was served without its device's credentials", ev)
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// deviceAccount is the digest user name of a device's SIP account.
func (p *prober) deviceAccount(device string) string {
	d := p.site.Program.Device(device)
	if d == nil {
		return ""
	}
	if a := p.site.Program.Account(d.Account); a != nil {
		return a.AuthName
	}
	return ""
}

// admin calls the admin endpoints on their own listener the way someone
// without the token would: with none, with a made-up one, and with
// forwarded headers that claim a proxy relayed the request. Every one must
// be refused (401, 403, or 429 once wrong tokens are throttled): the probe
// never reads the token, so anything else is an endpoint open to whoever
// can reach it. On the provisioning address, which faces the network, the
// admin paths must not be served at all (404 or 403). A server of several
// sites has each site's under /sites/DOMAIN/admin/ (adminPrefix).
func (p *prober) admin(ctx context.Context) Result {
	if !p.t.Admin.IsValid() && !p.t.HTTP.IsValid() {
		return skip("no admin or HTTP address to probe")
	}
	var ev []string
	failed := false
	// A made-up token each run; the evidence says what it was, not its
	// value, so that no line of output looks like a credential.
	wrong := "Authorization: Bearer probe-wrong-" + token(8)
	call := func(at netip.AddrPort, https bool, method, path string, headers []string, want ...int) {
		code, res, err := p.rawAt(at, https, method, path, headers)
		line := fmt.Sprintf("%s %s %s", at, method, path)
		var shown []string
		for _, h := range headers {
			if h == wrong {
				h = "a wrong Bearer token"
			}
			shown = append(shown, h)
		}
		if len(shown) > 0 {
			line += " with " + strings.Join(shown, ", ")
		}
		switch {
		case err != nil:
			failed = true
			line += fmt.Sprintf(": %v", err)
		default:
			line += fmt.Sprintf(" → %d (%d bytes)", code, len(res.body))
			if !slices.Contains(want, code) {
				failed = true
				line += fmt.Sprintf(", want %v", want)
			}
		}
		ev = append(ev, line)
	}
	type request struct {
		method, path string
		headers      []string
	}
	prefix := ""
	if p.t.Admin.IsValid() {
		if prefix = p.adminPrefix(); prefix != "" {
			ev = append(ev, fmt.Sprintf("a server of several sites: this site's admin endpoints are under %s/admin/", prefix))
		}
		for _, c := range []request{
			{"GET", "/admin/status", nil},
			{"POST", "/admin/reload", nil},
			{"POST", "/admin/check-sync?device=probe-nobody", nil},
			{"GET", "/admin/status", []string{wrong}},
			{"POST", "/admin/reload", []string{wrong}},
			{"GET", "/admin/status", []string{"X-Forwarded-For: 127.0.0.1"}},
			{"POST", "/admin/reload", []string{"X-Forwarded-For: 203.0.113.5"}},
			{"POST", "/admin/reload", []string{"X-Real-IP: 127.0.0.1", "Forwarded: for=127.0.0.1"}},
			{"POST", "/admin/reload", []string{"Via: 1.1 probe-proxy", wrong}},
		} {
			call(p.t.Admin, false, c.method, prefix+c.path, c.headers, 401, 403, 429)
		}
	} else {
		ev = append(ev, "no admin address to probe (-admin)")
	}
	if p.t.HTTP.IsValid() {
		for _, c := range []request{
			{"GET", "/admin/status", nil},
			{"POST", "/admin/reload", nil},
			{"POST", "/admin/reload", []string{"X-Forwarded-For: 127.0.0.1"}},
		} {
			call(p.t.HTTP, p.t.HTTPS, c.method, c.path, c.headers, 403, 404)
		}
	}
	return result(failed, "the admin endpoints refused every request without the token, and the provisioning address does not serve them",
		"an admin endpoint answered without the token, or is served on the provisioning address", ev)
}

// adminPrefix is where the site's admin endpoints are on the admin
// listener: "" (/admin/...) for a server of one site, "/sites/DOMAIN"
// for a server of several (serve DIR DIR…), which serves no /admin/ of
// its own. It asks without a token, as every admin request of the probe
// does; a server that answers /admin/ (or neither) keeps "".
func (p *prober) adminPrefix() string {
	if p.site.Program == nil || p.site.Program.Site.Domain == "" {
		return ""
	}
	if code, _, err := p.rawAt(p.t.Admin, false, "GET", "/admin/status", nil); err != nil || code != http.StatusNotFound {
		return ""
	}
	prefix := "/sites/" + p.site.Program.Site.Domain
	if code, _, err := p.rawAt(p.t.Admin, false, "GET", prefix+"/admin/status", nil); err != nil || code == http.StatusNotFound {
		return ""
	}
	return prefix
}
