package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/icholy/digest"

	"switchboard/compiler/ir"
	"switchboard/compiler/provision"
	"switchboard/compiler/provision/akuvox"
	"switchboard/compiler/provision/devfile"
	"switchboard/compiler/provision/grandstream"
	"switchboard/compiler/provision/yealink"
)

// Read-back for the vendors whose devices fetch their files (Yealink,
// Grandstream): apply tells them to fetch (check-sync through the running
// server), then reads their settings back through their web API and
// compares them with the files:
//
//   - Yealink: GET /servlet?phonecfg=get&accounts=1, the Action URI that
//     Yealink's administrator guide (T2/T4/CP860, "Action URI", phone
//     action phonecfg=get) documents for reading the firmware and account
//     configuration, behind the phone's web login (digest here). It
//     reports the account.* settings; the rest of the file is not read
//     back, and the detail says how many settings were compared. Its
//     answer format ("key = value" lines) is unverified.
//   - Grandstream: POST /cgi-bin/dologin (username, password) for a sid,
//     then POST /cgi-bin/api.values.get with request=P<n>:P<m>:… and the
//     sid, answering {"response":"success","body":{"P<n>":…}} — the web
//     API public clients of GXP/GRP/HT8xx firmware use, and which Rapid7's
//     CVE-2026-2329 write-up describes (colon-separated identifiers in
//     "request"). Passwords are not asked for: phones do not show them.
//
// Both are listed, with their sources, in provision.Unverified.

// deviceSettings are the settings of a device's files as the state
// records them (state.Delivery.Settings) and read-back compares: every
// setting but the secret ones, by the key the device's API uses. nil for
// a device without settings files.
func deviceSettings(b *provision.Bundle, d *ir.Device) map[string]string {
	if b == nil {
		return nil
	}
	out := map[string]string{}
	switch d.Vendor {
	case akuvox.Vendor:
		f := b.File(akuvox.Path(d.MAC))
		if f == nil {
			return nil
		}
		kvs, err := akuvox.Parse(f.Data)
		if err != nil {
			return nil
		}
		for _, kv := range kvs {
			out[kv.Key] = kv.Value
		}
		if cf := b.File(akuvox.ContactsPath(d.MAC)); cf != nil {
			if cs, err := akuvox.ParseContacts(cf.Data); err == nil {
				contactSettings(out, cs)
			}
		}
	case yealink.Vendor:
		boot := b.File(yealink.BootPath(d.MAC))
		if boot == nil {
			return nil
		}
		bc, err := yealink.Parse(boot.Data)
		if err != nil {
			return nil
		}
		// The boot file's includes in order, later files overriding
		// earlier ones, as the phone applies them.
		for _, inc := range bc.Includes {
			f := b.File(inc)
			if f == nil {
				continue
			}
			c, err := yealink.Parse(f.Data)
			if err != nil {
				return nil
			}
			for _, kv := range c.Settings {
				out[kv.Key] = kv.Value
			}
		}
	case grandstream.Vendor:
		f := b.File(grandstream.Path(d.MAC))
		if f == nil {
			return nil
		}
		s, err := grandstream.Parse(f.Data)
		if err != nil {
			return nil
		}
		for n, v := range s.P {
			out["P"+strconv.Itoa(n)] = v
		}
	default:
		return nil
	}
	maps.DeleteFunc(out, func(k, _ string) bool { return secretKey(d.Vendor, k) })
	return out
}

// secretKey reports whether a vendor key holds a password, which the
// state never records and devices do not show.
func secretKey(vendor, k string) bool {
	switch vendor {
	case grandstream.Vendor:
		// P2 admin password, P34 and P406 the SIP passwords (GXP, GDS).
		return k == "P2" || k == "P34" || k == "P406" || k == "P196"
	}
	return isSecretKey(k)
}

// phoneReader reads a device's settings back: the values it reports for
// keys (it may report more, or fewer).
type phoneReader func(ctx context.Context, keys []string) (map[string]string, error)

// readerFor returns the read-back of a device of vendor at t, or nil when
// switchboard has none for the vendor.
func readerFor(vendor string, t Target, timeout time.Duration) (phoneReader, func()) {
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1}
	switch vendor {
	case yealink.Vendor:
		c := &http.Client{Timeout: timeout, Transport: &digest.Transport{Username: t.User, Password: t.Password, Transport: tr}}
		return func(ctx context.Context, _ []string) (map[string]string, error) {
			return readYealink(ctx, c, strings.TrimSuffix(t.URL, "/"))
		}, c.CloseIdleConnections
	case grandstream.Vendor:
		c := &http.Client{Timeout: timeout, Transport: tr}
		return func(ctx context.Context, keys []string) (map[string]string, error) {
			return readGrandstream(ctx, c, strings.TrimSuffix(t.URL, "/"), t, keys)
		}, c.CloseIdleConnections
	}
	return nil, func() {}
}

