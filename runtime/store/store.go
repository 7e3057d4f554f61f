// Package store is what serve keeps beyond one run of the process: the
// event stream, registrations, voicemail. It runs NATS JetStream embedded
// in the process (DESIGN: "Scale-out"), single-node, reached over an
// in-process connection: no port is opened and nothing else is started.
// A JetStream cluster of several nodes is the same API further away
// (cluster.go): the embedded servers of several processes joined by
// routes, or an external NATS cluster; every stream and bucket is then
// kept on Store.replicas nodes.
//
// Each thing kept has its own small type here (EventLog, KV, Objects),
// named per site so that several sites share one embedded server; the
// packages that keep things (registrar, voicemail, the site's journal)
// depend on small interfaces of their own that these satisfy.
package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options configure Open.
type Options struct {
	// Dir keeps the data (JetStream's file store lives in Dir/jetstream).
	// Empty: everything is kept in memory and lost at Close.
	Dir string
	// Logger receives the embedded server's warnings and errors; its
	// notices go at debug level. nil: slog.Default().
	Logger *slog.Logger
	// Cluster shares the store with other nodes (cluster.go); nil: a
	// single node, reached in-process, with no port open.
	Cluster *Cluster

	// syncAlways has the server fsync every write before it answers
	// (server.Options.SyncAlways): measured against the default
	// (bench_test.go BenchmarkDurability), not chosen; see Open.
	syncAlways bool
}

// Store is the embedded JetStream server and a connection to it.
type Store struct {
	srv    *server.Server
	nc     *nats.Conn
	js     jetstream.JetStream
	memory bool
	tmp    string // the store directory of a memory-only store, removed at Close
	unlock func() // releases the directory's lock
	// nodes is how many copies of each stream and bucket are kept
	// (replicas): 1 for a single node.
	nodes     int
	clustered bool
	origin    string        // marks this store's writes in shared buckets (KV.Watch)
	wait      time.Duration // Cluster.Wait: bounds opening a stream or a bucket in a cluster
	// pub publishes the events and puts of a clustered store's streams,
	// each asking for its answer (ackedBatch): a context of its own,
	// so that an answer that never comes times out (ackWait) rather than
	// being waited for, and taking room among the others', for ever.
	pub jetstream.JetStream
}

// unreserved is the embedded server's JetStream max store and max memory
// (server.Options.JetStreamMaxStore, JetStreamMaxMemory). nats-server sets
// a stream's MaxBytes aside against them when the stream is made
// (checkBytesLimits, reserveStreamResources), and unset they are 75 % of
// the disk space free when the server starts and 75 % of the RAM: each
// site's event stream, 2 GiB by default (DefaultLimits), took 2 GiB of a
// budget that no site ever used, so a disk with 49 GB free served 18
// sites and refused the 19th ("insufficient storage resources
// available"), and a disk that had filled a little refused sites at the
// next start. An event stream's byte limit is its cap (the oldest events
// go once it is reached), so the server's budget is set out of reach:
// what bounds the disk and the memory are the streams' own limits
// (DefaultLimits, serve -events-max-*); the buckets and object stores set
// no byte limit, so nothing of theirs was set aside. The server's other
// use of the same figure, a refusal of writes once its streams hold that
// much, goes with it: a disk that fills stops JetStream instead (README,
// "What must outlive a restart"). The server only compares with this
// value and subtracts from it (what is reserved, what is used), never
// adds to it, so the largest int64 does not overflow.
const unreserved = math.MaxInt64

// requestTimeout bounds one request to the embedded server: it answers in
// microseconds, so a request that takes this long means it is stuck.
const requestTimeout = 10 * time.Second

