// Command switchboard runs intercom and PBX installations described as site
// directories of *.pbx.hcl files: it scaffolds, formats and checks them,
// compiles them into a dial plan and device files, plans and applies them
// to devices, serves them as a SIP server and simulates every call path.
//
// The command is thin. It parses flags, calls lang and compiler, renders
// their diagnostics (human text with source snippets, or -json) and owns the
// exit status:
//
//	0  success (warnings allowed)
//	1  the site has errors, fmt -check found files to reformat, or a
//	   file could not be read or written
//	2  usage error: unknown command, unknown flag, bad arguments
package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/agext/levenshtein"
)

// Exit statuses; see the package documentation.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// version is set at link time with -ldflags "-X main.version=v1.2.3"; the
// module version from the build information is used otherwise.
var version = ""

func main() {
	os.Exit(Main())
}

// Main runs the command with the process's arguments, environment and
// standard streams and returns the exit status. The testscript tests run it
// as the "switchboard" command.
func Main() int {
	return run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

// cli is one invocation: its streams and environment.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	environ        []string
	// json is set when the command was given -json: then every outcome,
	// usage errors and diagnostics included, is a JSON document on stdout.
	json bool
	// noColor is the global -no-color flag.
	noColor bool
	// log, when set, takes the site's diagnostics as records (serve
	// -log-format json, serve_log.go).
	log *slog.Logger
}

