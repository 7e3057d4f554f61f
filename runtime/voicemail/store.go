package voicemail

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"switchboard/atomicfile"
	"switchboard/runtime/audio"
	"switchboard/runtime/events"
)

// Folder is where a message is filed.
type Folder string

const (
	FolderNew   Folder = "new"   // not yet heard
	FolderSaved Folder = "saved" // heard or saved
)

// Message is one message's metadata, as msg-N.json holds it.
type Message struct {
	ID     int    `json:"id"`
	Box    string `json:"box"`
	Folder Folder `json:"folder"`
	// Time is when the recording started, on the service's clock, UTC.
	Time time.Time `json:"time"`
	// DurationMS is the length of the audio in milliseconds.
	DurationMS int64  `json:"duration_ms"`
	Codec      string `json:"codec"` // PCMU or PCMA: the WAV's format
	From       From   `json:"from"`
	Call       string `json:"call,omitempty"`      // Call-ID of the call that left it
	Reason     string `json:"reason,omitempty"`    // why the call came to voicemail: no answer, busy, declined
	Recovered  bool   `json:"recovered,omitempty"` // recovered after a crash: cut short
	Mailed     bool   `json:"mailed,omitempty"`    // its e-mail was accepted
	// State is, on a shelf other nodes write, where the message stands
	// when it is not simply there: statePending while its audio goes
	// into the store, stateDeleting while it is deleted. Either way it
	// is listed nowhere. A listed message's State is empty.
	State string `json:"state,omitempty"`
}

// A message's metadata on a shelf other nodes write is the message: each
// node learns of the metadata and of the audio through two watches, in an
// order of their own, so that a node may hold one deposit's metadata and
// still the audio of the message its number was given to before (deleted
// meanwhile). What a node lists is therefore decided by the metadata
// alone, which one ordered watch brings: its state says whether the
// audio is in the store. The audio is read from the store when played.
const (
	// statePending: the number is claimed (the metadata created), the
	// audio is not yet known to be in the store. Cleared once it is.
	statePending = "pending"
	// stateDeleting: the message is being deleted; its audio goes next,
	// then the metadata. Set over the revision read, so it is set only
	// on the deposit the deleting node means.
	stateDeleting = "deleting"
)

// From is who left a message.
type From struct {
	Account string `json:"account,omitempty"`
	Display string `json:"display,omitempty"`
	Number  string `json:"number,omitempty"`
}

// Duration is the length of the message's audio.
func (m Message) Duration() time.Duration { return time.Duration(m.DurationMS) * time.Millisecond }

// Name is the message's file name without extension: msg-000001.
func (m Message) Name() string { return msgName(m.ID) }

func msgName(id int) string { return fmt.Sprintf("msg-%06d", id) }

const (
	msgPrefix      = "msg-"
	recPrefix      = ".rec-"
	tmpPrefix      = ".tmp-" // temporary files of versions before atomicfile
	greetingFile   = "greeting.wav"
	recGreeting    = ".rec-greeting"
	pinFile        = "pin.json"
	maxBoxNameSize = 64
)

// recordingMode is a recorded message's mode: the owner and its group.
const recordingMode = 0o640

