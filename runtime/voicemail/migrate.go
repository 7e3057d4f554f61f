package voicemail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"switchboard/atomicfile"
)

// The import of an older version's files into a store. Before the store,
// serve kept every box as files under Config.Dir (the layout in doc.go);
// with a store, Open imports them once:
//
//  1. The files are finished as the file-keeping service would at Open:
//     interrupted recordings become messages (to be mailed, as promised),
//     half-done leftovers go.
//  2. Every box file (live and archived boxes: messages with their
//     metadata — folder, time, caller, duration — greetings, PINs, archive
//     mail records) is written to the store unchanged, metadata before
//     audio, under the same names and message numbers.
//  3. Once all of it is stored (each write acknowledged), the store's
//     importedKey marks the import done: a later Open does not import
//     again.
//  4. Then the directory is renamed aside (<Dir>.imported), never
//     deleted, and a fresh Dir holds the recordings in progress, with
//     keptMark saying where the boxes went.
//
// A kill -9 before 3 leaves the files where they were, and the next Open
// imports them again: the same names, so what the first run stored is
// overwritten, not doubled. A kill between 3 and 4 leaves the files
// imported but in place; the next Open, seeing the mark, moves them aside
// without importing them.

// importedKey is the key that marks the import done. It has no '/', so
// it names no box file.
const importedKey = "imported"

// keptMark, a file in Dir, says that the boxes are kept in a store, for
// Count (the plan's inventory) and for an operator looking there. Its name
// starts with a dot, which no box name may.
const keptMark = ".kept-in-store"

// importRecord is importedKey's value: what was imported, from where, and
// where those files went.
type importRecord struct {
	Time      time.Time `json:"time"`
	From      string    `json:"from"`
	MovedTo   string    `json:"moved_to,omitempty"`
	Boxes     int       `json:"boxes"`
	Messages  int       `json:"messages"`
	Greetings int       `json:"greetings"`
	PINs      int       `json:"pins"`
	Archived  int       `json:"archived_boxes"`
	// Skipped are files not imported (larger than the store takes); they
	// stay in the directory moved aside.
	Skipped []string `json:"skipped,omitempty"`
}

// migrate imports the files under Dir into k, once. s.shelf is still the
// directory.
func (s *Service) migrate(k *keptShelf) error {
	ctx := context.Background()
	if s.cfg.Store.Shared {
		if err := s.leaveForCluster(); err != nil {
			return err
		}
		return s.markKept()
	}
	_, done, err := k.keys.Get(ctx, importedKey)
	if err != nil {
		return fmt.Errorf("voicemail: reading whether the files were imported: %w", err)
	}
	old, err := oldFiles(s.cfg.Dir)
	if err != nil {
		return err
	}
	if !done {
		if old {
			s.log.Info("voicemail: importing the boxes kept as files into the store, once", "from", s.cfg.Dir)
			if err := s.recoverAll(); err != nil {
				return err
			}
		}
		rec, err := s.importFiles(k)
		if err != nil {
			return fmt.Errorf("voicemail: importing the files of %s: %w", s.cfg.Dir, err)
		}
		if old {
			rec.MovedTo = asideDir(s.cfg.Dir)
		}
		data, _ := json.Marshal(rec)
		if err := k.keys.Put(ctx, importedKey, data, 0); err != nil {
			return fmt.Errorf("voicemail: marking the files imported: %w", err)
		}
		if old {
			s.log.Info("voicemail: imported the boxes kept as files into the store", "from", rec.From, "moved_to", rec.MovedTo,
				"boxes", rec.Boxes, "messages", rec.Messages, "greetings", rec.Greetings, "pins", rec.PINs, "archived", rec.Archived)
		}
	}
	if old {
		aside := asideDir(s.cfg.Dir)
		if err := os.Rename(s.cfg.Dir, aside); err != nil {
			return fmt.Errorf("voicemail: moving the imported files aside: %w", err)
		}
		atomicfile.SyncDir(filepath.Dir(s.cfg.Dir))
		if err := os.MkdirAll(s.cfg.Dir, 0o750); err != nil {
			return fmt.Errorf("voicemail: %w", err)
		}
		if done {
			s.log.Info("voicemail: moved files imported before aside", "from", s.cfg.Dir, "moved_to", aside)
		}
	}
	return s.markKept()
}

// markKept leaves a note in Dir saying the boxes are in the store.
func (s *Service) markKept() error {
	mark := filepath.Join(s.cfg.Dir, keptMark)
	if _, err := os.Stat(mark); errors.Is(err, fs.ErrNotExist) {
		text := "The voicemail boxes are kept in the server's store (the jetstream directory beside this one).\n" +
			"This directory holds only the recordings in progress.\n"
		if err := atomicfile.Write(mark, []byte(text), 0o644); err != nil {
			return fmt.Errorf("voicemail: %w", err)
		}
	}
	return nil
}

