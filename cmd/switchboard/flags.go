package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// flagSet is a command's flags: Go's flag package with single-dash flags
// (-json, -check), errors reported by the caller.
type flagSet struct {
	name string // the command's
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
// command line is wrong (2, message and help already on stderr).
func (c *cli) parse(f *flagSet, args []string, maxArgs int) (positional []string, status int, ok bool) {
	cmd := lookup(f.name)
	err := f.fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		c.commandHelp(c.stdout, cmd)
		return nil, exitOK, false
	}
	if err != nil {
		return nil, c.usageError(cmd, "%s", err), false
	}
	positional = f.fs.Args()
	for _, a := range positional {
		if strings.HasPrefix(a, "-") && a != "-" {
			return nil, c.usageError(cmd, "flag %s comes after an argument; flags go first, as in \"switchboard %s %s %s\"",
				a, cmd.name, a, positional[0]), false
		}
	}
	if len(positional) > maxArgs {
		return nil, c.usageError(cmd, "too many arguments: %s", strings.Join(positional, " ")), false
	}
	return positional, exitOK, true
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