// validBoxName accepts mailbox names that are one plain path element:
// letters, digits, '-' and '_', not starting with '-'.
func validBoxName(name string) bool {
	if name == "" || len(name) > maxBoxNameSize || name[0] == '-' {
		return false
	}
	for _, c := range []byte(name) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// parseFile splits a box file name into its kind ("msg" or "rec"), message
// number and extension ("wav" or "json").
func parseFile(name string) (kind string, id int, ext string, ok bool) {
	switch {
	case strings.HasPrefix(name, msgPrefix):
		kind, name = "msg", name[len(msgPrefix):]
	case strings.HasPrefix(name, recPrefix):
		kind, name = "rec", name[len(recPrefix):]
	default:
		return "", 0, "", false
	}
	num, ext, found := strings.Cut(name, ".")
	if !found || (ext != "wav" && ext != "json") || num == "" || len(num) > 9 {
		return "", 0, "", false
	}
	for _, c := range []byte(num) {
		if c < '0' || c > '9' {
			return "", 0, "", false
		}
	}
	id, err := strconv.Atoi(num)
	if err != nil || id < 1 {
		return "", 0, "", false
	}
	return kind, id, ext, true
}

// box is one mailbox and what is known of it: its files on the service's
// shelf, its recordings in progress in dir (under Config.Dir).
type box struct {
	name, dir string
	sh        shelf
	fs        files // where dir is

	mu     sync.Mutex
	loaded bool
	msgs   map[int]*Message
	next   int // the next message number
}

// box returns the named box, loading it on first use.
func (s *Service) box(name string) (*box, error) {
	if !validBoxName(name) {
		return nil, ErrNoBox
	}
	s.mu.Lock()
	b := s.boxes[name]
	if b == nil {
		b = &box{name: name, dir: filepath.Join(s.cfg.Dir, name), sh: s.shelf, fs: s.fs}
		s.boxes[name] = b
	}
	s.mu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.load(); err != nil {
		return nil, err
	}
	return b, nil
}

// load reads the box once. b.mu is held.
func (b *box) load() error {
	if b.loaded {
		return nil
	}
	names, err := b.sh.names(b.name)
	if err != nil {
		return err
	}
	if _, local := b.sh.(dirShelf); !local {
		// Recordings are numbered too, and they are local files: a
		// number a recording that recovery could not finish holds is not
		// given again.
		entries, err := b.files().readDir(b.dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("voicemail: %w", err)
		}
		for _, e := range entries {
			if kind, _, _, ok := parseFile(e.Name()); ok && kind == "rec" {
				names = append(names, e.Name())
			}
		}
	}
	b.msgs = map[int]*Message{}
	b.next = 1
	shared := sharedShelf(b.sh)
	have := make(map[string]bool, len(names))
	for _, n := range names {
		have[n] = true
	}
	for _, n := range names {
		kind, id, ext, ok := parseFile(n)
		if !ok {
			continue
		}
		b.next = max(b.next, id+1)
		if kind != "msg" || n != msgName(id)+"."+ext {
			continue
		}
		// A message is found by its audio; on a shared shelf by its
		// metadata alone (Message.State): a node hears of a deletion's
		// audio and metadata through two watches, and one that has heard
		// of the metadata's removal but not yet of the audio's listed
		// the message again by its audio. Audio without metadata there
		// is given metadata at a start (giveMeta).
		metaName, wavName := msgName(id)+".json", msgName(id)+".wav"
		switch {
		case ext == "wav" && shared:
			continue // found by its metadata, or not listed
		case ext == "json" && !shared:
			continue
		}
		var m *Message
		data, err := b.sh.read(b.name, metaName)
		if err == nil {
			m, err = parseMeta(data)
		}
		if err == nil && (m.State == stateDeleting || shared && m.State != "") {
			continue // not yet there, or going: listed nowhere
		}
		if err != nil {
			if !have[wavName] {
				continue // unusable metadata and no audio: nothing to list
			}
			// Audio without usable metadata: what the audio says.
			m = &Message{Folder: FolderNew}
			if data, err := b.sh.read(b.name, wavName); err == nil {
				if w, err := audio.ReadWAV(data); err == nil {
					m.DurationMS = int64(len(w.Samples)) * 1000 / audio.Rate
					m.Codec = codecName(w.Format)
				}
			}
		}
		m.ID, m.Box, m.State = id, b.name, ""
		if m.Folder != FolderSaved {
			m.Folder = FolderNew
		}
		b.msgs[id] = m
	}
	b.loaded = true
	return nil
}

// readMeta reads a message's metadata from the box's shelf.
func (b *box) readMeta(id int) (*Message, error) {
	data, err := b.sh.read(b.name, msgName(id)+".json")
	if err != nil {
		return nil, err
	}
	return parseMeta(data)
}

func parseMeta(data []byte) (*Message, error) {
	var m Message
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("voicemail: message metadata: %w", err)
	}
	if m.Folder != FolderNew && m.Folder != FolderSaved {
		m.Folder = FolderNew
	}
	if m.DurationMS < 0 {
		m.DurationMS = 0
	}
	return &m, nil
}

