package voicemail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
)

// Several nodes of a cluster serve one site's voicemail from one store:
// a message left through one node is listed, played and deleted through
// any. Each node's keptShelf indexes what the store holds (openKept); with
// Store.Shared it also follows the other nodes' writes (follow), and the
// service reloads a box another node changed and tells its watchers, as
// it does for a change of its own: the message-waiting NOTIFY of the
// devices registered on this node.
//
// Nothing the watches announce is read back from a replica that may lag
// it: a key's value comes with its watch (the index keeps it: the
// metadata, and so the message-waiting counts, are the announced ones),
// and an audio object, too large to come with its watch, is read (played,
// or measured while its metadata has not come yet) through the store's
// stream leader (store.Objects.Get in a cluster), which holds every put
// acknowledged.

// watchedKeys is a Keys that follows its bucket, telling each change's
// revision (store.KV is one).
type watchedKeys interface {
	WatchRevisions(ctx context.Context, fn func(key string, value []byte, rev uint64, deleted, mine bool)) (stop func(), err error)
}

// watchedObjects is an Objects that follows its store (store.Objects is
// one).
type watchedObjects interface {
	Watch(ctx context.Context, fn func(name string, deleted, mine bool)) (stop func(), err error)
}

// follow applies the writes and deletions of other nodes to k's index, and
// calls changed with the box of each that changed it, from the watches'
// goroutines, k.mu not held. What the index already says changes nothing
// and is not told; nor does a key's change no newer than the revision
// the index holds (keptShelf.revs): the watch hands another node's
// change made before this node's own write after that write.
func (k *keptShelf) follow(changed func(box string)) (stop func(), err error) {
	wk, ok := k.keys.(watchedKeys)
	wo, ok2 := k.objs.(watchedObjects)
	if !ok || !ok2 {
		return nil, errors.New("voicemail: a shared store needs keys and objects that can be watched")
	}
	ctx := context.Background()
	stopKeys, err := wk.WatchRevisions(ctx, func(key string, value []byte, rev uint64, deleted, mine bool) {
		box, name, ok := splitKept(key)
		if !ok || isAudio(name) {
			return
		}
		if mine {
			k.handedBack(key, rev, deleted)
			return
		}
		if k.applyKey(box, name, value, rev, deleted) {
			if counted(name) {
				k.saveInventory()
			}
			changed(box)
		}
	})
	if err != nil {
		return nil, err
	}
	stopObjs, err := wo.Watch(ctx, func(key string, deleted, mine bool) {
		box, name, ok := splitKept(key)
		if mine || !ok || !isAudio(name) {
			return
		}
		if k.apply(box, name, nil, deleted) {
			if counted(name) {
				k.saveInventory()
			}
			changed(box)
		}
	})
	if err != nil {
		stopKeys()
		return nil, err
	}
	return func() { stopObjs(); stopKeys() }, nil
}

// applyKey is apply for a key's change at revision rev: nothing when
// the index holds the key at rev or later (revs).
func (k *keptShelf) applyKey(box, name string, value []byte, rev uint64, deleted bool) bool {
	key := keptName(box, name)
	k.mu.Lock()
	defer k.mu.Unlock()
	if rev <= k.revs[key] {
		return false
	}
	if deleted {
		// No change older than this one comes after it: a removal's
		// revision need not be kept.
		delete(k.revs, key)
	} else {
		k.revs[key] = rev
	}
	return k.applyLocked(box, name, value, deleted)
}

// handedBack notes this node's own change of key at revision rev, handed
// back by the watch: the index has it already (this node's writes go
// into it as they are made), but once its own removal is handed back,
// no change older than it can come, and the revision the index kept of
// the key it removed is dropped (revs).
func (k *keptShelf) handedBack(key string, rev uint64, deleted bool) {
	box, name, _ := splitKept(key)
	k.mu.Lock()
	defer k.mu.Unlock()
	if deleted && !k.files[box][name] && k.revs[key] <= rev {
		delete(k.revs, key)
	}
}

// apply records box/name (with value, for a key) or its deletion, and
// reports whether the index changed.
func (k *keptShelf) apply(box, name string, value []byte, deleted bool) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.applyLocked(box, name, value, deleted)
}

// applyLocked is apply with k.mu held.
func (k *keptShelf) applyLocked(box, name string, value []byte, deleted bool) bool {
	key := keptName(box, name)
	had := k.files[box][name]
	if deleted {
		if !had {
			return false
		}
		delete(k.files[box], name)
		if len(k.files[box]) == 0 {
			delete(k.files, box)
		}
		delete(k.vals, key)
		return true
	}
	if isAudio(name) {
		if had {
			return false
		}
		k.index(box, name)
		return true
	}
	if old, ok := k.vals[key]; had && ok && bytes.Equal(old, value) {
		return false
	}
	k.index(box, name)
	k.vals[key] = bytes.Clone(value)
	return true
}

// foreign reloads a box another node changed, if this service has read
// it, and tells the watchers.
func (s *Service) foreign(name string) {
	if !validBoxName(name) {
		return // an archive: nothing of it is served
	}
	s.mu.Lock()
	b := s.boxes[name]
	s.mu.Unlock()
	if b != nil {
		b.mu.Lock()
		next := b.next
		b.loaded = false
		err := b.load()
		// A number this node gave a recording in progress stays given.
		b.next = max(b.next, next)
		b.mu.Unlock()
		if err != nil {
			s.log.Warn("voicemail: a box another node changed could not be read again", "box", name, "err", err)
		}
	}
	s.changed(name)
}

// claim writes m, the recording r's metadata, onto the shelf as the
// claim of its number, which no other message has: a number is given
// when a recording starts, and another node's message may have taken it
// since, known here (through follow) or not yet (finished on the other
// node within the moment its write takes to reach this one). The shelf's
// create decides (one node's wins, and none overwrites another's); a
// recording whose number is taken gets the box's next, its local files
// renamed so that recovery finds them under the number they are stored
// as. r.b.mu is held.
func (r *recording) claim(m *Message) error {
	b := r.b
	for range maxClaims {
		if _, taken := b.msgs[r.id]; !taken {
			m.ID = r.id
			created, err := b.sh.create(b.name, msgName(r.id)+".json", marshalMeta(m))
			if err != nil {
				return err
			}
			if created {
				return nil
			}
		}
		id := max(b.next, r.id+1)
		b.next = id + 1
		if err := renameRecording(b.files(), b.dir, r.id, id); err != nil {
			return err
		}
		r.path = filepath.Join(b.dir, recName(id)+".wav")
		r.id, r.meta.ID = id, id
	}
	return fmt.Errorf("voicemail: box %s: no free message number after %d tries", b.name, maxClaims)
}

// maxClaims bounds the numbers a message tries: each taken one is a
// message (or the metadata of one under way) of another node, and a box
// holds at most Config.MaxMessages.
const maxClaims = 1000

// renameRecording renames the local files of recording from (under dir)
// to number to.
func renameRecording(f files, dir string, from, to int) error {
	for _, ext := range []string{".json", ".wav"} {
		err := f.rename(filepath.Join(dir, recName(from)+ext), filepath.Join(dir, recName(to)+ext))
		if err != nil && !(ext == ".json" && errors.Is(err, fs.ErrNotExist)) {
			return fmt.Errorf("voicemail: %w", err)
		}
	}
	return nil
}
