package site

import (
	"context"
	"fmt"

	"switchboard/runtime/registrar"
	"switchboard/runtime/store"
)

// stream is where the site keeps its events: a store.EventLog that the
// recorder fills from the bus and the journal and the portal read.
type stream struct {
	log   *store.EventLog
	rec   *recorder
	owned *store.Store // a memory store the site opened itself
}

// openStream opens the site's event stream in Options.Store, or in a
// memory store of the site's own when it has none but keeps a journal or
// a portal (both read the stream). Nothing without an event bus, or when
// nothing reads the stream.
func (s *Site) openStream(site string) error {
	o := s.o
	if o.Events == nil || o.Store == nil && o.AdminToken == "" && o.DataDir == "" {
		return nil
	}
	st := &stream{}
	db := o.Store
	if db == nil {
		var err error
		if db, err = store.Open(store.Options{Logger: s.log}); err != nil {
			return err
		}
		st.owned = db
	}
	log, err := db.EventLog(context.Background(), site, o.EventLimits)
	if err != nil {
		if st.owned != nil {
			st.owned.Close()
		}
		return fmt.Errorf("event stream: %w", err)
	}
	st.log = log
	st.rec = newRecorder(o.Events, log, s.log)
	s.stream = st
	return nil
}

// closeStream stores the events published so far, then closes the store
// the site opened itself.
func (s *Site) closeStream() {
	if s.stream == nil {
		return
	}
	s.stream.rec.close()
	if s.stream.owned != nil {
		s.stream.owned.Close()
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
	return []registrar.Option{registrar.WithStore(p)}, nil
}
