package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"time"

	"switchboard/compiler/credentials"
	"switchboard/simulate/probe"
)

var probeCommand = &command{
	name:     "probe",
	synopsis: "Audit a running server of the site the way an attacker would",
	usage: `Usage: switchboard probe [-target ADDR] [-http ADDR] [-admin ADDR] [-tcp ADDR]
                         [-tls ADDR] [-max-idle N] [-json] [-lockfile=readonly]
                         [-var name=value]... [-var-file FILE]... [DIR]

Audits a running "switchboard serve" of the site in DIR from the network,
the way an attacker would, and prints each check with pass, fail or skip
and its evidence:

  user-enumeration        an existing and a made-up user get the same
                          answers to REGISTER and INVITE (status, headers
                          apart from tags and nonces) in comparable time
                          (medians of a few samples; the times are shown)
  unauthenticated-invite  an INVITE without credentials to an extension, a
                          public number and an emergency number gets exactly
                          one challenge, counted for a few seconds without
                          an ACK, and never rings (amplification)
  toll-fraud              with each kind of account's own password (door
                          station, monitor, desk phone, app), door stations
                          reach no public number; on a site without a trunk
                          no one does; no refusal says why (Warning)
  media-latching          in a call between an app and an extension, RTP
                          from a stranger (127.0.0.2) to the caller's relay
                          port before the caller's first packet does not
                          get the stranger the callee's audio, and the
                          caller still does (a loopback target only)
  provisioning-files      a device's file is refused without credentials,
                          with a wrong password, with another device's
                          credentials, and through path tricks (../,
                          %2e%2e, //, encoded slashes, absolute paths)
  admin-endpoints         at -admin, the admin endpoints refuse requests
                          without the token, with a made-up one and through
                          forwarded headers (401, 403 or 429); the probe
                          never reads the token (a server of several
                          sites: the site's, under /sites/DOMAIN/admin/).
                          At -http, /admin/ is not served (404 or 403)
  idle-connections        with -tcp: -max-idle (300) idle connections from
                          one address to the SIP TCP port; the server keeps
                          answering and does not hold them all (its limit
                          per source is 256 by default)
  tls                     with -tls: TLS 1.0 and 1.1 refused, no TLS 1.2
                          cipher suite Go calls insecure accepted
  brute-force             20 wrong passwords for one account from the
                          probe's address are refused (403) before the last
                          (serve refuses after 10 per address and account)

The probe compiles DIR with the site key, so it knows the accounts, door
stations, extensions and provisioning files; its HTTP requests name the
site's domain as Host, as a device does, so that a server of several sites
serves them as the site's. It uses a password only where a check needs a
legitimate baseline and never prints one. It sends only to the addresses
given (IP and port; host names and ranges are refused), a bounded number
of messages, and ends within about a minute.

Run it against a test server, or at a quiet hour: the media check rings
one user's endpoints for a moment, the admin check's POST /admin/reload
reloads a server that wrongly accepts it (and its two made-up tokens
count towards the minute's limit of wrong ones), and the brute-force check, run
last, gets the probe's address throttled for that account. On a site with
a trunk, no call is placed towards a public or emergency number except from
a door station to a never-assigned number.

-json prints one JSON object per check: check, status, summary, evidence.

Exit status: 0 no check failed, 1 a check failed or the site has errors, 2
usage error.`,
	run:   runProbe,
	flags: func() *flagSet { return probeFlags(&probeOptions{}) },
}

type probeOptions struct {
	target, http, admin, tcp, tlsAddr string
	maxIdle                           int
	json                              bool
	site                              siteOptions
}

func probeFlags(o *probeOptions) *flagSet {
	f := newFlagSet("probe")
	f.fs.StringVar(&o.target, "target", "127.0.0.1:5060", "the server's SIP over UDP at `ADDR` (IP:port)")
	f.fs.StringVar(&o.http, "http", "127.0.0.1:8088", "the server's provisioning HTTP at `ADDR` (https://IP:port for HTTPS); empty to skip")
	f.fs.StringVar(&o.admin, "admin", "127.0.0.1:8089", "the server's admin endpoints at `ADDR` (plain HTTP, as serve -admin); empty to skip")
	f.fs.StringVar(&o.tcp, "tcp", "", "the server's SIP over TCP at `ADDR`, for the idle-connection check")
	f.fs.StringVar(&o.tlsAddr, "tls", "", "the server's SIP over TLS at `ADDR`, for the TLS check")
	f.fs.IntVar(&o.maxIdle, "max-idle", probe.DefaultLimits.Idle, "open `N` idle connections for the idle-connection check (1 to 5000; more than the server's limit per source)")
	f.fs.BoolVar(&o.json, "json", false, "print one JSON object per check")
	o.site.register(f.fs)
	return f
}

