// Package emulator emulates devices for `switchboard apply` without
// hardware. Device (this file) is an Akuvox device emulator: an HTTP
// server that speaks the local API of Akuvox door stations and indoor
// monitors closely enough for apply to push configuration to it and read
// it back; WithVendor makes it a Yealink or Grandstream phone instead,
// which fetches its files on CheckSync and reports its settings through
// its vendor's read-back (see Vendor). Phone (phone.go) is a Yealink or
// Grandstream device registered with serve, which apply reaches through
// check-sync. `switchboard emulate` runs either for an installer's
// rehearsal.
//
// It serves, behind HTTP digest authentication (MD5, qop=auth, the mode
// real devices are set to for API access):
//
//	GET  /api/system/info   model, MAC and firmware version
//	GET  /api/config/get    the whole configuration, {"data": {key: value}}
//	POST /api/config/get    {"target":"config","action":"get","data":{"item":[keys]}}
//	POST /api/config/set    {"target":"config","action":"set","data":{key: value}}
//	GET  /api/contact/get   the contact list, {"num": n, "item": [...]}, ten a page (?page=N)
//	POST /api/contact/set   {"target":"contact","action":"add"|"del","data":{"item":[...]}}
//	POST /api/system/reboot accepted and ignored
//
// Responses use the device's envelope {"retcode", "action", "message",
// "data"}. The configuration is the AutoP key namespace
// (Config.<Module>.<Section>.<Field>); a fresh emulator holds a small set of
// factory keys, and a set stores any Config.* key it is given.
//
// A Mode makes it misbehave the way real devices do:
//
//	Normal              stores what it is told and reads it back
//	DropWrites          answers a set with success and keeps nothing
//	Unreachable         accepts connections and closes them unanswered
//	UnsupportedFirmware an older firmware family whose configuration uses
//	                    other key names, and which refuses sets
//
// A test starts one per device:
//
//	d, err := emulator.Start(emulator.WithCredentials("admin", "secret"))
//	...
//	defer d.Close()
//	// point apply at d.URL(), then inspect d.Keys()
//
// Start listens on a loopback port chosen by the system, or where
// WithAddress says. A Device is safe for concurrent use.
package emulator

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/icholy/digest"
)

// Mode is how the emulated device behaves.
type Mode int

const (
	// Normal stores every setting it is sent.
	Normal Mode = iota
	// DropWrites acknowledges settings and keeps none: the "did not stick"
	// case, as with a setting some firmware accepts and ignores.
	DropWrites
	// Unreachable closes every connection without an answer.
	Unreachable
	// UnsupportedFirmware has a configuration without the keys switchboard
	// writes and answers sets with "unsupport action".
	UnsupportedFirmware
)

var modeNames = []string{"normal", "drop-writes", "unreachable", "unsupported-firmware"}

