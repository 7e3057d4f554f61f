package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"switchboard/lang"
)

// helpTopic is something "switchboard help NAME" explains that is not a
// command: the language, for one.
type helpTopic struct {
	name     string
	synopsis string
	run      func(c *cli, args []string) int // args after the topic's name
}

var helpTopics = []*helpTopic{languageTopic}

func lookupTopic(name string) *helpTopic {
	for _, t := range helpTopics {
		if t.name == name {
			return t
		}
	}
	return nil
}

const languageUsage = `Usage: switchboard help language [-json | -markdown]`

var languageTopic = &helpTopic{
	name:     "language",
	synopsis: "Every block and attribute of a site file, with type, default and meaning",
	run:      runHelpLanguage,
}

// topicFormat parses the -json and -markdown flags of a help topic.
func (c *cli) topicFormat(topic, usage string, args []string) (format string, status int, ok bool) {
	fs := flag.NewFlagSet(topic, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print as JSON")
	asMarkdown := fs.Bool("markdown", false, "print as Markdown")
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(c.stdout, "%s\n\nFlags:\n", usage)
		fs.SetOutput(c.stdout)
		fs.PrintDefaults()
		return "", exitOK, false
	case err == nil && fs.NArg() > 0:
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case err == nil && *asJSON && *asMarkdown:
		err = errors.New("-json and -markdown exclude each other")
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "switchboard help %s: %v\n%s\n", topic, err, usage)
		return "", exitUsage, false
	}
	switch {
	case *asJSON:
		return "json", exitOK, true
	case *asMarkdown:
		return "markdown", exitOK, true
	}
	return "text", exitOK, true
}

func runHelpLanguage(c *cli, args []string) int {
	format, status, ok := c.topicFormat("language", languageUsage, args)
	if !ok {
		return status
	}
	var err error
	switch format {
	case "json":
		err = writeLanguageJSON(c.stdout, lang.Language())
	case "markdown":
		err = writeLanguageMarkdown(c.stdout, lang.Language())
	default:
		err = writeLanguageText(c.stdout, lang.Language())
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "switchboard help language: %v\n", err)
		return exitFail
	}
	return exitOK
}

// The reference's opening: what holds for every block. The rest is
// generated from lang.Language.
const (
	languageIntro = `A site is one directory; every *.pbx.hcl file in it is read, in any order.
References name other blocks (residence.NAME, user.NAME, device.NAME,
trunk.NAME) and a wrong one gets a "did you mean". Every attribute may use
variables (var.NAME), locals (local.NAME), the functions listed at the
end, and dynamic blocks for bulk data:`
	languageExample = `dynamic "user" {
  for_each = csvdecode(file("residents.csv"))
  labels   = [user.value.id]
  content {
    email     = user.value.email
    residence = residence[user.value.flat]
  }
}`
	languageGenerated = `Generated from the decoder's own schema; "switchboard help language
-markdown" prints it as Markdown, -json as JSON.`
)

// writeLanguageText prints the reference for a terminal: each block with
// its labels and count, its meaning, then its attributes and nested blocks.
func writeLanguageText(w io.Writer, blocks []*lang.BlockSpec) error {
	var b strings.Builder
	b.WriteString("The switchboard language\n\n")
	b.WriteString(languageIntro + "\n\n")
	for _, line := range strings.Split(languageExample, "\n") {
		b.WriteString("  " + line + "\n")
	}
	b.WriteString("\n" + languageGenerated + "\n")
	for _, blk := range blocks {
		b.WriteString("\n")
		writeBlockText(&b, blk, "")
	}
	b.WriteString("\nFunctions:\n")
	b.WriteString(wrapText(strings.Join(lang.FunctionNames(), ", "), "  ", defaultWidth))
	_, err := io.WriteString(w, b.String())
	return err
}

func blockHeader(blk *lang.BlockSpec) string {
	h := blk.Type
	for _, l := range blk.Labels {
		h += fmt.Sprintf(" %q", l)
	}
	return h
}

func writeBlockText(b *strings.Builder, blk *lang.BlockSpec, indent string) {
	fmt.Fprintf(b, "%s%s {   # %s\n", indent, blockHeader(blk), blk.Count)
	in := indent + "  "
	b.WriteString(wrapText(blk.Doc, in+"# ", defaultWidth))
	if blk.AnyAttrs {
		fmt.Fprintf(b, "%sNAME = any value\n", in)
	}
	for _, a := range blk.Attrs {
		fmt.Fprintf(b, "\n%s%s = %s\n", in, a.Name, attrSummary(a))
		b.WriteString(wrapText(a.Doc, in+"    ", defaultWidth))
	}
	for _, nb := range blk.Blocks {
		b.WriteString("\n")
		writeBlockText(b, nb, in)
	}
	fmt.Fprintf(b, "%s}\n", indent)
}

