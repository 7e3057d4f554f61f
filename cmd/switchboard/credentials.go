package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"switchboard/compiler/credentials"
)

var credentialsCommand = &command{
	name:     "credentials",
	synopsis: "Print the logins of a site's accounts (secrets: on request only)",
	usage: `Usage: switchboard credentials [-json] [-lockfile=readonly] [-var name=value]...
                               [-var-file FILE]... [DIR] [NAME...]

Prints the SIP and portal logins of the site in DIR, derived from the site
key: the way an operator hands each person their own login, or configures a
device by hand. NAME selects accounts by account name (app.mary), owner
(user.mary) or bare name (mary: her app, portal login and desk phones).

This is the only command that prints secrets. -json prints a list of
objects with name, username, auth_name, password, domain, kind and owner.

Exit status: 0 printed, 1 errors or a NAME matched nothing, 2 usage error.`,
	run:   runCredentials,
	flags: func() *flagSet { return credentialsFlags(&credentialsOptions{}) },
}

type credentialsOptions struct {
	json bool
	site siteOptions
}

func credentialsFlags(o *credentialsOptions) *flagSet {
	f := newFlagSet("credentials")
	f.fs.BoolVar(&o.json, "json", false, "print a JSON list")
	o.site.register(f.fs)
	return f
}

func runCredentials(c *cli, args []string) int {
	var o credentialsOptions
	positional, status, ok := c.parse(credentialsFlags(&o), args, 1<<20)
	if !ok {
		return status
	}
	// The directory comes first when it is one; names follow.
	dir := "."
	var names []string
	if len(positional) > 0 {
		if isDir(positional[0]) {
			dir, names = positional[0], positional[1:]
		} else {
			names = positional
		}
	}
	cs, status := c.compileSite("credentials", dir, compileOptions{site: o.site, needKey: true, state: statePath(dir, "")})
	if cs == nil {
		return status
	}
	list, unknown := credentials.Filter(credentials.List(cs.program, cs.key), names)
	if len(unknown) > 0 {
		return c.fail("credentials", fmt.Errorf("no account matches %s", quoteAll(unknown)))
	}
	if o.json {
		if list == nil {
			list = []credentials.Credential{}
		}
		data, err := json.MarshalIndent(list, "", "  ")
		if err != nil {
			return c.fail("credentials", err)
		}
		c.stdout.Write(append(data, '\n'))
		return exitOK
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tOWNER\tUSERNAME\tPASSWORD\tDOMAIN")
	for _, cr := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cr.Name, cr.Kind, cr.Owner, cr.Username, cr.Password, cr.Domain)
	}
	return exitFailIf(tw.Flush() != nil)
}

func exitFailIf(b bool) int {
	if b {
		return exitFail
	}
	return exitOK
}

func quoteAll(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