// probeAddr parses one address the probe may send to: an IP literal and a
// port, never a host name (which might resolve anywhere), a range or an
// unspecified, multicast or broadcast address.
func probeAddr(flag, s string) (netip.AddrPort, error) {
	if s == "" {
		return netip.AddrPort{}, nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("-%s %q: want one IP address and port, as in 127.0.0.1:5060 (no host names, no ranges)", flag, s)
	}
	a := ap.Addr().Unmap()
	if a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || ap.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("-%s %q: want one server's address and port, not an unspecified, multicast or broadcast one", flag, s)
	}
	return netip.AddrPortFrom(a, ap.Port()), nil
}

func runProbe(c *cli, args []string) int {
	var o probeOptions
	positional, status, ok := c.parse(probeFlags(&o), args, 1)
	if !ok {
		return status
	}
	var t probe.Targets
	httpAddr, https := strings.CutPrefix(o.http, "https://")
	httpAddr = strings.TrimPrefix(httpAddr, "http://")
	t.HTTPS = https
	for _, a := range []struct {
		flag, value string
		into        *netip.AddrPort
	}{{"target", o.target, &t.SIP}, {"http", httpAddr, &t.HTTP}, {"admin", o.admin, &t.Admin}, {"tcp", o.tcp, &t.TCP}, {"tls", o.tlsAddr, &t.TLS}} {
		ap, err := probeAddr(a.flag, a.value)
		if err != nil {
			return c.usageError(lookup("probe"), "%v", err)
		}
		*a.into = ap
	}
	// Bounded: the probe holds them all at once, and must not be the
	// flood it audits for.
	if o.maxIdle < 1 || o.maxIdle > 5000 {
		return c.usageError(lookup("probe"), "-max-idle %d: want 1 to 5000", o.maxIdle)
	}
	limits := probe.DefaultLimits
	limits.Idle = o.maxIdle
	cs, status := c.compileSite("probe", dirArg(positional), compileOptions{site: o.site, needKey: true, render: true, state: statePath(dirArg(positional), "")})
	if cs == nil {
		return status
	}
	lookupPW := credentials.NewLookup(cs.key, cs.program)
	s := probe.Site{Program: cs.program, Password: lookupPW.SIPPassword}
	if cs.bundle != nil {
		for _, f := range cs.bundle.Files {
			s.Files = append(s.Files, probe.File{Path: f.Path, Device: f.Device})
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	failed := false
	enc := json.NewEncoder(c.stdout)
	st := c.styleFor(c.stdout)
	counts := map[probe.Status]int{}
	probe.Run(ctx, s, t, limits, func(r probe.Result) {
		counts[r.Status]++
		failed = failed || r.Status == probe.Fail
		if o.json {
			_ = enc.Encode(r)
			return
		}
		label := map[probe.Status]string{probe.Pass: st.paint(ansiGreen, "pass"), probe.Fail: st.paint(ansiBold+ansiRed, "FAIL"), probe.Skip: "skip"}[r.Status]
		fmt.Fprintf(c.stdout, "%s  %-22s  %s\n", label, r.Check, r.Summary)
		for _, e := range r.Evidence {
			fmt.Fprintf(c.stdout, "      %s\n", e)
		}
	})
	if !o.json {
		fmt.Fprintf(c.stdout, "\n%d passed, %d failed, %d skipped\n", counts[probe.Pass], counts[probe.Fail], counts[probe.Skip])
	}
	if err := ctx.Err(); err != nil {
		// An audit cut short proves nothing about the checks it skipped.
		return c.fail("probe", fmt.Errorf("stopped before every check ran: %v", err))
	}
	return exitFailIf(failed)
}
