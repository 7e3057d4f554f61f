package main

import (
	"cmp"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"switchboard/simulate/emulator"
)

var emulateCommand = &command{
	name:     "emulate",
	synopsis: "Run a device emulator to rehearse an apply without hardware",
	usage: `Usage: switchboard emulate akuvox [-listen ADDR] [-user NAME] [-mode NAME]
       switchboard emulate yealink|grandstream [-server ADDR] [-provision URL] [-ip IP]
                           [-var name=value]... [-var-file FILE]... [DIR] DEVICE

Starts an emulated device, so an installer can rehearse "switchboard
apply" before touching the real ones. It prints where it is and the login
it uses, then runs until interrupted (Ctrl-C, SIGINT or SIGTERM), and says
what it was asked.

  akuvox   the local HTTP API of Akuvox door stations and indoor monitors
           that apply pushes settings to and reads back (the emulator
           apply's own tests use). Start one per Akuvox device and give
           apply its address:

             SWITCHBOARD_DEVICE_PASSWORD=admin \
               switchboard apply -device gate=http://127.0.0.1:PORT DIR

           It expects the login apply sends: the user SWITCHBOARD_DEVICE_USER
           (or -user; default admin) and the password
           SWITCHBOARD_DEVICE_PASSWORD (default admin), a test login of
           the rehearsal, never printed unless it is the default. -mode
           makes it misbehave the way real devices do, to rehearse apply's
           verdicts: normal,
           drop-writes (answers OK and keeps nothing: "did not stick"),
           unreachable (closes every connection) or unsupported-firmware
           (another firmware's key names; refuses writes).

  yealink, grandstream
           the desk phone or door station DEVICE of the site in DIR: it
           registers with a running "switchboard serve" (-server, its SIP
           address) with the device's own SIP account, fetches its files
           from serve's provisioning address (-provision) as the real one
           does at boot, and again whenever serve sends it a check-sync —
           which is what apply asks serve to do for these devices:

             switchboard apply -serve 127.0.0.1:8089 DIR

           Its password is derived from the site key and never printed
           ("switchboard credentials DIR device.NAME" shows it).

Exit status: 0 after a clean shutdown, 1 when it cannot start (a port in
use, serve not answering, the site not compiling), 2 usage error.`,
	run:   runEmulate,
	flags: func() *flagSet { return emulateFlags(&emulateOptions{}) },
}

type emulateOptions struct {
	listen, user, mode string // akuvox
	server, provision  string // phones
	ip                 string
	site               siteOptions
}

// emulateFlagFamilies says which device families each flag applies to.
var emulateFlagFamilies = map[string]string{
	"listen": "akuvox", "user": "akuvox", "mode": "akuvox",
	"server": "phone", "provision": "phone", "ip": "phone", "var": "phone", "var-file": "phone",
}

func emulateFlags(o *emulateOptions) *flagSet {
	f := newFlagSet("emulate")
	f.fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "akuvox: listen on `ADDR`, host:port (port 0: one the system chooses)")
	f.fs.StringVar(&o.user, "user", "", "akuvox: the API user `NAME` the emulator expects (default SWITCHBOARD_DEVICE_USER, else admin)")
	f.fs.StringVar(&o.mode, "mode", "normal", "akuvox: how the device behaves, by `NAME`: normal, drop-writes, unreachable or unsupported-firmware")
	f.fs.StringVar(&o.ip, "ip", "127.0.0.1", "yealink, grandstream: the `IP` address the phone sends from")
	f.fs.StringVar(&o.server, "server", "127.0.0.1:5060", "yealink, grandstream: serve's SIP (UDP) `ADDR`: its -listen")
	f.fs.StringVar(&o.provision, "provision", "http://127.0.0.1:8088", "yealink, grandstream: serve's provisioning `URL`: its -http")
	o.site.vars = varsFlag{}
	f.fs.Var(o.site.vars, "var", "yealink, grandstream: set a variable of the site: `name=value`; repeatable")
	f.fs.Var(&o.site.varFiles, "var-file", "yealink, grandstream: read variable values from `FILE`; repeatable")
	return f
}

