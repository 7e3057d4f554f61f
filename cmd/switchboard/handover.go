package main

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"switchboard/atomicfile"
	"switchboard/compiler/apply"
	"switchboard/compiler/credentials"
	"switchboard/compiler/handover"
	"switchboard/compiler/state"
)

var handoverCommand = &command{
	name:     "handover",
	synopsis: "Print the handover sheet: owner, installer, devices, people, numbers, site key, open items",
	usage: `Usage: switchboard handover [-format text|markdown|html|json] [-o FILE] [-state FILE]
                            [-var name=value]... [-var-file FILE]... [-lockfile readonly] [DIR]

Prints the handover sheet of the site in DIR (default: the current
directory), made from the site and the applied state (DIR/.switchboard/
state.json unless -state says otherwise): the owner's and the installer's
contacts; every bound device with its model, MAC, location, and the
firmware and last read-back the last apply recorded; every residence with
its people, their numbers and invitation status; the number plan
(extensions, DDIs, spare DDIs, conference rooms, feature codes, emergency
numbers); where the site key lives and its fingerprint (never the key);
the open items (devices not verified, invitations not delivered, people
without an endpoint); and what the owner must do next.

-format html writes one self-contained page that prints on A4; -o FILE
writes the sheet to FILE instead of standard output. When an apply moves
the site's ownership it mails the new owner this sheet itself.

The sheet holds no password.

Exit status: 0 success; 1 the site has errors or a file cannot be read or
written; 2 usage error.`,
	run:   runHandover,
	flags: func() *flagSet { return handoverFlags(&handoverOptions{}) },
}

type handoverOptions struct {
	format, out, state string
	site               siteOptions
}

func handoverFlags(o *handoverOptions) *flagSet {
	f := newFlagSet("handover")
	f.fs.StringVar(&o.format, "format", "text", "`FORMAT` of the sheet: "+strings.Join(handover.Formats, ", "))
	f.fs.StringVar(&o.out, "o", "", "write the sheet to `FILE`")
	f.fs.StringVar(&o.state, "state", "", "read the state at `FILE` (default DIR/"+state.DefaultPath+")")
	o.site.register(f.fs)
	return f
}

func runHandover(c *cli, args []string) int {
	var o handoverOptions
	positional, status, ok := c.parse(handoverFlags(&o), args, 1)
	if !ok {
		return status
	}
	dir := dirArg(positional)
	cs, status := c.compileSite("handover", dir, compileOptions{site: o.site, needKey: true})
	if cs == nil {
		return status
	}
	st, _, err := state.NewStore(statePath(dir, o.state)).Read(cs.program.Site.Name)
	if err != nil {
		fmt.Fprintf(c.stderr, "switchboard handover: %v\n", err)
		return exitFail
	}
	info, err := keyInfo(dir, cs.key)
	if err != nil {
		fmt.Fprintf(c.stderr, "switchboard handover: %v\n", err)
		return exitFail
	}
	sheet := handover.New(handover.Input{Program: cs.program, State: st, Key: info, Now: time.Now()})
	var buf bytes.Buffer
	if err := sheet.Render(&buf, o.format); err != nil {
		fmt.Fprintf(c.stderr, "switchboard handover: %v\n", err)
		return exitFail
	}
	if o.out == "" {
		_, _ = c.stdout.Write(buf.Bytes())
		return exitOK
	}
	if err := atomicfile.Write(o.out, buf.Bytes(), 0o644); err != nil {
		fmt.Fprintf(c.stderr, "switchboard handover: writing the sheet: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(c.stdout, "Wrote the handover sheet of %q to %s.\n", sheet.Site.DisplayName, filepath.ToSlash(o.out))
	return exitOK
}

// keyInfo says where the site key of dir lives and what its fingerprint
// is, and the previous key's while a rekey's grace lasts: never a key.
func keyInfo(dir string, k credentials.Key) (handover.KeyInfo, error) {
	info := handover.KeyInfo{Location: filepath.ToSlash(k.Source()), Fingerprint: k.Fingerprint()}
	prev, ok, err := credentials.LoadPrevious(dir, time.Now())
	if err != nil {
		return info, err
	}
	if ok {
		info.PreviousFingerprint, info.PreviousUntil = prev.Key.Fingerprint(), prev.Until
	}
	return info, nil
}

// sheetKey is keyInfo for apply, which mails the sheet: a previous key it
// cannot read only leaves the sheet without it.
func sheetKey(dir string, k credentials.Key) handover.KeyInfo {
	info, _ := keyInfo(dir, k)
	return info
}

// writeHandoverOutcome says what apply did about a change of owner.
func writeHandoverOutcome(w io.Writer, r *apply.Result, s style) {
	h := r.Handover
	if h == nil {
		return
	}
	mark := s.paint(ansiGreen, "✓")
	recorded := "recorded in the state"
	if !h.Recorded {
		mark, recorded = s.paint(ansiRed, "✗"), "not recorded"
	}
	if !strings.HasPrefix(h.Sheet, "sent") {
		// Recorded, but the new owner has not got the sheet: something to
		// do by hand.
		mark = s.paint(ansiRed, "✗")
	}
	fmt.Fprintf(w, "%s Handover: %s: %s; handover sheet %s.\n", mark, h.Callout, recorded, h.Sheet)
}
