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
}

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
	for _, n := range names {
		kind, id, ext, ok := parseFile(n)
		if !ok {
			continue
		}
		b.next = max(b.next, id+1)
		if kind != "msg" || ext != "wav" || n != msgName(id)+".wav" {
			continue
		}
		var m *Message
		data, err := b.sh.read(b.name, msgName(id)+".json")
		if err == nil {
			m, err = parseMeta(data)
		}
		if err != nil {
			// Audio without usable metadata: what the audio says.
			m = &Message{Folder: FolderNew}
			if data, err := b.sh.read(b.name, n); err == nil {
				if w, err := audio.ReadWAV(data); err == nil {
					m.DurationMS = int64(len(w.Samples)) * 1000 / audio.Rate
					m.Codec = codecName(w.Format)
				}
			}
		}
		m.ID, m.Box = id, b.name
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
		if ok && !byAudio(m) && !sameDeposit(&cur, m) {
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
// metadata. It reports false when it was gone already.
func (b *box) remove(id int) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m, ok := b.msgs[id]
	if !ok {
		return false, nil
	}
	// Not another node's message that took the number since (its audio
	// would go).
	if held, err := b.stillHeld(m); err != nil {
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

// wav returns a message's file.
func (b *box) wav(id int) ([]byte, error) {
	return b.sh.read(b.name, msgName(id)+".wav")
}

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
