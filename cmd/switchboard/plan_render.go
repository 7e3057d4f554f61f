package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"switchboard/atomicfile"
	"switchboard/compiler/apply"
	"switchboard/compiler/plan"
)

// planFormatVersion is the format_version of plan -json and of saved plans.
// Minor versions add fields; a new major version changes or removes some.
const planFormatVersion = "1.0"

const ansiYellow = "\x1b[33m"

// writePlanText renders a plan for people: the summary in plain words, the
// objects with their attribute changes, and the footer.
func writePlanText(w io.Writer, p *plan.Plan, s style) {
	writeTargetWarning(w, p, s)
	name := p.DisplayName
	if !p.HasChanges() {
		fmt.Fprintf(w, "%s The devices, server and people of %q match the site: nothing to apply.\n", s.paint(ansiBold+ansiGreen, "No changes."), name)
		return
	}
	writePlanCallouts(w, p, s)
	fmt.Fprintf(w, "What changes for people at %q:\n\n", name)
	for _, line := range p.Summary {
		fmt.Fprintf(w, "  %s\n", line)
	}
	fmt.Fprintf(w, "\nswitchboard apply will make these changes, in this order:\n")
	for _, c := range p.Changes {
		fmt.Fprintln(w)
		writeChangeText(w, c, s)
	}
	add, change, remove := p.Counts()
	fmt.Fprintf(w, "\n%s %d to add, %d to change, %d to remove.\n", s.paint(ansiBold, "Plan:"), add, change, remove)
}

func actionSymbol(a plan.Action) (string, string) {
	switch a {
	case plan.Create:
		return "+", ansiGreen
	case plan.Delete:
		return "-", ansiRed
	case plan.Replace:
		return "-/+", ansiRed
	}
	return "~", ansiYellow
}

func attrSymbol(a plan.AttributeChange) (string, string) {
	switch {
	case a.Before == "":
		return "+", ansiGreen
	case a.After == "":
		return "-", ansiRed
	}
	return "~", ansiYellow
}

func writeChangeText(w io.Writer, c plan.Change, s style) {
	sym, color := actionSymbol(c.Action)
	head := fmt.Sprintf("%s %q", c.Kind, c.Name)
	if c.Label != "" && c.Label != c.Name {
		head += fmt.Sprintf(" (%s)", c.Label)
	}
	comment := ""
	switch c.Action {
	case plan.Create:
		comment = "will be created"
	case plan.Update:
		comment = "will be updated"
	case plan.Delete:
		comment = "will be removed"
	case plan.Replace:
		comment = "will be replaced"
	}
	if c.Interrupted {
		comment += " (an earlier apply did not finish it)"
	}
	if c.Drifted {
		comment += " (its settings changed on the device)"
	}
	fmt.Fprintf(w, "  %s\n", s.paint(ansiBold, "# "+head+" "+comment))
	fmt.Fprintf(w, "  %s %s {\n", s.paint(color, sym), head)
	width := 0
	for _, a := range c.Attributes {
		width = max(width, len(a.Name))
	}
	for _, a := range c.Attributes {
		asym, acolor := attrSymbol(a)
		value := attrText(a)
		if a.ForcesReplacement {
			value += " " + s.paint(ansiRed, "# forces replacement")
		}
		fmt.Fprintf(w, "      %s %-*s = %s\n", s.paint(acolor, asym), width, a.Name, value)
	}
	if c.Unchanged > 0 {
		fmt.Fprintf(w, "        %s\n", s.paint(ansiBold, fmt.Sprintf("# (%s hidden)", plural(c.Unchanged, "unchanged attribute"))))
	}
	fmt.Fprintf(w, "    }\n")
}

// attrText is an attribute change's value part, secrets masked.
func attrText(a plan.AttributeChange) string {
	if a.Sensitive {
		return "(sensitive value)"
	}
	if a.Opaque {
		if a.Before != "" && a.After != "" {
			return "(changed)"
		}
		return "(digest)"
	}
	switch {
	case a.Before == "":
		return valueText(a.After)
	case a.After == "":
		return valueText(a.Before)
	}
	return valueText(a.Before) + " -> " + valueText(a.After)
}

// valueText is an attribute value as the plan shows it: its JSON, or
// "(from var.x)" for a reference to an input.
func valueText(v string) string {
	if ref, ok := plan.Reference(v); ok {
		return "(from " + ref + ")"
	}
	return v
}

// planJSON is the -json form of a plan and the content of a saved plan.
type planJSON struct {
	FormatVersion string       `json:"format_version"`
	Site          string       `json:"site"`
	SiteName      string       `json:"site_name"`
	State         planStateRef `json:"state"`
	ConfigHash    string       `json:"config_hash"`
	Summary       []string     `json:"summary"`
	Changes       []changeJSON `json:"changes"`
	Counts        countsJSON   `json:"counts"`
	// Targets are the addresses of a partial plan (-target); LeftOut
	// counts the changes of the site it leaves out.
	Targets []string `json:"targets,omitempty"`
	// Drift is what plan -refresh read back from the devices.
	Drift []driftJSON `json:"drift,omitempty"`
	// Handover and Rekeyed: see plan_callouts.go.
	Handover *handoverJSON `json:"handover,omitempty"`
	Rekeyed  bool          `json:"rekeyed,omitempty"`
	LeftOut  int           `json:"left_out,omitempty"`
	Saved    *savedOptions `json:"saved,omitempty"`
}