func (c *cli) getenv(key string) string {
	for i := len(c.environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(c.environ[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// command is one subcommand.
type command struct {
	name     string
	synopsis string                          // one line, for the command list
	usage    string                          // full help text, flags are appended
	run      func(c *cli, args []string) int // args exclude the command name
	flags    func() *flagSet                 // for help; nil when the command takes no flags
}

var commands []*command

func init() {
	commands = []*command{
		initCommand,
		fmtCommand,
		validateCommand,
		buildCommand,
		credentialsCommand,
		graphCommand,
		numbersCommand,
		planCommand,
		applyCommand,
		inviteCommand,
		requestsCommand,
		stateCommand,
		handoverCommand,
		rekeyCommand,
		serveCommand,
		testCommand,
		probeCommand,
		statusCommand, commissionCommand,
		modelsCommand,
		emulateCommand,
		versionCommand,
		completionCommand,
		helpCommand,
	}
}

func lookup(name string) *command {
	for _, cmd := range commands {
		if cmd.name == name {
			return cmd
		}
	}
	return nil
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, environ: os.Environ()}
	return c.run(args)
}

func (c *cli) run(args []string) int {
	args, status, ok := c.globalFlags(args)
	if !ok {
		return status
	}
	if len(args) == 0 {
		c.usage(c.stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		c.usage(c.stdout)
		return exitOK
	case "-v", "-version", "--version":
		name = "version"
	}
	cmd := lookup(name)
	if cmd == nil {
		fmt.Fprintf(c.stderr, "switchboard: unknown command %q%s\nRun \"switchboard help\" for the list of commands.\n", name, suggestCommand(name))
		return exitUsage
	}
	return cmd.run(c, args[1:])
}

// globalFlags takes the flags that come before the command, as with
// terraform: -chdir=DIR switches to DIR first (so that every path on the
// command line, and every default, is relative to it), -no-color turns
// colour off. It returns the rest of the arguments.
func (c *cli) globalFlags(args []string) (rest []string, status int, ok bool) {
	for len(args) > 0 {
		a := args[0]
		name, value, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if !strings.HasPrefix(a, "-") {
			return args, exitOK, true
		}
		switch name {
		case "chdir":
			if !hasValue {
				if len(args) < 2 {
					return nil, c.globalUsageError("-chdir needs a directory, as in -chdir=sites/harbour"), false
				}
				value, args = args[1], args[1:]
			}
			if value == "" {
				return nil, c.globalUsageError("-chdir needs a directory, as in -chdir=sites/harbour"), false
			}
			if err := os.Chdir(value); err != nil {
				return nil, c.globalUsageError("-chdir: %v", err), false
			}
		case "no-color":
			if hasValue {
				b, err := strconv.ParseBool(value)
				if err != nil {
					return nil, c.globalUsageError("invalid value %q for flag -no-color: want true or false", value), false
				}
				c.noColor = b
			} else {
				c.noColor = true
			}
		default:
			// -h, -version and unknown flags: the command dispatch says.
			return args, exitOK, true
		}
		args = args[1:]
	}
	return args, exitOK, true
}

func (c *cli) globalUsageError(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "switchboard: %s\nRun \"switchboard help\" for the global flags.\n", fmt.Sprintf(format, args...))
	return exitUsage
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprint(w, `Usage: switchboard [-chdir=DIR] [-no-color] <command> [flags] [args]

switchboard runs intercom and PBX installations described as site
directories (one directory of *.pbx.hcl files per installation): it
scaffolds, formats and checks them, compiles them into a dial plan and
device files, plans and applies them to the devices, serves them as a SIP
server, simulates every call path and audits a running server.

Commands:
`)
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", cmd.name, cmd.synopsis)
	}
	fmt.Fprint(w, `
Global flags, before the command:
  -chdir=DIR  switch to DIR before anything else; paths and defaults are
              relative to it
  -no-color   no colour in the output (also when NO_COLOR is set, or the
              output is not a terminal)

Run "switchboard help <command>" for a command's flags, and
"switchboard help language" for every block and attribute of a site file.

Exit status: 0 success (warnings allowed); 1 errors in the site, files that
fmt -check would change, or a file that cannot be read or written; 2 usage
errors.
`)
}

// suggestCommand returns ` (did you mean "x"?)` for a near miss.
func suggestCommand(name string) string {
	best, bestDist := "", 3
	for _, cmd := range commands {
		if d := levenshtein.Distance(name, cmd.name, nil); d < bestDist {
			best, bestDist = cmd.name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

var helpCommand = &command{
	name:     "help",
	synopsis: "Show help for switchboard or one of its commands",
	usage: `Usage: switchboard help [command]

Shows the list of commands, or the help of one command.`,
	run: func(c *cli, args []string) int {
		if len(args) > 0 && lookupTopic(args[0]) != nil {
			return lookupTopic(args[0]).run(c, args[1:])
		}
		switch len(args) {
		case 0:
			c.usage(c.stdout)
			return exitOK
		case 1:
			cmd := lookup(args[0])
			if cmd == nil {
				fmt.Fprintf(c.stderr, "switchboard help: unknown command %q%s\nRun \"switchboard help\" for the list of commands.\n", args[0], suggestCommand(args[0]))
				return exitUsage
			}
			c.commandHelp(c.stdout, cmd)
			return exitOK
		}
		return c.usageError(lookup("help"), "too many arguments")
	},
}

// commandHelp prints a command's usage and its flags.
func (c *cli) commandHelp(w io.Writer, cmd *command) {
	fmt.Fprintln(w, cmd.usage)
	if cmd.flags == nil {
		return
	}
	fs := cmd.flags()
	fmt.Fprintln(w, "\nFlags:")
	fs.printDefaults(w)
}

// usageError reports a problem with the command line on stderr: the
// message, the command's usage line and where to find more; exit status 2.
func (c *cli) usageError(cmd *command, format string, args ...any) int {
	synopsis, _, _ := strings.Cut(cmd.usage, "\n")
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(c.stderr, "switchboard %s: %s\n%s\nRun \"switchboard help %s\" for more.\n",
		cmd.name, msg, synopsis, cmd.name)
	if c.json {
		c.writeJSONProblem("Invalid command line", fmt.Sprintf("%s. Run \"switchboard help %s\" for the command's flags.", msg, cmd.name))
	}
	return exitUsage
}

var versionCommand = &command{
	name:     "version",
	synopsis: "Print the switchboard version",
	usage: `Usage: switchboard version

Prints the version of switchboard and of the Go toolchain that built it.`,
	run: func(c *cli, args []string) int {
		if len(args) > 0 {
			return c.usageError(lookup("version"), "unexpected argument %q", args[0])
		}
		fmt.Fprintf(c.stdout, "switchboard %s\n", buildVersion())
		return exitOK
	},
}

// buildVersion is the link-time version, else the module version, else
// "devel", followed by the Go version and the VCS revision when known.
func buildVersion() string {
	v := version
	info, ok := debug.ReadBuildInfo()
	if v == "" && ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v = info.Main.Version
	}
	if v == "" {
		v = "devel"
	}
	if !ok {
		return v
	}
	var extra []string
	extra = append(extra, info.GoVersion)
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if settings["vcs.modified"] == "true" {
			rev += "+dirty"
		}
		extra = append(extra, rev)
	}
	return v + " (" + strings.Join(extra, ", ") + ")"
}
