// Package lang reads a site directory: it parses every *.pbx.hcl file,
// evaluates variables, locals, functions and dynamic blocks, resolves
// references between blocks and decodes the result into a typed model.
//
// It knows HCL and nothing else of switchboard: the rules a valid site must
// obey are the compiler's business. Every problem is an hcl.Diagnostic with
// the range it concerns.
//
// Inputs are settled here and nowhere else: variables from their defaults,
// SWITCHBOARD_VAR_<name>, -var-file files and -var flags (Load, and
// ResolveVariables for a caller that has only a compiled site). Values of
// sensitive variables carry a cty mark through evaluation; the model
// records what later stages need to know about them (Secret.Sensitive,
// Secret.Literal, Config.Sensitive), so that no later stage reads the
// source or the inputs again.
package lang

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/dynblock"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// FileSuffix marks the files of a site directory.
const FileSuffix = ".pbx.hcl"

// Options carries the inputs that do not live in the site directory.
type Options struct {
	Vars     map[string]string // -var name=value, raw text
	VarFiles []string          // -var-file paths
	Environ  []string          // os.Environ()-style; SWITCHBOARD_VAR_<name> is read from it
	// Now is the clock that dates Config.Today (default time.Now).
	Now func() time.Time
}

// EnvVarPrefix is the prefix of environment variables that set site variables.
const EnvVarPrefix = "SWITCHBOARD_VAR_"

// rootSchema is the top level of a site file: the blocks of Language.
var rootSchema = (&BlockSpec{Blocks: language}).Schema()

// inputSchema picks out the blocks that must be evaluated before dynamic
// blocks can be expanded.
var inputSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
	},
}

// Load reads the site in dir.
func Load(dir string, opts Options) (*Config, hcl.Diagnostics) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read site directory",
			Detail:   fmt.Sprintf("Reading %q failed: %s.", dir, errText(err)),
		}}
	}
	sources := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), FileSuffix) {
			continue
		}
		src, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Cannot read site file",
				Detail:   fmt.Sprintf("Reading %q failed: %s.", e.Name(), errText(err)),
			}}
		}
		sources[e.Name()] = src
	}
	if len(sources) == 0 {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "No site files",
			Detail:   fmt.Sprintf("The directory %q holds no *%s files. Run %q to start a site there.", dir, FileSuffix, initCommand(dir)),
		}}
	}
	lock, diags := readLock(dir)
	cfg, moreDiags := LoadSources(dir, sources, opts)
	diags = append(diags, moreDiags...)
	if cfg != nil {
		cfg.Lock = lock
	}
	return cfg, diags
}

// LoadSources decodes a site from file contents keyed by name relative to
// dir. Load uses it after reading the directory; tests and the fuzzer call
// it directly. dir still anchors file() and -var-file paths.
func LoadSources(dir string, sources map[string][]byte, opts Options) (*Config, hcl.Diagnostics) {
	return loadSources(dir, sources, opts, nil)
}

