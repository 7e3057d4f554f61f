// Package scenario reads scenario files: the call paths an installer writes
// down because the generated suite cannot know them ("nobody home at 2B
// falls back to voicemail", "the caretaker is tried after the manager").
//
// A scenario file is named *.test.hcl and lives in the site directory or
// its tests/ sub-directory. It holds scenario blocks; each is one call,
// told as steps in the order they happen. Steps are blocks, not
// attributes, so that the order written is the order run:
//
//	scenario "Sarah opens the gate for a visitor" {
//	  press { button = device.gate.button["1"] }
//	  rings_only { endpoints = [residence.home] }
//	  answer { by = user.sarah }
//	  send_dtmf { digits = "#" }
//	  door_opens { relay = device.gate.relay["gate"] }
//	}
//
// Steps refer to the site by traversal (user.sarah, device.gate,
// residence.home, trunk.carrier) and are resolved against the compiled
// program, with a "did you mean" for a name that does not exist. A user
// stands for their app and phones, a residence for everything its ring
// rings. Each scenario becomes a simulate.Case named after it; its origin
// is the scenario block, so a failure points at it.
//
// The reference below writes arguments on one line for short; HCL allows
// one argument on a line-long block, so a step with two takes a line each.
//
// The call, first and once:
//
//	press { button = device.<door>.button["<label>"] }   a visitor presses a button
//	key { at = device.<door>, code = "104" }              a visitor keys a code (or code = residence.<name>: its label)
//	dial { from = <who>, to = user.<name> }               dial a user's extension; to = residence.<name>
//	                                                      dials its number, to = device.<door> looks at a door
//	dial { from = <who>, number = 201 }                   dial a number; from = trunk.<name> is the carrier calling a DDI
//
// Actions:
//
//	answer { by = user.<name> | device.<name> }   picks up when it rings, and the call must connect to it
//	decline { by = … }                            declines when it rings (603)
//	busy    { by = … }                            answers 486 Busy Here when it rings
//	wait { for = "10s" }                          virtual time passes
//	nobody_answers {}                             the ring runs out (its total timeout)
//	send_dtmf { digits = "#", by = … }            by defaults to who answered a door's call, else the caller
//	hang_up {}                                    the caller hangs up
//
// Expectations (at least one; "answer" counts):
//
//	rings { endpoints = [...], within = "20s" }   each of these rings (by then, counted from the call)
//	rings_in_order { endpoints = [...] }          in this order, each for its leg's timeout; the last keeps ringing
//	rings_only { endpoints = [...] }              these ring and, over the whole call, nothing else
//	does_not_ring { endpoints = [...] }           none of these has rung so far
//	door_opens { relay = device.<door>.relay["<name>"] }  the code sent last opens it (or door = device.<door>: any relay)
//	door_stays_shut { door = device.<door> }      the code sent last is refused there
//	refused { status = 404 }                      the caller gets this final status
//	falls_back { to = "voicemail" | "hangup" }    the unanswered ring ends so (mailbox = user.<name>, within = …)
//
// Time is virtual and moves only as written (wait, nobody_answers, within,
// rings_in_order), and never before the call has rung: the server starts
// a ring's timers as it sends the first INVITE. A scenario that expects
// nothing is an error, as is one that places no call or two; an
// expectation that is not observed fails the case when it runs.
package scenario

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"switchboard/compiler/ir"
	"switchboard/simulate"
)

// FileSuffix marks scenario files.
const FileSuffix = ".test.hcl"

// TestsDir is the sub-directory of a site that may hold scenario files
// besides the site directory itself.
const TestsDir = "tests"

// Suite is the scenarios of a site.
type Suite struct {
	// Cases are the scenarios in file order, then in the order written.
	Cases []simulate.Case
	// Files are the parsed scenario files by name relative to the site
	// directory (forward slashes), for diagnostic snippets.
	Files map[string]*hcl.File
	// Unparsed names the files with a syntax error. They are not decoded,
	// so their diagnostics are the parser's alone, which the command caps
	// at the first (lang.CapSyntaxErrors).
	Unparsed map[string]bool
}

// Load reads the scenario files of the site in dir — *.test.hcl in dir
// and in dir/tests — and resolves them against p, the site compiled.
// A site without scenario files has an empty Suite.
func Load(dir string, p *ir.Program) (*Suite, hcl.Diagnostics) {
	sources := map[string][]byte{}
	for _, sub := range []string{"", TestsDir} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if sub != "" && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return &Suite{}, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Cannot read scenario files",
				Detail:   fmt.Sprintf("Reading %q failed: %s.", filepath.Join(dir, sub), errText(err)),
			}}
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), FileSuffix) {
				continue
			}
			name := path.Join(sub, e.Name())
			src, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
			if err != nil {
				return &Suite{}, hcl.Diagnostics{{
					Severity: hcl.DiagError,
					Summary:  "Cannot read scenario file",
					Detail:   fmt.Sprintf("Reading %q failed: %s.", name, errText(err)),
				}}
			}
			sources[name] = src
		}
	}
	return Parse(sources, p)
}

// Parse reads scenario files from their contents, keyed by name relative
// to the site directory, and resolves them against p.
func Parse(sources map[string][]byte, p *ir.Program) (*Suite, hcl.Diagnostics) {
	s := &Suite{Files: map[string]*hcl.File{}, Unparsed: map[string]bool{}}
	names := make([]string, 0, len(sources))
	for name := range sources {
		names = append(names, name)
	}
	sort.Strings(names)

	var diags hcl.Diagnostics
	d := newDecoder(p)
	for _, name := range names {
		name := filepath.ToSlash(name)
		f, more := hclsyntax.ParseConfig(sources[name], name, hcl.InitialPos)
		diags = append(diags, more...)
		if f == nil {
			continue
		}
		s.Files[name] = f
		if more.HasErrors() {
			s.Unparsed[name] = true
			continue
		}
		cases, more := d.decodeFile(f)
		diags = append(diags, more...)
		s.Cases = append(s.Cases, cases...)
	}
	return s, diags
}

func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// origin turns a range into an IR origin, so that a failing scenario
// points at itself the way a generated case points at the site.
func origin(r hcl.Range, object string) ir.Origin {
	return ir.Origin{
		File: r.Filename, Line: r.Start.Line, Column: r.Start.Column, Byte: r.Start.Byte,
		EndLine: r.End.Line, EndColumn: r.End.Column, EndByte: r.End.Byte,
		Object: object,
	}
}