// Open starts the embedded server and connects to it.
func Open(o Options) (*Store, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Store{memory: o.Dir == "", nodes: 1}
	c := o.Cluster
	if c != nil {
		if err := c.check(); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		s.clustered = true
		s.wait = cmpOr(c.Wait, DefaultClusterWait)
		s.origin = originOf(c)
		if c.URL != "" {
			return s.openExternal(c)
		}
		if s.memory {
			return nil, errors.New("store: a cluster node keeps its data on disk: it needs a directory")
		}
		s.nodes = min(c.size(), 3)
	}
	dir := filepath.Join(o.Dir, "jetstream")
	if s.memory {
		// JetStream wants a directory to start, even when every stream
		// is in memory.
		var err error
		if s.tmp, err = os.MkdirTemp("", "switchboard-jetstream-"); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		dir = s.tmp
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	var err error
	if s.unlock, err = lockDir(dir); err != nil {
		s.removeTmp()
		return nil, fmt.Errorf("store: %w", err)
	}
	so := &server.Options{
		ServerName: "switchboard",
		DontListen: true, // reached in-process only
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true, // serve handles the signals
		// Files are fsynced at JetStream's interval (2 minutes), not at
		// every write (SyncAlways): a write is on the node's disk, in the
		// kernel's page cache, when it is acknowledged, so a kill -9 of
		// serve loses nothing; a power cut or a kernel crash of a single
		// node may lose the last interval. SyncAlways was measured
		// (BenchmarkDurability, README "Voicemail data"): it costs each
		// deposit and each event an fsync: a 30 s deposit 0.7-0.9 ms ->
		// 5-6 ms, an event 14 us -> 0.15-0.6 ms on an ext4 virtual disk,
		// and the option is server-wide while the event stream is written
		// at every call step. What
		// voicemail cannot lose is covered otherwise: a recording is a
		// local file synced as it grows, kept past the interval
		// (voicemail keepLocal), and in a cluster each write is on a
		// majority of the nodes (R3) before it is acknowledged.
		SyncAlways: o.syncAlways,
		// See unreserved: a stream's byte limit caps the stream, it is
		// not set aside.
		JetStreamMaxStore:  unreserved,
		JetStreamMaxMemory: unreserved,
	}
	if c != nil {
		err = c.serverOptions(so)
	}
	var srv *server.Server
	if err == nil {
		srv, err = server.NewServer(so)
	}
	if err != nil {
		s.unlock()
		s.removeTmp()
		return nil, fmt.Errorf("store: %w", err)
	}
	srv.SetLoggerV2(natsLogger{log}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(requestTimeout) {
		srv.Shutdown()
		s.unlock()
		s.removeTmp()
		if c != nil {
			return nil, fmt.Errorf("store: the embedded JetStream server did not start (route listen address %s)", c.Listen)
		}
		return nil, errors.New("store: the embedded JetStream server did not start")
	}
	s.srv = srv
	if s.memory {
		// Started: memory streams, buckets and consumers write nothing
		// there, and a process-wide store (runtime/site's) is never
		// closed, so the directory goes now rather than at Close.
		s.unlock()
		s.unlock = nil
		s.removeTmp()
	}
	s.nc, err = nats.Connect("", nats.InProcessServer(srv), nats.Name("switchboard"), nats.MaxReconnects(-1), nats.UserInfo(so.Username, so.Password))
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := s.openJetStream(); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	if c != nil {
		if c.Listening != nil {
			c.Listening(s.RouteAddr())
		}
		if err := s.waitLeader(cmpOr(c.Wait, DefaultClusterWait)); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// openExternal is Open for a cluster run apart: a client connection, no
// server, nothing on this node's disk.
func (s *Store) openExternal(c *Cluster) (*Store, error) {
	s.memory = false // the cluster's servers keep the data on their disks
	if err := s.connectExternal(c); err != nil {
		return nil, err
	}
	if err := s.openJetStream(); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := s.waitLeader(cmpOr(c.Wait, DefaultClusterWait)); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// openJetStream makes s's JetStream contexts on s.nc: js, and pub when
// other nodes share the store.
func (s *Store) openJetStream() error {
	var err error
	if s.js, err = jetstream.New(s.nc); err != nil || !s.clustered {
		return err
	}
	s.pub, err = jetstream.New(s.nc, jetstream.WithPublishAsyncTimeout(ackWait))
	return err
}

// RouteAddr is the address the node's route listener is bound to (the
// port chosen when Cluster.Listen's was 0); nil without one.
func (s *Store) RouteAddr() net.Addr {
	if s.srv == nil {
		return nil
	}
	if a := s.srv.ClusterAddr(); a != nil {
		return a
	}
	return nil
}

// Close disconnects and stops the embedded server, which writes what it
// holds to disk first.
func (s *Store) Close() {
	if s.nc != nil {
		_ = s.nc.Drain()
		s.nc.Close()
	}
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
	}
	if s.unlock != nil {
		s.unlock()
	}
	s.removeTmp()
}

func (s *Store) removeTmp() {
	if s.tmp != "" {
		_ = os.RemoveAll(s.tmp)
		s.tmp = ""
	}
}

// Memory reports whether the store keeps nothing on disk.
func (s *Store) Memory() bool { return s.memory }

func (s *Store) storage() jetstream.StorageType {
	if s.memory {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

// name turns a site's name and what is kept into a stream or bucket name:
// letters, digits, '-' and '_' only (JetStream's rule for names that are
// also subject tokens). A site name with other characters, or a long one,
// is shortened to a prefix and a hash so that two sites never share one.
func name(kind, site string) string {
	ok := len(site) > 0 && len(site) <= 64
	for _, r := range site {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			ok = false
			break
		}
	}
	if ok {
		return kind + "_" + site
	}
	sum := sha256.Sum256([]byte(site))
	var b strings.Builder
	for _, r := range site {
		if b.Len() >= 32 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		}
	}
	return kind + "_" + b.String() + "_" + hex.EncodeToString(sum[:6])
}

// openTimeout bounds opening (creating) a stream or a bucket: a request's
// time on a single node; in a cluster, the cluster's wait, since a create
// waits for the other nodes (their joining, another's create of the same).
func (s *Store) openTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if !s.clustered {
		return ctxTimeout(ctx)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, s.wait)
}

func ctxTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, requestTimeout)
}

// natsLogger puts the embedded server's log under ours: its notices
// (start-up banners, stream recovery) are debug; warnings and errors stay.
type natsLogger struct{ log *slog.Logger }

func (l natsLogger) Noticef(format string, v ...any) {
	l.log.Debug("store: " + fmt.Sprintf(format, v...))
}
func (l natsLogger) Warnf(format string, v ...any) {
	if strings.HasPrefix(format, "Plaintext passwords detected") {
		// A cluster node's passwords (cluster.go) are made or read by
		// serve and held in memory only: no file to hash them in.
		l.log.Debug("store: " + fmt.Sprintf(format, v...))
		return
	}
	l.log.Warn("store: " + fmt.Sprintf(format, v...))
}
func (l natsLogger) Fatalf(format string, v ...any) {
	l.log.Error("store: " + fmt.Sprintf(format, v...))
}
func (l natsLogger) Errorf(format string, v ...any) {
	l.log.Error("store: " + fmt.Sprintf(format, v...))
}
func (l natsLogger) Debugf(format string, v ...any) {}
func (l natsLogger) Tracef(format string, v ...any) {}

// originOf is the mark a node's writes to shared buckets carry. An
// embedded node's name is JetStream's server name: unique in the cluster
// and the same across restarts, so a node that restarts knows the
// bindings it wrote before as its own (it loads them at start, sweeps and
// reports their expiry), not as another node's until their next refresh.
// A node of an external cluster may have no name of its own (several on
// one host default to the host name): a random mark for each run.
func originOf(c *Cluster) string {
	if c.URL == "" {
		return "node:" + c.Node
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	return hex.EncodeToString(id[:])
}
