// Package probe audits a running switchboard server the way an attacker on
// the network would: user enumeration, password guessing, unauthenticated
// and toll-fraud calls, provisioning files, the admin endpoints, idle
// connections, media latching and TLS. It knows the site (its accounts,
// door stations, extensions and provisioning files, with their passwords),
// but uses a password only where a check needs a legitimate baseline, and
// never prints one.
//
// Every check talks only to the addresses it is given, sends a bounded
// number of messages and ends within a bounded time.
package probe

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"switchboard/compiler/ir"
)

// Status is a check's outcome.
type Status string

const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip" // the check does not apply (no -tcp, no trunk …); Evidence says why
)

// Result is one check: its name, outcome and the evidence for it (what
// was sent and what came back; never a secret).
type Result struct {
	Check    string   `json:"check"`
	Status   Status   `json:"status"`
	Summary  string   `json:"summary"`
	Evidence []string `json:"evidence,omitempty"`
}

// File is one provisioning file of the site and the device it belongs to
// (empty for a file every device may fetch).
type File struct {
	Path   string
	Device string
}

// Site is what the probe knows about the site it audits.
type Site struct {
	Program *ir.Program
	// Password returns an account's SIP password (ir.Account.Name).
	Password func(account string) (string, bool)
	Files    []File
}

// Targets are the server's addresses: the only ones the probe sends to.
// An empty address skips the checks that need it.
type Targets struct {
	SIP   netip.AddrPort // SIP over UDP
	TCP   netip.AddrPort // SIP over TCP (idle connections)
	TLS   netip.AddrPort // SIP over TLS (versions and ciphers)
	HTTP  netip.AddrPort // provisioning (where admin must not be served)
	HTTPS bool           // HTTP is served over TLS
	Admin netip.AddrPort // the admin endpoints (plain HTTP, loopback)
}

// Limits bound what the probe sends and how long it waits.
type Limits struct {
	Guesses      int           // wrong passwords for one account from one address (brute-force check); serve refuses after 10, so twice that leaves room and still catches a limit per address alone (50 and more)
	Samples      int           // timing samples per side (enumeration check); below the server's failure limit per account, or the throttle's 403 would tell the sides apart
	Idle         int           // idle TCP connections from one source (idle-connection check); above the server's per-source limit, or there is no excess to shed
	Retransmit   time.Duration // how long to count challenges to one INVITE (amplification)
	IdleWait     time.Duration // how long to wait for the server to close idle connections
	Timeout      time.Duration // a single answer
	TimingSpread float64       // enumeration: median ratio above which timing differs
}

// DefaultLimits are what `switchboard probe` uses.
var DefaultLimits = Limits{
	Guesses: 20, Samples: 7, Idle: 300,
	Retransmit: 4 * time.Second, IdleWait: 5 * time.Second, Timeout: 3 * time.Second,
	TimingSpread: 3,
}

// Check names, in the order Run runs them. The brute-force check runs
// last: it gets the probe's address throttled, which would spoil the
// checks that need a legitimate baseline.
const (
	CheckEnumeration  = "user-enumeration"
	CheckUnauthInvite = "unauthenticated-invite"
	CheckTollFraud    = "toll-fraud"
	CheckMediaLatch   = "media-latching"
	CheckProvisioning = "provisioning-files"
	CheckAdmin        = "admin-endpoints"
	CheckIdle         = "idle-connections"
	CheckTLS          = "tls"
	CheckBruteForce   = "brute-force"
)

// Checks lists every check by name, in the order Run runs them.
var Checks = []string{CheckEnumeration, CheckUnauthInvite, CheckTollFraud, CheckMediaLatch,
	CheckProvisioning, CheckAdmin, CheckIdle, CheckTLS, CheckBruteForce}

// Run runs every check against t and calls report with each result as it
// is known.
func Run(ctx context.Context, s Site, t Targets, l Limits, report func(Result)) {
	p := &prober{site: s, t: t, l: l}
	for _, c := range []struct {
		name string
		run  func(context.Context) Result
	}{
		{CheckEnumeration, p.enumeration},
		{CheckUnauthInvite, p.unauthInvite},
		{CheckTollFraud, p.tollFraud},
		{CheckMediaLatch, p.mediaLatch},
		{CheckProvisioning, p.provisioning},
		{CheckAdmin, p.admin},
		{CheckIdle, p.idle},
		{CheckTLS, p.tls},
		{CheckBruteForce, p.bruteForce},
	} {
		if ctx.Err() != nil {
			report(Result{Check: c.name, Status: Skip, Summary: "interrupted"})
			continue
		}
		r := c.run(ctx)
		r.Check = c.name
		report(r)
	}
}

type prober struct {
	site Site
	t    Targets
	l    Limits
}

// result builds a Result from evidence lines and whether any failed.
func result(failed bool, pass, fail string, evidence []string) Result {
	if failed {
		return Result{Status: Fail, Summary: fail, Evidence: evidence}
	}
	return Result{Status: Pass, Summary: pass, Evidence: evidence}
}

func skip(why string) Result { return Result{Status: Skip, Summary: why} }

func errResult(what string, err error) Result {
	return Result{Status: Fail, Summary: fmt.Sprintf("%s: %v", what, err)}
}

// accountsByKind groups the site's device and app accounts by kind of
// endpoint: the device kinds ("door", "monitor", "phone") and "app".
func (p *prober) accountsByKind() map[string][]ir.Account {
	out := map[string][]ir.Account{}
	for _, a := range p.site.Program.Accounts {
		switch a.Kind {
		case ir.AccountApp:
			out["app"] = append(out["app"], a)
		case ir.AccountDevice:
			d := p.site.Program.Device(a.Device)
			if d == nil {
				continue
			}
			out[string(d.Kind)] = append(out[string(d.Kind)], a)
		}
	}
	return out
}