type planStateRef struct {
	Lineage string `json:"lineage"`
	Serial  int64  `json:"serial"`
}

type countsJSON struct {
	Add    int `json:"add"`
	Change int `json:"change"`
	Remove int `json:"remove"`
}

type changeJSON struct {
	Address         string          `json:"address"`
	Kind            string          `json:"kind"`
	Name            string          `json:"name"`
	Label           string          `json:"label,omitempty"`
	Action          string          `json:"action"`
	ReplacedBecause []string        `json:"replaced_because,omitempty"`
	Interrupted     bool            `json:"interrupted,omitempty"`
	Drifted         bool            `json:"drifted,omitempty"`
	Attributes      []attributeJSON `json:"attributes"`
	Unchanged       int             `json:"unchanged_attributes"`
	// Offboarding, for a user removed, is what happens to their data,
	// numbers and logins, step by step.
	Offboarding []string `json:"offboarding,omitempty"`
}

// attributeJSON is one attribute change. Before and after are the JSON
// values, absent when the attribute is absent on that side or masked.
type attributeJSON struct {
	Name              string          `json:"name"`
	Before            json.RawMessage `json:"before,omitempty"`
	After             json.RawMessage `json:"after,omitempty"`
	Sensitive         bool            `json:"sensitive,omitempty"`
	Digest            bool            `json:"digest,omitempty"`
	ForcesReplacement bool            `json:"forces_replacement,omitempty"`
}

// savedOptions are what applying a saved plan needs besides the plan.
type savedOptions struct {
	Dir          string `json:"dir"`
	State        string `json:"state,omitempty"`
	Server       string `json:"server,omitempty"`
	Port         int    `json:"port"`
	Transport    string `json:"transport"`
	ProvisionURL string `json:"provision_url,omitempty"`
}

func planDocument(p *plan.Plan) *planJSON {
	add, change, remove := p.Counts()
	doc := &planJSON{
		FormatVersion: planFormatVersion,
		Site:          p.Site, SiteName: p.DisplayName,
		State:      planStateRef{Lineage: p.Lineage, Serial: p.Serial},
		ConfigHash: p.Hash,
		Summary:    append([]string{}, p.Summary...),
		Changes:    []changeJSON{},
		Counts:     countsJSON{add, change, remove},
		Targets:    p.Targets,
		LeftOut:    p.LeftOut,
		Handover:   handoverDocument(p.Handover),
		Rekeyed:    p.Rekeyed,
	}
	for _, c := range p.Changes {
		cj := changeJSON{
			Address: c.Address, Kind: string(c.Kind), Name: c.Name, Label: c.Label, Action: string(c.Action),
			ReplacedBecause: c.ReplacedBecause, Interrupted: c.Interrupted, Drifted: c.Drifted, Attributes: []attributeJSON{}, Unchanged: c.Unchanged,
		}
		if c.Offboard != nil {
			cj.Offboarding = c.Offboard.Steps(time.Time{})
		}
		for _, a := range c.Attributes {
			aj := attributeJSON{Name: a.Name, Sensitive: a.Sensitive, Digest: a.Opaque && !a.Sensitive, ForcesReplacement: a.ForcesReplacement}
			if !a.Opaque {
				if a.Before != "" {
					aj.Before = json.RawMessage(a.Before)
				}
				if a.After != "" {
					aj.After = json.RawMessage(a.After)
				}
			}
			cj.Attributes = append(cj.Attributes, aj)
		}
		doc.Changes = append(doc.Changes, cj)
	}
	return doc
}

func writePlanJSON(w io.Writer, p *plan.Plan, drift []apply.Drift) error {
	doc := planDocument(p)
	doc.Drift = driftDocument(drift)
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

// writeSavedPlan saves p with what applying it needs: the site directory
// (absolute) and the compile flags.
func writeSavedPlan(path, dir string, o *planCommon, p *plan.Plan) error {
	doc := planDocument(p)
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	saved := &savedOptions{Dir: abs, Server: o.lower.server, Port: o.lower.port, Transport: o.lower.transport, ProvisionURL: o.lower.provisionURL}
	if o.state != "" {
		if saved.State, err = filepath.Abs(o.state); err != nil {
			return err
		}
	}
	doc.Saved = saved
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'), 0o644)
}

// readSavedPlan reads a plan saved by plan -out.
func readSavedPlan(path string) (*planJSON, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc planJSON
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s is not a saved plan: %v", path, err)
	}
	major, _, _ := strings.Cut(doc.FormatVersion, ".")
	want, _, _ := strings.Cut(planFormatVersion, ".")
	if doc.FormatVersion == "" || doc.Saved == nil {
		return nil, fmt.Errorf("%s is not a plan saved with \"switchboard plan -out\"", path)
	}
	if major != want {
		return nil, fmt.Errorf("%s has plan format %s; this switchboard applies format %s", path, doc.FormatVersion, planFormatVersion)
	}
	if doc.Saved.Dir == "" {
		return nil, errors.New(path + " does not say which site it is for")
	}
	return &doc, nil
}

func (doc *planJSON) ref() plan.SavedRef {
	return plan.SavedRef{Site: doc.Site, Lineage: doc.State.Lineage, Serial: doc.State.Serial, Hash: doc.ConfigHash}
}
