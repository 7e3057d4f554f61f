package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"switchboard/simulate/emulator"
)

var emulateCommand = &command{
	name:     "emulate",
	synopsis: "Run a device emulator to rehearse an apply without hardware",
	usage: `Usage: switchboard emulate akuvox [-listen ADDR] [-user NAME] [-password PW] [-mode MODE]

Starts the emulator "switchboard apply" is tested against, so an installer
can rehearse an apply before touching the real devices. It prints the
address to give apply and the login it expects, then runs until
interrupted (Ctrl-C, SIGINT or SIGTERM), and says what it was asked.

  akuvox   the local HTTP API of Akuvox door stations and indoor monitors
           (/api/config/get and /api/config/set behind digest
           authentication): apply pushes each Akuvox device's settings
           and reads them back. Start one per device and run, for example:

             SWITCHBOARD_DEVICE_PASSWORD=admin \
               switchboard apply -device gate=http://127.0.0.1:PORT DIR

The login is the emulator's own test account (default admin / admin), not
a secret of the site. -mode makes it misbehave the way real devices do, to
rehearse apply's verdicts: normal, drop-writes (answers OK and keeps
nothing: "did not stick"), unreachable (closes every connection) or
unsupported-firmware (another firmware's key names; refuses writes).

Yealink and Grandstream phones and Grandstream door stations have no
management API apply pushes to: apply tells them to fetch their files
through "switchboard serve" (check-sync), which "switchboard test" already
exercises with simulated phones.

Exit status: 0 after a clean shutdown, 1 when it cannot listen, 2 usage
error.`,
	run:   runEmulate,
	flags: func() *flagSet { return emulateFlags(&emulateOptions{}) },
}

type emulateOptions struct {
	listen, user, password, mode string
}

func emulateFlags(o *emulateOptions) *flagSet {
	f := newFlagSet("emulate")
	f.fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "listen on `ADDR` (host:port; port 0 lets the system choose)")
	f.fs.StringVar(&o.user, "user", emulator.DefaultUser, "the API user `NAME` the emulator expects")
	f.fs.StringVar(&o.password, "password", emulator.DefaultPassword, "the API password the emulator expects (a test login, not a site secret)")
	f.fs.StringVar(&o.mode, "mode", "normal", "how the device behaves: normal, drop-writes, unreachable or unsupported-firmware")
	return f
}

func runEmulate(c *cli, args []string) int {
	var o emulateOptions
	cmd := lookup("emulate")
	if len(args) == 0 {
		return c.usageError(cmd, "name the device family to emulate: akuvox")
	}
	vendor, rest := args[0], args[1:]
	switch vendor {
	case "-h", "-help", "--help":
		c.commandHelp(c.stdout, cmd)
		return exitOK
	case "akuvox":
	case "yealink", "grandstream":
		return c.usageError(cmd, "%s devices have no management API that apply pushes to: apply tells them to fetch their files through \"switchboard serve\" (check-sync); only akuvox can be emulated", vendor)
	default:
		return c.usageError(cmd, "unknown device family %q: emulate akuvox", vendor)
	}
	if _, status, ok := c.parse(emulateFlags(&o), rest, 0); !ok {
		return status
	}
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

	d, err := emulator.Start(emulator.WithAddress(o.listen), emulator.WithCredentials(o.user, o.password), emulator.WithMode(mode))
	if err != nil {
		fmt.Fprintf(c.stderr, "switchboard emulate: %v\n", err)
		return exitFail
	}
	url := "http://" + reachable(d.Addr())
	fmt.Fprintf(c.stdout, `Emulating an Akuvox %s (firmware %s, mode %s) at %s
API login: %s / %s (the emulator's own test login)

Rehearse an apply against it, naming the Akuvox device it stands for:
  SWITCHBOARD_DEVICE_USER=%s SWITCHBOARD_DEVICE_PASSWORD=%s switchboard apply -device NAME=%s DIR

Stop it with Ctrl-C.
`, emulator.DefaultModel, emulator.DefaultFirmware, mode, url, o.user, o.password, o.user, o.password, url)

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
