package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"switchboard/compiler/ir"
	"switchboard/compiler/state"
	"switchboard/lang"
)

var numbersCommand = &command{
	name:     "numbers",
	synopsis: "Print the number plan: extensions, DDIs, rooms, feature and door codes",
	usage: `Usage: switchboard numbers [-json] [-lockfile=readonly] [-var name=value]...
                           [-var-file FILE]... [DIR]

Prints every number of the site in DIR and what it reaches: extensions
(with who holds them, and which extension = "auto" handed out), the DDIs of
each trunk (assigned to a user; spare, and where the carrier's calls to it
go; quarantined: spare, but a person's whom an apply removed less than
quarantine_days ago, per the applied state), extensions of removed people
held in quarantine (see switchboard.lock.hcl), conference rooms, feature codes, the codes keyed or
pressed on each door station, and the emergency numbers of the site's
country, which no number may equal or begin with.

Exit status: 0 printed, 1 errors in the site, 2 usage error.`,
	run:   runNumbers,
	flags: func() *flagSet { return numbersFlags(&numbersOptions{}) },
}

type numbersOptions struct {
	json bool
	site siteOptions
}

func numbersFlags(o *numbersOptions) *flagSet {
	f := newFlagSet("numbers")
	f.fs.BoolVar(&o.json, "json", false, "print the number plan as JSON")
	o.site.register(f.fs)
	return f
}

// numberPlan is the site's numbers, grouped as a person reads them.
type numberPlan struct {
	Site        string            `json:"site"`
	Country     string            `json:"country,omitempty"`
	Extensions  []extensionNumber `json:"extensions"`
	DDIs        []ddiNumber       `json:"ddis"`
	Quarantined []quarantined     `json:"quarantined"`
	Rooms       []roomNumber      `json:"conference_rooms"`
	Features    []featureNumber   `json:"feature_codes"`
	DoorCodes   []doorCode        `json:"door_codes"`
	Emergency   []string          `json:"emergency"`
}

type extensionNumber struct {
	Number string `json:"number"`
	User   string `json:"user"`
	Name   string `json:"name"`
	Auto   bool   `json:"auto,omitempty"`
}

type ddiNumber struct {
	Number string `json:"number"`
	Trunk  string `json:"trunk"`
	// Status is "assigned", "spare", or "quarantined": spare, but a
	// removed person's until Until, so better not given to anyone yet.
	Status string `json:"status"`
	// User holds an assigned number (or held a quarantined one); Reaches
	// is where a spare or quarantined one's calls go (the trunk's
	// unassigned destination, or "404").
	User    string `json:"user,omitempty"`
	Reaches string `json:"reaches,omitempty"`
	Until   string `json:"until,omitempty"`
}

type quarantined struct {
	Number string `json:"number"`
	User   string `json:"user"`
	// Until is the first day the number may be handed out again.
	Until string `json:"until"`
}

type roomNumber struct {
	Number string `json:"number"`
	Room   string `json:"room"`
	Owner  string `json:"owner,omitempty"`
	PIN    bool   `json:"pin,omitempty"`
}

type featureNumber struct {
	Number string `json:"number"`
	Does   string `json:"does"`
}

type doorCode struct {
	Device string `json:"device"`
	Code   string `json:"code"`
	Calls  string `json:"calls"`
	Button string `json:"button,omitempty"`
}

func runNumbers(c *cli, args []string) int {
	var o numbersOptions
	positional, status, ok := c.parse(numbersFlags(&o), args, 1)
	if !ok {
		return status
	}
	cs, status := c.compileSite("numbers", dirArg(positional), compileOptions{site: o.site, state: statePath(dirArg(positional), "")})
	if cs == nil {
		return status
	}
	auto := map[string]bool{}
	var lock *lang.Lock
	if cs.checked != nil {
		for user := range cs.checked.Lock.Extensions {
			auto[user] = true
		}
		lock = cs.checked.Lock
	}
	np := buildNumberPlan(cs.program, auto, lock, recentDDIs(cs, statePath(dirArg(positional), "")))
	if o.json {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(np); err != nil {
			fmt.Fprintf(c.stderr, "switchboard numbers: %v\n", err)
			return exitFail
		}
		return exitOK
	}
	writeNumberPlan(c.stdout, np)
	return exitOK
}

