package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/icholy/digest"

	"switchboard/compiler/provision/akuvox"
)

// Verdict is the outcome of pushing a device's settings through its
// management API.
type Verdict string

const (
	// AlreadySet: the device already had every setting; nothing written.
	AlreadySet Verdict = "already set"
	// SetVerified: written, and every setting read back as written.
	SetVerified Verdict = "set and verified"
	// DidNotStick: written, but some settings read back otherwise.
	DidNotStick Verdict = "did not stick"
	// Unsupported: the firmware does not have the keys switchboard writes
	// or refuses them; nothing is known to have changed.
	Unsupported Verdict = "unsupported firmware"
	// Unreachable: no answer, or the login was refused.
	Unreachable Verdict = "unreachable"
)

// Succeeded reports whether the device ends up with its settings.
func (v Verdict) Succeeded() bool { return v == AlreadySet || v == SetVerified }

// Target is where a device's management API answers, and the login it
// takes. The password is the device's own admin password, which the site
// does not manage; it is never printed or stored.
type Target struct {
	URL      string // base URL, "http://192.0.2.10", no credentials
	User     string
	Password string
}

// Push is the result of pushing one device.
type Push struct {
	Verdict  Verdict
	Detail   string // what went wrong, or what was not checked; never a value
	Firmware string // as the device reports it
	Written  int    // settings written
}

// akuvoxCoreKey must be in an Akuvox configuration of the firmware family
// switchboard writes; its absence means the key map does not fit
// ("fail closed").
const akuvoxCoreKey = "Config.Account1.GENERAL.UserName"

// pushAkuvox writes the settings of an AutoP file through the device's
// HTTP API (/api/config/set, digest authentication) and reads them back.
func pushAkuvox(ctx context.Context, t Target, file []byte, timeout time.Duration) Push {
	kvs, err := akuvox.Parse(file)
	if err != nil {
		return Push{Verdict: Unsupported, Detail: fmt.Sprintf("the device's file cannot be read back: %v", err)}
	}
	want := map[string]string{}
	for _, kv := range kvs {
		want[kv.Key] = kv.Value
	}
	c := newAkuvoxClient(t, timeout)
	defer c.close()

	var res Push
	info, err := c.call(ctx, http.MethodGet, "/api/system/info", nil)
	if err != nil {
		return verdictFor(err)
	}
	var status struct {
		Status struct{ Model, FirmwareVersion string }
	}
	json.Unmarshal(info, &status)
	res.Firmware = strings.TrimSpace(status.Status.Model + " " + status.Status.FirmwareVersion)

	have, err := c.config(ctx)
	if err != nil {
		return withFirmware(verdictFor(err), res.Firmware)
	}
	if _, ok := have[akuvoxCoreKey]; !ok {
		res.Verdict = Unsupported
		res.Detail = fmt.Sprintf("its configuration has no %s: the firmware spells its keys otherwise, and nothing was written", akuvoxCoreKey)
		return res
	}
	diff, unreadable := differing(want, have)
	if len(diff) == 0 && len(unreadable) == 0 {
		res.Verdict = AlreadySet
		return res
	}
	// Passwords a device masks on read cannot be compared: they are always
	// written, and verified only by the other settings sticking.
	write := map[string]string{}
	for _, k := range append(diff, unreadable...) {
		write[k] = want[k]
	}
	body, _ := json.Marshal(map[string]any{"target": "config", "action": "set", "data": write})
	if _, err := c.call(ctx, http.MethodPost, "/api/config/set", body); err != nil {
		return withFirmware(verdictFor(err), res.Firmware)
	}
	res.Written = len(write)
	after, err := c.config(ctx)
	if err != nil {
		res.Verdict = DidNotStick
		res.Detail = "written, but the read-back failed: " + verdictFor(err).Detail
		return res
	}
	if bad, _ := differing(want, after); len(bad) > 0 {
		res.Verdict = DidNotStick
		res.Detail = fmt.Sprintf("%d of %d settings read back otherwise: %s", len(bad), len(write), keyList(bad))
		return res
	}
	res.Verdict = SetVerified
	if len(unreadable) > 0 {
		res.Detail = fmt.Sprintf("%s written; the device does not show it, so it is verified by the device registering", keyList(unreadable))
	}
	return res
}

