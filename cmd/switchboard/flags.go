package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"switchboard/compiler/apply"
	"switchboard/compiler/graph"
	"switchboard/compiler/handover"
	"switchboard/compiler/plan"
	"switchboard/runtime/site"
	"switchboard/simulate"
)

// flagSet is a command's flags: Go's flag package with single-dash flags
// (-json, -check), errors reported by the caller.
type flagSet struct {
	name string // the command's
	sub  string // the subcommand's, for a command that has them (state show)
	fs   *flag.FlagSet
}

// newFlagSet starts the flags of the named command. (Commands are looked
// up by name: a command's flags and its help refer to each other.)
func newFlagSet(name string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{name: name, fs: fs}
}

func (f *flagSet) printDefaults(w io.Writer) {
	f.fs.SetOutput(w)
	f.fs.PrintDefaults()
	f.fs.SetOutput(io.Discard)
}

// parse parses args and returns the positional arguments. When it returns
// ok == false the command must return status: help was asked for (0) or the
// command line is wrong (2, message and help already on stderr, and a JSON
// document on stdout when -json was given).
//
// Every flag's value is checked as it is set (see flagRule): a value the
// command cannot use is a usage error here, before anything is read or
// written.
func (c *cli) parse(f *flagSet, args []string, maxArgs int) (positional []string, status int, ok bool) {
	cmd := lookup(f.name)
	if fl := f.fs.Lookup("json"); fl != nil && wantsJSON(args) {
		// Known before parsing, so that even a usage error is JSON.
		c.json = true
	}
	f.checkValues()
	err := f.fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		c.commandHelp(c.stdout, cmd)
		return nil, exitOK, false
	}
	if err != nil {
		return nil, c.usageError(cmd, "%s", err), false
	}
	if fl := f.fs.Lookup("json"); fl != nil {
		c.json = fl.Value.String() == "true"
	}
	positional = f.fs.Args()
	for _, a := range positional {
		if strings.HasPrefix(a, "-") && a != "-" {
			return nil, c.usageError(cmd, "flag %s comes after an argument; flags go first, as in \"%s\"",
				a, f.reordered(args[:len(args)-len(positional)], positional)), false
		}
	}
	if len(positional) > maxArgs {
		return nil, c.usageError(cmd, "too many arguments: %s", strings.Join(positional, " ")), false
	}
	return positional, exitOK, true
}

// wantsJSON reports whether args ask for -json (before they are parsed,
// so that a usage error in them is JSON too).
func wantsJSON(args []string) bool {
	for _, a := range args {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			// An argument, or another flag's value: the flags before
			// the error are not known yet, so every word is looked at.
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name != "json" {
			continue
		}
		if !hasValue {
			return true
		}
		b, err := strconv.ParseBool(value)
		return err == nil && b
	}
	return false
}

// reordered is the command line with the flags that came after the first
// argument moved before it, each with its value, after those parsed before
// it: the command the user meant ("switchboard plan -json -out x DIR" for
// "switchboard plan -json DIR -out x").
func (f *flagSet) reordered(parsed, positional []string) string {
	words := []string{"switchboard", f.name}
	if f.sub != "" {
		words = append(words, f.sub)
	}
	words = append(words, parsed...)
	var rest []string
	for i := 0; i < len(positional); i++ {
		a := positional[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			rest = append(rest, a)
			continue
		}
		words = append(words, a)
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if fl := f.fs.Lookup(name); fl != nil && !hasValue && !isBoolFlag(fl) && i+1 < len(positional) {
			i++
			words = append(words, positional[i])
		}
	}
	return shellJoin(append(words, rest...))
}

// hint is the command line "switchboard WORDS... DIR" (DIR left out when
// it is the current directory), for messages that say what to run next.
func hint(dir string, words ...string) string {
	w := append([]string{"switchboard"}, words...)
	if dir != "" && dir != "." {
		w = append(w, filepath.ToSlash(dir))
	}
	return shellJoin(w)
}

// shellJoin quotes the words that need it, so that a hint can be pasted.
func shellJoin(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		if w == "" || strings.ContainsAny(w, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
			w = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		q[i] = w
	}
	return strings.Join(q, " ")
}

