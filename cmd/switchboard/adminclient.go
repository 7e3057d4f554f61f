package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"switchboard/compiler/ir"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/sipstack"
	"switchboard/runtime/site"
)

// adminClient asks a running serve's admin endpoints, with the admin
// token (runtime/site AdminHandler: loopback only, bearer token).
type adminClient struct {
	base  string // http://127.0.0.1:8089
	token string
	http  *http.Client
	// domain is the site's, when its build says it: a serve of several
	// sites has its admin endpoints under /sites/DOMAIN/ (serve_sites.go).
	domain string
}

// newAdminClient is the client of the serve whose admin endpoints listen
// on addr, with the token SWITCHBOARD_ADMIN_TOKEN holds, else tokenFile,
// else DIR/.switchboard/admin-token (as apply -serve finds it).
func (c *cli) newAdminClient(dir, addr, tokenFile string) (*adminClient, error) {
	if err := checkAdminAddr(addr); err != nil {
		return nil, err
	}
	token, err := c.serveToken(dir, tokenFile)
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, fmt.Errorf("no admin token: serve writes it to %s when it starts; give SWITCHBOARD_ADMIN_TOKEN or -token-file otherwise", defaultAdminTokenFile(dir))
	}
	// No overall timeout: an events request waits up to
	// site.MaxEventsWait by design; each request has its own context.
	return &adminClient{base: "http://" + addr, token: token, http: &http.Client{}, domain: builtDomain(dir)}, nil
}

// builtDomain is the domain of the site in dir as serve last built it
// (or of the build directory dir); "" when there is no build.
func builtDomain(dir string) string {
	for _, f := range []string{filepath.Join(dir, ".switchboard", "build", "dialplan.json"), filepath.Join(dir, "dialplan.json")} {
		if data, err := os.ReadFile(f); err == nil {
			if p, err := ir.Unmarshal(data); err == nil {
				return strings.ToLower(p.Site.Domain)
			}
		}
	}
	return ""
}

// get decodes the JSON answer of GET path into v.
func (a *adminClient) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return err
	}
	return a.do(req, v)
}

// do sends req with the token and decodes its JSON answer into v.
func (a *adminClient) do(req *http.Request, v any) error {
	req.Header.Set("Authorization", "Bearer "+a.token)
	res, err := a.http.Do(req)
	if err == nil && res.StatusCode == http.StatusNotFound && a.domain != "" && strings.HasPrefix(req.URL.Path, "/admin/") {
		// A serve of several sites: this site's endpoints are under its
		// domain. (The requests have no body to send again.)
		res.Body.Close()
		again := req.Clone(req.Context())
		again.URL.Path = "/sites/" + a.domain + req.URL.Path
		res, err = a.http.Do(again)
	}
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && ue.Err != nil {
			err = ue.Err
		}
		return fmt.Errorf("serve's admin endpoints at %s: %w (is switchboard serve running with -admin %s?)", a.base, err, strings.TrimPrefix(a.base, "http://"))
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("serve's admin endpoints answered %s: %s", res.Status, strings.TrimSpace(string(msg)))
	}
	return json.NewDecoder(res.Body).Decode(v)
}

// accounts asks GET /admin/accounts.
func (a *adminClient) accounts(ctx context.Context) (site.AccountsReport, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var r site.AccountsReport
	return r, a.get(ctx, "/admin/accounts", &r)
}

// events asks GET /admin/events for what follows ID after of epoch,
// waiting up to wait for it.
func (a *adminClient) events(ctx context.Context, epoch string, after uint64, wait time.Duration) (site.EventPage, error) {
	ctx, cancel := context.WithTimeout(ctx, wait+10*time.Second)
	defer cancel()
	q := url.Values{"after": {fmt.Sprint(after)}, "wait": {fmt.Sprint(int(wait / time.Second))}}
	if epoch != "" {
		q.Set("epoch", epoch)
	}
	var p site.EventPage
	return p, a.get(ctx, "/admin/events?"+q.Encode(), &p)
}

// ringTest asks POST /admin/ring-test: the server rings user's endpoints
// and waits for a digit; the answer comes when the test is over.
func (a *adminClient) ringTest(ctx context.Context, user string, wait time.Duration) (b2bua.RingTestResult, error) {
	secs := fmt.Sprint(int(wait / time.Second))
	q := url.Values{"user": {user}, "ring": {secs}, "confirm": {secs}}
	ctx, cancel := context.WithTimeout(ctx, 2*wait+10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/admin/ring-test?"+q.Encode(), nil)
	if err != nil {
		return b2bua.RingTestResult{}, err
	}
	var r b2bua.RingTestResult
	return r, a.do(req, &r)
}

// callSIP asks GET /admin/calls/{id}/sip: the SIP messages the server
// kept of call id.
func (a *adminClient) callSIP(ctx context.Context, id string) (sipstack.CallTrace, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var t sipstack.CallTrace
	return t, a.get(ctx, "/admin/calls/"+url.PathEscape(id)+"/sip", &t)
}