func marshalMeta(m *Message) []byte {
	data, _ := json.MarshalIndent(m, "", "  ")
	return append(data, '\n')
}

func codecName(f audio.Format) string {
	switch f {
	case audio.FormatALaw:
		return audio.PCMA.String()
	case audio.FormatULaw:
		return audio.PCMU.String()
	}
	return "PCM"
}

// list returns the messages in listening order: new ones, oldest first,
// then saved ones, oldest first.
func (b *box) list() []Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Message, 0, len(b.msgs))
	for _, m := range b.msgs {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(x, y Message) int {
		if x.Folder != y.Folder {
			if x.Folder == FolderNew {
				return -1
			}
			return 1
		}
		if c := x.Time.Compare(y.Time); c != 0 {
			return c
		}
		return x.ID - y.ID
	})
	return out
}

func (b *box) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}

func (b *box) summary() Summary {
	b.mu.Lock()
	defer b.mu.Unlock()
	var sum Summary
	for _, m := range b.msgs {
		if m.Folder == FolderNew {
			sum.New++
		} else {
			sum.Old++
		}
	}
	return sum
}

func (b *box) get(id int) (Message, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m, ok := b.msgs[id]
	if !ok {
		return Message{}, false
	}
	return *m, true
}

// update changes a message's metadata on disk and in memory. It reports
// false when the message is gone (deleted by another session, or another
// node). The change is made to the metadata the shelf holds (rewrite): on
// a shelf other nodes write, theirs made meanwhile (a message heard there
// while it is mailed here) is kept, not undone by this node's copy.
func (b *box) update(id int, f func(m *Message)) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m, ok := b.msgs[id]
	if !ok {
		return false, nil
	}
	next := *m
	found, err := b.sh.rewrite(b.name, msgName(id)+".json", func(old []byte, ok bool) ([]byte, error) {
		cur := *m // audio without metadata: what load made of it
		if ok {
			if pm, err := parseMeta(old); err == nil {
				cur = *pm
				cur.ID, cur.Box = id, b.name
			}
		}
		if ok && (cur.State != "" || !byAudio(m) && !sameDeposit(&cur, m)) {
			// Another deposit's under way, or the message is being
			// deleted: gone either way.
			return nil, errNumberReused
		}
		next = cur
		f(&next)
		if next == cur {
			return nil, nil // the shelf has it so already
		}
		return marshalMeta(&next), nil
	})
	if errors.Is(err, errNumberReused) {
		return false, nil
	}
	if err != nil {
		return true, err
	}
	if !found {
		return false, nil
	}
	*m = next
	return true, nil
}

// errNumberReused is what update and remove find when the shelf's
// metadata of a message this node knows is another deposit's: another
// node deleted the message and a later one was given its number, both
// before this node heard of either. The message this node means is gone.
var errNumberReused = errors.New("voicemail: the message's number is another message's now")

// stillHeld reports whether message m (b.msgs's) is still the one the
// shelf holds under its number: on a shelf other nodes write, the store's
// latest metadata, not what this node has heard of, names the same
// deposit (or there is none: a message of audio alone). b.mu is held.
func (b *box) stillHeld(m *Message) (bool, error) {
	if byAudio(m) {
		return true, nil
	}
	data, err := b.sh.latest(b.name, msgName(m.ID)+".json")
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	cur, err := parseMeta(data)
	if err != nil {
		return true, nil // unreadable: the message as this node knows it
	}
	return sameDeposit(cur, m), nil
}

// remove deletes a message: its audio first (the commit), then its
// metadata; on a shelf other nodes write, its metadata marked deleting
// before either (markDeleting). It reports false when it was gone
// already.
func (b *box) remove(id int) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m, ok := b.msgs[id]
	if !ok {
		return false, nil
	}
	if sharedShelf(b.sh) {
		// Marked deleting first, over the revision read: listed nowhere
		// from now on, and only if it is still the deposit this node
		// means (not another node's message that took the number since:
		// its audio would go). A crash before the rest leaves the mark,
		// which recovery finishes (recoverBox).
		if marked, err := b.markDeleting(m); err != nil || !marked {
			return marked, err
		}
	} else if held, err := b.stillHeld(m); err != nil {
		return true, err
	} else if !held {
		return false, nil
	}
	if err := b.sh.remove(b.name, msgName(id)+".wav"); err != nil {
		return true, err
	}
	delete(b.msgs, id)
	// Metadata left by a failure here is swept by the next recovery.
	_ = b.sh.remove(b.name, msgName(id)+".json")
	b.sh.sync(b.name)
	return true, nil
}

