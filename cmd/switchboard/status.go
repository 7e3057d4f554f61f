package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"switchboard/runtime/site"
)

var statusCommand = &command{
	name:     "status",
	synopsis: "Show every account of a running serve: registered, since when, from where",
	usage: `Usage: switchboard status [-admin ADDR] [-token-file FILE] [-json] [DIR]

Asks the running switchboard serve of the site in DIR (its admin endpoints,
GET /admin/accounts) and prints every account of the site: registered or
not, since when, from which address and with which user agent, when it last
fetched its provisioning files, and when and why the last registration of
an account that has none went; then the trunks (registered at the carrier,
the last error) and the calls in progress.

The admin token is SWITCHBOARD_ADMIN_TOKEN, else -token-file, else
DIR/.switchboard/admin-token, the file serve makes when it starts.

Exit status: 0 printed, 1 the server could not be asked, 2 usage error.`,
	run:   runStatus,
	flags: func() *flagSet { return statusFlags(&statusOptions{}) },
}

type statusOptions struct {
	json      bool
	admin     string
	tokenFile string
}

func statusFlags(o *statusOptions) *flagSet {
	f := newFlagSet("status")
	f.fs.BoolVar(&o.json, "json", false, "print the server's answer as JSON")
	f.fs.StringVar(&o.admin, "admin", "127.0.0.1:8089", "serve's admin endpoints are on `ADDR` (its -admin)")
	f.fs.StringVar(&o.tokenFile, "token-file", "", "read the admin token from `FILE` (default DIR/.switchboard/admin-token; SWITCHBOARD_ADMIN_TOKEN overrides)")
	return f
}

func runStatus(c *cli, args []string) int {
	var o statusOptions
	positional, status, ok := c.parse(statusFlags(&o), args, 1)
	if !ok {
		return status
	}
	if err := checkAdminAddr(o.admin); err != nil {
		return c.usageError(lookup("status"), "%v", err)
	}
	ac, err := c.newAdminClient(dirArg(positional), o.admin, o.tokenFile)
	if err != nil {
		return c.fail("status", err)
	}
	rep, err := ac.accounts(context.Background())
	if err != nil {
		return c.fail("status", err)
	}
	if c.json {
		data, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return c.fail("status", err)
		}
		c.stdout.Write(append(data, '\n'))
		return exitOK
	}
	writeStatus(c.stdout, rep)
	return exitOK
}

// writeStatus prints the report as a person reads it: one line per
// account (a line per further binding), then trunks and calls.
func writeStatus(w io.Writer, r site.AccountsReport) {
	n := 0
	for _, a := range r.Accounts {
		if a.Registered {
			n++
		}
	}
	fmt.Fprintf(w, "Site %s: %d of %d accounts registered\n\n", r.Site, n, len(r.Accounts))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tREGISTERED\tSINCE\tFROM\tUSER AGENT\tLAST FETCH")
	for _, a := range r.Accounts {
		fetch := "-"
		if f := a.LastFetch; f != nil {
			fetch = stamp(f.At, r.Now) + " " + f.Path
		}
		if !a.Registered {
			why := "no"
			if u := a.LastUnregistered; u != nil {
				why = fmt.Sprintf("no (%s %s)", u.Cause, stamp(u.At, r.Now))
			}
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t%s\n", a.Name, why, fetch)
			continue
		}
		for i, b := range a.Bindings {
			name, reg, since := a.Name, "yes", "-"
			if !a.Since.IsZero() {
				since = stamp(a.Since, r.Now)
			}
			if i > 0 {
				name, reg, since, fetch = "", "", "", ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s/%s\t%s\t%s\n", name, reg, since, b.Source, strings.ToLower(b.Transport), orDash(b.UserAgent), fetch)
		}
	}
	tw.Flush()
	if len(r.Trunks) > 0 {
		fmt.Fprintln(w, "\nTrunks:")
		for _, t := range r.Trunks {
			line := "registered"
			if !t.Registered {
				line = "not registered"
				if e := t.LastError; e != nil {
					line += fmt.Sprintf(" (%s: %s)", stamp(e.At, r.Now), e.Cause)
				}
			}
			fmt.Fprintf(w, "  %s: %s\n", t.Name, line)
		}
	}
	fmt.Fprintf(w, "\nCalls in progress: %d\n", len(r.Calls))
	for _, k := range r.Calls {
		line := fmt.Sprintf("  %s → %s", k.From, k.To)
		if k.Target != "" {
			line += " (" + k.Target + ")"
		}
		line += ", since " + stamp(k.Started, r.Now)
		if k.AnsweredBy != "" {
			line += ", answered by " + k.AnsweredBy
		}
		fmt.Fprintln(w, line)
	}
}

// stamp is a time as the status shows it: the clock time, and the day
// too when it is not today's.
func stamp(t, now time.Time) string {
	t, now = t.UTC(), now.UTC()
	if t.Format(time.DateOnly) == now.Format(time.DateOnly) {
		return t.Format(time.TimeOnly)
	}
	return t.Format(time.DateTime)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
