package voicemail

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"switchboard/runtime/audio"
	"switchboard/runtime/clock"
	"switchboard/runtime/line"
)

// recording is audio being written into a box: a message or a greeting.
// Its length is counted in received audio: RTP timestamps, with gaps of
// up to a second (lost or dropped packets) filled with silence.
type recording struct {
	b        *box
	id       int // message number; 0 for a greeting
	path     string
	f        file
	w        *audio.WAVWriter
	codec    audio.Codec
	meta     Message
	max      int64 // samples
	every    int64 // samples between syncs
	lastSync int64
	n        int64 // samples written
	full     bool
	// afterMeta, when set (by tests), runs between a message's metadata
	// and its audio going on the shelf.
	afterMeta func()
	// incomplete, when set (a message's: startMessage), is handed a
	// message stored with its audio whose metadata finishMessage could
	// not complete (Service.completeLater).
	incomplete func(m Message)

	started bool
	nextTS  uint32
	buf     []byte
	// pending is audio not yet written: it goes to the file at each sync,
	// a write a second rather than one per 20 ms frame. A crash loses
	// what was not synced either way.
	pending []byte
}

// startMessage opens the recording of a new message in b. Its metadata
// is on disk first, so a crash leaves enough to recover it.
func (s *Service) startMessage(b *box, codec audio.Codec, meta Message) (*recording, error) {
	if s.onOpen != nil {
		s.onOpen()
	}
	if err := b.mkdir(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	id := b.next
	b.next++
	b.mu.Unlock()
	meta.ID, meta.Box, meta.Folder, meta.Codec = id, b.name, FolderNew, codec.String()
	if err := writeFileAtomic(b.files(), b.dir, recName(id)+".json", marshalMeta(&meta)); err != nil {
		return nil, err
	}
	path := filepath.Join(b.dir, recName(id)+".wav")
	f, err := b.files().create(path, recordingMode)
	if err != nil {
		b.files().remove(filepath.Join(b.dir, recName(id)+".json"))
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	r, err := s.newRecording(b, f, codec, s.cfg.MaxMessage)
	if err != nil {
		b.files().remove(filepath.Join(b.dir, recName(id)+".json"))
		return nil, err
	}
	r.id, r.meta = id, meta
	r.incomplete = func(m Message) { s.completeLater(b, m, 0) }
	return r, nil
}

// startGreeting opens the recording of b's greeting.
func (s *Service) startGreeting(b *box, codec audio.Codec) (*recording, error) {
	if err := b.mkdir(); err != nil {
		return nil, err
	}
	f, err := b.files().createTemp(b.dir, recGreeting+"-*.wav")
	if err != nil {
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	return s.newRecording(b, f, codec, s.cfg.MaxGreeting)
}

func (s *Service) newRecording(b *box, f file, codec audio.Codec, limit time.Duration) (*recording, error) {
	w, err := audio.NewWAVWriter(f, audio.FormatOf(codec))
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		f.Close()
		b.files().remove(f.Name())
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	syncDir(b.files(), b.dir)
	return &recording{
		b: b, path: f.Name(), f: f, w: w, codec: codec,
		max:   int64(limit * audio.Rate / time.Second),
		every: max(1, int64(s.cfg.SyncEvery*audio.Rate/time.Second)),
	}, nil
}

// add appends one received frame. It reports true once the recording has
// reached its maximum length (the frame cut to fit).
func (r *recording) add(fr line.Frame) (bool, error) {
	if r.full {
		return true, nil
	}
	n := len(fr.Samples)
	if n == 0 {
		return false, nil
	}
	if r.started {
		switch gap := int32(fr.Timestamp - r.nextTS); {
		case gap < 0 && gap > -audio.Rate:
			return false, nil // late or repeated: its time is written already
		case gap > 0 && gap <= audio.Rate:
			if err := r.silence(int(gap)); err != nil || r.full {
				return r.full, err
			}
		}
		// A larger jump either way is a new stream (or a sender that
		// restarted its clock): carry on from here.
	}
	r.started = true
	r.nextTS = fr.Timestamp + uint32(n)
	r.buf = r.codec.Encode(r.buf[:0], fr.Samples)
	return r.full, r.write(r.buf)
}

func (r *recording) silence(n int) error {
	r.buf = r.buf[:0]
	sil := r.codec.Silence()
	for range n {
		r.buf = append(r.buf, sil)
	}
	return r.write(r.buf)
}

// write appends encoded bytes, up to the maximum length, syncing every
// r.every samples.
func (r *recording) write(b []byte) error {
	if room := r.max - r.n; int64(len(b)) >= room {
		b = b[:room]
		r.full = true
	}
	r.pending = append(r.pending, b...)
	r.n += int64(len(b))
	if r.n-r.lastSync >= r.every {
		return r.sync()
	}
	return nil
}

// sync makes everything written so far survive a crash: the WAV header
// rewritten to cover it, then fsync.
func (r *recording) sync() error {
	if err := r.flush(); err != nil {
		return err
	}
	if err := r.w.Sync(); err != nil {
		return fmt.Errorf("voicemail: recording: %w", err)
	}
	if err := r.f.Sync(); err != nil {
		return fmt.Errorf("voicemail: recording: %w", err)
	}
	r.lastSync = r.n
	return nil
}

// flush writes the pending audio.
func (r *recording) flush() error {
	if len(r.pending) == 0 {
		return nil
	}
	if err := r.w.WriteEncoded(r.pending); err != nil {
		return fmt.Errorf("voicemail: recording: %w", err)
	}
	r.pending = r.pending[:0]
	return nil
}

// close finishes the file and closes it.
func (r *recording) close() error {
	err := r.flush()
	if err == nil {
		err = r.w.Close()
	}
	if err == nil {
		err = r.f.Sync()
	}
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (r *recording) duration() time.Duration {
	return time.Duration(r.n) * time.Second / audio.Rate
}

// abort throws the recording away.
func (r *recording) abort() {
	r.f.Close()
	r.b.files().remove(r.path)
	if r.id != 0 {
		r.b.files().remove(filepath.Join(r.b.dir, recName(r.id)+".json"))
	}
}

// finishMessage commits a message: its metadata on the shelf, then its
// audio (the commit: a message exists when its audio does). It returns
// nil, having removed the recording, when it is shorter than min samples.
//
// What a kill -9 leaves at each step, and what Open makes of it:
//   - while recording: .rec-N.wav, synced every Config.SyncEvery, and
//     .rec-N.json (local): recovered as message N, cut at the last sync;
//   - after close: the same, the whole recording synced;
//   - after the metadata: msg-N.json on the shelf too (on a shared
//     shelf marked pending: listed nowhere): recovered the same way, with
//     that metadata;
//   - after take (the commit; only then is the caller told "saved"): the
//     message is on the shelf. With a store, the local .rec-N.wav and
//     .rec-N.json stay a while (keptShelf.release, against a power cut),
//     and recovery removes them without storing the message twice. On a
//     shared shelf the metadata is then completed (no longer pending):
//     recovery completes metadata that is pending with its audio stored.
func (r *recording) finishMessage(min int64) (*Message, error) {
	if err := r.close(); err != nil {
		// What was synced stays as .rec-N, for the next Open to recover.
		return nil, fmt.Errorf("voicemail: recording: %w", err)
	}
	if r.n < max(min, 1) {
		r.abort()
		return nil, nil
	}
	m := r.meta
	m.DurationMS = r.n * 1000 / audio.Rate
	b := r.b
	b.mu.Lock()
	defer b.mu.Unlock()
	shared := sharedShelf(b.sh)
	if shared {
		m.State = statePending // listed nowhere until its audio is in
	}
	if err := r.claim(&m); err != nil {
		// The recording stays as .rec-N: the next Open recovers it.
		return nil, err
	}
	if r.afterMeta != nil {
		r.afterMeta()
	}
	// The audio was synced by close; taking it onto the shelf is the
	// commit.
	if err := b.sh.take(b.name, msgName(r.id)+".wav", r.path); err != nil {
		return nil, err
	}
	if shared {
		// Now listed on every node. A failure here leaves the message
		// stored but pending: the caller is not told it was saved, and
		// it is completed later (completeLater), or by the next Open of
		// any node (recoverBox).
		if err := b.complete(&m); err != nil {
			if r.incomplete != nil && !errors.Is(err, errMetaGone) {
				r.incomplete(m)
			}
			return nil, err
		}
		m.State = ""
	}
	b.sh.release(filepath.Join(b.dir, recName(r.id)+".json"))
	syncDir(b.files(), b.dir)
	stored := m
	b.msgs[m.ID] = &stored
	return &m, nil
}

// finishGreeting puts a greeting in place. It reports false, having
// removed the recording, when it is shorter than min samples. A kill
// before take leaves a partial greeting (local), which Open removes: the
// old greeting stays.
func (r *recording) finishGreeting(min int64) (bool, error) {
	if err := r.close(); err != nil {
		r.abort()
		return false, fmt.Errorf("voicemail: recording: %w", err)
	}
	if r.n < max(min, 1) {
		r.abort()
		return false, nil
	}
	if err := r.b.sh.take(r.b.name, greetingFile, r.path); err != nil {
		r.abort()
		return false, err
	}
	return true, nil
}

// completeRetries are the waits before each new try to complete the
// metadata of a deposit whose completing write failed (finishMessage):
// its audio is stored, and until its metadata is completed it is listed
// nowhere (the regression left it so until some node started, whose
// recovery completed it). After the last, tried again at the last's
// interval until it is done or the service closes.
var completeRetries = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, time.Minute}

// completeLater tries again to complete message m of b, stored with its
// audio, after its attempt-th failure (0: finishMessage's), on the
// service's clock; once done, the message is listed, its watchers told
// and its owner mailed, as a recovered one is.
func (s *Service) completeLater(b *box, m Message, attempt int) {
	ref := msgRef{box: b.name, id: m.ID}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if s.completions == nil {
		s.completions = map[msgRef]clock.Timer{}
	}
	s.completions[ref] = s.clk.AfterFunc(completeRetries[min(attempt, len(completeRetries)-1)], func() {
		s.mu.Lock()
		_, due := s.completions[ref]
		delete(s.completions, ref)
		s.mu.Unlock()
		if !due {
			return
		}
		b.mu.Lock()
		err := b.complete(&m)
		if err == nil {
			m.State = ""
			stored := m
			b.msgs[m.ID] = &stored
			b.sh.release(filepath.Join(b.dir, recName(m.ID)+".json"))
		}
		b.mu.Unlock()
		switch {
		case err == nil:
			s.log.Info("voicemail: a stored message's metadata completed on a later try", "box", b.name, "message", m.Name(), "tries", attempt+2)
			s.changed(b.name)
			s.notify(b.name, m.ID)
		case errors.Is(err, errMetaGone):
			s.log.Warn("voicemail: a stored message's metadata is gone; not completed", "box", b.name, "message", m.Name())
		default:
			s.log.Warn("voicemail: completing a stored message's metadata", "box", b.name, "message", m.Name(), "err", err)
			s.completeLater(b, m, attempt+1)
		}
	})
}