func isBoolFlag(fl *flag.Flag) bool {
	b, ok := fl.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// A flagRule says whether a flag's value is one the command can use; its
// error completes "invalid value "x" for flag -name: ".
type flagRule func(value string) error

// flagRules are the rules of flags by name: "command -flag" for one
// command's flag, "-flag" for a flag of that name in every command. A flag
// without one is checked by the rule for its placeholder (the `WORD` of
// its usage). TestEveryFlagHasARule fails on a flag that has neither, so
// a new flag cannot take unchecked values.
var flagRules = map[string]flagRule{
	"-lockfile":                   oneOf("readonly"),
	"-transport":                  oneOf("udp", "tcp", "tls"),
	"test -transport":             oneOf(simulate.TransportMemory, simulate.TransportUDP),
	"test -shard":                 func(v string) error { _, _, err := parseShard(v); return err },
	"test -changed-since":         changedSinceRule,
	"graph -format":               oneOf(graph.Formats...),
	"handover -format":            oneOf(handover.Formats...),
	"-log-format":                 oneOf("text", "json"),
	"-port":                       intBetween(1, 65535),
	"-parallelism":                intBetween(1, 1024),
	"-parallel":                   intBetween(0, 1024), // 0: the number of CPUs
	"-max-idle":                   intBetween(1, 5000),
	"-max-connections":            intBetween(1, 1<<20),
	"-max-connections-per-source": intBetween(1, 1<<20),
	"-max-call-setups":            intBetween(0, 1<<20), // 0: no bound
	"-max-queue-delay":            durationAbove(-1),    // 0: no bound
	"-timeout":                    durationAbove(0),
	"-sip-idle-timeout":           durationAbove(0),
	"-handshake-timeout":          durationAbove(0),
	"-http-read-timeout":          durationAbove(0),
	"-rotation-grace":             durationAbove(-1), // 0: never
	"serve -events-max-msgs":      intBetween(1, 1<<40),
	"serve -events-max-bytes":     intBetween(1<<20, 1<<50),  // at least a MiB
	"commission -timeout":         durationAbove(-1),         // 0: until every case is decided
	"commission -ring-test":       durationUpTo(time.Minute), // what serve's ring test takes
	"-digest":                     digestRule,
	"-rtp-ports":                  func(v string) error { _, _, err := portRange(v); return err },
	"-device":                     func(v string) error { _, _, err := apply.ParseTarget(v, "", ""); return err },
	"-var":                        checkedBySet,
	"-serve":                      address(false),
	"-trusted-proxy":              addressOrCIDR,
	"serve -node-uri":             site.CheckNode,
	// plan's and apply's -target names an object of the site, not a
	// network address.
	"plan -target":  func(v string) error { _, _, err := plan.ParseAddress(v); return err },
	"apply -target": func(v string) error { _, _, err := plan.ParseAddress(v); return err },
	// probe sends only to the addresses given: probeAddr checks them
	// (IP literals only) before anything is sent.
	"probe -target": checkedByCommand,
	"probe -http":   checkedByCommand,
	"probe -admin":  checkedByCommand,
	"probe -tcp":    checkedByCommand,
	"probe -tls":    checkedByCommand,
}

// placeholderRules check a flag by the kind of value its usage names.
var placeholderRules = map[string]flagRule{
	"FILE":      nonEmpty,
	"OUT":       nonEmpty,
	"DIR":       nonEmpty,
	"NAME":      nonEmpty,
	"ADDR":      address(true), // "empty to disable" where a default exists
	"HOST":      host,
	"HOST:PORT": hostPort,
	"URL":       httpURL,
	"IP":        ipAddress,
	"ADDRESS":   mailAddress,
	"REGEX":     regex,
	"N":         intBetween(0, 1<<30),
	"D":         durationAbove(0),
	"DURATION":  durationAbove(0),
}

// ruleFor returns the rule of a command's flag, nil when it has none.
func ruleFor(command string, fl *flag.Flag) flagRule {
	if r, ok := flagRules[command+" -"+fl.Name]; ok {
		return r
	}
	if r, ok := flagRules["-"+fl.Name]; ok {
		return r
	}
	placeholder, _ := flag.UnquoteUsage(fl)
	return placeholderRules[placeholder]
}

// checkValues makes every flag of f check its value as it is set. Bool
// flags need no rule: the flag package accepts only true and false.
func (f *flagSet) checkValues() {
	f.fs.VisitAll(func(fl *flag.Flag) {
		if isBoolFlag(fl) {
			return
		}
		if r := ruleFor(f.name, fl); r != nil {
			fl.Value = &checkedValue{Value: fl.Value, rule: r}
		}
	})
}

// checkedValue is a flag's value that runs its rule before taking one.
type checkedValue struct {
	flag.Value
	rule flagRule
}

func (v *checkedValue) String() string {
	if v == nil || v.Value == nil {
		return ""
	}
	return v.Value.String()
}

func (v *checkedValue) Set(s string) error {
	if err := v.rule(s); err != nil {
		return err
	}
	return v.Value.Set(s)
}

// digestRule is serve's check of -digest, without its "-digest: " prefix
// (the flag package names the flag).
func digestRule(v string) error {
	if _, err := digestAlgorithms(v); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "-digest: "))
	}
	return nil
}