func (m Mode) String() string {
	if int(m) >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode parses a Mode's name: normal, drop-writes, unreachable or
// unsupported-firmware.
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if s == n {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("emulator: unknown mode %q (want %s)", s, strings.Join(modeNames, ", "))
}

// Realm is the digest realm the emulator challenges with.
const Realm = "HTTPAPI"

// Default credentials and identity of a new emulator.
const (
	DefaultUser     = "admin"
	DefaultPassword = "admin"
	DefaultModel    = "R20K"
	DefaultFirmware = "220.30.3.1"
)

type config struct {
	addr           string // where to listen; default 127.0.0.1:0
	user, password string
	model          string
	firmware       string
	mac            string
	mode           Mode
	latency        time.Duration
	vendor         Vendor
	provisionURL   string
}

// Option configures Start.
type Option func(*config)

// WithCredentials sets the API user and password (default admin/admin).
func WithCredentials(user, password string) Option {
	return func(c *config) { c.user, c.password = user, password }
}

// WithAddress sets the TCP address to listen on (default "127.0.0.1:0",
// a loopback port the system chooses). switchboard emulate uses it to
// listen where an installer asks.
func WithAddress(addr string) Option { return func(c *config) { c.addr = addr } }

// WithMode sets the starting mode (default Normal).
func WithMode(m Mode) Option { return func(c *config) { c.mode = m } }

// WithLatency makes every answer wait d, as a slow device does.
func WithLatency(d time.Duration) Option { return func(c *config) { c.latency = d } }

// factoryKeys is the configuration of a fresh emulator in the Normal
// family: an empty SIP account and default settings.
func factoryKeys() map[string]string {
	return map[string]string{
		"Config.Account1.GENERAL.Enable":      "0",
		"Config.Account1.GENERAL.Label":       "",
		"Config.Account1.GENERAL.DisplayName": "",
		"Config.Account1.GENERAL.UserName":    "",
		"Config.Account1.GENERAL.AuthName":    "",
		"Config.Account1.GENERAL.Pwd":         "",
		"Config.Account1.SIP.Server":          "",
		"Config.Account1.SIP.Port":            "5060",
		"Config.Account1.SIP.TransType":       "0",
		"Config.Account1.REG.Timeout":         "1800",
		"Config.Account1.DTMF.Type":           "1",
		"Config.Settings.GENERAL.DirectIP":    "1",
		"Config.Settings.SNTP.Enable":         "1",
		"Config.DoorSetting.DTMF.Enable":      "0",
	}
}

// unsupportedKeys is the configuration an UnsupportedFirmware device shows:
// another family's spelling (the kind of drift that breaks key maps).
func unsupportedKeys() map[string]string {
	return map[string]string{
		"Config.Account1.Sip.Username": "",
		"Config.Account1.Sip.Password": "",
		"Config.Account1.Sip.Server":   "",
		"Config.Settings.Time.Zone":    "GMT+0:00",
	}
}

// Device is a running emulator.
type Device struct {
	cfg      config
	ln       net.Listener
	srv      *http.Server
	url      string
	serveErr chan error

	mu     sync.Mutex
	mode   Mode
	keys   map[string]string
	nonces map[string]time.Time
	stats  Stats
	// contacts is an Akuvox device's contact list; nextContact the last
	// ID given.
	contacts    []Contact
	nextContact int
}

// Stats counts what the emulator was asked.
type Stats struct {
	Requests     int // authenticated API requests
	Sets         int // config/set requests accepted (stored or dropped)
	AuthFailures int // requests refused for bad credentials
	Dropped      int // connections closed unanswered (Unreachable)
	Syncs        int // check-syncs that fetched the device's files
}

// Start starts an emulator and returns once it accepts connections.
func Start(opts ...Option) (*Device, error) {
	c := config{
		addr: "127.0.0.1:0",
		user: DefaultUser, password: DefaultPassword,
		model: DefaultModel, firmware: DefaultFirmware, mac: "0C11050000FF",
		vendor: Akuvox,
	}
	for _, o := range opts {
		o(&c)
	}
	keys := factoryKeys()
	if c.vendor != Akuvox {
		// A phone's settings are what it last fetched: none yet.
		keys = map[string]string{}
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	d := &Device{
		cfg:      c,
		ln:       ln,
		url:      "http://" + ln.Addr().String(),
		mode:     c.mode,
		keys:     keys,
		nonces:   map[string]time.Time{},
		serveErr: make(chan error, 1),
	}
	d.srv = &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}
	go func() { d.serveErr <- d.srv.Serve(ln) }()
	return d, nil
}

// URL is the device's base URL, "http://127.0.0.1:<port>", without
// credentials.
func (d *Device) URL() string { return d.url }

// Addr is the address the emulator listens on.
func (d *Device) Addr() string { return d.ln.Addr().String() }

// Close stops the emulator.
func (d *Device) Close() error {
	err := d.srv.Close()
	if serr := <-d.serveErr; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

// SetMode changes how the device behaves from the next request on.
func (d *Device) SetMode(m Mode) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mode = m
}

// Mode returns the current mode.
func (d *Device) Mode() Mode {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mode
}

// Keys returns a copy of the stored configuration.
func (d *Device) Keys() map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.keys)
}

// SetKey changes one setting the way someone at the device's own web page
// would: behind switchboard's back, for a refresh to find.
func (d *Device) SetKey(key, value string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.keys[key] = value
}

