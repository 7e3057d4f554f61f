package store

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/nats-io/nats.go/jetstream"
)

// Objects is an object store of one site: named byte strings too large
// for a key's value (a voicemail message, a greeting), each stored in
// chunks and replaced whole by a Put — a reader sees the old object or
// the new one, never a mix.
type Objects struct {
	obs jetstream.ObjectStore
}

// Objects opens (creating it if needed) the object store kind of site.
func (s *Store) Objects(ctx context.Context, kind, site string) (*Objects, error) {
	ctx, cancel := ctxTimeout(ctx)
	defer cancel()
	b := name(kind, site)
	obs, err := s.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: b, Storage: s.storage(),
		Description: "switchboard: " + kind + " of site " + site,
	})
	if err != nil {
		return nil, fmt.Errorf("store: object store %s: %w", b, err)
	}
	return &Objects{obs: obs}, nil
}

// ErrTooLarge is Get's error for an object larger than its caller takes.
var ErrTooLarge = errors.New("store: object larger than allowed")

// Put stores data as the object name, replacing any before it. It
// returns once the server has stored every chunk and the object's
// description, the commit.
func (o *Objects) Put(ctx context.Context, name string, data []byte) error {
	ctx, cancel := ctxTimeout(ctx)
	defer cancel()
	if _, err := o.obs.PutBytes(ctx, name, data); err != nil {
		return fmt.Errorf("store: put object: %w", err)
	}
	return nil
}

// Get returns the object name; ok is false when there is none. An object
// of more than limit bytes is not read: ErrTooLarge (a reader's bound on
// the memory one object may take).
func (o *Objects) Get(ctx context.Context, name string, limit int64) (data []byte, ok bool, err error) {
	ctx, cancel := ctxTimeout(ctx)
	defer cancel()
	r, err := o.obs.Get(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: get object: %w", err)
	}
	defer r.Close()
	info, err := r.Info()
	if err != nil {
		return nil, false, fmt.Errorf("store: get object: %w", err)
	}
	if info.Size > uint64(limit) {
		return nil, false, fmt.Errorf("%w: %s has %d bytes, at most %d are read", ErrTooLarge, name, info.Size, limit)
	}
	// The reader checks the object's digest at its end.
	data, err = io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, false, fmt.Errorf("store: get object: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, false, fmt.Errorf("%w: %s", ErrTooLarge, name)
	}
	return data, true, nil
}

// Delete removes the object name (nothing when there is none).
func (o *Objects) Delete(ctx context.Context, name string) error {
	ctx, cancel := ctxTimeout(ctx)
	defer cancel()
	if err := o.obs.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("store: delete object: %w", err)
	}
	return nil
}

// Names lists the objects there are.
func (o *Objects) Names(ctx context.Context) ([]string, error) {
	ctx, cancel := ctxTimeout(ctx)
	defer cancel()
	infos, err := o.obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: list objects: %w", err)
	}
	out := make([]string, 0, len(infos))
	for _, i := range infos {
		out = append(out, i.Name)
	}
	return out, nil
}