// wav returns a message's file: as the shelf holds it now (latest), not
// as far as this node has heard of it, which on a shelf other nodes write
// may be a moment behind the metadata that lists it.
func (b *box) wav(id int) ([]byte, error) {
	return b.sh.latest(b.name, msgName(id)+".wav")
}

// sharedShelf reports whether other nodes write sh too (Store.Shared):
// then a message's metadata says whether it is there (Message.State).
func sharedShelf(sh shelf) bool {
	k, ok := sh.(*keptShelf)
	return ok && k.shared
}

// markDeleting marks message m (b.msgs's) deleting on the shelf, and
// reports false when it is not there to delete: gone, being deleted by
// another node, or its number another deposit's now. A message known by
// its audio alone has no metadata to mark. b.mu is held.
func (b *box) markDeleting(m *Message) (bool, error) {
	found, err := b.sh.rewrite(b.name, msgName(m.ID)+".json", func(old []byte, ok bool) ([]byte, error) {
		var cur *Message
		if ok {
			var err error
			if cur, err = parseMeta(old); err == nil && (cur.State != "" || !byAudio(m) && !sameDeposit(cur, m)) {
				return nil, errNumberReused
			}
		}
		if !ok && byAudio(m) {
			return nil, nil // no metadata to mark
		}
		if !ok || cur == nil {
			// None (deleted meanwhile: the shelf creates the mark
			// only where there is nothing), or unusable: the message
			// as this node knows it.
			c := *m
			cur = &c
		}
		cur.ID, cur.Box, cur.State = m.ID, b.name, stateDeleting
		return marshalMeta(cur), nil
	})
	if errors.Is(err, errNumberReused) {
		return false, nil
	}
	return found && err == nil, err
}

// complete clears the pending state of message m's metadata once its
// audio is in the store: from then on it is listed everywhere. Metadata
// completed already (by a node's recovery), or marked deleting since, is
// left as it is. b.mu is held, or b is recovery's own.
func (b *box) complete(m *Message) error {
	found, err := b.sh.rewrite(b.name, msgName(m.ID)+".json", func(old []byte, ok bool) ([]byte, error) {
		if !ok {
			// Gone (on a shared store the bucket's leader says so, not
			// a replica that may lag: store.KV.Revision): nobody
			// removes metadata that is pending but the sweep, half an
			// hour on, or the box's removal.
			return nil, errNumberReused
		}
		cur, err := parseMeta(old)
		if err != nil || !sameDeposit(cur, m) {
			return nil, errNumberReused
		}
		if cur.State != statePending {
			return nil, nil
		}
		cur.State = ""
		return marshalMeta(cur), nil
	})
	if errors.Is(err, errNumberReused) || err == nil && !found {
		return fmt.Errorf("%w: box %s, %s", errMetaGone, b.name, m.Name())
	}
	return err
}

// errMetaGone is complete's error when the metadata it would complete is
// gone (or another deposit's): not a failure to try again.
var errMetaGone = errors.New("voicemail: the metadata of a message stored with its audio is gone")

// greeting returns the recorded greeting, or nil.
func (b *box) greeting() []int16 {
	data, err := b.sh.read(b.name, greetingFile)
	if err != nil {
		return nil
	}
	w, err := audio.ReadWAV(data)
	if err != nil || len(w.Samples) == 0 {
		return nil
	}
	return w.Samples
}

// mkdir creates the box's local directory: when a recording starts.
func (b *box) mkdir() error {
	if err := b.files().mkdirAll(b.dir); err != nil {
		return fmt.Errorf("voicemail: %w", err)
	}
	return nil
}