// attrSummary is "string, required" or "bool, default false".
func attrSummary(a lang.AttrSpec) string {
	s := a.Type
	switch {
	case a.Required:
		s += ", required"
	case a.Default != "":
		s += ", default " + a.Default
	default:
		s += ", optional"
	}
	return s
}

// wrapText fills text into lines of at most width columns, each starting
// with prefix.
func wrapText(text, prefix string, width int) string {
	var b strings.Builder
	line := prefix
	for _, word := range strings.Fields(text) {
		if line != prefix && len(line)+1+len(word) > width {
			b.WriteString(strings.TrimRight(line, " ") + "\n")
			line = prefix
		}
		if line != prefix {
			line += " "
		}
		line += word
	}
	if line != prefix {
		b.WriteString(line + "\n")
	}
	return b.String()
}

// writeLanguageMarkdown prints the reference as Markdown: a section per
// block with a table of its attributes.
func writeLanguageMarkdown(w io.Writer, blocks []*lang.BlockSpec) error {
	var b strings.Builder
	b.WriteString("# The switchboard language\n\n")
	b.WriteString("<!-- Generated by `switchboard help language -markdown`; do not edit. -->\n\n")
	b.WriteString(strings.Join(strings.Fields(languageIntro), " "))
	b.WriteString("\n\n```hcl\n" + languageExample + "\n```\n")
	var walk func(path string, blk *lang.BlockSpec)
	walk = func(path string, blk *lang.BlockSpec) {
		header := blockHeader(blk)
		if path != "" {
			header = path + " › " + header
		}
		fmt.Fprintf(&b, "\n## `%s`\n\n%s (%s).\n", header, strings.TrimSuffix(blk.Doc, "."), blk.Count)
		if blk.AnyAttrs {
			b.WriteString("\nEvery attribute is one value of any type, named as you choose.\n")
		}
		if len(blk.Attrs) > 0 {
			b.WriteString("\n| attribute | type | default | meaning |\n|---|---|---|---|\n")
			for _, a := range blk.Attrs {
				def := a.Default
				switch {
				case a.Required:
					def = "required"
				case def == "":
					def = "—"
				case strings.HasPrefix(def, "the "): // a phrase, not a value
				default:
					def = "`" + def + "`"
				}
				fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", a.Name, mdCell(a.Type), mdCell(def), mdCell(a.Doc))
			}
		}
		for _, nb := range blk.Blocks {
			walk(strings.TrimPrefix(path+" › "+blk.Type, " › "), nb)
		}
	}
	for _, blk := range blocks {
		walk("", blk)
	}
	b.WriteString("\n## Functions\n\n")
	names := lang.FunctionNames()
	for i, n := range names {
		names[i] = "`" + n + "`"
	}
	b.WriteString(strings.Join(names, ", ") + ".\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

type jsonBlock struct {
	Type          string      `json:"type"`
	Labels        []string    `json:"labels"`
	Count         string      `json:"count"`
	Doc           string      `json:"doc"`
	AnyAttributes bool        `json:"any_attributes,omitempty"`
	Attributes    []jsonAttr  `json:"attributes"`
	Blocks        []jsonBlock `json:"blocks"`
}

type jsonAttr struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
	Default  string `json:"default,omitempty"`
	Doc      string `json:"doc"`
}

func toJSONBlocks(blocks []*lang.BlockSpec) []jsonBlock {
	out := make([]jsonBlock, 0, len(blocks))
	for _, blk := range blocks {
		jb := jsonBlock{Type: blk.Type, Labels: blk.Labels, Count: blk.Count, Doc: blk.Doc, AnyAttributes: blk.AnyAttrs,
			Attributes: []jsonAttr{}, Blocks: toJSONBlocks(blk.Blocks)}
		if jb.Labels == nil {
			jb.Labels = []string{}
		}
		for _, a := range blk.Attrs {
			jb.Attributes = append(jb.Attributes, jsonAttr{Name: a.Name, Type: a.Type, Required: a.Required, Default: a.Default, Doc: a.Doc})
		}
		out = append(out, jb)
	}
	return out
}

func writeLanguageJSON(w io.Writer, blocks []*lang.BlockSpec) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"format_version": "1.0", "blocks": toJSONBlocks(blocks)})
}