func withFirmware(p Push, fw string) Push {
	p.Firmware = fw
	return p
}

// differing returns, sorted, the keys whose value on the device differs
// from want, and the secret keys the device shows masked.
func differing(want, have map[string]string) (diff, unreadable []string) {
	for k, v := range want {
		got, ok := have[k]
		switch {
		case ok && got == v:
		case ok && isSecretKey(k) && masked(got):
			unreadable = append(unreadable, k)
		default:
			diff = append(diff, k)
		}
	}
	slices.Sort(diff)
	slices.Sort(unreadable)
	return diff, unreadable
}

func isSecretKey(k string) bool {
	l := strings.ToLower(k)
	return strings.HasSuffix(l, "pwd") || strings.HasSuffix(l, "password")
}

func masked(v string) bool { return v != "" && strings.Trim(v, "*") == "" }

// keyList names up to three keys (never their values).
func keyList(keys []string) string {
	if len(keys) <= 3 {
		return strings.Join(keys, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(keys[:3], ", "), len(keys)-3)
}

// apiError is a failed API call, classified.
type apiError struct {
	verdict Verdict
	detail  string
}

func (e *apiError) Error() string { return string(e.verdict) + ": " + e.detail }

func verdictFor(err error) Push {
	var ae *apiError
	if errors.As(err, &ae) {
		return Push{Verdict: ae.verdict, Detail: ae.detail}
	}
	return Push{Verdict: Unreachable, Detail: err.Error()}
}

type akuvoxClient struct {
	base string
	http *http.Client
}

func newAkuvoxClient(t Target, timeout time.Duration) *akuvoxClient {
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: false, MaxIdleConnsPerHost: 1}
	return &akuvoxClient{
		base: strings.TrimSuffix(t.URL, "/"),
		http: &http.Client{
			Timeout:   timeout,
			Transport: &digest.Transport{Username: t.User, Password: t.Password, Transport: tr},
			// A device that moved to HTTPS answers 308; follow it.
		},
	}
}

func (c *akuvoxClient) close() { c.http.CloseIdleConnections() }

