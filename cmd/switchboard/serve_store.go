package main

import (
	"flag"
	"log/slog"
	"time"

	"switchboard/runtime/store"
)

// storeFlags are serve's flags for what it keeps in the embedded store
// (runtime/store): the event stream's limits, and whether there is a
// store at all.
type storeFlags struct {
	memory   bool
	maxAge   time.Duration
	maxMsgs  int64
	maxBytes int64
}

func (s *storeFlags) register(fs *flag.FlagSet) {
	d := store.DefaultLimits
	fs.BoolVar(&s.memory, "keep-in-memory", false, "keep registrations and events in memory only, lost when serve stops (no embedded store under -data; voicemail stays there)")
	fs.DurationVar(&s.maxAge, "events-max-age", d.MaxAge, "keep the event stream (the admin journal, the portal's door log and calls) for `DURATION`; older events go")
	fs.Int64Var(&s.maxMsgs, "events-max-msgs", d.MaxMsgs, "keep at most `N` events in the event stream; the oldest go first")
	fs.Int64Var(&s.maxBytes, "events-max-bytes", d.MaxBytes, "keep at most `BYTES` of events in the event stream; the oldest go first")
}

func (s *storeFlags) limits() store.Limits {
	return store.Limits{MaxAge: s.maxAge, MaxMsgs: s.maxMsgs, MaxBytes: s.maxBytes}
}

// openStore starts the embedded JetStream store under dataDir/jetstream.
func openStore(dataDir string, log *slog.Logger) (*store.Store, error) {
	start := time.Now()
	db, err := store.Open(store.Options{Dir: dataDir, Logger: log})
	if err != nil {
		return nil, err
	}
	log.Debug("store opened", "dir", dataDir, "took", time.Since(start))
	return db, nil
}
