package emulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"switchboard/compiler/provision/grandstream"
	"switchboard/compiler/provision/yealink"
)

// Vendor is which vendor's device an emulator plays.
type Vendor string

const (
	// Akuvox: the local API above; settings are pushed to it.
	Akuvox Vendor = "akuvox"
	// Yealink: a desk phone that fetches its files from the provisioning
	// server on CheckSync, and reports its account settings through the
	// Action URI read-back
	//
	//	GET /servlet?phonecfg=get&accounts=1
	//
	// (Yealink's administrator guide, "Action URI": phonecfg=get returns
	// the firmware, registration, DND and forward configuration), behind
	// digest authentication, as "key = value" lines in the configuration
	// file format. The answer's format is not documented in what was read:
	// the keys are listed as unverified (provision.Unverified).
	Yealink Vendor = "yealink"
	// Grandstream: a desk phone or GDS door system that fetches
	// cfg<mac>.xml on CheckSync and reports its P-values through its web
	// API:
	//
	//	POST /cgi-bin/dologin        username=…&password=… → {"response":"success","body":{"sid":…}}
	//	POST /cgi-bin/api.values.get request=P47:P35&sid=… → {"response":"success","body":{"P47":…}}
	//
	// as public clients of GXP/GRP/HT8xx firmware use it.
	Grandstream Vendor = "grandstream"
)

// WithVendor makes the emulator play a device of vendor v (default
// Akuvox).
func WithVendor(v Vendor) Option { return func(c *config) { c.vendor = v } }

// WithMAC sets the device's MAC, 12 hex digits (default 0C11050000FF).
// A Yealink or Grandstream emulator fetches the files named with it.
func WithMAC(mac string) Option { return func(c *config) { c.mac = mac } }

// WithProvisioning sets the base URL, ending in "/", a Yealink or
// Grandstream emulator fetches its files from on CheckSync.
func WithProvisioning(url string) Option { return func(c *config) { c.provisionURL = url } }

// Vendor returns the vendor the emulator plays.
func (d *Device) Vendor() Vendor { return d.cfg.vendor }

// CheckSync is what a Yealink or Grandstream phone does when the server
// sends it NOTIFY check-sync: it fetches its files from the provisioning
// URL and applies their settings (Yealink: <mac>.boot and every file it
// includes, later files overriding earlier ones; Grandstream: cfg<mac>.xml).
// In DropWrites mode it fetches and keeps nothing, as a phone whose
// provisioning is locked; Unreachable fetches nothing and fails.
func (d *Device) CheckSync(ctx context.Context) error {
	mode := d.Mode()
	if mode == Unreachable {
		return fmt.Errorf("emulator: the device is unreachable")
	}
	if d.cfg.provisionURL == "" {
		return fmt.Errorf("emulator: no provisioning URL (WithProvisioning)")
	}
	mac := strings.ToLower(d.cfg.mac)
	var got map[string]string
	var err error
	switch d.cfg.vendor {
	case Yealink:
		got, err = d.fetchYealink(ctx, mac)
	case Grandstream:
		got, err = d.fetchGrandstream(ctx, mac)
	default:
		return fmt.Errorf("emulator: an %s device takes its settings through its API, not check-sync", d.cfg.vendor)
	}
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stats.Syncs++
	if mode == Normal {
		for k, v := range got {
			d.keys[k] = v
		}
	}
	return nil
}