// writeFileAtomic replaces dir/name with data through atomicfile, the
// owner's alone: a recording's metadata names its caller.
func writeFileAtomic(f files, dir, name string, data []byte) error {
	if err := f.writeFile(filepath.Join(dir, name), data, 0o600); err != nil {
		return fmt.Errorf("voicemail: %w", err)
	}
	return nil
}

// syncDir makes removals in dir durable. Best effort: the files are
// consistent without it, and a removal that did not reach the disk is
// redone by the next recovery.
func syncDir(f files, dir string) {
	f.syncDir(dir)
}

// recoverAll repairs every box: run by Open, before any call. It
// finishes the recordings a crash cut short (local files under Dir, with
// either shelf) and sweeps what a crash left half-done on the shelf.
func (s *Service) recoverAll() error {
	names := map[string]bool{}
	entries, err := s.files().readDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("voicemail: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() && validBoxName(e.Name()) {
			names[e.Name()] = true
		}
	}
	kept, err := s.shelf.boxes()
	if err != nil {
		return err
	}
	for _, n := range kept {
		names[n] = true
	}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		if err := s.recoverBox(n); err != nil {
			return err
		}
	}
	return nil
}

// recoverBox turns leftover recordings into messages and removes what a
// crash left half-done: temporary files and partial greetings (local),
// metadata whose audio is gone (on the shelf; a recording's, local).
func (s *Service) recoverBox(name string) error {
	dir := filepath.Join(s.cfg.Dir, name)
	entries, err := s.files().readDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("voicemail: %w", err)
	}
	_, local := s.shelf.(dirShelf)
	have := map[string]bool{}
	var names []string
	for _, e := range entries {
		have[e.Name()] = true
		names = append(names, e.Name())
	}
	if !local {
		kept, err := s.shelf.names(name)
		if err != nil {
			return err
		}
		for _, n := range kept {
			have[n] = true
		}
		names = append(names, kept...)
	}
	for _, n := range names {
		if atomicfile.IsTemp(n) || strings.HasPrefix(n, tmpPrefix) || strings.HasPrefix(n, recGreeting) {
			s.files().remove(filepath.Join(dir, n))
			continue
		}
		kind, id, ext, ok := parseFile(n)
		switch {
		case !ok:
		case kind == "rec" && ext == "wav" && !local && have[msgName(id)+".wav"] && s.storedAlready(name, dir, id):
			// Stored already: a kill came before the local files were
			// removed (keptShelf.take, release). The message is as its
			// caller was told.
			s.files().remove(filepath.Join(dir, n))
			s.files().remove(filepath.Join(dir, recName(id)+".json"))
		case kind == "rec" && ext == "wav":
			if err := s.recoverRecording(name, dir, id); err != nil {
				s.log.Error("voicemail: recovering a recording", "box", name, "file", n, "error", err)
			}
		case !local && kind == "msg" && ext == "json" && have[msgName(id)+".wav"]:
			// A message whose metadata says it is not simply there (as
			// the index has it: the store is asked only then): its
			// deposit or deletion was cut short (or is under way on
			// another node).
			if data, err := s.shelf.read(name, n); err != nil {
				break
			} else if m, err := parseMeta(data); err != nil || m.State == "" {
				break
			}
			if err := s.settle(name, id); err != nil {
				s.log.Error("voicemail: finishing a message's deposit or deletion", "box", name, "file", n, "error", err)
			}
		case !local && kind == "msg" && ext == "wav" && !have[msgName(id)+".json"] && sharedShelf(s.shelf):
			// Audio without metadata (an old crash's leftover, an
			// import): listed on a shared shelf only once it has
			// metadata (load).
			if err := s.giveMeta(name, id); err != nil {
				s.log.Error("voicemail: giving a message of audio alone its metadata", "box", name, "file", n, "error", err)
			}
		case ext == "json" && !have[strings.TrimSuffix(n, "json")+"wav"] && !have[recName(id)+".wav"]:
			// Metadata whose audio is gone (deleted, or never committed).
			// On a shared store it may also be another node's deposit
			// between its metadata and its audio: sweep leaves it while
			// it is recent.
			if kind == "rec" {
				s.files().remove(filepath.Join(dir, n))
			} else if err := s.shelf.sweep(name, n); err != nil {
				s.log.Error("voicemail: removing the metadata of a message without audio", "box", name, "file", n, "error", err)
			}
		}
	}
	if len(entries) > 0 {
		syncDir(s.files(), dir)
	}
	s.shelf.sync(name)
	return nil
}

