package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/rogpeppe/go-internal/diff"
	"github.com/zclconf/go-cty/cty"

	"switchboard/atomicfile"
	"switchboard/lang"
	"switchboard/runtime/portal"
)

var requestsCommand = &command{
	name:     "requests",
	synopsis: "List the changes people asked for in the portal, as diffs of the site files",
	usage: `Usage: switchboard requests [-data DIR] [-json] [-done N]... [DIR]

Lists the changes to the site people asked for in the web portal (a
person to add to a residence, a name to correct, someone who moved out to
remove), each as a unified diff of the site files in DIR that would make
it. The portal never edits the site files: apply a diff yourself, commit
it and review it with plan.

The requests are read from the portal's data under the serve data
directory (-data, default DIR/.switchboard/data). -done N removes a
request once you applied it or decided against it.

-json prints one JSON document: every request with its file and diff, or
the problem that keeps it from being one (the person is gone already).

Exit status: 0 listed, 1 the requests could not be read, 2 usage error.`,
	run:   runRequests,
	flags: func() *flagSet { return requestsFlags(&requestsOptions{}) },
}

type requestsOptions struct {
	data string
	json bool
	done []string
}

func requestsFlags(o *requestsOptions) *flagSet {
	f := newFlagSet("requests")
	f.fs.StringVar(&o.data, "data", "", "the serve data `DIR` (default DIR/.switchboard/data)")
	f.fs.BoolVar(&o.json, "json", false, "print the requests and their diffs as JSON")
	f.fs.Func("done", "remove request `N` (applied or declined); repeatable", func(s string) error {
		if n, err := strconv.Atoi(s); err != nil || n < 1 {
			return errors.New("not a request number")
		}
		o.done = append(o.done, s)
		return nil
	})
	return f
}

// requestJSON is one request of requests -json.
type requestJSON struct {
	portal.ChangeRequest
	File    string `json:"file,omitempty"`
	Diff    string `json:"diff,omitempty"`
	Problem string `json:"problem,omitempty"`
}

func runRequests(c *cli, args []string) int {
	var o requestsOptions
	positional, status, ok := c.parse(requestsFlags(&o), args, 1)
	if !ok {
		return status
	}
	dir := "."
	if len(positional) > 0 {
		dir = positional[0]
	}
	data := o.data
	if data == "" {
		data = filepath.Join(dir, ".switchboard", "data")
	}
	reqDir := portal.RequestsDir(filepath.Join(data, "portal"))
	for _, id := range o.done {
		n, _ := strconv.Atoi(id)
		path := filepath.Join(reqDir, fmt.Sprintf("%06d.json", n))
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return c.fail("requests", fmt.Errorf("no request %d", n))
		}
		if err := atomicfile.Remove(path); err != nil {
			return c.fail("requests", err)
		}
		if !o.json {
			fmt.Fprintf(c.stdout, "Request %d removed.\n", n)
		}
	}
	reqs, err := portal.ReadRequests(reqDir)
	if err != nil {
		return c.fail("requests", err)
	}
	files, err := siteSources(dir)
	if err != nil {
		return c.fail("requests", err)
	}
	out := []requestJSON{}
	for _, r := range reqs {
		file, d, err := proposeChange(files, r)
		rj := requestJSON{ChangeRequest: r, File: file, Diff: string(d)}
		if err != nil {
			rj.Problem = err.Error()
		}
		out = append(out, rj)
	}
	if o.json {
		doc, _ := json.MarshalIndent(map[string]any{"requests": out}, "", "  ")
		c.stdout.Write(append(doc, '\n'))
		return exitOK
	}
	if len(out) == 0 {
		fmt.Fprintln(c.stdout, "No change requests.")
		return exitOK
	}
	for _, r := range out {
		fmt.Fprintf(c.stdout, "Request %d: %s %s, asked by %s (%s) on %s\n", r.ID, r.Kind, r.User, r.By, r.ByRole, r.Time.UTC().Format("2 Jan 2006 15:04 UTC"))
		if r.Note != "" {
			fmt.Fprintf(c.stdout, "  note: %s\n", r.Note)
		}
		if r.Problem != "" {
			fmt.Fprintf(c.stdout, "  %s\n\n", r.Problem)
			continue
		}
		fmt.Fprintf(c.stdout, "%s\n", r.Diff)
	}
	return exitOK
}

// siteSources reads the site files of dir, by name.
func siteSources(dir string) (map[string][]byte, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*"+lang.FileSuffix))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s holds no site files (*%s)", dir, lang.FileSuffix)
	}
	out := map[string][]byte{}
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out[filepath.Base(n)] = data
	}
	return out, nil
}

// proposeChange makes request r in the site file it concerns (hclwrite
// keeps the rest of the file as written) and returns that file's name and
// the unified diff.
func proposeChange(files map[string][]byte, r portal.ChangeRequest) (string, []byte, error) {
	file, after, err := proposedFile(files, r)
	if err != nil {
		return "", nil, err
	}
	return file, diff.Diff(file, files[file], file+" (proposed)", after), nil
}

