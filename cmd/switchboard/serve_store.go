package main

import (
	"flag"
	"fmt"
	"log/slog"
	"time"

	"switchboard/runtime/store"
)

// storeFlags are serve's flags for what it keeps in the embedded store
// (runtime/store): the event stream's limits, the cluster it shares
// with other nodes (serve_cluster.go), and whether there is a store at
// all (-keep-in-memory).
type storeFlags struct {
	memory   bool
	maxAge   time.Duration
	maxMsgs  int64
	maxBytes int64
	cluster  clusterFlags
}

func (s *storeFlags) register(fs *flag.FlagSet) {
	d := store.DefaultLimits
	fs.BoolVar(&s.memory, "keep-in-memory", false, "keep registrations and events in memory only, lost when serve stops (no embedded store under -data; voicemail is kept in files there)")
	fs.DurationVar(&s.maxAge, "events-max-age", d.MaxAge, "keep the event stream (the admin journal, the portal's door log and calls) for `DURATION`; older events go")
	fs.Int64Var(&s.maxMsgs, "events-max-msgs", d.MaxMsgs, "keep at most `N` events in the event stream; the oldest go first")
	fs.Int64Var(&s.maxBytes, "events-max-bytes", d.MaxBytes, "keep at most `BYTES` of events in each site's event stream; the oldest go first (a cap on the stream as it grows, not space set aside)")
	s.cluster.register(fs)
}

func (s *storeFlags) limits() store.Limits {
	return store.Limits{MaxAge: s.maxAge, MaxMsgs: s.maxMsgs, MaxBytes: s.maxBytes}
}

// open starts the embedded JetStream store under dataDir/jetstream, a
// node of the cluster the flags describe, or connects to the external
// cluster; getenv gives the cluster's secrets.
func (s *storeFlags) open(c *cli, dataDir string, log *slog.Logger) (*store.Store, error) {
	cl, err := s.cluster.cluster(c.getenv, log)
	if err != nil {
		return nil, fmt.Errorf("%w (run \"switchboard help serve\")", err)
	}
	start := time.Now()
	if cl != nil {
		log.Info("joining the cluster", "node", cl.Node, "listen", cl.Listen, "peers", cl.Peers, "url", cl.URL, "wait", cl.Wait)
	}
	db, err := store.Open(store.Options{Dir: dataDir, Logger: log, Cluster: cl})
	if err != nil {
		return nil, err
	}
	if cl != nil {
		log.Info("store clustered", "node", cl.Node, "replicas", db.Replicas(), "took", time.Since(start))
	} else {
		log.Debug("store opened", "dir", dataDir, "took", time.Since(start))
	}
	return db, nil
}