// storedAlready reports whether message id on the shelf is the local
// recording id of box name: its metadata is the recording's, or either
// cannot be read (as a single node always found it). On a shelf other
// nodes write, another node's message may have taken the number while
// this node was down mid-recording: that recording is recovered under
// another number, not removed.
func (s *Service) storedAlready(name, dir string, id int) bool {
	local, err := readMetaFile(s.files(), filepath.Join(dir, recName(id)+".json"))
	if err != nil {
		return true
	}
	stored, err := (&box{name: name, sh: s.shelf}).readMeta(id)
	return err != nil || sameDeposit(stored, local)
}

func recName(id int) string { return fmt.Sprintf("%s%06d", recPrefix, id) }

// settle finishes message id of box name, its audio stored, whose
// metadata is pending or deleting (Message.State; a shelf other nodes
// write, or did). Pending: the audio is in, which is the commit; a crash
// (or a failed write) came before the metadata said so, and it is said
// now (on a shared store perhaps while the depositing node says it too:
// either way once). Deleting: the deletion goes on, audio first, once
// the mark is old enough that its node is done or dead (keptShelf.sweep's
// rule); the message stays listed nowhere meanwhile.
func (s *Service) settle(name string, id int) error {
	b := &box{name: name, sh: s.shelf}
	data, err := b.sh.latest(name, msgName(id)+".json")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	m, err := parseMeta(data)
	if err != nil {
		return nil // audio with unusable metadata: listed by its audio
	}
	m.ID, m.Box = id, name
	switch m.State {
	case statePending:
		// The index's audio may be a replica's that lags (the audio of
		// the message the number had before): the store's leader says.
		if _, err := b.wav(id); errors.Is(err, fs.ErrNotExist) {
			return nil // its deposit is under way, or the sweep's
		} else if err != nil {
			return err
		}
		return b.complete(m)
	case stateDeleting:
		if k, ok := s.shelf.(*keptShelf); ok {
			return k.finishDeleting(name, id)
		}
	}
	return nil
}

