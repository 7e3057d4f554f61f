package main

import (
	"bytes"
	"flag"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Every flag of every command has a rule for its values (bool flags
// excepted: the flag package takes only true and false), and its default
// passes it. A new flag without one fails here: add its rule to flagRules
// or give its usage a placeholder of placeholderRules.
func TestEveryFlagHasARule(t *testing.T) {
	for _, cmd := range commands {
		if cmd.flags == nil {
			continue
		}
		cmd.flags().fs.VisitAll(func(fl *flag.Flag) {
			if isBoolFlag(fl) {
				return
			}
			r := ruleFor(cmd.name, fl)
			if r == nil {
				placeholder, _ := flag.UnquoteUsage(fl)
				t.Errorf("switchboard %s -%s (%s) has no value rule", cmd.name, fl.Name, placeholder)
				return
			}
			if fl.DefValue != "" {
				if err := r(fl.DefValue); err != nil {
					t.Errorf("switchboard %s -%s: its default %q fails its own rule: %v", cmd.name, fl.Name, fl.DefValue, err)
				}
			}
		})
	}
}

// A value a command cannot use is a usage error (exit 2) before the
// command reads or writes anything: every case below names a site
// directory that does not exist, so a command that got past its flags
// would fail with 1 instead.
func TestBadFlagValuesAreUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"validate", "-lockfile=foo", "nosite"}, `invalid value "foo" for flag -lockfile: want readonly`},
		{[]string{"build", "-lockfile", "read-only", "nosite"}, `invalid value "read-only" for flag -lockfile: want readonly`},
		{[]string{"build", "-port", "0", "nosite"}, `invalid value "0" for flag -port: want a whole number from 1 to 65535`},
		{[]string{"build", "-transport", "sctp", "nosite"}, `invalid value "sctp" for flag -transport: want udp, tcp or tls`},
		{[]string{"build", "-server", "http://pbx", "nosite"}, `invalid value "http://pbx" for flag -server: want a host name or an IP address`},
		{[]string{"build", "-provision-url", "pbx:8088", "nosite"}, `invalid value "pbx:8088" for flag -provision-url: want an http or https URL`},
		{[]string{"build", "-o", "", "nosite"}, `invalid value "" for flag -o: want a value`},
		{[]string{"plan", "-state", "", "nosite"}, `invalid value "" for flag -state: want a value`},
		{[]string{"graph", "-format", "png", "nosite"}, `invalid value "png" for flag -format: want dot, mermaid, json or svg`},
		{[]string{"test", "-transport", "tcp", "nosite"}, `invalid value "tcp" for flag -transport: want memory or udp`},
		{[]string{"test", "-parallel", "-1", "nosite"}, `invalid value "-1" for flag -parallel: want a whole number from 0 to 1024`},
		{[]string{"test", "-run", "(", "nosite"}, `invalid value "(" for flag -run: want a regular expression`},
		{[]string{"apply", "-parallelism", "0", "nosite"}, `invalid value "0" for flag -parallelism: want a whole number from 1 to 1024`},
		{[]string{"apply", "-timeout", "0s", "nosite"}, `invalid value "0s" for flag -timeout: want a positive duration`},
		{[]string{"apply", "-smtp", "mail.example.org", "nosite"}, `invalid value "mail.example.org" for flag -smtp: want host:port`},
		{[]string{"apply", "-smtp-from", "not an address", "nosite"}, `invalid value "not an address" for flag -smtp-from: want a mail address`},
		{[]string{"apply", "-serve", "ftp://x", "nosite"}, `invalid value "ftp://x" for flag -serve: want an http or https URL`},
		{[]string{"apply", "-device", "gate", "nosite"}, `invalid value "gate" for flag -device: want NAME=URL`},
		{[]string{"serve", "-log-format", "xml", "nosite"}, `invalid value "xml" for flag -log-format: want text or json`},
		{[]string{"serve", "-digest", "sha1", "nosite"}, `invalid value "sha1" for flag -digest: unknown algorithm "sha1"`},
		{[]string{"serve", "-listen", "5060", "nosite"}, `invalid value "5060" for flag -listen: want host:port`},
		{[]string{"serve", "-media-ip", "localhost", "nosite"}, `invalid value "localhost" for flag -media-ip: want an IP address`},
		{[]string{"serve", "-max-connections", "0", "nosite"}, `invalid value "0" for flag -max-connections: want a whole number from 1`},
		{[]string{"serve", "-sip-idle-timeout", "-1m", "nosite"}, `invalid value "-1m" for flag -sip-idle-timeout: want a positive duration`},
		{[]string{"serve", "-rotation-grace", "-1s", "nosite"}, `invalid value "-1s" for flag -rotation-grace: want zero or a positive duration`},
		{[]string{"serve", "-trusted-proxy", "proxy", "nosite"}, `invalid value "proxy" for flag -trusted-proxy: want an IP address or a CIDR prefix`},
		{[]string{"serve", "-events", "", "nosite"}, `invalid value "" for flag -events: want a value`},
		{[]string{"probe", "-max-idle", "0", "nosite"}, `invalid value "0" for flag -max-idle: want a whole number from 1 to 5000`},
		{[]string{"state", "show", "-state", "", "nosite"}, `invalid value "" for flag -state: want a value`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			c := &cli{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}
			if got := c.run(tc.args); got != exitUsage {
				t.Errorf("exit status %d, want %d; stderr:\n%s", got, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr does not say %q:\n%s", tc.want, stderr.String())
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout is not empty: %s", stdout.String())
			}
		})
	}
}