// loadSources is LoadSources with a trace of the attributes the decoders
// read (see attrs.read), for the test that keeps the reference true.
func loadSources(dir string, sources map[string][]byte, opts Options, trace func(*BlockSpec, string, string, string)) (cfg *Config, diags hcl.Diagnostics) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	year, month, day := now().UTC().Date()
	cfg = &Config{Dir: dir, Files: map[string]*hcl.File{}, Lock: &Lock{Extensions: map[string]string{}}, Today: time.Date(year, month, day, 0, 0, 0, 0, time.UTC)}

	names := make([]string, 0, len(sources))
	for name := range sources {
		names = append(names, name)
	}
	sort.Strings(names)

	// Files parse independently, so a site split over several files parses
	// on every core; results are gathered in name order.
	parsed := make([]*hcl.File, len(names))
	parseDiags := make([]hcl.Diagnostics, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parsed[i], parseDiags[i] = hclsyntax.ParseConfig(sources[name], filepath.ToSlash(name), hcl.InitialPos)
		}()
	}
	wg.Wait()
	var files []*hcl.File
	var syntaxDiags hcl.Diagnostics
	broken := map[string]bool{} // files with a syntax error
	for i, name := range names {
		syntaxDiags = append(syntaxDiags, parseDiags[i]...)
		if parseDiags[i].HasErrors() {
			broken[filepath.ToSlash(name)] = true
		}
		if f := parsed[i]; f != nil {
			cfg.Files[filepath.ToSlash(name)] = f
			files = append(files, f)
		}
	}
	// A file with a syntax error still yields the blocks the parser made
	// sense of, so the other files are decoded and their errors reported.
	// What is said about the broken file itself beyond its first syntax
	// error is doubtful and dropped (see withoutBroken), and references to
	// names that may have been lost with the rest of it are not reported.
	ev := newEvaluator(dir)
	defer func() {
		diags = append(CapSyntaxErrors(syntaxDiags), ev.withoutBroken(diags, broken, cfg.Variables)...)
	}()

	// Variables and locals first: dynamic blocks and every attribute may use them.
	var varBlocks, localBlocks []*hcl.Block
	for _, f := range files {
		content, _, d := f.Body.PartialContent(inputSchema)
		diags = append(diags, d...)
		for _, b := range content.Blocks {
			if b.Type == "variable" {
				varBlocks = append(varBlocks, b)
			} else {
				localBlocks = append(localBlocks, b)
			}
		}
	}
	ev.incomplete = len(broken) > 0
	ev.trace = trace
	ev.sources = map[string][]byte{}
	for name, src := range sources {
		ev.sources[filepath.ToSlash(name)] = src
	}
	vars, d := decodeVariables(varBlocks, opts, cfg.Files, ev)
	diags = append(diags, d...)
	cfg.Variables = vars
	diags = append(diags, ev.evalLocals(localBlocks)...)

	// Expand dynamic blocks and gather every top-level block.
	var blocks []*hcl.Block
	for _, f := range files {
		body := dynblock.Expand(f.Body, ev.inputContext())
		content, d := body.Content(rootSchema)
		diags = append(diags, d...)
		if content != nil {
			blocks = append(blocks, content.Blocks...)
		}
	}
	// Names first, so that references can be resolved whatever the order
	// of declaration.
	diags = append(diags, ev.declare(blocks)...)

	for _, b := range blocks {
		switch b.Type {
		case "site":
			s, d := decodeSiteBlock(b, ev)
			diags = append(diags, d...)
			cfg.Sites = append(cfg.Sites, s)
		case "residence":
			if !ev.first(b) {
				continue
			}
			r, d := decodeResidenceBlock(b, ev)
			diags = append(diags, d...)
			cfg.Residences = append(cfg.Residences, r)
		case "user":
			if !ev.first(b) {
				continue
			}
			u, d := decodeUserBlock(b, ev)
			diags = append(diags, d...)
			cfg.Users = append(cfg.Users, u)
		case "device":
			if !ev.first(b) {
				continue
			}
			dev, d := decodeDeviceBlock(b, ev)
			diags = append(diags, d...)
			cfg.Devices = append(cfg.Devices, dev)
		case "trunk":
			if !ev.first(b) {
				continue
			}
			t, d := decodeTrunkBlock(b, ev)
			diags = append(diags, d...)
			cfg.Trunks = append(cfg.Trunks, t)
		}
	}
	cfg.Sensitive = Sensitive{Text: ev.sensitiveText, Exprs: ev.sensitiveExprs, Blocks: ev.sensitiveBlocks}
	return cfg, diags
}

// withoutBroken drops, when some files did not parse, the diagnostics
// about those files and those about references to undeclared variables,
// locals or blocks: the declaration may be in what the parser lost.
func (e *evaluator) withoutBroken(diags hcl.Diagnostics, broken map[string]bool, vars []*Variable) hcl.Diagnostics {
	if len(broken) == 0 {
		return diags
	}
	declaredVars := map[string]bool{}
	for _, v := range vars {
		declaredVars[v.Name] = true
	}
	var out hcl.Diagnostics
	for _, d := range diags {
		if d.Subject != nil && broken[d.Subject.Filename] {
			continue
		}
		if d.Expression != nil && e.refersToUndeclared(d.Expression, declaredVars) {
			continue
		}
		out = append(out, d)
	}
	return out
}

// refersToUndeclared reports whether expr refers to a variable, local or
// block that no file declares.
func (e *evaluator) refersToUndeclared(expr hcl.Expression, vars map[string]bool) bool {
	for _, t := range expr.Variables() {
		if len(t) < 2 {
			continue
		}
		step, ok := t[1].(hcl.TraverseAttr)
		if !ok {
			continue
		}
		switch root := t.RootName(); root {
		case "var":
			if !vars[step.Name] {
				return true
			}
		case "local":
			if _, ok := e.localDecl[step.Name]; !ok {
				return true
			}
		default:
			if isRefKind(root) {
				if _, ok := e.declared[root][step.Name]; !ok {
					return true
				}
			}
		}
	}
	return false
}

// errText drops Go's "open x:" prefixes that repeat what the message says.
func errText(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// initCommand is the command that starts a site in dir (the current
// directory when dir is "."), for the hint of an empty directory.
func initCommand(dir string) string {
	if dir == "" || dir == "." {
		return "switchboard init"
	}
	if strings.ContainsAny(dir, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		dir = "'" + strings.ReplaceAll(dir, "'", `'\''`) + "'"
	}
	return "switchboard init " + dir
}
