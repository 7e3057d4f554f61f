package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"switchboard/compiler/catalogue"
)

var modelsCommand = &command{
	name:     "models",
	synopsis: "List the device models switchboard knows and what each can do",
	usage: `Usage: switchboard models [-json] [MODEL]...

Lists the device catalogue: every model a device block's model = "…" may
name, by vendor, with its kind (door station, indoor monitor, desk phone)
and its capabilities (call buttons, keypad, relays, longest relay code,
video, line keys, SIP accounts). With MODEL arguments, shows those models
with what each capability means and the files build writes for them. Capabilities are what switchboard relies
on for warnings, not full data sheets.`,
	run:   runModels,
	flags: func() *flagSet { return modelsFlags(new(bool)) },
}

func modelsFlags(asJSON *bool) *flagSet {
	f := newFlagSet("models")
	f.fs.BoolVar(asJSON, "json", false, "print the catalogue as JSON")
	return f
}

func runModels(c *cli, args []string) int {
	var asJSON bool
	positional, status, ok := c.parse(modelsFlags(&asJSON), args, len(args))
	if !ok {
		return status
	}
	models := catalogue.Models()
	if len(positional) > 0 {
		models = models[:0]
		for _, id := range positional {
			m, ok := catalogue.Lookup(id)
			if !ok {
				hint := ""
				if s := catalogue.Suggest(id); s != "" {
					hint = fmt.Sprintf(" (did you mean %q?)", s)
				}
				return c.usageError(lookup("models"), "unknown model %q%s", id, hint)
			}
			models = append(models, m)
		}
	}
	var err error
	switch {
	case asJSON:
		err = writeModelsJSON(c.stdout, models)
	case len(positional) > 0:
		err = writeModelDetails(c.stdout, models)
	default:
		err = writeModelsText(c.stdout, models)
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "switchboard models: %v\n", err)
		return exitFail
	}
	return exitOK
}

// capabilityText is "buttons 6", "keypad", "digest_algorithms MD5,SHA-256".
func capabilityText(cp catalogue.Capability) string {
	switch v := cp.Value.(type) {
	case bool:
		return cp.Name
	case []string:
		return cp.Name + " " + strings.Join(v, ",")
	}
	return fmt.Sprintf("%s %v", cp.Name, cp.Value)
}

// capabilityValue is the value alone, for the details view.
func capabilityValue(cp catalogue.Capability) string {
	switch v := cp.Value.(type) {
	case bool:
		if v {
			return "yes"
		}
		return "no"
	case []string:
		if len(v) == 0 {
			return "-"
		}
		return strings.Join(v, ", ")
	}
	return fmt.Sprint(cp.Value)
}

// writeModelsText prints one table per vendor: model, kind and the
// capabilities the model has.
func writeModelsText(w io.Writer, models []*catalogue.Model) error {
	var b strings.Builder
	for i, v := range catalogue.Vendors() {
		var rows []*catalogue.Model
		for _, m := range models {
			if m.Vendor == v {
				rows = append(rows, m)
			}
		}
		if len(rows) == 0 {
			continue
		}
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s (MAC prefixes %s)\n", v.Name, ouiList(v.OUIs))
		tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
		for _, m := range rows {
			var caps []string
			for _, cp := range m.Capabilities() {
				if cp.Present() && !cp.Detail {
					caps = append(caps, capabilityText(cp))
				}
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", m.ID, m.Kind, strings.Join(caps, ", "))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	b.WriteString("\nRun \"switchboard models MODEL\" for what each capability means.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func ouiList(ouis []string) string {
	out := make([]string, len(ouis))
	for i, o := range ouis {
		o = strings.ToUpper(o)
		out[i] = o[0:2] + ":" + o[2:4] + ":" + o[4:6]
	}
	return strings.Join(out, ", ")
}

// writeModelDetails prints each model with every capability, present or
// not, and its meaning.
func writeModelDetails(w io.Writer, models []*catalogue.Model) error {
	var b strings.Builder
	for i, m := range models {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s: %s, %s\n", m.ID, m, m.Kind)
		tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
		var details []catalogue.Capability
		for _, cp := range m.Capabilities() {
			if cp.Detail {
				details = append(details, cp)
				continue
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", cp.Name, capabilityValue(cp), cp.Doc)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		// A sentence would stretch the table's column: it goes below it.
		for _, cp := range details {
			fmt.Fprintf(&b, "  %s (%s): %s\n", cp.Name, cp.Doc, capabilityValue(cp))
		}
		files, err := provisioningFiles(m)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "  provisioning files: %s\n", strings.Join(files, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type jsonModels struct {
	FormatVersion string           `json:"format_version"`
	Models        []jsonModel      `json:"models"`
	Vendors       []jsonVendor     `json:"vendors"`
	Capabilities  []jsonCapability `json:"capabilities"`
}

// jsonModel is one model; ProvisioningFiles are the files build writes for
// a device of the model, its MAC written <mac>.
type jsonModel struct {
	ID                string         `json:"id"`
	Vendor            string         `json:"vendor"`
	Name              string         `json:"name"`
	Kind              string         `json:"kind"`
	Capabilities      map[string]any `json:"capabilities"`
	ProvisioningFiles []string       `json:"provisioning_files"`
}

type jsonVendor struct {
	ID   string   `json:"id"`
	Name string   `json:"name"`
	OUIs []string `json:"ouis"`
}

type jsonCapability struct {
	Name string `json:"name"`
	Doc  string `json:"doc"`
}

func writeModelsJSON(w io.Writer, models []*catalogue.Model) error {
	doc := jsonModels{FormatVersion: "1.0", Models: []jsonModel{}, Vendors: []jsonVendor{}, Capabilities: []jsonCapability{}}
	vendors := map[*catalogue.Vendor]bool{}
	for _, m := range models {
		jm := jsonModel{ID: m.ID, Vendor: m.Vendor.ID, Name: m.Name, Kind: string(m.Kind), Capabilities: map[string]any{}}
		for _, cp := range m.Capabilities() {
			jm.Capabilities[cp.Name] = cp.Value
		}
		files, err := provisioningFiles(m)
		if err != nil {
			return err
		}
		jm.ProvisioningFiles = files
		doc.Models = append(doc.Models, jm)
		vendors[m.Vendor] = true
	}
	for _, v := range catalogue.Vendors() {
		if vendors[v] {
			doc.Vendors = append(doc.Vendors, jsonVendor{ID: v.ID, Name: v.Name, OUIs: v.OUIs})
		}
	}
	if len(models) > 0 {
		for _, cp := range models[0].Capabilities() {
			doc.Capabilities = append(doc.Capabilities, jsonCapability{Name: cp.Name, Doc: cp.Doc})
		}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
