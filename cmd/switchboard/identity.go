package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"switchboard/compiler"
	"switchboard/compiler/ir"
	"switchboard/compiler/plan"
	"switchboard/compiler/state"
	"switchboard/lang"
	"switchboard/runtime/voicemail"
)

// identities points the lowering at the applied state at path: each user
// is compiled under the identity the state records or will record for
// them (state.State.Identity), so that their voicemail box is theirs and
// not their block name's, and the people applies removed go into the IR
// for the server to archive or delete their data. Without a state file
// every identity is the block name, as `test` has it.
//
// The state is read without its lock: plan and apply take the lock after
// compiling and read it again; a removal applied in between shows in the
// next plan.
func identities(lo *compiler.LowerOptions, path string) error {
	if !fileExists(path) {
		return nil
	}
	st, _, err := state.NewStore(path).Read("")
	if err != nil {
		return err
	}
	lo.Identity = st.Identity
	lo.Retired = retired(st)
	return nil
}

// retired is st's removed people as the IR carries them.
func retired(st *state.State) []ir.Retired {
	var out []ir.Retired
	for _, r := range st.Removed {
		out = append(out, ir.Retired{Identity: r.Identity, User: r.User, Data: r.Data, ArchiveUntil: r.ArchiveUntil, Owner: r.Owner})
	}
	return out
}

// offboarding is the site's policy for removed people's data, with the
// quarantines the lock file holds and, where this machine keeps the
// site's voicemail (serve's default data directory), what each box holds.
func offboarding(dir string, cs *compiledSite) plan.Offboarding {
	ob := plan.NewOffboarding(cs.program)
	if cs.checked != nil && cs.checked.Lock != nil {
		for _, q := range cs.checked.Lock.Quarantine {
			ob.Quarantine[q.Extension] = q.Until.Format(lang.DateLayout)
		}
	}
	vm := filepath.Join(dir, ".switchboard", "data", "voicemail")
	if fi, err := os.Stat(vm); err == nil && fi.IsDir() {
		ob.Inventory = func(identity string) (plan.Inventory, bool) {
			inv, err := voicemail.Count(vm, identity)
			return plan.Inventory(inv), err == nil
		}
	}
	return ob
}

// writeRemoved lists the people applies removed, for `state show`.
func writeRemoved(w io.Writer, removed []state.Removed) {
	if len(removed) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "REMOVED\tON\tDATA")
	for _, r := range removed {
		data := "voicemail deleted"
		if r.Data != "delete" {
			data = "voicemail archived until " + r.ArchiveUntil.UTC().Format(lang.DateLayout)
			if r.Owner != "" {
				data += " for user." + r.Owner
			}
		}
		if len(r.DDIs) > 0 {
			data += "; spare: " + strings.Join(r.DDIs, ", ")
		}
		fmt.Fprintf(w, "user.%s (identity %s)\t%s\t%s\n", r.User, r.Identity, r.At.UTC().Format("2006-01-02 15:04:05"), data)
	}
}
