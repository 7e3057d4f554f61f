package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"syscall"
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

// warnEventsBeyondDisk says when the sites' event streams, each allowed
// to grow to -events-max-bytes, could together fill the disk under dir:
// the embedded store sets nothing aside for them (runtime/store), and a
// full disk stops it for every site (NATS shuts JetStream down), so an
// operator should hear it at the start rather than when the disk fills.
// A disk whose free space cannot be read says nothing.
func warnEventsBeyondDisk(w io.Writer, dir string, sites int, maxBytes int64) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return
	}
	free := st.Bavail * uint64(st.Bsize)
	if eventsBeyondDisk(sites, maxBytes, free) {
		fmt.Fprintf(w, "switchboard serve: warning: %d site(s) may each keep up to %s of events (-events-max-bytes) and %s holds %s free: a full disk stops the store for every site; lower -events-max-bytes or make room\n",
			sites, byteSize(uint64(maxBytes)), dir, byteSize(free))
	}
}

// eventsBeyondDisk reports whether sites streams of maxBytes each would
// take more than the free space (maxBytes ≤ 0: no byte cap).
func eventsBeyondDisk(sites int, maxBytes int64, free uint64) bool {
	if sites <= 0 {
		return false
	}
	if maxBytes <= 0 {
		return true
	}
	return uint64(maxBytes) > free/uint64(sites)
}

// byteSize is n in the largest binary unit that keeps it at least 1.
func byteSize(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	f, u := float64(n), 0
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	if u == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[u])
}