// giveMeta gives message id of box name, audio without metadata on a
// shared shelf, the metadata its audio says (as load made of it: new, no
// caller), as a deposit does: created pending, then completed once its
// audio is known to be there still (the store's leader says), so that a
// deletion meanwhile (its audio removed, then its metadata, none yet)
// does not leave metadata listing a message without audio: pending, it
// is listed nowhere, and swept. Another node's start giving it metadata
// at once makes it once (the shelf's create).
func (s *Service) giveMeta(name string, id int) error {
	b := &box{name: name, sh: s.shelf}
	data, err := b.wav(id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	m := &Message{ID: id, Box: name, Folder: FolderNew, State: statePending}
	if w, err := audio.ReadWAV(data); err == nil {
		m.DurationMS = int64(len(w.Samples)) * 1000 / audio.Rate
		m.Codec = codecName(w.Format)
	}
	created, err := b.sh.create(name, msgName(id)+".json", marshalMeta(m))
	if err != nil || !created {
		return err
	}
	if _, err := b.wav(id); errors.Is(err, fs.ErrNotExist) {
		return nil // deleted meanwhile: the pending metadata is swept
	} else if err != nil {
		return err
	}
	return b.complete(m)
}

// recoverRecording keeps what was synced of an interrupted recording
// (dir/.rec-N.wav): its metadata, then a fresh file of exactly that audio,
// go on the shelf as message N, and the recording goes.
//
// Number N was this node's when the recording started; on a shelf other
// nodes write, another node's message may hold it since (the crash came
// before this one's metadata claimed it): then the recording is stored
// under the box's next free number (recording.claim), as a deposit is.
func (s *Service) recoverRecording(boxName, dir string, id int) error {
	rec := filepath.Join(dir, recName(id)+".wav")
	recMeta := filepath.Join(dir, recName(id)+".json")
	b := &box{name: boxName, dir: dir, sh: s.shelf, fs: s.fs}
	data, err := s.files().readFile(rec)
	if err != nil {
		return err
	}
	w, err := audio.ReadWAV(data)
	if err != nil || w.Format == audio.FormatPCM || int64(len(w.Raw)) < s.minSamples() {
		// Nothing usable was synced: it was never a message.
		s.files().remove(rec)
		s.files().remove(recMeta)
		return nil
	}
	local, lerr := readMetaFile(s.files(), recMeta)
	m, err := b.readMeta(id)
	// The shelf's metadata N is this recording's when a crash came
	// between its metadata and its audio: then it is written again.
	mine := err == nil && (lerr != nil || sameDeposit(m, local))
	if !mine {
		if m = local; lerr != nil {
			m = &Message{}
		}
	}
	m.ID, m.Box, m.Folder, m.Recovered = id, boxName, FolderNew, true
	m.DurationMS = int64(len(w.Raw)) * 1000 / audio.Rate
	m.Codec = codecName(w.Format)
	m.State = ""
	if sharedShelf(b.sh) {
		m.State = statePending // as a deposit: listed once its audio is in
	}
	if mine {
		err = b.sh.write(boxName, msgName(id)+".json", marshalMeta(m))
	} else {
		b.mu.Lock()
		if err = b.load(); err == nil {
			r := &recording{b: b, id: id, path: rec}
			err = r.claim(m)
			id, rec, recMeta = r.id, r.path, filepath.Join(dir, recName(r.id)+".json")
		}
		b.mu.Unlock()
	}
	if err != nil {
		return err
	}
	// A fresh file of exactly the synced audio: anything written after the
	// last sync is not trusted.
	wav, err := encodeWAV(w.Format, w.Raw)
	if err != nil {
		return err
	}
	if err := b.sh.write(boxName, msgName(id)+".wav", wav); err != nil {
		return err
	}
	if m.State == statePending {
		if err := b.complete(m); err != nil {
			return err
		}
	}
	s.files().remove(rec)
	s.files().remove(recMeta)
	syncDir(s.files(), dir)
	s.publish(events.Event{Kind: events.VoicemailRecovered, Account: m.From.Account, Call: m.Call,
		Cause: fmt.Sprintf("%s, %s", m.Name(), m.Duration())}, boxName)
	s.recovered = append(s.recovered, msgRef{boxName, id})
	return nil
}

// byAudio reports whether m is known by its audio alone (load's, its
// metadata not read: none, unusable, or not yet heard of from the node
// that wrote it): it has no deposit to compare.
func byAudio(m *Message) bool { return m.Time.IsZero() && m.Call == "" && m.From == (From{}) }

// sameDeposit reports whether two metadata are of one deposit: the
// recording's own (.rec-N.json) and what the shelf holds as message N,
// which on a shelf other nodes write may be another's.
func sameDeposit(a, b *Message) bool {
	return a.Call == b.Call && a.Time.Equal(b.Time) && a.From == b.From
}

func readMetaFile(f files, path string) (*Message, error) {
	data, err := f.readFile(path)
	if err != nil {
		return nil, err
	}
	return parseMeta(data)
}

// encodeWAV writes G.711 bytes as a WAV file.
func encodeWAV(f audio.Format, raw []byte) ([]byte, error) {
	var buf seekBuffer
	w, err := audio.NewWAVWriter(&buf, f)
	if err == nil {
		err = w.WriteEncoded(raw)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	return buf.b, nil
}

func (s *Service) minSamples() int64 {
	return int64(s.cfg.MinMessage * audio.Rate / time.Second)
}

// Messages lists a box's messages in listening order (new, then saved;
// oldest first in each).
func (s *Service) Messages(boxName string) ([]Message, error) {
	b, err := s.box(boxName)
	if err != nil {
		return nil, err
	}
	return b.list(), nil
}

// Summary counts a box's messages.
func (s *Service) Summary(boxName string) (Summary, error) {
	b, err := s.box(boxName)
	if err != nil {
		return Summary{}, err
	}
	return b.summary(), nil
}