// checkedByCommand marks a flag the command checks, with a message of its
// own, right after parsing and before it does anything.
func checkedByCommand(string) error { return nil }

// checkedBySet marks a flag whose own Set method checks its value.
func checkedBySet(string) error { return nil }

func oneOf(choices ...string) flagRule {
	return func(v string) error {
		if slices.Contains(choices, v) {
			return nil
		}
		if len(choices) == 1 {
			return fmt.Errorf("want %s", choices[0])
		}
		return fmt.Errorf("want %s or %s", strings.Join(choices[:len(choices)-1], ", "), choices[len(choices)-1])
	}
}

func intBetween(lo, hi int) flagRule {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("want a whole number from %d to %d", lo, hi)
		}
		return nil
	}
}

// durationAbove wants a duration greater than min (durationAbove(-1):
// zero or more).
// durationUpTo takes 0 (off), or whole seconds from 1s up to max.
func durationUpTo(max time.Duration) flagRule {
	return func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > max || (d > 0 && d < time.Second) || d%time.Second != 0 {
			return fmt.Errorf("want 0 or whole seconds up to %s, such as 30s", max)
		}
		return nil
	}
}

func durationAbove(min time.Duration) flagRule {
	return func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("want a duration such as 30s or 5m")
		}
		if d <= min {
			if min < 0 {
				return fmt.Errorf("want zero or a positive duration")
			}
			return fmt.Errorf("want a positive duration such as 30s or 5m")
		}
		return nil
	}
}

func nonEmpty(v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("want a value")
	}
	return nil
}

// address wants host:port (the host may be empty: every address) or an
// http or https URL; empty only when emptyOK.
func address(emptyOK bool) flagRule {
	return func(v string) error {
		if v == "" {
			if emptyOK {
				return nil
			}
			return fmt.Errorf("want host:port")
		}
		if strings.Contains(v, "://") {
			return httpURL(v)
		}
		return hostPortRule(v, true)
	}
}

func hostPort(v string) error { return hostPortRule(v, false) }

func hostPortRule(v string, emptyHostOK bool) error {
	h, p, err := net.SplitHostPort(v)
	if err != nil || (h == "" && !emptyHostOK) || strings.ContainsAny(h, " /") {
		return fmt.Errorf("want host:port, as in 127.0.0.1:5060")
	}
	if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("want host:port with a port from 0 to 65535")
	}
	return nil
}

func host(v string) error {
	if _, err := netip.ParseAddr(v); err == nil {
		return nil
	}
	for _, label := range strings.Split(v, ".") {
		if label == "" || len(label) > 63 || strings.Trim(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
			return fmt.Errorf("want a host name or an IP address, as in sip.example.org")
		}
	}
	return nil
}

func httpURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("want an http or https URL, as in http://192.0.2.1:8088")
	}
	return nil
}

func ipAddress(v string) error {
	if _, err := netip.ParseAddr(v); err != nil {
		return fmt.Errorf("want an IP address")
	}
	return nil
}

func addressOrCIDR(v string) error {
	if _, err := netip.ParsePrefix(v); err == nil {
		return nil
	}
	if ipAddress(v) != nil {
		return fmt.Errorf("want an IP address or a CIDR prefix, as in 10.0.0.0/8")
	}
	return nil
}

func mailAddress(v string) error {
	if _, err := mail.ParseAddress(v); err != nil {
		return fmt.Errorf("want a mail address, as in pbx@example.org")
	}
	return nil
}

func regex(v string) error {
	if _, err := regexp.Compile(v); err != nil {
		return fmt.Errorf("want a regular expression: %v", err)
	}
	return nil
}

// dirArg returns the single optional directory argument, "." by default.
func dirArg(positional []string) string {
	if len(positional) == 0 {
		return "."
	}
	return positional[0]
}

// varsFlag collects repeated -var name=value flags.
type varsFlag map[string]string

func (v varsFlag) String() string {
	names := make([]string, 0, len(v))
	for k := range v {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ",") // names only: values may be secrets
}

func (v varsFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return fmt.Errorf("want name=value, as in -var trunk_user=harbour")
	}
	v[name] = value
	return nil
}

// listFlag collects a repeated flag's values in order.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	if s == "" {
		return fmt.Errorf("want a file name")
	}
	*l = append(*l, s)
	return nil
}
