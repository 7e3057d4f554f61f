package site

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"

	"switchboard/runtime/registrar"
	"switchboard/runtime/store"
)

// stream is where the site keeps its events: a store.EventLog that the
// recorder fills from the bus and the journal and the portal read (what
// was stored before they started from the stream, the rest handed to
// them from memory as the recorder stores it: store.EventLog.Tail).
type stream struct {
	log *store.EventLog
	rec *recorder
	// ephemeral: the stream is the site's alone in the process's memory
	// store, deleted at Close.
	ephemeral bool
}

// memoryStore is the process's memory store, shared by the sites given
// no Options.Store (tests, the simulator, sites of a server that keeps
// nothing): one embedded server however many sites, each with a stream of
// its own. It is never closed.
var memoryStore struct {
	once sync.Once
	s    *store.Store
	err  error
}

// openStream opens the site's event stream in Options.Store, or in the
// process's memory store when it has none but keeps a journal or a
// portal (both read the stream). Nothing without an event bus, or when
// nothing reads the stream.
func (s *Site) openStream(site string) error {
	o := s.o
	if o.Events == nil || o.Store == nil && o.AdminToken == "" && (o.DataDir == "" || o.Headless) {
		return nil
	}
	st := &stream{}
	db := o.Store
	if db == nil {
		memoryStore.once.Do(func() {
			memoryStore.s, memoryStore.err = store.Open(store.Options{Logger: slog.New(slog.DiscardHandler)})
		})
		if memoryStore.err != nil {
			return memoryStore.err
		}
		// Sites of the same name may run side by side in one process
		// (tests, simulations): each its own stream.
		var b [6]byte
		_, _ = rand.Read(b[:])
		db, site, st.ephemeral = memoryStore.s, site+"-"+hex.EncodeToString(b[:]), true
	}
	log, err := db.EventLog(context.Background(), site, o.EventLimits)
	if err != nil {
		return fmt.Errorf("event stream: %w", err)
	}
	st.log = log
	st.rec = newRecorder(o.Events, log, s.log)
	s.stream = st
	return nil
}

// closeStream stores the events published so far; an ephemeral stream
// then goes.
func (s *Site) closeStream() {
	if s.stream == nil {
		return
	}
	s.stream.rec.close()
	if s.stream.ephemeral {
		_ = s.stream.log.Delete(context.Background())
	}
}

// eventLog is the site's event stream; nil when it keeps none.
func (s *Site) eventLog() *store.EventLog {
	if s.stream == nil {
		return nil
	}
	return s.stream.log
}

// keptBindings is the registrar's store of the bindings kept in
// Options.Store (a bucket per site, each key expiring with its binding),
// so that a restart keeps the devices reachable; none without a store.
// In a clustered store the bucket is the site's on every node, and each
// node's registrar holds the others' bindings too (registrar.Share).
func (s *Site) keptBindings(site string) ([]registrar.Option, error) {
	if s.o.Store == nil {
		return nil, nil
	}
	kv, err := s.o.Store.KV(context.Background(), "registrations", site)
	if err != nil {
		return nil, err
	}
	p, err := registrar.NewPersistent(kv, s.clk.Now, s.log)
	if err != nil {
		return nil, err
	}
	if s.o.Store.Clustered() {
		// Other nodes serve the site too: a device registered with one
		// of them is reachable from here.
		if err := p.Share(); err != nil {
			p.Close()
			return nil, err
		}
	}
	return []registrar.Option{registrar.WithStore(p)}, nil
}