func readYealink(ctx context.Context, c *http.Client, base string) (map[string]string, error) {
	data, status, err := httpDo(ctx, c, http.MethodGet, base+"/servlet?phonecfg=get&accounts=1", "", nil)
	if err != nil {
		return nil, err
	}
	if err := statusError(status, "GET /servlet?phonecfg=get"); err != nil {
		return nil, err
	}
	kvs, err := devfile.ParseKV(data, func(l string) bool { return l[0] == '#' })
	if err != nil {
		return nil, &apiError{Unsupported, "the phone's configuration answer is not key = value lines: " + err.Error()}
	}
	return devfile.KVMap(kvs), nil
}

func readGrandstream(ctx context.Context, c *http.Client, base string, t Target, keys []string) (map[string]string, error) {
	login := url.Values{"username": {t.User}, "password": {t.Password}}
	var env struct {
		Response string          `json:"response"`
		Body     json.RawMessage `json:"body"`
	}
	data, status, err := httpDo(ctx, c, http.MethodPost, base+"/cgi-bin/dologin", "application/x-www-form-urlencoded", []byte(login.Encode()))
	if err != nil {
		return nil, err
	}
	if err := statusError(status, "POST /cgi-bin/dologin"); err != nil {
		return nil, err
	}
	var sess struct {
		SID string `json:"sid"`
	}
	if json.Unmarshal(data, &env) != nil || env.Response != "success" || json.Unmarshal(env.Body, &sess) != nil || sess.SID == "" {
		return nil, &apiError{Unreachable, "the phone refused the web login; check its admin user and password"}
	}
	q := url.Values{"request": {strings.Join(keys, ":")}, "sid": {sess.SID}}
	data, status, err = httpDo(ctx, c, http.MethodPost, base+"/cgi-bin/api.values.get", "application/x-www-form-urlencoded", []byte(q.Encode()))
	if err != nil {
		return nil, err
	}
	if err := statusError(status, "POST /cgi-bin/api.values.get"); err != nil {
		return nil, err
	}
	var got struct {
		Response string          `json:"response"`
		Body     json.RawMessage `json:"body"`
	}
	var values map[string]string
	if json.Unmarshal(data, &got) != nil || got.Response != "success" || json.Unmarshal(got.Body, &values) != nil {
		return nil, &apiError{Unsupported, "api.values.get did not answer with P-values"}
	}
	return values, nil
}

func httpDo(ctx context.Context, c *http.Client, method, url, contentType string, body []byte) ([]byte, int, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return nil, 0, &apiError{Unreachable, err.Error()}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, 0, &apiError{Unreachable, unwrapURLError(err)}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return nil, 0, &apiError{Unreachable, "reading the answer: " + err.Error()}
	}
	return data, res.StatusCode, nil
}

func statusError(status int, what string) error {
	switch {
	case status == http.StatusUnauthorized:
		return &apiError{Unreachable, "the device refused the login (HTTP 401); check its admin user and password"}
	case status == http.StatusNotFound:
		return &apiError{Unsupported, what + " is not served (HTTP 404)"}
	case status/100 != 2:
		return &apiError{Unreachable, fmt.Sprintf("%s: HTTP %d", what, status)}
	}
	return nil
}

// verifyPhone reads a phone's settings back until they are want or wait
// runs out: the phone fetches its files some moments after check-sync,
// and nothing tells apply when it has, so the read-back is repeated every
// poll. Only the keys the phone reports are compared; one that reports
// none of them cannot be verified ("unsupported firmware").
func verifyPhone(ctx context.Context, read phoneReader, want map[string]string, wait, poll time.Duration) Push {
	keys := slices.Sorted(maps.Keys(want))
	deadline := time.Now().Add(wait)
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	for {
		have, err := read(ctx, keys)
		if err != nil {
			return verdictFor(err)
		}
		compared, bad := 0, []string(nil)
		for _, k := range keys {
			got, ok := have[k]
			if !ok {
				continue
			}
			compared++
			if got != want[k] {
				bad = append(bad, k)
			}
		}
		switch {
		case compared == 0:
			return Push{Verdict: Unsupported, Detail: "its read-back reports none of the settings switchboard writes, so nothing could be verified"}
		case len(bad) == 0:
			p := Push{Verdict: SetVerified}
			if compared < len(keys) {
				p.Detail = fmt.Sprintf("%d of %d settings read back; the phone does not report the others", compared, len(keys))
			}
			return p
		case time.Now().After(deadline):
			return Push{Verdict: DidNotStick, Detail: fmt.Sprintf("after check-sync, %d of %d settings read back otherwise: %s", len(bad), compared, keyList(bad))}
		}
		select {
		case <-ctx.Done():
			return Push{Verdict: Unreachable, Detail: "the apply was interrupted while waiting for the device to fetch its files"}
		case <-ticker.C:
		}
	}
}