// leaveForCluster moves the files of an older version aside without
// importing them: in a cluster the import mark is the site's, shared by
// every node, while each node has a directory of its own, and two nodes
// importing boxes numbered alike would overwrite each other's messages. A
// node joins a cluster with an empty -data (README, "Running several
// nodes"); files found there anyway are kept, named for what happened,
// and never taken for recordings in progress.
func (s *Service) leaveForCluster() error {
	old, err := oldFiles(s.cfg.Dir)
	if err != nil || !old {
		return err
	}
	aside := freeName(s.cfg.Dir + ".not-imported")
	if err := os.Rename(s.cfg.Dir, aside); err != nil {
		return fmt.Errorf("voicemail: moving files a cluster does not import aside: %w", err)
	}
	atomicfile.SyncDir(filepath.Dir(s.cfg.Dir))
	if err := os.MkdirAll(s.cfg.Dir, 0o750); err != nil {
		return fmt.Errorf("voicemail: %w", err)
	}
	s.log.Warn("voicemail: boxes kept as files are not imported into a cluster's store; they are kept aside", "from", s.cfg.Dir, "moved_to", aside)
	return nil
}

// asideDir is where the imported directory dir goes: dir.imported, or
// dir.imported-2 and so on.
func asideDir(dir string) string { return freeName(dir + ".imported") }

// freeName is name, or name-2, name-3… the first that does not exist.
func freeName(name string) string {
	aside := name
	for i := 2; ; i++ {
		if _, err := os.Lstat(aside); errors.Is(err, fs.ErrNotExist) {
			return aside
		}
		aside = name + "-" + strconv.Itoa(i)
	}
}

// importable reports whether a file of a box is one a shelf keeps.
func importable(name string) bool {
	switch name {
	case greetingFile, pinFile, archiveMailFile:
		return true
	}
	kind, id, ext, ok := parseFile(name)
	return ok && kind == "msg" && name == msgName(id)+"."+ext
}

// oldFiles reports whether dir holds boxes as files: a box file in a box
// directory, or an archive. The directory a store's service writes holds
// recordings in progress only.
func oldFiles(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("voicemail: %w", err)
	}
	for _, e := range entries {
		if e.Name() == archiveDir {
			return true, nil
		}
		if !e.IsDir() || !validBoxName(e.Name()) {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, e.Name()))
		if err != nil {
			return false, fmt.Errorf("voicemail: %w", err)
		}
		for _, f := range files {
			if importable(f.Name()) {
				return true, nil
			}
		}
	}
	return false, nil
}

// importFiles writes every box file under Dir to k: live boxes, then
// archived ones, each file as it is.
func (s *Service) importFiles(k *keptShelf) (importRecord, error) {
	rec := importRecord{Time: s.clk.Now().UTC(), From: s.cfg.Dir}
	files := dirShelf{root: s.cfg.Dir}
	live, err := files.boxes()
	if err != nil {
		return rec, err
	}
	archive := dirShelf{root: filepath.Join(s.cfg.Dir, archiveDir)}
	archived, err := archive.boxes()
	if err != nil {
		return rec, err
	}
	boxes := live
	for _, a := range archived {
		boxes = append(boxes, archiveDir+"/"+a)
	}
	for i, b := range boxes {
		names, err := files.names(b)
		if err != nil {
			return rec, err
		}
		n := 0
		for _, name := range sortedNames(names) {
			if !importable(name) {
				continue
			}
			data, err := files.read(b, name)
			if err != nil {
				return rec, fmt.Errorf("voicemail: %w", err)
			}
			if isAudio(name) && int64(len(data)) > k.limit {
				s.log.Error("voicemail: a file is larger than the store takes; it is not imported", "box", b, "file", name, "bytes", len(data), "limit", k.limit)
				rec.Skipped = append(rec.Skipped, b+"/"+name)
				continue
			}
			if err := k.write(b, name, data); err != nil {
				return rec, err
			}
			n++
			switch kind, _, ext, _ := parseFile(name); {
			case kind == "msg" && ext == "wav":
				rec.Messages++
			case name == greetingFile:
				rec.Greetings++
			case name == pinFile:
				rec.PINs++
			}
		}
		switch {
		case n == 0:
			continue
		case i < len(live):
			rec.Boxes++
		default:
			rec.Archived++
		}
		// A line a box: an import of many boxes takes a while, and says
		// how far it got.
		s.log.Info("voicemail: imported a box into the store", "box", b, "files", n)
	}
	return rec, nil
}