// buildNumberPlan reads the number plan off the compiled site; auto names
// the users whose extension was allocated, lock (nil for none) holds the
// quarantined extensions.
func buildNumberPlan(p *ir.Program, auto map[string]bool, lock *lang.Lock, recent map[string]quarantined) numberPlan {
	np := numberPlan{Site: p.Site.Name, Country: p.Site.Country, Extensions: []extensionNumber{}, DDIs: []ddiNumber{},
		Quarantined: []quarantined{}, Rooms: []roomNumber{}, Features: []featureNumber{}, DoorCodes: []doorCode{}, Emergency: slices.Clone(p.Site.Emergency)}
	if np.Emergency == nil {
		np.Emergency = []string{}
	}
	for _, u := range p.Users {
		if u.Extension != "" {
			np.Extensions = append(np.Extensions, extensionNumber{Number: u.Extension, User: u.Name, Name: u.DisplayName, Auto: auto[u.Name]})
		}
	}
	slices.SortFunc(np.Extensions, func(a, b extensionNumber) int { return strings.Compare(a.Number, b.Number) })
	holder := map[string]string{}
	for _, d := range p.DDIs {
		holder[d.Number] = d.Target.Name
	}
	for _, t := range p.Trunks {
		for _, n := range t.DDIs {
			if u, ok := holder[n]; ok {
				np.DDIs = append(np.DDIs, ddiNumber{Number: n, Trunk: t.Name, Status: "assigned", User: u})
				continue
			}
			d := ddiNumber{Number: n, Trunk: t.Name, Status: "spare", Reaches: spareReaches(t)}
			if q, ok := recent[n]; ok {
				d.Status, d.User, d.Until = "quarantined", q.User, q.Until
			}
			np.DDIs = append(np.DDIs, d)
		}
	}
	if lock != nil {
		for _, q := range lock.Quarantine {
			np.Quarantined = append(np.Quarantined, quarantined{Number: q.Extension, User: q.User, Until: q.Until.Format(lang.DateLayout)})
		}
	}
	for _, r := range p.Conferences {
		np.Rooms = append(np.Rooms, roomNumber{Number: r.Number, Room: r.Name, Owner: r.Owner.Name, PIN: r.PIN})
	}
	slices.SortFunc(np.Rooms, func(a, b roomNumber) int { return strings.Compare(a.Number, b.Number) })
	for _, n := range p.Numbers {
		if n.Action.Kind == ir.ActionVoicemail {
			np.Features = append(np.Features, featureNumber{Number: n.Number, Does: "voicemail: your own box"})
		}
	}
	for _, e := range p.Entries {
		dc := doorCode{Device: e.Device, Code: e.Code, Calls: e.Target.String()}
		if dev := p.Device(e.Device); dev != nil {
			for _, b := range dev.Buttons {
				if b.Dial == e.Code && b.Target == e.Target {
					dc.Button = b.Label
					break
				}
			}
		}
		np.DoorCodes = append(np.DoorCodes, dc)
	}
	return np
}

// spareReaches is where the carrier's calls to a spare number of t go.
func spareReaches(t ir.Trunk) string {
	switch {
	case t.Unassigned.IsZero():
		return "404"
	case t.UnassignedMailbox != "":
		return "voicemail " + t.UnassignedMailbox
	}
	return t.Unassigned.String()
}

