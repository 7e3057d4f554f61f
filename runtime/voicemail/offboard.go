package voicemail

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"switchboard/compiler/ir"
)

// archiveDir holds the boxes of removed people kept for the owner, under
// the voicemail directory. Its name starts with a dot, which no box name
// may, so it is never taken for a box.
const archiveDir = ".archive"

// Inventory is what one box holds on disk.
type Inventory struct {
	Messages int  `json:"messages,omitempty"`
	Greeting bool `json:"greeting,omitempty"`
	PIN      bool `json:"pin,omitempty"` // a PIN the person chose
}

// ErrKept is Count's error for a voicemail directory whose boxes are kept
// in a store (serve's JetStream) when the inventory the server keeps
// beside them (inventoryFile) is missing: they are not counted without it.
var ErrKept = errors.New("voicemail: the boxes are kept in the server's store")

// inventoryFile, in a directory whose boxes are kept in a store (beside
// keptMark), is what each box holds, by box, as the serving node's index
// last said: Count's source. The plan runs beside a running server, which
// holds the store (and the data directory's lock), so it cannot read the
// store itself. The serving node rewrites it whenever a box's messages,
// greeting or PIN come or go (keptShelf.saveInventory).
const inventoryFile = ".kept-inventory.json"

// Count reads what the box named box holds under dir (a voicemail
// directory) without opening the service: for a plan that lists what a
// removal does to a person's data. A box never written holds nothing.
func Count(dir, box string) (Inventory, error) {
	var inv Inventory
	if !validBoxName(box) {
		return inv, ErrNoBox
	}
	if _, err := os.Stat(filepath.Join(dir, keptMark)); err == nil {
		data, err := os.ReadFile(filepath.Join(dir, inventoryFile))
		if err != nil {
			return inv, ErrKept
		}
		var boxes map[string]Inventory
		if err := json.Unmarshal(data, &boxes); err != nil {
			return inv, ErrKept
		}
		return boxes[box], nil
	}
	entries, err := os.ReadDir(filepath.Join(dir, box))
	if errors.Is(err, fs.ErrNotExist) {
		return inv, nil
	}
	if err != nil {
		return inv, fmt.Errorf("voicemail: %w", err)
	}
	for _, e := range entries {
		inv.add(e.Name())
	}
	return inv, nil
}

// add counts the box file name in inv.
func (inv *Inventory) add(name string) {
	switch {
	case name == greetingFile:
		inv.Greeting = true
	case name == pinFile:
		inv.PIN = true
	case counted(name):
		inv.Messages++
	}
}

// counted says whether the box file name is one an Inventory counts: a
// message's audio, the greeting or the PIN.
func counted(name string) bool {
	return name == greetingFile || name == pinFile || strings.HasPrefix(name, msgPrefix) && strings.HasSuffix(name, ".wav")
}

// Retired is what Retire did with one removed person's box.
type Retired struct {
	Identity string
	// Outcome is "deleted", "archived", "archive deleted" or "" when there
	// was nothing to do.
	Outcome string
	Err     error
}

// Retire carries out the offboarding policy of p for the people applies
// removed (p.Retired): their box is deleted, or moved to the archive and
// deleted from there once its date has passed; the site's owner is mailed
// the archive once (archive_mail.go). A box the program still
// has is never touched: an identity is retired only when nobody holds it.
// It runs when the server starts and at every reload.
func (s *Service) Retire(p *ir.Program, now time.Time) []Retired {
	var out []Retired
	for _, r := range p.Retired {
		if !validBoxName(r.Identity) || p.Mailbox(r.Identity) != nil {
			continue
		}
		res := Retired{Identity: r.Identity}
		archived := archiveDir + "/" + r.Identity
		hasLive, err := s.shelf.has(r.Identity)
		if err != nil {
			s.log.Error("voicemail: offboarding a removed person's box", "identity", r.Identity, "user", r.User, "error", err)
			continue
		}
		s.mu.Lock()
		delete(s.boxes, r.Identity) // loaded again from where it now is, if ever
		s.mu.Unlock()
		switch {
		case r.Data == "delete" && hasLive:
			res.Outcome, res.Err = "deleted", s.shelf.removeBox(r.Identity)
		case hasLive:
			res.Outcome, res.Err = "archived", s.shelf.moveBox(r.Identity, archived)
		}
		hasArchive := false
		if r.Data != "delete" && res.Err == nil {
			hasArchive, res.Err = s.shelf.has(archived)
		}
		if hasArchive && !r.ArchiveUntil.IsZero() && !now.Before(r.ArchiveUntil) {
			res.Outcome, res.Err = "archive deleted", s.shelf.removeBox(archived)
		} else if hasArchive {
			// The archive is kept for the owner: they get it by mail
			// (once; an archive from before this was sent too).
			s.mailArchive(p, r, archived)
		}
		if res.Outcome == "" {
			continue
		}
		if res.Err != nil {
			s.log.Error("voicemail: offboarding a removed person's box", "identity", r.Identity, "user", r.User, "error", res.Err)
		} else {
			s.log.Info("voicemail: offboarded a removed person's box", "identity", r.Identity, "user", r.User, "outcome", res.Outcome)
		}
		s.shelf.sync("")
		out = append(out, res)
	}
	return out
}