// proposedFile returns the name and the proposed text of the site file
// request r changes.
func proposedFile(files map[string][]byte, r portal.ChangeRequest) (string, []byte, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	parsed := map[string]*hclwrite.File{}
	for _, n := range names {
		f, diags := hclwrite.ParseConfig(files[n], n, hcl.InitialPos)
		if diags.HasErrors() {
			return "", nil, fmt.Errorf("%s does not parse: %s", n, diags.Error())
		}
		parsed[n] = f
	}
	// find returns the file and block of type typ named name.
	find := func(typ, name string) (string, *hclwrite.Block) {
		for _, n := range names {
			for _, b := range parsed[n].Body().Blocks() {
				if b.Type() == typ && len(b.Labels()) == 1 && b.Labels()[0] == name {
					return n, b
				}
			}
		}
		return "", nil
	}
	var file string
	switch r.Kind {
	case portal.RequestAdd:
		if f, _ := find("user", r.User); f != "" {
			return "", nil, fmt.Errorf("the site has a user %q already: add them under another name", r.User)
		}
		file = residentsFile(names, parsed, r.Residence)
		if file == "" {
			return "", nil, fmt.Errorf("the site has no residence %q", r.Residence)
		}
		body := parsed[file].Body()
		body.AppendNewline()
		body.AppendUnstructuredTokens(hclwrite.Tokens{{Type: hclsyntax.TokenComment, Bytes: []byte("# Asked for in the portal by " + r.By + " (request " + strconv.Itoa(r.ID) + ").\n")}})
		b := body.AppendNewBlock("user", []string{r.User}).Body()
		b.SetAttributeValue("first_name", cty.StringVal(r.FirstName))
		b.SetAttributeValue("last_name", cty.StringVal(r.LastName))
		if r.Email != "" {
			b.SetAttributeValue("email", cty.StringVal(r.Email))
		}
		b.SetAttributeTraversal("residence", hcl.Traversal{hcl.TraverseRoot{Name: "residence"}, hcl.TraverseAttr{Name: r.Residence}})
	case portal.RequestRename, portal.RequestRemove:
		f, b := find("user", r.User)
		if f == "" {
			return "", nil, fmt.Errorf("the site has no user %q (any more)", r.User)
		}
		file = f
		if r.Kind == portal.RequestRemove {
			parsed[f].Body().RemoveBlock(b)
			return file, hclwrite.Format(squeezeRemoval(files[f], parsed[f].Bytes())), nil
		}
		b.Body().SetAttributeValue("first_name", cty.StringVal(r.FirstName))
		b.Body().SetAttributeValue("last_name", cty.StringVal(r.LastName))
	default:
		return "", nil, fmt.Errorf("unknown kind of request %q", r.Kind)
	}
	return file, hclwrite.Format(parsed[file].Bytes()), nil
}

// squeezeRemoval mends the blank lines where a block was cut out of
// before, giving after: hclwrite removes the block's own lines but keeps
// the blank lines that set it apart on both sides, which would leave two
// blank lines in its place (or one at the top or the bottom of the file).
// Only the place of the cut is touched: blank lines the author wrote
// elsewhere stay as written, so the diff shows the removal alone.
func squeezeRemoval(before, after []byte) []byte {
	// The cut lies between the common prefix and the common suffix of the
	// two texts: somewhere in after[lo:hi] (lo may pass hi when the block
	// began as the text after it begins).
	i := 0
	for i < len(after) && after[i] == before[i] {
		i++
	}
	j := 0
	for j < len(after)-i && after[len(after)-1-j] == before[len(before)-1-j] {
		j++
	}
	lo, hi := min(i, len(after)-j), max(i, len(after)-j)
	// The run of newlines touching the cut.
	start, end := lo, hi
	for start > 0 && after[start-1] == '\n' {
		start--
	}
	for end < len(after) && after[end] == '\n' {
		end++
	}
	if !allNewlines(after[lo:hi]) {
		return after
	}
	keep := 2 // one blank line between what was before and after the block
	switch {
	case start == 0:
		keep = 0 // the top of the file: no blank line first
	case end == len(after):
		keep = 1 // the end of the file: one newline
	}
	if end-start <= keep {
		return after
	}
	out := append([]byte{}, after[:start]...)
	out = append(out, bytes.Repeat([]byte{'\n'}, keep)...)
	return append(out, after[end:]...)
}

func allNewlines(b []byte) bool {
	for _, c := range b {
		if c != '\n' {
			return false
		}
	}
	return true
}

// residentsFile is the file a person added to residence goes in: the
// one holding that residence's people, else its residence block.
func residentsFile(names []string, parsed map[string]*hclwrite.File, residence string) string {
	home := ""
	for _, n := range names {
		for _, b := range parsed[n].Body().Blocks() {
			switch {
			case b.Type() == "user":
				if a := b.Body().GetAttribute("residence"); a != nil && strings.TrimSpace(string(a.Expr().BuildTokens(nil).Bytes())) == "residence."+residence {
					return n
				}
			case b.Type() == "residence" && len(b.Labels()) == 1 && b.Labels()[0] == residence && home == "":
				home = n
			}
		}
	}
	return home
}