// The hint for a flag after an argument moves the flag, with its value,
// before the arguments.
func TestMisplacedFlagHint(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", "site", "-out", "x"}, `"switchboard plan -out x site"`},
		{[]string{"plan", "site", "-out=x", "-json"}, `"switchboard plan -out=x -json site"`},
		{[]string{"plan", "-lock=false", "-state", "s.json", "site", "-out", "x"}, `"switchboard plan -lock=false -state s.json -out x site"`},
		{[]string{"validate", "site", "-json"}, `"switchboard validate -json site"`},
		{[]string{"test", "site", "-run", "gate button"}, `"switchboard test -run 'gate button' site"`},
		{[]string{"fmt", "a", "-check", "b"}, `"switchboard fmt -check a b"`},
		{[]string{"state", "show", "site", "-json"}, `"switchboard state show -json site"`},
	} {
		var stdout, stderr bytes.Buffer
		c := &cli{stdout: &stdout, stderr: &stderr}
		if got := c.run(tc.args); got != exitUsage {
			t.Errorf("%v: exit status %d, want %d", tc.args, got, exitUsage)
		}
		if !strings.Contains(stderr.String(), "flags go first, as in "+tc.want) {
			t.Errorf("%v: stderr does not hint %s:\n%s", tc.args, tc.want, stderr.String())
		}
	}
}

func TestShellJoin(t *testing.T) {
	got := shellJoin([]string{"switchboard", "test", "-run", "it's", "", "a b"})
	want := `switchboard test -run 'it'\''s' '' 'a b'`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("shellJoin (-want +got):\n%s", diff)
	}
}

// Each shell's completion script names every command and every flag of
// every command, in that shell's form.
func TestCompletionCoversTheCommandTable(t *testing.T) {
	for _, sh := range shells {
		var b bytes.Buffer
		sh.write(&b, completionEntries())
		script := b.String()
		for _, cmd := range commands {
			var want []string
			switch sh.name {
			case "bash":
				want = append(want, "        "+cmd.name+") flags=")
			case "zsh":
				want = append(want, "        '"+cmd.name+":", "        "+cmd.name+") specs=(")
			case "fish":
				want = append(want, "-f -a "+cmd.name+" -d ")
			}
			if cmd.flags != nil {
				cmd.flags().fs.VisitAll(func(fl *flag.Flag) {
					switch sh.name {
					case "bash":
						// A word of the command's flags='...' list.
						if !slices.Contains(bashFlags(script, cmd.name), "-"+fl.Name) {
							t.Errorf("bash completion: no -%s in the flags of %s", fl.Name, cmd.name)
						}
					case "zsh":
						// '*-var[...]' for a repeatable flag.
						if !strings.Contains(script, "'-"+fl.Name+"[") && !strings.Contains(script, "'*-"+fl.Name+"[") {
							t.Errorf("zsh completion: no spec of -%s (command %s)", fl.Name, cmd.name)
						}
					case "fish":
						want = append(want, "'__fish_seen_subcommand_from "+cmd.name+"' -o "+fl.Name+" ")
					}
				})
			}
			for _, w := range want {
				if !strings.Contains(script, w) {
					t.Errorf("%s completion: no %q (command %s)", sh.name, w, cmd.name)
				}
			}
		}
	}
}

// bashFlags returns the words of the flags='...' list of cmd's case in a
// bash completion script.
func bashFlags(script, cmd string) []string {
	for _, line := range strings.Split(script, "\n") {
		rest, ok := strings.CutPrefix(line, "        "+cmd+") flags='")
		if !ok {
			continue
		}
		list, _, _ := strings.Cut(rest, "'")
		return strings.Fields(list)
	}
	return nil
}

func TestWantsJSON(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"-json"}, true},
		{[]string{"--json", "site"}, true},
		{[]string{"-state", "x", "-json", "-lock=maybe"}, true},
		{[]string{"-json=true"}, true},
		{[]string{"-json=false"}, false},
		{[]string{"-json=maybe"}, false},
		{[]string{"-jsonx"}, false},
		{[]string{"--", "-json"}, false},
		{nil, false},
	} {
		if got := wantsJSON(tc.args); got != tc.want {
			t.Errorf("wantsJSON(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}