func (d *Device) fetch(ctx context.Context, name string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.cfg.provisionURL+name, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("emulator: fetching %s: %w", name, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("emulator: fetching %s: %w", name, err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("emulator: fetching %s: HTTP %d", name, res.StatusCode)
	}
	return data, nil
}

func (d *Device) fetchYealink(ctx context.Context, mac string) (map[string]string, error) {
	boot, err := d.fetch(ctx, yealink.BootPath(mac))
	if err != nil {
		return nil, err
	}
	b, err := yealink.Parse(boot)
	if err != nil {
		return nil, fmt.Errorf("emulator: %s: %w", yealink.BootPath(mac), err)
	}
	out := map[string]string{}
	for _, inc := range b.Includes {
		data, err := d.fetch(ctx, inc)
		if err != nil {
			return nil, err
		}
		c, err := yealink.Parse(data)
		if err != nil {
			return nil, fmt.Errorf("emulator: %s: %w", inc, err)
		}
		for _, kv := range c.Settings {
			out[kv.Key] = kv.Value
		}
	}
	return out, nil
}

func (d *Device) fetchGrandstream(ctx context.Context, mac string) (map[string]string, error) {
	data, err := d.fetch(ctx, grandstream.Path(mac))
	if err != nil {
		return nil, err
	}
	s, err := grandstream.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("emulator: %s: %w", grandstream.Path(mac), err)
	}
	out := map[string]string{}
	for n, v := range s.P {
		out[fmt.Sprintf("P%d", n)] = v
	}
	return out, nil
}

// serveYealink answers the Action URI read-back: the account settings, one
// "key = value" line each, sorted. An UnsupportedFirmware phone answers
// 404, as firmware without the Action URI does.
func (d *Device) serveYealink(w http.ResponseWriter, r *http.Request, mode Mode) {
	if r.URL.Path != "/servlet" || r.URL.Query().Get("phonecfg") != "get" || mode == UnsupportedFirmware {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	d.mu.Lock()
	var lines []string
	for k, v := range d.keys {
		if strings.HasPrefix(k, "account.") {
			lines = append(lines, k+" = "+v)
		}
	}
	d.mu.Unlock()
	slices.Sort(lines)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, strings.Join(lines, "\n")+"\n")
}

// grandstreamSession is how long a Grandstream sid stays valid: as long as
// a nonce, since sessions are kept (and expired) with the nonces.
const grandstreamSession = nonceLife

// serveGrandstream answers dologin and api.values.get. Passwords (P2,
// P34, P406) read back empty, as phones hide them.
func (d *Device) serveGrandstream(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		http.Error(w, "Bad Request", http.StatusBadRequest)
		return
	}
	answer := func(ok bool, body any) {
		w.Header().Set("Content-Type", "application/json")
		resp := "success"
		if !ok {
			resp = "error"
		}
		json.NewEncoder(w).Encode(map[string]any{"response": resp, "body": body})
	}
	switch r.URL.Path {
	case "/cgi-bin/dologin":
		if r.PostForm.Get("username") != d.cfg.user || r.PostForm.Get("password") != d.cfg.password {
			d.mu.Lock()
			d.stats.AuthFailures++
			d.mu.Unlock()
			answer(false, "unauthorized")
			return
		}
		b := make([]byte, 16)
		rand.Read(b)
		sid := hex.EncodeToString(b)
		d.mu.Lock()
		d.nonces["sid:"+sid] = time.Now()
		d.mu.Unlock()
		answer(true, map[string]string{"sid": sid, "role": "admin"})
	case "/cgi-bin/api.values.get":
		d.mu.Lock()
		issued, ok := d.nonces["sid:"+r.PostForm.Get("sid")]
		valid := ok && time.Since(issued) < grandstreamSession
		if valid {
			d.stats.Requests++
		}
		mode := d.mode
		d.mu.Unlock()
		if !valid {
			answer(false, "session-expired")
			return
		}
		if mode == UnsupportedFirmware {
			http.Error(w, "Not Found", http.StatusNotFound)
			return
		}
		out := map[string]string{}
		d.mu.Lock()
		for _, p := range strings.Split(r.PostForm.Get("request"), ":") {
			if p == "" {
				continue
			}
			v := d.keys[p]
			if p == "P2" || p == "P34" || p == "P406" {
				v = ""
			}
			out[p] = v
		}
		d.mu.Unlock()
		answer(true, out)
	default:
		http.Error(w, "Not Found", http.StatusNotFound)
	}
}
