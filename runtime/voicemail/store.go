package voicemail

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
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

// box is one mailbox's directory and what is known of it.
type box struct {
	name, dir string

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
		b = &box{name: name, dir: filepath.Join(s.cfg.Dir, name)}
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

// load reads the box directory once. b.mu is held.
func (b *box) load() error {
	if b.loaded {
		return nil
	}
	entries, err := os.ReadDir(b.dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("voicemail: %w", err)
	}
	b.msgs = map[int]*Message{}
	b.next = 1
	for _, e := range entries {
		kind, id, ext, ok := parseFile(e.Name())
		if !ok {
			continue
		}
		b.next = max(b.next, id+1)
		if kind != "msg" || ext != "wav" || e.Name() != msgName(id)+".wav" {
			continue
		}
		m, err := readMeta(filepath.Join(b.dir, msgName(id)+".json"))
		if err != nil {
			// Audio without usable metadata: what the audio says.
			m = &Message{Folder: FolderNew}
			if data, err := os.ReadFile(filepath.Join(b.dir, e.Name())); err == nil {
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

func readMeta(path string) (*Message, error) {
	data, err := os.ReadFile(path)
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
// false when the message is gone (deleted by another session).
func (b *box) update(id int, f func(m *Message)) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m, ok := b.msgs[id]
	if !ok {
		return false, nil
	}
	next := *m
	f(&next)
	if next == *m {
		return true, nil
	}
	if err := writeFileAtomic(b.dir, msgName(id)+".json", marshalMeta(&next)); err != nil {
		return true, err
	}
	*m = next
	return true, nil
}

// remove deletes a message: its audio first (the commit), then its
// metadata. It reports false when it was gone already.
func (b *box) remove(id int) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.msgs[id]; !ok {
		return false, nil
	}
	if err := os.Remove(filepath.Join(b.dir, msgName(id)+".wav")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return true, fmt.Errorf("voicemail: %w", err)
	}
	delete(b.msgs, id)
	os.Remove(filepath.Join(b.dir, msgName(id)+".json"))
	syncDir(b.dir)
	return true, nil
}

// wav returns a message's file.
func (b *box) wav(id int) ([]byte, error) {
	return os.ReadFile(filepath.Join(b.dir, msgName(id)+".wav"))
}

// greeting returns the recorded greeting, or nil.
func (b *box) greeting() []int16 {
	data, err := os.ReadFile(filepath.Join(b.dir, greetingFile))
	if err != nil {
		return nil
	}
	w, err := audio.ReadWAV(data)
	if err != nil || len(w.Samples) == 0 {
		return nil
	}
	return w.Samples
}

// mkdir creates the box's directory: when something is first written.
func (b *box) mkdir() error {
	if err := os.MkdirAll(b.dir, 0o750); err != nil {
		return fmt.Errorf("voicemail: %w", err)
	}
	return nil
}

// writeFileAtomic replaces dir/name with data through atomicfile. The
// mode is the owner's alone: metadata names callers, and the PIN file holds
// a PIN's hash.
func writeFileAtomic(dir, name string, data []byte) error {
	if err := atomicfile.Write(filepath.Join(dir, name), data, 0o600); err != nil {
		return fmt.Errorf("voicemail: %w", err)
	}
	return nil
}

// syncDir makes removals in dir durable. Best effort: the files are
// consistent without it, and a removal that did not reach the disk is
// redone by the next recovery.
func syncDir(dir string) {
	atomicfile.SyncDir(dir)
}

// recoverAll repairs every box directory under Dir: run by Open, before
// any call.
func (s *Service) recoverAll() error {
	entries, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("voicemail: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || !validBoxName(e.Name()) {
			continue
		}
		if err := s.recoverBox(e.Name()); err != nil {
			return err
		}
	}
	return nil
}

// recoverBox turns leftover recordings into messages and removes what a
// crash left half-done.
func (s *Service) recoverBox(name string) error {
	dir := filepath.Join(s.cfg.Dir, name)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("voicemail: %w", err)
	}
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Name()] = true
	}
	for _, e := range entries {
		n := e.Name()
		if atomicfile.IsTemp(n) || strings.HasPrefix(n, tmpPrefix) || strings.HasPrefix(n, recGreeting) {
			os.Remove(filepath.Join(dir, n))
			continue
		}
		kind, id, ext, ok := parseFile(n)
		switch {
		case !ok:
		case kind == "rec" && ext == "wav":
			if err := s.recoverRecording(name, dir, id); err != nil {
				s.log.Error("voicemail: recovering a recording", "box", name, "file", n, "error", err)
			}
		case ext == "json" && !have[strings.TrimSuffix(n, "json")+"wav"] && !have[recName(id)+".wav"]:
			// Metadata whose audio is gone (deleted, or never committed).
			os.Remove(filepath.Join(dir, n))
		}
	}
	syncDir(dir)
	return nil
}

func recName(id int) string { return fmt.Sprintf("%s%06d", recPrefix, id) }

// recoverRecording keeps what was synced of an interrupted recording.
func (s *Service) recoverRecording(boxName, dir string, id int) error {
	rec := filepath.Join(dir, recName(id)+".wav")
	recMeta := filepath.Join(dir, recName(id)+".json")
	data, err := os.ReadFile(rec)
	if err != nil {
		return err
	}
	w, err := audio.ReadWAV(data)
	if err != nil || w.Format == audio.FormatPCM || int64(len(w.Raw)) < s.minSamples() {
		// Nothing usable was synced: it was never a message.
		os.Remove(rec)
		os.Remove(recMeta)
		return nil
	}
	m, err := readMeta(filepath.Join(dir, msgName(id)+".json"))
	if err != nil {
		if m, err = readMeta(recMeta); err != nil {
			m = &Message{}
		}
	}
	m.ID, m.Box, m.Folder, m.Recovered = id, boxName, FolderNew, true
	m.DurationMS = int64(len(w.Raw)) * 1000 / audio.Rate
	m.Codec = codecName(w.Format)
	if err := writeFileAtomic(dir, msgName(id)+".json", marshalMeta(m)); err != nil {
		return err
	}
	// A fresh file of exactly the synced audio: anything written after the
	// last sync is not trusted.
	if err := writeWAVAtomic(dir, msgName(id)+".wav", w.Format, w.Raw); err != nil {
		return err
	}
	os.Remove(rec)
	os.Remove(recMeta)
	syncDir(dir)
	s.publish(events.Event{Kind: events.VoicemailRecovered, Account: m.From.Account, Call: m.Call,
		Cause: fmt.Sprintf("%s, %s", m.Name(), m.Duration())}, boxName)
	s.recovered = append(s.recovered, msgRef{boxName, id})
	return nil
}

// writeWAVAtomic writes G.711 bytes as a WAV file in place of dir/name,
// with the mode of a recorded message.
func writeWAVAtomic(dir, name string, f audio.Format, raw []byte) error {
	return atomicfile.WriteFrom(filepath.Join(dir, name), recordingMode, func(out *os.File) error {
		w, err := audio.NewWAVWriter(out, f)
		if err == nil {
			err = w.WriteEncoded(raw)
		}
		if err == nil {
			err = w.Close()
		}
		return err
	})
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
