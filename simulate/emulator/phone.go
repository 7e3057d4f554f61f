package emulator

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/icholy/digest"

	"switchboard/simulate/device"
)

// Phone is an emulated Yealink or Grandstream device of a site, for
// rehearsing an apply: apply has no API for these devices, it asks serve
// to send them a check-sync, and they fetch their provisioning files from
// serve. A Phone registers with serve with the device's own SIP account
// (a simulated device of package device), answers check-sync NOTIFYs and
// fetches its files over HTTP with digest authentication, as the real one
// does at boot and on every check-sync.
type Phone struct {
	cfg    PhoneConfig
	hub    *device.Hub
	dev    *device.Device
	client *http.Client
	syncs  chan struct{}
	cancel context.CancelFunc
}

// PhoneConfig describes the device a Phone stands for.
type PhoneConfig struct {
	Domain string     // the site's SIP domain
	Server string     // serve's SIP (UDP) address
	IP     netip.Addr // the address to send from (default 127.0.0.1)
	// Account is the device's SIP account (ir.Account.Name), AuthName its
	// digest user name for provisioning, Password its SIP password.
	Account, AuthName, Password string
	// Provision is serve's provisioning base URL; Files are the device's
	// file paths under it.
	Provision *url.URL
	Files     []string
}

// Registration is how long a Phone registers for; Renew registers again.
const Registration = 5 * time.Minute

// StartPhone starts the phone and registers it with serve; it fails when
// serve does not accept the registration.
func StartPhone(ctx context.Context, cfg PhoneConfig) (*Phone, error) {
	if !cfg.IP.IsValid() {
		cfg.IP = netip.MustParseAddr("127.0.0.1")
	}
	hub, err := device.NewHub(device.HubConfig{Domain: cfg.Domain, Server: cfg.Server, IP: cfg.IP})
	if err != nil {
		return nil, err
	}
	p := &Phone{
		cfg: cfg, hub: hub, dev: hub.Add(cfg.Account, cfg.Password),
		client: &http.Client{Transport: &digest.Transport{Username: cfg.AuthName, Password: cfg.Password}, Timeout: 10 * time.Second},
		syncs:  make(chan struct{}, 1),
	}
	if err := p.Renew(ctx); err != nil {
		hub.Close()
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go p.watch(wctx)
	return p, nil
}

// Addr is the phone's SIP address.
func (p *Phone) Addr() string { return p.hub.Addr() }

// Renew registers the phone with serve for Registration.
func (p *Phone) Renew(ctx context.Context) error {
	code, err := p.dev.Register(ctx, Registration)
	switch {
	case err != nil:
		return fmt.Errorf("registering with serve at %s: %w", p.cfg.Server, err)
	case code != http.StatusOK:
		return fmt.Errorf("registering with serve at %s: status %d", p.cfg.Server, code)
	}
	return nil
}

// CheckSyncs delivers a value for each check-sync serve sends (several
// arriving together may be delivered as one, as a phone fetches once).
func (p *Phone) CheckSyncs() <-chan struct{} { return p.syncs }

// watch hands each check-sync NOTIFY over, then forgets it, so the next
// one is news.
func (p *Phone) watch(ctx context.Context) {
	for {
		if _, err := p.dev.WaitNotification(ctx, "check-sync", func(string) bool { return true }); err != nil {
			return
		}
		p.hub.ClearNotifications()
		select {
		case p.syncs <- struct{}{}:
		default: // one is pending already
		}
	}
}

// Fetched is the outcome of fetching one file.
type Fetched struct {
	Path  string
	Bytes int64
	Err   error // nil when it arrived (200 OK)
}

// Fetch fetches every file of the device from serve.
func (p *Phone) Fetch(ctx context.Context) []Fetched {
	var out []Fetched
	for _, path := range p.cfg.Files {
		f := Fetched{Path: path}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.Provision.JoinPath(path).String(), nil)
		if err == nil {
			var res *http.Response
			if res, err = p.client.Do(req); err == nil {
				f.Bytes, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 16<<20))
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					err = fmt.Errorf("%s", res.Status)
				}
			}
		}
		f.Err = err
		out = append(out, f)
	}
	return out
}

// Close unregisters the phone, as one switched off cleanly does, and
// stops it.
func (p *Phone) Close(ctx context.Context) error {
	p.cancel()
	_, err := p.dev.Register(ctx, 0)
	if cerr := p.hub.Close(); err == nil {
		err = cerr
	}
	return err
}