func writeNumberPlan(w io.Writer, np numberPlan) {
	var buf bytes.Buffer
	defer func() {
		// Columns left empty would end lines in spaces.
		for _, line := range strings.SplitAfter(buf.String(), "\n") {
			io.WriteString(w, strings.TrimRight(line, " \n")+strings.Repeat("\n", strings.Count(line, "\n")))
		}
	}()
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	section := func(title string, empty bool) bool {
		fmt.Fprintf(tw, "%s\n", title)
		if empty {
			fmt.Fprintf(tw, "  (none)\n")
		}
		return !empty
	}
	if section("Extensions", len(np.Extensions) == 0) {
		for _, e := range np.Extensions {
			note := ""
			if e.Auto {
				note = "auto"
			}
			fmt.Fprintf(tw, "  %s\tuser.%s\t%s\t%s\n", e.Number, e.User, e.Name, note)
		}
	}
	fmt.Fprintln(tw)
	if section("DDIs", len(np.DDIs) == 0) {
		for _, d := range np.DDIs {
			switch d.Status {
			case "assigned":
				fmt.Fprintf(tw, "  %s\ttrunk.%s\tassigned\tuser.%s\n", d.Number, d.Trunk, d.User)
			case "quarantined":
				fmt.Fprintf(tw, "  %s\ttrunk.%s\tquarantined\tcalls go to %s; was user.%s's, free from %s\n", d.Number, d.Trunk, d.Reaches, d.User, d.Until)
			default:
				fmt.Fprintf(tw, "  %s\ttrunk.%s\tspare\tcalls go to %s\n", d.Number, d.Trunk, d.Reaches)
			}
		}
	}
	if len(np.Quarantined) > 0 {
		fmt.Fprintln(tw)
		section("Quarantined extensions (of removed people)", false)
		for _, q := range np.Quarantined {
			fmt.Fprintf(tw, "  %s\twas user.%s\tfree from %s\n", q.Number, q.User, q.Until)
		}
	}
	fmt.Fprintln(tw)
	if section("Conference rooms", len(np.Rooms) == 0) {
		for _, r := range np.Rooms {
			pin := ""
			if r.PIN {
				pin = "PIN"
			}
			fmt.Fprintf(tw, "  %s\tconference.%s\towner user.%s\t%s\n", r.Number, r.Room, r.Owner, pin)
		}
	}
	fmt.Fprintln(tw)
	if section("Feature codes", len(np.Features) == 0) {
		for _, f := range np.Features {
			fmt.Fprintf(tw, "  %s\t%s\n", f.Number, f.Does)
		}
	}
	fmt.Fprintln(tw)
	if section("Door codes", len(np.DoorCodes) == 0) {
		for _, d := range np.DoorCodes {
			how := "keyed"
			if d.Button != "" {
				how = "button " + d.Button
			}
			fmt.Fprintf(tw, "  device.%s\t%s\t%s\t→ %s\n", d.Device, d.Code, how, d.Calls)
		}
	}
	fmt.Fprintln(tw)
	title := "Emergency numbers"
	if np.Country != "" {
		title += " (" + np.Country + ")"
	}
	if section(title, len(np.Emergency) == 0) {
		fmt.Fprintf(tw, "  %s\tgo out over the trunk; no number may equal or begin with them\n", strings.Join(np.Emergency, ", "))
	}
	tw.Flush()
}

// recentDDIs are the DDIs of people applies removed less than the site's
// quarantine_days ago (from the state at path): spare, and better not
// handed to a newcomer yet, whom their old callers would reach.
func recentDDIs(cs *compiledSite, path string) map[string]quarantined {
	out := map[string]quarantined{}
	if !fileExists(path) {
		return out
	}
	st, _, err := state.NewStore(path).Read("")
	if err != nil {
		return out
	}
	days := lang.DefaultQuarantineDays
	if s := cs.cfg.Site(); s != nil && s.QuarantineDays.Set {
		days = s.QuarantineDays.Value
	}
	for _, r := range st.Removed {
		until := r.At.UTC().AddDate(0, 0, days)
		if !cs.cfg.Today.Before(until) {
			continue
		}
		for _, n := range r.DDIs {
			out[n] = quarantined{Number: n, User: r.User, Until: until.Format(lang.DateLayout)}
		}
	}
	return out
}