func runEmulate(c *cli, args []string) int {
	var o emulateOptions
	cmd := lookup("emulate")
	if len(args) == 0 {
		return c.usageError(cmd, "name the device family to emulate: akuvox, yealink or grandstream")
	}
	family, rest := args[0], args[1:]
	kind := "phone"
	switch family {
	case "-h", "-help", "--help":
		c.commandHelp(c.stdout, cmd)
		return exitOK
	case "akuvox":
		kind = "akuvox"
	case "yealink", "grandstream":
	default:
		return c.usageError(cmd, "unknown device family %q: akuvox, yealink or grandstream", family)
	}
	f := emulateFlags(&o)
	maxArgs := 2 // [DIR] DEVICE
	if kind == "akuvox" {
		maxArgs = 0
	}
	positional, status, ok := c.parse(f, rest, maxArgs)
	if !ok {
		return status
	}
	var misplaced []string
	f.fs.Visit(func(fl *flag.Flag) {
		if k := emulateFlagFamilies[fl.Name]; k != "" && k != kind {
			misplaced = append(misplaced, "-"+fl.Name)
		}
	})
	if len(misplaced) > 0 {
		return c.usageError(cmd, "%s %s not for %s", strings.Join(misplaced, ", "), map[bool]string{true: "is", false: "are"}[len(misplaced) == 1], family)
	}
	if kind == "phone" {
		switch len(positional) {
		case 0:
			return c.usageError(cmd, "name the %s device of the site to emulate, as in \"switchboard emulate %s DIR desk-1\"", family, family)
		case 1:
			return c.emulatePhone(family, ".", positional[0], &o)
		}
		return c.emulatePhone(family, positional[0], positional[1], &o)
	}
	return c.emulateAkuvox(&o)
}

func (c *cli) emulateAkuvox(o *emulateOptions) int {
	cmd := lookup("emulate")
	mode, err := emulator.ParseMode(o.mode)
	if err != nil {
		return c.usageError(cmd, "-mode: unknown mode %q: normal, drop-writes, unreachable or unsupported-firmware", o.mode)
	}
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		return c.usageError(cmd, "-listen %q: want host:port, as in 127.0.0.1:8080", o.listen)
	}

	// Ask for the signals before listening, so that an interrupt sent as
	// soon as the address is printed is not lost.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	user := cmp.Or(o.user, c.getenv("SWITCHBOARD_DEVICE_USER"), emulator.DefaultUser)
	password, shown := c.getenv("SWITCHBOARD_DEVICE_PASSWORD"), "(the password in SWITCHBOARD_DEVICE_PASSWORD)"
	if password == "" {
		password, shown = emulator.DefaultPassword, emulator.DefaultPassword+" (the emulator's own test login)"
	}
	d, err := emulator.Start(emulator.WithAddress(o.listen), emulator.WithCredentials(user, password), emulator.WithMode(mode))
	if err != nil {
		fmt.Fprintf(c.stderr, "switchboard emulate: %v\n", err)
		return exitFail
	}
	url := "http://" + reachable(d.Addr())
	fmt.Fprintf(c.stdout, `Emulating an Akuvox %s (firmware %s, mode %s) at %s
API login: %s / %s

Rehearse an apply against it, naming the Akuvox device it stands for, with
the same SWITCHBOARD_DEVICE_USER and SWITCHBOARD_DEVICE_PASSWORD:
  switchboard apply -device NAME=%s DIR

Stop it with Ctrl-C.
`, emulator.DefaultModel, emulator.DefaultFirmware, mode, url, user, shown, url)

	sig := <-sigs
	st := d.Stats()
	if err := d.Close(); err != nil {
		fmt.Fprintf(c.stderr, "switchboard emulate: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(c.stdout, "\nStopped (%s): %d API requests, %d settings writes, %d refused logins, %d connections dropped.\n",
		sig, st.Requests, st.Sets, st.AuthFailures, st.Dropped)
	return exitOK
}

// reachable is addr as a client on this machine reaches it: an unspecified
// host (0.0.0.0, ::) becomes loopback.
func reachable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if ip.To4() != nil {
			host = "127.0.0.1"
		} else {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, port)
}