// call makes one API call and returns the envelope's data.
func (c *akuvoxClient) call(ctx context.Context, method, path string, body []byte) (json.RawMessage, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return nil, &apiError{Unreachable, err.Error()}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, &apiError{Unreachable, unwrapURLError(err)}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return nil, &apiError{Unreachable, "reading the answer: " + err.Error()}
	}
	switch {
	case res.StatusCode == http.StatusUnauthorized:
		return nil, &apiError{Unreachable, "the device refused the API login (HTTP 401); check the device's API user and password"}
	case res.StatusCode == http.StatusForbidden && res.Header.Get("WWW-Authenticate") == "":
		return nil, &apiError{Unreachable, "HTTP 403 without a login challenge: the device's API is probably in allow-list mode with an empty list; set it to digest authentication"}
	case res.StatusCode == http.StatusNotFound || bytes.Contains(data, []byte("No handlers")):
		return nil, &apiError{Unsupported, fmt.Sprintf("%s %s is not served (HTTP %d)", method, path, res.StatusCode)}
	case res.StatusCode/100 != 2:
		return nil, &apiError{Unreachable, fmt.Sprintf("%s %s: HTTP %d", method, path, res.StatusCode)}
	}
	var env struct {
		Retcode int             `json:"retcode"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, &apiError{Unsupported, fmt.Sprintf("%s %s did not answer in the device's JSON envelope", method, path)}
	}
	if env.Retcode != 0 {
		if strings.Contains(strings.ToLower(env.Message), "unsupport") {
			return nil, &apiError{Unsupported, fmt.Sprintf("%s %s: the device answered %q", method, path, env.Message)}
		}
		return nil, &apiError{DidNotStick, fmt.Sprintf("%s %s: the device answered retcode %d %q", method, path, env.Retcode, env.Message)}
	}
	return env.Data, nil
}

// config reads the device's whole configuration.
func (c *akuvoxClient) config(ctx context.Context) (map[string]string, error) {
	data, err := c.call(ctx, http.MethodGet, "/api/config/get", nil)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, &apiError{Unsupported, "the configuration is not a key/value map"}
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		switch x := v.(type) {
		case string:
			out[k] = x
		case nil:
			out[k] = ""
		default:
			out[k] = strings.Trim(fmt.Sprint(x), " ")
		}
	}
	return out, nil
}

// unwrapURLError drops the "Get "http://…":" prefix of a client error,
// keeping the cause.
func unwrapURLError(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			if errors.Is(inner, context.DeadlineExceeded) {
				return "no answer in time"
			}
			if errors.Is(inner, io.EOF) || errors.Is(inner, io.ErrUnexpectedEOF) {
				return "the connection closed without an answer"
			}
			return inner.Error()
		}
	}
	return err.Error()
}

// pushAkuvoxContacts makes the device's contact list (/api/contact/*, the
// envelope pylocal-akuvox's contact research documents) hold exactly want:
// entries not wanted are deleted by ID, missing ones added, and the list
// is read back. A list already right is left alone.
func pushAkuvoxContacts(ctx context.Context, t Target, want []akuvox.Contact, timeout time.Duration) Push {
	c := newAkuvoxClient(t, timeout)
	defer c.close()
	have, err := c.contacts(ctx)
	if err != nil {
		return verdictFor(err)
	}
	extra, missing := contactDiff(want, have)
	if len(extra) == 0 && len(missing) == 0 {
		return Push{Verdict: AlreadySet}
	}
	if len(extra) > 0 {
		var ids []map[string]string
		for _, x := range extra {
			ids = append(ids, map[string]string{"ID": x.ID})
		}
		body, _ := json.Marshal(map[string]any{"target": "contact", "action": "del", "data": map[string]any{"item": ids}})
		if _, err := c.call(ctx, http.MethodPost, "/api/contact/set", body); err != nil {
			return verdictFor(err)
		}
	}
	if len(missing) > 0 {
		body, _ := json.Marshal(map[string]any{"target": "contact", "action": "add", "data": map[string]any{"item": missing}})
		if _, err := c.call(ctx, http.MethodPost, "/api/contact/set", body); err != nil {
			return verdictFor(err)
		}
	}
	after, err := c.contacts(ctx)
	if err != nil {
		return Push{Verdict: DidNotStick, Detail: "contacts written, but the read-back failed: " + verdictFor(err).Detail}
	}
	if extra, missing := contactDiff(want, after); len(extra)+len(missing) > 0 {
		return Push{Verdict: DidNotStick, Detail: fmt.Sprintf("the contact list reads back with %d contacts missing and %d not wanted", len(missing), len(extra))}
	}
	return Push{Verdict: SetVerified, Written: len(extra) + len(missing)}
}

// deviceContact is a contact as the device lists it, with its ID.
type deviceContact struct {
	ID    string `json:"ID"`
	Name  string `json:"Name"`
	Phone string `json:"Phone"`
	Group string `json:"Group"`
}

// contactDiff returns the device's contacts not in want, and the wanted
// ones it lacks; a contact is its name and number.
func contactDiff(want []akuvox.Contact, have []deviceContact) (extra []deviceContact, missing []akuvox.Contact) {
	left := map[[2]string]int{}
	for _, w := range want {
		left[[2]string{w.Name, w.Phone}]++
	}
	for _, h := range have {
		k := [2]string{h.Name, h.Phone}
		if left[k] > 0 {
			left[k]--
			continue
		}
		extra = append(extra, h)
	}
	for _, w := range want {
		k := [2]string{w.Name, w.Phone}
		if left[k] > 0 {
			left[k]--
			missing = append(missing, w)
		}
	}
	return extra, missing
}

// maxContactPages bounds the pages read from a device that never says it
// is done.
const maxContactPages = 1000

// contacts reads the whole contact list, page by page.
func (c *akuvoxClient) contacts(ctx context.Context) ([]deviceContact, error) {
	var out []deviceContact
	for page := 1; page <= maxContactPages; page++ {
		data, err := c.call(ctx, http.MethodGet, "/api/contact/get?page="+strconv.Itoa(page), nil)
		if err != nil {
			return nil, err
		}
		var list struct {
			Num  int             `json:"num"`
			Item []deviceContact `json:"item"`
		}
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, &apiError{Unsupported, "the contact list is not {num, item}"}
		}
		out = append(out, list.Item...)
		if len(list.Item) == 0 || len(out) >= list.Num {
			return out, nil
		}
	}
	return nil, &apiError{Unsupported, "the contact list does not end"}
}
