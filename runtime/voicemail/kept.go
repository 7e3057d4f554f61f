package voicemail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"switchboard/atomicfile"
)

// Store is where a service keeps its boxes instead of files under
// Config.Dir: serve's embedded JetStream (package store: an object store
// and a key-value bucket per site). The zero Store keeps files.
type Store struct {
	// Objects keeps the audio: messages and greetings.
	Objects Objects
	// Keys keeps the small records: each message's metadata (its folder
	// is the message-waiting state), PINs, archive-mail records, and the
	// mark that the files of an older version were imported.
	Keys Keys
	// Shared says other nodes serve the same site from the same store
	// (a cluster): the service follows their writes (follow.go).
	Shared bool
	// Memory, instead of Objects and Keys, keeps the files under
	// Config.Dir in the process's memory (MemoryFiles): the simulator's.
	Memory *MemoryFiles
	// sweepAfter, when set (by tests), is the age a message's metadata
	// without audio must reach on a shared store before it is swept,
	// instead of the package's sweepAfter.
	sweepAfter time.Duration
}

// Objects is an object store (store.Objects is one).
type Objects interface {
	Put(ctx context.Context, name string, data []byte) error
	// Get returns the object name, ok false when there is none; an
	// object of more than limit bytes is an error, not read.
	Get(ctx context.Context, name string, limit int64) (data []byte, ok bool, err error)
	Delete(ctx context.Context, name string) error
	Names(ctx context.Context) ([]string, error)
}

// Keys is a key-value bucket (store.KV is one).
type Keys interface {
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	Delete(ctx context.Context, key string) error
	All(ctx context.Context) (map[string][]byte, error)
}