// Stats returns the request counters.
func (d *Device) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// envelope is the device's response shape.
type envelope struct {
	Retcode int    `json:"retcode"`
	Action  string `json:"action"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

// request is the device's request shape.
type request struct {
	Target string          `json:"target"`
	Action string          `json:"action"`
	Data   json.RawMessage `json:"data"`
}

// ServeHTTP implements the device API.
func (d *Device) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if d.Mode() == Unreachable {
		d.drop(w)
		return
	}
	if d.cfg.latency > 0 {
		// The emulated device's own slowness, asked for by the test (a
		// timeout must fire); not a wait for anything to happen.
		select {
		case <-time.After(d.cfg.latency):
		case <-r.Context().Done():
			return
		}
	}
	if d.cfg.vendor == Grandstream {
		d.serveGrandstream(w, r)
		return
	}
	if !d.authenticate(w, r) {
		return
	}
	d.mu.Lock()
	d.stats.Requests++
	mode := d.mode
	d.mu.Unlock()

	if d.cfg.vendor == Yealink {
		d.serveYealink(w, r, mode)
		return
	}
	switch {
	case r.URL.Path == "/api/system/info" && r.Method == http.MethodGet:
		model, fw := d.cfg.model, d.cfg.firmware
		if mode == UnsupportedFirmware {
			model, fw = "IT83", "83.30.10.4"
		}
		reply(w, envelope{Action: "get", Message: "OK", Data: map[string]any{"Status": map[string]string{
			"Model": model, "MAC": d.cfg.mac, "FirmwareVersion": fw, "HardwareVersion": "1.0",
		}}})
	case r.URL.Path == "/api/config/get":
		d.configGet(w, r, mode)
	case r.URL.Path == "/api/config/set" && r.Method == http.MethodPost:
		d.configSet(w, r, mode)
	case r.URL.Path == "/api/contact/get" && r.Method == http.MethodGet && mode != UnsupportedFirmware:
		d.contactGet(w, r)
	case r.URL.Path == "/api/contact/set" && r.Method == http.MethodPost && mode != UnsupportedFirmware:
		d.contactSet(w, r, mode)
	case r.URL.Path == "/api/system/reboot" && r.Method == http.MethodPost:
		reply(w, envelope{Action: "reboot", Message: "OK"})
	default:
		http.Error(w, "No handlers", http.StatusNotFound)
	}
}

// drop closes the connection without an answer.
func (d *Device) drop(w http.ResponseWriter) {
	d.mu.Lock()
	d.stats.Dropped++
	d.mu.Unlock()
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

func (d *Device) configGet(w http.ResponseWriter, r *http.Request, mode Mode) {
	d.mu.Lock()
	all := maps.Clone(d.keys)
	d.mu.Unlock()
	if mode == UnsupportedFirmware {
		all = unsupportedKeys()
	}
	if r.Method == http.MethodGet {
		reply(w, envelope{Action: "get", Message: "OK", Data: all})
		return
	}
	var req request
	var items struct {
		Item []string `json:"item"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || req.Action != "get" || json.Unmarshal(req.Data, &items) != nil {
		reply(w, envelope{Retcode: -100, Action: req.Action, Message: "unsupport action"})
		return
	}
	out := map[string]string{}
	for _, k := range items.Item {
		if v, ok := all[k]; ok {
			out[k] = v
		}
	}
	reply(w, envelope{Action: "get", Message: "OK", Data: out})
}

func (d *Device) configSet(w http.ResponseWriter, r *http.Request, mode Mode) {
	var req request
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		reply(w, envelope{Retcode: -100, Message: "invalid json"})
		return
	}
	var kv map[string]string
	if req.Target != "config" || req.Action != "set" || json.Unmarshal(req.Data, &kv) != nil {
		reply(w, envelope{Retcode: -100, Action: req.Action, Message: "unsupport action"})
		return
	}
	if mode == UnsupportedFirmware {
		reply(w, envelope{Retcode: -100, Action: "set", Message: "unsupport action"})
		return
	}
	for k := range kv {
		if !strings.HasPrefix(k, "Config.") {
			reply(w, envelope{Retcode: -101, Action: "set", Message: "invalid key " + k})
			return
		}
	}
	d.mu.Lock()
	d.stats.Sets++
	if mode == Normal {
		maps.Copy(d.keys, kv)
	}
	d.mu.Unlock()
	reply(w, envelope{Action: "set", Message: "OK"})
}

func reply(w http.ResponseWriter, e envelope) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(e)
}

// authenticate checks the request's digest credentials, and challenges it
// when they are missing or wrong.
func (d *Device) authenticate(w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if h != "" && digest.IsDigest(h) {
		if cred, err := digest.ParseCredentials(h); err == nil && d.valid(r, cred) {
			return true
		}
		d.mu.Lock()
		d.stats.AuthFailures++
		d.mu.Unlock()
	}
	chal := &digest.Challenge{Realm: Realm, Nonce: d.newNonce(), Algorithm: "MD5", QOP: []string{"auth"}, Opaque: "akuvox"}
	w.Header().Set("WWW-Authenticate", chal.String())
	http.Error(w, "Unauthorized", http.StatusUnauthorized)
	return false
}

// nonceLife is how long a nonce is accepted.
const nonceLife = 5 * time.Minute

func (d *Device) newNonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	n := hex.EncodeToString(b)
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, t := range d.nonces {
		if now.Sub(t) > nonceLife {
			delete(d.nonces, k)
		}
	}
	d.nonces[n] = now
	return n
}

func (d *Device) valid(r *http.Request, c *digest.Credentials) bool {
	d.mu.Lock()
	issued, ok := d.nonces[c.Nonce]
	d.mu.Unlock()
	if !ok || time.Since(issued) > nonceLife || c.Username != d.cfg.user || c.Realm != Realm {
		return false
	}
	if c.URI != r.URL.RequestURI() {
		return false
	}
	chal := &digest.Challenge{Realm: Realm, Nonce: c.Nonce, Algorithm: "MD5", QOP: []string{"auth"}, Opaque: "akuvox"}
	want, err := digest.Digest(chal, digest.Options{
		Method: r.Method, URI: c.URI, Username: d.cfg.user, Password: d.cfg.password,
		Cnonce: c.Cnonce, Count: c.Nc,
	})
	if err != nil || c.QOP != "auth" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(want.Response), []byte(c.Response)) == 1
}
