package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
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
	maxBytes givenInt64
	cluster  clusterFlags
}

// memoryMaxBytes is each site's -events-max-bytes default with
// -keep-in-memory, where the stream lives in RAM. The disk default
// (store.DefaultLimits, 2 GiB: a quarter of a year of a 400-flat block)
// would let each site's stream grow to 2 GiB of RAM, and several sites
// beyond any machine's. 64 MiB a site is some 200 000 events of 300-odd
// bytes — about a week of that large block, far more for a house — which
// is plenty for what -keep-in-memory is for (tests, a run to compare the
// store's cost; nothing outlives a restart anyway), and 200 sites stay
// within 12.5 GiB at worst. A fixed figure rather than a share of the
// RAM divided among the sites: a site added on SIGHUP would otherwise
// shrink the others' caps, and the operator can reason about a figure.
// An -events-max-bytes given on the command line stays the operator's
// choice.
const memoryMaxBytes = 64 << 20

// givenInt64 is an int64 flag that knows whether the command line gave
// it (a default that depends on another flag: memoryMaxBytes).
type givenInt64 struct {
	n     int64
	given bool
}

func (g *givenInt64) String() string { return strconv.FormatInt(g.n, 10) }

func (g *givenInt64) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errors.New("parse error") // the flag package's word for its own ints
	}
	g.n, g.given = n, true
	return nil
}

func (s *storeFlags) register(fs *flag.FlagSet) {
	d := store.DefaultLimits
	fs.BoolVar(&s.memory, "keep-in-memory", false, "keep registrations and events in memory only, lost when serve stops (no embedded store under -data; voicemail is kept in files there)")
	fs.DurationVar(&s.maxAge, "events-max-age", d.MaxAge, "keep the event stream (the admin journal, the portal's door log and calls) for `DURATION`; older events go")
	fs.Int64Var(&s.maxMsgs, "events-max-msgs", d.MaxMsgs, "keep at most `N` events in the event stream; the oldest go first")
	s.maxBytes.n = d.MaxBytes
	fs.Var(&s.maxBytes, "events-max-bytes", "keep at most `BYTES` of events in each site's event stream; the oldest go first (a cap on the stream as it grows, not space set aside; with -keep-in-memory the default is 64 MiB a site)")
	s.cluster.register(fs)
}

// limits are the event stream's limits the flags give: -events-max-bytes
// defaults to memoryMaxBytes with -keep-in-memory.
func (s *storeFlags) limits() store.Limits {
	maxBytes := s.maxBytes.n
	if s.memory && !s.maxBytes.given {
		maxBytes = memoryMaxBytes
	}
	return store.Limits{MaxAge: s.maxAge, MaxMsgs: s.maxMsgs, MaxBytes: maxBytes}
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
	free, _, err := store.Statfs(dir)
	if err != nil {
		return
	}
	if eventsBeyondDisk(sites, maxBytes, free) {
		fmt.Fprintf(w, "switchboard serve: warning: %d site(s) may each keep up to %s of events (-events-max-bytes) and %s holds %s free: a full disk stops the store for every site; lower -events-max-bytes or make room\n",
			sites, store.ByteSize(uint64(maxBytes)), dir, store.ByteSize(free))
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

// spaceCheckEvery is how often serve checks the free space under -data
// while it runs: a disk fills over minutes to hours, and one statfs(2)
// and a listing of the event streams every 30 s cost nothing.
const spaceCheckEvery = 30 * time.Second

// spaceWatch is serve's check of the free space under dir, the embedded
// store's directory (store.SpaceWatch: a warning in the log once when it
// runs low, a line when it is enough again; its Space for /admin/status).
// startSpaceWatch starts it once the sites' event streams exist.
func spaceWatch(dir string, db *store.Store, log *slog.Logger) *store.SpaceWatch {
	return &store.SpaceWatch{Dir: dir, Room: db.EventsRoom, Log: log}
}

// startSpaceWatch checks now and every spaceCheckEvery until stop; w nil
// (no store on disk here) does nothing.
func startSpaceWatch(w *store.SpaceWatch) (stop func()) {
	if w == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.Check(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx, spaceCheckEvery)
	}()
	return func() { cancel(); <-done }
}
