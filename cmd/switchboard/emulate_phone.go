package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/simulate/emulator"
)

// emulatePhone runs the Yealink or Grandstream device name of the site in
// dir: registered with serve, fetching its files at start and on every
// check-sync, until a signal.
func (c *cli) emulatePhone(family, dir, name string, o *emulateOptions) int {
	cmd := lookup("emulate")
	ip, err := netip.ParseAddr(o.ip)
	if err != nil {
		return c.usageError(cmd, "-ip %q: want the IP address to send from, as in 127.0.0.1", o.ip)
	}
	if _, _, err := net.SplitHostPort(o.server); err != nil {
		return c.usageError(cmd, "-server %q: want serve's SIP address, host:port, as in 127.0.0.1:5060", o.server)
	}
	base, err := url.Parse(o.provision)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return c.usageError(cmd, "-provision %q: want serve's provisioning URL, as in http://127.0.0.1:8088", o.provision)
	}

	cs, status := c.compileSite("emulate", dir, compileOptions{site: o.site, needKey: true, render: true})
	if cs == nil {
		return status
	}
	p := cs.program
	d := p.Device(name)
	if d == nil || d.Vendor != family {
		var names []string
		for _, x := range p.Devices {
			if x.Vendor == family {
				names = append(names, x.Name)
			}
		}
		what := fmt.Sprintf("the site has no %s device %q", family, name)
		if d != nil {
			what = fmt.Sprintf("device %q is %s, not %s", name, d.Model, family)
		}
		if len(names) == 0 {
			return c.usageError(cmd, "%s, and the site has no %s devices", what, family)
		}
		return c.usageError(cmd, "%s; the site's %s devices: %s", what, family, strings.Join(names, ", "))
	}
	acct := p.Account(d.Account)
	if acct == nil {
		fmt.Fprintf(c.stderr, "switchboard emulate: device %q has no SIP account\n", d.Name)
		return exitFail
	}
	password := credentials.NewSource(cs.key, p).SIPPassword(*acct)
	var files []string
	for _, f := range cs.bundle.DeviceFiles(d.Name) {
		files = append(files, f.Path)
	}
	slices.Sort(files)

	// Ask for the signals first, so that an interrupt sent as soon as the
	// phone says it is ready is not lost.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	phone, err := emulator.StartPhone(ctx, emulator.PhoneConfig{
		Domain: p.Site.Domain, Server: o.server, IP: ip,
		Account: acct.Name, AuthName: acct.AuthName, Password: password,
		Provision: base, Files: files,
	})
	cancel()
	if err != nil {
		fmt.Fprintf(c.stderr, "switchboard emulate: %v (is \"switchboard serve\" running for this site, with -listen %s?)\n", err, o.server)
		return exitFail
	}

	fetched := 0
	fetch := func(why string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var got, failed []string
		for _, f := range phone.Fetch(ctx) {
			if f.Err != nil {
				failed = append(failed, fmt.Sprintf("%s (%v)", f.Path, f.Err))
				continue
			}
			fetched++
			got = append(got, fmt.Sprintf("%s (%d bytes)", f.Path, f.Bytes))
		}
		line := why + ":"
		if len(got) > 0 {
			line += " fetched " + strings.Join(got, ", ")
		}
		if len(failed) > 0 {
			if len(got) > 0 {
				line += ";"
			}
			line += " could not fetch " + strings.Join(failed, ", ")
		}
		fmt.Fprintln(c.stdout, line)
	}

	vendor := map[string]string{"yealink": "Yealink", "grandstream": "Grandstream"}[family]
	fmt.Fprintf(c.stdout, `Emulating the %s %s %q (%s, MAC %s) from %s
registered with serve at %s as %s; its files come from %s
Login: its own SIP account, with the password derived from the site key
(never printed; "switchboard credentials %s %s" shows it).

Rehearse an apply: apply asks serve to send it a check-sync, and it fetches
its files again, here:
  switchboard apply -serve ADMIN_ADDR %s

Stop it with Ctrl-C.
`, vendor, kindName(d.Kind), d.Name, d.Model, d.MAC, phone.Addr(), o.server, acct.Name, base, dir, acct.Name, dir)
	fetch("started")

	// A phone registers again halfway through its registration.
	renew := time.NewTicker(emulator.Registration / 2)
	defer renew.Stop()
	checkSyncs := 0
	for {
		select {
		case <-phone.CheckSyncs():
			checkSyncs++
			fetch("check-sync")
		case <-renew.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := phone.Renew(ctx); err != nil {
				fmt.Fprintf(c.stderr, "switchboard emulate: %v\n", err)
			}
			cancel()
		case sig := <-sigs:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := phone.Close(ctx); err != nil {
				fmt.Fprintf(c.stderr, "switchboard emulate: unregistering: %v\n", err)
			}
			cancel()
			fmt.Fprintf(c.stdout, "\nStopped (%s): %d check-syncs, %d files fetched.\n", sig, checkSyncs, fetched)
			return exitOK
		}
	}
}

// kindName is how the banner names a device kind.
func kindName(k ir.DeviceKind) string {
	switch k {
	case ir.DoorStation:
		return "door station"
	case ir.Phone:
		return "desk phone"
	}
	return string(k)
}
