package handover

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"
)

// Formats are the sheet's renderings, by their -format name.
var Formats = []string{"text", "markdown", "html", "json"}

// Render writes s in format (one of Formats).
func (s *Sheet) Render(w io.Writer, format string) error {
	switch format {
	case "text":
		return s.Text(w)
	case "markdown":
		return s.Markdown(w)
	case "html":
		return s.HTML(w)
	case "json":
		return s.JSON(w)
	}
	return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// JSON writes the sheet as indented JSON.
func (s *Sheet) JSON(w io.Writer) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

// Title is the sheet's heading.
func (s *Sheet) Title() string { return "Handover sheet: " + s.Site.DisplayName }

func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func join(xs []string) string { return orDash(strings.Join(xs, ", ")) }

func contactLine(c Contact) string {
	parts := []string{c.Name}
	if c.Email != "" {
		parts = append(parts, c.Email)
	}
	if c.Phone != "" {
		parts = append(parts, c.Phone)
	}
	if c.Residence != "" {
		parts = append(parts, "residence "+c.Residence)
	}
	return strings.Join(parts, ", ")
}

func (s *Sheet) ownerLine() string {
	switch s.Owner.Role {
	case "installer":
		return "the installer, " + contactLine(s.Owner) + " (owns_site = true)"
	case "":
		return "nobody: the site names no owner"
	}
	return contactLine(s.Owner)
}

func (d Device) readBack() string {
	if d.ReadBack.IsZero() {
		return "never (no read-back)"
	}
	return day(d.ReadBack)
}

// sections are the sheet's tables in the order every rendering shows
// them, so text, Markdown and HTML cannot disagree.
type section struct {
	Title  string
	Header []string
	Rows   [][]string
	Empty  string // said when there are no rows
	// Keep are the columns whose values a printed page must not break
	// (a MAC, a firmware version, a number).
	Keep []int
}

// cell is a table cell of the HTML page.
type cell struct {
	Text string
	Keep bool
}

func (sec section) cells() [][]cell {
	var out [][]cell
	for _, r := range sec.Rows {
		var row []cell
		for i, c := range r {
			row = append(row, cell{Text: c, Keep: slices.Contains(sec.Keep, i)})
		}
		out = append(out, row)
	}
	return out
}

func (s *Sheet) sections() []section {
	devices := section{Title: "Devices", Header: []string{"device", "model", "MAC", "location", "firmware", "last apply", "last read-back"}, Empty: "No devices are bound.", Keep: []int{2, 4}}
	for _, d := range s.Devices {
		devices.Rows = append(devices.Rows, []string{d.Name + " (" + d.Kind + ")", d.Model, d.MAC, orDash(d.Location), orDash(d.Firmware), d.Status, d.readBack()})
	}
	people := section{Title: "Residences and people", Header: []string{"residence", "person", "role", "login", "extension", "numbers", "endpoints", "invitation"}, Empty: "No people.", Keep: []int{4, 5}}
	for _, h := range s.Homes {
		if len(h.People) == 0 {
			people.Rows = append(people.Rows, []string{h.Label, "(nobody)", "", "", "", "", "", ""})
		}
		for _, p := range h.People {
			people.Rows = append(people.Rows, []string{h.Label, p.DisplayName, p.Role, orDash(p.Email), orDash(p.Extension), join(p.DDIs), join(p.Endpoints), p.Invitation})
		}
	}
	nums := section{Title: "Numbers", Header: []string{"number", "kind", "reaches"}, Empty: "No numbers.", Keep: []int{0}}
	add := func(kind string, rows []NumberRow) {
		for _, r := range rows {
			nums.Rows = append(nums.Rows, []string{r.Number, kind, r.What})
		}
	}
	add("extension", s.Numbers.Extensions)
	add("DDI", s.Numbers.DDIs)
	add("spare DDI", s.Numbers.SpareDDIs)
	add("conference room", s.Numbers.Conferences)
	add("feature code", s.Numbers.FeatureCodes)
	for _, e := range s.Numbers.Emergency {
		nums.Rows = append(nums.Rows, []string{e, "emergency", "always goes out over the carrier, from every phone and app"})
	}
	out := []section{devices, people, nums}
	if c := s.Commissioning; c != nil {
		title := fmt.Sprintf("Commissioning (%s: %d passed, %d failed, %d open)", day(c.Updated), c.Passed, c.Failed, c.Open)
		sec := section{Title: title, Header: []string{"case", "result", "when", "proves", "detail"}, Empty: "No cases."}
		for _, k := range c.Cases {
			if k.Status == "skipped" {
				continue
			}
			when := ""
			if !k.At.IsZero() {
				when = k.At.UTC().Format("2006-01-02 15:04")
			}
			sec.Rows = append(sec.Rows, []string{k.Name, k.Status, orDash(when), orDash(k.Origin), orDash(k.Detail)})
		}
		out = append(out, sec)
	}
	return out
}

func (s *Sheet) keyLines() []string {
	lines := []string{
		"Lives in: " + orDash(s.Key.Location),
		"Fingerprint: " + orDash(s.Key.Fingerprint),
	}
	if s.Key.PreviousFingerprint != "" {
		lines = append(lines, fmt.Sprintf("Previous key %s is still accepted for devices fetching their files until %s, then destroyed.", s.Key.PreviousFingerprint, day(s.Key.PreviousUntil)))
	}
	lines = append(lines, "Every password of the site is derived from this key. The sheet never shows the key itself.")
	return lines
}

func (s *Sheet) headLines() []string {
	lines := []string{
		"Site: " + s.Site.DisplayName + " (" + s.Site.Name + ", " + s.Site.Domain + ")",
		"Owner: " + s.ownerLine(),
	}
	if s.Installer != nil {
		lines = append(lines, "Installer: "+contactLine(*s.Installer))
	}
	lines = append(lines, "Made: "+day(s.Generated))
	return lines
}

// Text writes the sheet for a terminal.
func (s *Sheet) Text(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%s\n\n", s.Title(), strings.Repeat("=", len([]rune(s.Title()))))
	for _, l := range s.headLines() {
		fmt.Fprintf(&b, "%s\n", l)
	}
	for _, h := range s.Handovers {
		fmt.Fprintf(&b, "Handed over from %s to %s on %s (plan %s)\n", h.From, h.To, day(h.At), shortHash(h.PlanHash))
	}
	for _, sec := range s.sections() {
		fmt.Fprintf(&b, "\n%s\n%s\n", sec.Title, strings.Repeat("-", len(sec.Title)))
		if len(sec.Rows) == 0 {
			fmt.Fprintf(&b, "%s\n", sec.Empty)
			continue
		}
		writeColumns(&b, sec.Header, sec.Rows)
	}
	list := func(title string, items []string, none string) {
		fmt.Fprintf(&b, "\n%s\n%s\n", title, strings.Repeat("-", len(title)))
		if len(items) == 0 {
			fmt.Fprintf(&b, "%s\n", none)
		}
		for _, it := range items {
			fmt.Fprintf(&b, "  - %s\n", it)
		}
	}
	list("Site key", s.keyLines(), "")
	list("Open items", s.OpenItems, "None.")
	list("What the owner does next", s.NextSteps, "")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeColumns(b *strings.Builder, header []string, rows [][]string) {
	width := make([]int, len(header))
	for i, h := range header {
		width[i] = len([]rune(h))
	}
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	line := func(cells []string) {
		var parts []string
		for i, c := range cells {
			parts = append(parts, c+strings.Repeat(" ", width[i]-len([]rune(c))))
		}
		fmt.Fprintf(b, "  %s\n", strings.TrimRight(strings.Join(parts, "  "), " "))
	}
	line(header)
	for _, r := range rows {
		line(r)
	}
}

func shortHash(h string) string {
	h = strings.TrimPrefix(h, "sha256:")
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// Markdown writes the sheet as Markdown.
func (s *Sheet) Markdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", mdEscape(s.Title()))
	for _, l := range s.headLines() {
		fmt.Fprintf(&b, "- %s\n", mdEscape(l))
	}
	for _, h := range s.Handovers {
		fmt.Fprintf(&b, "- Handed over from %s to %s on %s (plan `%s`)\n", mdEscape(h.From), mdEscape(h.To), day(h.At), shortHash(h.PlanHash))
	}
	for _, sec := range s.sections() {
		fmt.Fprintf(&b, "\n## %s\n\n", sec.Title)
		if len(sec.Rows) == 0 {
			fmt.Fprintf(&b, "%s\n", sec.Empty)
			continue
		}
		fmt.Fprintf(&b, "| %s |\n|%s\n", strings.Join(sec.Header, " | "), strings.Repeat("---|", len(sec.Header)))
		for _, r := range sec.Rows {
			cells := make([]string, len(r))
			for i, c := range r {
				cells[i] = mdEscape(c)
			}
			fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
		}
	}
	list := func(title string, items []string, none string) {
		fmt.Fprintf(&b, "\n## %s\n\n", title)
		if len(items) == 0 {
			fmt.Fprintf(&b, "%s\n", none)
		}
		for _, it := range items {
			fmt.Fprintf(&b, "- %s\n", mdEscape(it))
		}
	}
	list("Site key", s.keyLines(), "")
	list("Open items", s.OpenItems, "None.")
	list("What the owner does next", s.NextSteps, "")
	_, err := io.WriteString(w, b.String())
	return err
}

// mdEscape keeps a value from breaking a table or starting markup.
func mdEscape(s string) string {
	r := strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "`", "\\`", "<", "&lt;", ">", "&gt;", "[", `\[`, "]", `\]`)
	return r.Replace(s)
}

//go:embed sheet.html.tmpl
var htmlTemplate string

var sheetTemplate = template.Must(template.New("sheet").Parse(htmlTemplate))

// HTML writes the sheet as one self-contained page (its CSS embedded, no
// other resource) that prints on A4: each section starts on a page of its
// own when it does not fit, table rows never split across pages and
// table headers repeat on every page.
func (s *Sheet) HTML(w io.Writer) error {
	type htmlSection struct {
		section
		Cells [][]cell
	}
	data := struct {
		*Sheet
		Head      []string
		Sections  []htmlSection
		KeyLines  []string
		Handovers []string
	}{Sheet: s, Head: s.headLines(), KeyLines: s.keyLines()}
	for _, sec := range s.sections() {
		data.Sections = append(data.Sections, htmlSection{sec, sec.cells()})
	}
	for _, h := range s.Handovers {
		data.Handovers = append(data.Handovers, fmt.Sprintf("Handed over from %s to %s on %s (plan %s)", h.From, h.To, day(h.At), shortHash(h.PlanHash)))
	}
	return sheetTemplate.Execute(w, data)
}