// creatorKeys is a Keys that can create a key only when it has no value,
// one node of a cluster winning (store.KV is one).
type creatorKeys interface {
	Create(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
}

// keptShelf keeps the box files in a Store: each file is named
// <box>/<name>; the audio files (.wav) are objects, the others keys.
//
// On a single node the service is the store's only writer for its site
// (serve holds the data directory's lock), so what the store holds is
// read once, at Open, into an index of names and the small values;
// afterwards the index follows the writes. A value is in the store before
// the index says so. In a cluster (Store.Shared) the index follows the
// other nodes' writes too (follow).
type keptShelf struct {
	objs   Objects
	keys   Keys
	shared bool          // Store.Shared: other nodes write too (claim)
	limit  int64         // the largest audio file written or read
	grace  time.Duration // sweep's, on a shared store: sweepAfter
	root   string        // Config.Dir: the recordings in progress

	mu    sync.Mutex
	files map[string]map[string]bool // by box, its names
	vals  map[string][]byte          // the keys' values, by key
	// revs holds, on a shared shelf, the revision of each key's value in
	// vals, or of its removal, as far as this node knows it (from its own
	// inserts and updates, and the watch): the watch hands a change of
	// another node's made before this node's own write only after it,
	// and one no newer than what the index holds changes nothing (apply).
	// A removal's is dropped once the watch has handed a removal at or
	// after it: no older change can come after that.
	revs map[string]uint64

	// invMu orders the writes of inventoryFile; saved is what it holds,
	// nil when it is not known to hold anything. counting is set once
	// the service is open (startInventory): not while an import writes
	// thousands of files, each of which would rewrite it.
	invMu    sync.Mutex
	saved    map[string]Inventory
	counting bool

	// afterCopy, when set (by tests), runs when moveBox has copied a box,
	// before it removes the copied files.
	afterCopy func()
}

func keptName(box, name string) string { return box + "/" + name }

// splitKept is keptName's inverse; ok is false for a key that names no box
// file (the import mark).
func splitKept(k string) (box, name string, ok bool) {
	i := strings.LastIndexByte(k, '/')
	if i <= 0 || i == len(k)-1 {
		return "", "", false
	}
	return k[:i], k[i+1:], true
}

func isAudio(name string) bool { return strings.HasSuffix(name, ".wav") }

func openKept(st Store, root string, limit int64) (*keptShelf, error) {
	if st.Objects == nil || st.Keys == nil {
		return nil, errors.New("voicemail: a store needs both its objects and its keys")
	}
	k := &keptShelf{objs: st.Objects, keys: st.Keys, shared: st.Shared, limit: limit, root: root, files: map[string]map[string]bool{}, vals: map[string][]byte{}, revs: map[string]uint64{}, grace: sweepAfter}
	if st.sweepAfter > 0 {
		k.grace = st.sweepAfter
	}
	ctx := context.Background()
	all, err := k.keys.All(ctx)
	if err != nil {
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	for key, v := range all {
		if box, name, ok := splitKept(key); ok && !isAudio(name) {
			k.index(box, name)
			k.vals[key] = v
		}
	}
	objs, err := k.objs.Names(ctx)
	if err != nil {
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	for _, o := range objs {
		if box, name, ok := splitKept(o); ok && isAudio(name) {
			k.index(box, name)
		}
	}
	return k, nil
}

// index records box/name. k.mu is held, or k not yet shared.
func (k *keptShelf) index(box, name string) {
	if k.files[box] == nil {
		k.files[box] = map[string]bool{}
	}
	k.files[box][name] = true
}

func (k *keptShelf) boxes() ([]string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for b, names := range k.files {
		if len(names) > 0 && validBoxName(b) {
			out = append(out, b)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (k *keptShelf) names(box string) ([]string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]string, 0, len(k.files[box]))
	for n := range k.files[box] {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

func (k *keptShelf) read(box, name string) ([]byte, error) {
	key := keptName(box, name)
	if !isAudio(name) {
		k.mu.Lock()
		v, ok := k.vals[key]
		k.mu.Unlock()
		if !ok {
			return nil, fs.ErrNotExist
		}
		return v, nil
	}
	k.mu.Lock()
	ok := k.files[box][name]
	k.mu.Unlock()
	if !ok {
		return nil, fs.ErrNotExist
	}
	return k.object(key)
}

// object reads the audio file key from the store.
func (k *keptShelf) object(key string) ([]byte, error) {
	data, ok, err := k.objs.Get(context.Background(), key, k.limit)
	if err != nil {
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	if !ok {
		return nil, fs.ErrNotExist
	}
	return data, nil
}

// latest reads a file from the store, not the index, on a shared store:
// what other nodes wrote that this one has not heard of yet is there. A
// key through revisionKeys; audio whether the index has it or not (the
// object watch may be a moment behind the metadata that lists a message,
// or still hold the audio of the message its number had before).
func (k *keptShelf) latest(box, name string) ([]byte, error) {
	if k.shared && isAudio(name) {
		return k.object(keptName(box, name))
	}
	rk, ok := k.keys.(revisionKeys)
	if !k.shared || !ok || isAudio(name) {
		return k.read(box, name)
	}
	v, _, _, ok, err := rk.Revision(context.Background(), keptName(box, name))
	if err != nil {
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	if !ok {
		return nil, fs.ErrNotExist
	}
	return v, nil
}

func (k *keptShelf) write(box, name string, data []byte) error {
	key := keptName(box, name)
	ctx := context.Background()
	if isAudio(name) {
		if int64(len(data)) > k.limit {
			return fmt.Errorf("voicemail: %s has %d bytes; the store takes at most %d", key, len(data), k.limit)
		}
		if err := k.objs.Put(ctx, key, data); err != nil {
			return fmt.Errorf("voicemail: %w", err)
		}
	} else if err := k.keys.Put(ctx, key, data, 0); err != nil {
		return fmt.Errorf("voicemail: %w", err)
	}
	k.mu.Lock()
	k.index(box, name)
	if !isAudio(name) {
		k.vals[key] = data
	}
	k.mu.Unlock()
	if counted(name) {
		k.saveInventory()
	}
	return nil
}

// take puts the recording at path into the store, then releases the
// local file. A kill in between leaves both: the store's copy is the
// message (it was acknowledged), and recovery, finding it there, removes
// the local file (recoverBox) rather than store it again.
func (k *keptShelf) take(box, name, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("voicemail: %w", err)
	}
	if fi.Size() > k.limit {
		return fmt.Errorf("voicemail: %s has %d bytes; the store takes at most %d", path, fi.Size(), k.limit)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("voicemail: %w", err)
	}
	if err := k.write(box, name, data); err != nil {
		return err
	}
	k.release(path)
	return nil
}

// keepLocal is how long a recording the store took stays a local file:
// longer than JetStream's sync interval (2 minutes by default). The
// store has an object on disk once it answers — a kill -9 loses nothing
// — but syncs its files to the device only at that interval, so a power
// cut could lose what it took last; the local file, synced as it was
// recorded, is what Open then recovers the message from. Open removes
// the local files of messages it finds in the store.
const keepLocal = 3 * time.Minute

// release removes the local file at path after keepLocal.
func (k *keptShelf) release(path string) {
	time.AfterFunc(keepLocal, func() { os.Remove(path) })
}

func (k *keptShelf) remove(box, name string) error {
	key := keptName(box, name)
	ctx := context.Background()
	var err error
	if kind, id, _, ok := parseFile(name); ok && kind == "msg" && isAudio(name) {
		// A message deleted is not recovered from the recording kept
		// (release): that goes first.
		dir := filepath.Join(k.root, filepath.FromSlash(box))
		for _, ext := range []string{".wav", ".json"} {
			if err := os.Remove(filepath.Join(dir, recName(id)+ext)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("voicemail: %w", err)
			}
		}
	}
	if isAudio(name) {
		err = k.objs.Delete(ctx, key)
	} else {
		err = k.keys.Delete(ctx, key)
	}
	if err != nil {
		return fmt.Errorf("voicemail: %w", err)
	}
	k.forget(box, name)
	if counted(name) {
		k.saveInventory()
	}
	return nil
}

// inserterKeys is a Keys that can create a key only when it has none,
// sent again through a change of bucket leader (store.KV is one).
type inserterKeys interface {
	// Insert returns the value's revision, 0 when key had one.
	Insert(ctx context.Context, key string, value []byte) (rev uint64, err error)
}

// revisionKeys is a Keys that tells a key's revision and when its value
// was stored, and writes or deletes it only as it was read (store.KV is
// one).
type revisionKeys interface {
	Revision(ctx context.Context, key string) (value []byte, rev uint64, stored time.Time, ok bool, err error)
	// Update returns the value's revision, 0 when key was not at rev.
	Update(ctx context.Context, key string, value []byte, rev uint64) (updated uint64, err error)
	DeleteRevision(ctx context.Context, key string, rev uint64) (bool, error)
}

// create writes the key box/name when it has no value. Through a shared
// store the store decides (inserterKeys: one node wins, and none
// overwrites another's); a store of one node has one writer, whose index
// answers.
func (k *keptShelf) create(box, name string, data []byte) (bool, error) {
	key := keptName(box, name)
	if isAudio(name) {
		return false, fmt.Errorf("voicemail: %s is audio, not a key", key)
	}
	ik, ok := k.keys.(inserterKeys)
	if !k.shared || !ok {
		if _, err := k.read(box, name); err == nil {
			return false, nil
		}
		return true, k.write(box, name, data)
	}
	rev, err := ik.Insert(context.Background(), key, data)
	if err != nil {
		return false, fmt.Errorf("voicemail: %w", err)
	}
	if rev == 0 {
		return false, nil
	}
	k.known(box, name, data, rev)
	return true, nil
}

// rewrite replaces the key box/name with what edit makes of its value
// (nil, ok false: none); edit returns nil to leave it. On a shared store
// (revisionKeys) edit works on the store's latest value, not the index's,
// and the write is refused when another node wrote in between (edit then
// runs again on theirs): one node's change never undoes another's made
// meanwhile, and a key another node deleted is not written again (found
// false). Edit's verdicts are made on the latest value too: one that it
// is another message's (errNumberReused) is returned only once the value
// read is known to be the latest still.
func (k *keptShelf) rewrite(box, name string, edit func(old []byte, ok bool) ([]byte, error)) (bool, error) {
	rk, ok := k.keys.(revisionKeys)
	if !k.shared || !ok || isAudio(name) {
		old, err := k.read(box, name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return true, err
		}
		data, err := edit(old, err == nil)
		if err != nil || data == nil {
			return true, err
		}
		return true, k.write(box, name, data)
	}
	key := keptName(box, name)
	ctx := context.Background()
	for range maxRewrites {
		old, rev, _, ok, err := rk.Revision(ctx, key)
		if err != nil {
			return true, fmt.Errorf("voicemail: %w", err)
		}
		data, err := edit(old, ok)
		if errors.Is(err, errNumberReused) && ok {
			// A verdict on the value read, the latest when it was read
			// (Revision asks the bucket's leader): it holds only while
			// that is the latest, which it is when it can be written
			// back as it is over its revision.
			updated, uerr := rk.Update(ctx, key, old, rev)
			if uerr != nil {
				return true, fmt.Errorf("voicemail: %w", uerr)
			}
			if updated == 0 {
				continue
			}
			k.known(box, name, old, updated)
		}
		if err != nil {
			return true, err
		}
		if data == nil {
			data = old // nothing to change; the index takes the store's
		} else {
			updated, err := rk.Update(ctx, key, data, rev)
			if err != nil {
				return true, fmt.Errorf("voicemail: %w", err)
			}
			if updated == 0 {
				if !ok {
					// The key has a deletion as its latest revision (or
					// another node created it meanwhile: read again).
					if _, _, _, now, err := rk.Revision(ctx, key); err == nil && !now {
						return false, nil
					}
				}
				continue
			}
			rev = updated
		}
		if data != nil {
			k.known(box, name, data, rev)
		}
		return true, nil
	}
	return true, fmt.Errorf("voicemail: %s changed by other nodes %d times while it was written", key, maxRewrites)
}

// known records the key box/name's value data at revision rev, read
// from the store's leader or written by this node, unless the index
// holds a later one already (the watch may have handed a later change
// meanwhile).
func (k *keptShelf) known(box, name string, data []byte, rev uint64) {
	key := keptName(box, name)
	k.mu.Lock()
	defer k.mu.Unlock()
	if rev < k.revs[key] {
		return
	}
	k.index(box, name)
	k.vals[key] = data
	k.revs[key] = rev
}

// maxRewrites bounds rewrite's tries: each is refused only when another
// node wrote the key in between.
const maxRewrites = 100

// sweepAfter is how long a message's metadata without audio stays on a
// shelf other nodes write before a node's start removes it: far longer
// than a deposit takes between its metadata and its audio (one object
// put, sent again for at most the cluster's wait while a lost node's
// leader is replaced), so that what is swept is a crash's, never a
// deposit under way on another node.
const sweepAfter = 30 * time.Minute

// sweep removes the key box/name, a crash's leftover. On a shared store
// (revisionKeys) only once it is older than k.grace, and only the
// revision read: a node writing it again meanwhile keeps it.
func (k *keptShelf) sweep(box, name string) error {
	rk, ok := k.keys.(revisionKeys)
	if !k.shared || !ok || isAudio(name) {
		return k.remove(box, name)
	}
	key := keptName(box, name)
	ctx := context.Background()
	_, rev, stored, ok, err := rk.Revision(ctx, key)
	if err != nil {
		return fmt.Errorf("voicemail: %w", err)
	}
	if !ok {
		// Gone since the index was read (the bucket's leader says so,
		// not a replica that may lag: store.KV.Revision): the watch
		// (follow) corrects the index.
		return nil
	}
	// The age is on this node's clock against the store's: the nodes'
	// clocks must agree within a good part of k.grace.
	if time.Since(stored) < k.grace {
		return nil // perhaps another node's deposit, its audio on the way
	}
	// Refused only when the key was written or removed after the
	// leader's revision read above: a write is a node using it, not a
	// leftover, and read again it would be too young to sweep; a removal
	// leaves nothing to sweep. So it is not tried again.
	deleted, err := rk.DeleteRevision(ctx, key, rev)
	if err != nil {
		return fmt.Errorf("voicemail: %w", err)
	}
	if !deleted {
		return nil // written again since: not a leftover
	}
	k.forget(box, name)
	return nil
}

// finishDeleting goes on with the deletion of message id of box, its
// metadata marked deleting (Message.State) by a node that did not get to
// the end: the audio, then the metadata. On a shared store
// (revisionKeys) only once the mark is older than k.grace (the deleting
// node, were it alive, is done long since), and the metadata only as it
// was read.
func (k *keptShelf) finishDeleting(box string, id int) error {
	metaName, wavName := msgName(id)+".json", msgName(id)+".wav"
	rk, ok := k.keys.(revisionKeys)
	if !k.shared || !ok {
		if err := k.remove(box, wavName); err != nil {
			return err
		}
		return k.remove(box, metaName)
	}
	key := keptName(box, metaName)
	ctx := context.Background()
	v, rev, stored, ok, err := rk.Revision(ctx, key)
	if err != nil {
		return fmt.Errorf("voicemail: %w", err)
	}
	if !ok {
		return nil
	}
	if m, err := parseMeta(v); err != nil || m.State != stateDeleting {
		return nil
	}
	if time.Since(stored) < k.grace {
		return nil // perhaps a deletion under way on another node
	}
	if err := k.remove(box, wavName); err != nil {
		return err
	}
	deleted, err := rk.DeleteRevision(ctx, key, rev)
	if err != nil {
		return fmt.Errorf("voicemail: %w", err)
	}
	if deleted {
		k.forget(box, metaName)
	}
	return nil
}

// forget drops box/name from the node's index, once removed from the
// store.
func (k *keptShelf) forget(box, name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.files[box], name)
	if len(k.files[box]) == 0 {
		delete(k.files, box)
	}
	delete(k.vals, keptName(box, name))
}

// claim creates the key box/name through a shared store (creatorKeys: one
// node wins); a store of one node has one writer, and the index answers.
func (k *keptShelf) claim(box, name string, data []byte, ttl time.Duration) (bool, error) {
	if isAudio(name) {
		return false, fmt.Errorf("voicemail: %s is audio, not a claim", keptName(box, name))
	}
	ck, ok := k.keys.(creatorKeys)
	if !k.shared || !ok {
		_, err := k.read(box, name)
		return err != nil, nil
	}
	created, err := ck.Create(context.Background(), keptName(box, name), data, ttl)
	if err != nil || !created {
		return false, err
	}
	k.mu.Lock()
	k.index(box, name)
	k.vals[keptName(box, name)] = data
	k.mu.Unlock()
	return true, nil
}

// startInventory writes inventoryFile, and from now on at every change.
func (k *keptShelf) startInventory() {
	k.invMu.Lock()
	k.counting = true
	k.invMu.Unlock()
	k.saveInventory()
}

// saveInventory writes inventoryFile from the index, when what it counts
// changed since the last write. Each writer reads the index after taking
// invMu, so the last write holds the latest count. It is best effort: a
// box's message is kept whether or not it is counted, so a failed write
// removes the file instead (Count then says it cannot tell, rather than
// give an old count) and the next change writes it again.
func (k *keptShelf) saveInventory() {
	k.invMu.Lock()
	defer k.invMu.Unlock()
	if !k.counting {
		return
	}
	inv := map[string]Inventory{}
	k.mu.Lock()
	for box, names := range k.files {
		if !validBoxName(box) {
			continue // an archive: nobody's box any more
		}
		var i Inventory
		for n := range names {
			i.add(n)
		}
		if i != (Inventory{}) {
			inv[box] = i
		}
	}
	k.mu.Unlock()
	if k.saved != nil && maps.Equal(inv, k.saved) {
		return
	}
	path := filepath.Join(k.root, inventoryFile)
	data, err := json.MarshalIndent(inv, "", "  ")
	if err == nil {
		// As the recordings (recordingMode): it says who has messages.
		err = atomicfile.Write(path, append(data, '\n'), recordingMode)
	}
	if err != nil {
		os.Remove(path)
		k.saved = nil
		return
	}
	k.saved = inv
}

func (k *keptShelf) has(box string) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.files[box]) > 0, nil
}

// removeBox removes the audio first: a message whose audio is gone is
// gone, and its metadata left by a kill is swept by the next recovery.
func (k *keptShelf) removeBox(box string) error {
	names, _ := k.names(box)
	for _, n := range reverseNames(names) {
		if err := k.remove(box, n); err != nil {
			return err
		}
	}
	return nil
}

// reverseNames is sortedNames backwards: audio first.
func reverseNames(names []string) []string {
	out := sortedNames(names)
	slices.Reverse(out)
	return out
}

// moveBox copies, then removes what it copied: a kill in between leaves
// the box in both places, and the move is done again (the copies
// overwritten) by the next Retire, which finds the live box still there.
// A file that comes into the live box meanwhile (another node's deposit,
// that node not yet on the reload that removed the box) is not removed
// uncopied: it stays, for the next Retire to move.
func (k *keptShelf) moveBox(from, to string) error {
	names, _ := k.names(from)
	moved := make([]string, 0, len(names))
	// A message pending or being deleted (Message.State) is not moved:
	// its node is not done with it. What it becomes, the next Retire
	// moves.
	under := map[string]bool{}
	for _, n := range names {
		if kind, id, ext, ok := parseFile(n); ok && kind == "msg" && ext == "json" {
			if v, err := k.read(from, n); err == nil {
				if m, err := parseMeta(v); err == nil && m.State != "" {
					under[n], under[msgName(id)+".wav"] = true, true
				}
			}
		}
	}
	for _, n := range sortedNames(names) {
		if under[n] {
			continue
		}
		data, err := k.read(from, n)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := k.write(to, n, data); err != nil {
			return err
		}
		moved = append(moved, n)
	}
	if k.afterCopy != nil {
		k.afterCopy()
	}
	for _, n := range reverseNames(moved) {
		if err := k.remove(from, n); err != nil {
			return err
		}
	}
	return nil
}

func (k *keptShelf) sync(string) {}

func (k *keptShelf) where(box string) string { return "the store's voicemail, " + box }
