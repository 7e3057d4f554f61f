package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cluster says how a store shares what it keeps with other nodes: either
// its embedded server joins theirs by routes (Listen and Peers), or the
// store is a client of a NATS cluster run apart (URL). Without a Cluster
// the store is a single node reached in-process, and no port is opened.
type Cluster struct {
	// Node names this node among the cluster's: JetStream's server name,
	// unique among the nodes and the same across restarts (its raft
	// identity is kept under Dir).
	Node string

	// Listen is the host:port this node accepts its peers' route
	// connections on (port 0: one the kernel picks, for tests).
	Listen string
	// Peers are the other nodes' Listen addresses (host:port). This
	// node's own address among them is skipped, so every node may be
	// given the same list.
	Peers []string
	// Secret authenticates the route connections: every node must have
	// the same. Empty: any process that reaches Listen may join.
	Secret string

	// URL is an external NATS server or cluster, comma-separated URLs
	// (nats:// or tls://), instead of the embedded server; the
	// credentials are CredsFile (a NATS .creds file), else User and
	// Password, else Token.
	URL                              string
	CredsFile, User, Password, Token string

	// Nodes is how many nodes hold the cluster's data; the streams and
	// buckets are replicated on min(3, Nodes) of them. 0: 1+len(Peers)
	// embedded, or the servers the external cluster announces.
	Nodes int
	// Listening, when set, is called with the address of the route
	// listener once it is open, before Open waits for the leader: the
	// port the kernel chose for Listen's 0.
	Listening func(net.Addr)

	// Wait bounds the wait for the cluster's JetStream leader at Open
	// (a majority of the nodes must be up). 0: DefaultClusterWait.
	Wait time.Duration
}

// DefaultClusterWait is how long Open waits for the cluster's leader:
// long enough for the other nodes of a cluster started together (by
// systemd, say) to come up.
const DefaultClusterWait = time.Minute

// clusterName is the NATS cluster name every node gives: routes between
// servers of different names are refused, and nodes of one switchboard
// cluster are told apart by their peers, not by a name.
const clusterName = "switchboard"

// routeUser is the user name of the route connections; Cluster.Secret is
// their password.
const routeUser = "switchboard"

// ErrNoLeader is Open's error when the cluster elects no JetStream leader
// within Cluster.Wait: fewer than a majority of the nodes are reachable.
var ErrNoLeader = errors.New("the cluster has no JetStream leader")

// check reports what is wrong with c, nil when it can be used.
func (c *Cluster) check() error {
	switch {
	case c.URL != "" && (c.Listen != "" || len(c.Peers) > 0):
		return errors.New("a cluster is either embedded (listen address and peers) or external (URL), not both")
	case c.URL != "":
		urls := strings.Split(c.URL, ",")
		for i, u := range urls {
			p, err := url.Parse(strings.TrimSpace(u))
			if err != nil {
				// Not shown: a password in it would be as plain as the
				// rest, and nothing below redacts it.
				return fmt.Errorf("URL %d of %d is not a NATS URL (nats://HOST:PORT or tls://HOST:PORT): it does not parse", i+1, len(urls))
			}
			if p.Host == "" || (p.Scheme != "nats" && p.Scheme != "tls") {
				return fmt.Errorf("%q is not a NATS URL (nats://HOST:PORT or tls://HOST:PORT)", p.Redacted())
			}
			if p.User != nil {
				// A URL shows in process listings and logs.
				return fmt.Errorf("the NATS URL %s carries credentials; give them apart (a credentials file or the environment)", p.Redacted())
			}
		}
		return nil
	case c.Listen == "":
		return errors.New("an embedded cluster needs this node's route listen address")
	case len(c.Peers) == 0:
		return errors.New("an embedded cluster needs the route address of at least one other node (JetStream elects its leader among the nodes it knows)")
	}
	if _, _, err := splitHostPort(c.Listen); err != nil {
		return fmt.Errorf("route listen address %q: %v", c.Listen, err)
	}
	for _, p := range c.Peers {
		if _, _, err := splitHostPort(p); err != nil {
			return fmt.Errorf("peer %q: %v", p, err)
		}
	}
	if c.Node == "" {
		return errors.New("a cluster node needs a name")
	}
	return nil
}

func splitHostPort(a string) (string, int, error) {
	h, p, err := net.SplitHostPort(a)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number from 0 to 65535", p)
	}
	return h, n, nil
}

// peers is c.Peers without this node's own address.
func (c *Cluster) peers() []string {
	var out []string
	for _, p := range c.Peers {
		if p != c.Listen {
			out = append(out, p)
		}
	}
	return out
}

// serverOptions are the embedded server's options for a node of c.
func (c *Cluster) serverOptions(o *server.Options) error {
	host, port, err := splitHostPort(c.Listen)
	if err != nil {
		return err
	}
	if port == 0 {
		port = -1 // the server's "any port"
	}
	o.ServerName = c.Node
	// A peer that is down is tried again every second, for ever: its
	// first failure is reported, then one a minute.
	o.ConnectErrorReports, o.ReconnectErrorReports = 60, 60
	// The server routes only once its client listener is open (it waits
	// for it: DontListen would keep the routes shut), so a cluster node
	// has one, on loopback, on a port the kernel picks, and only this
	// process knows its password.
	var pw [24]byte
	if _, err := rand.Read(pw[:]); err != nil {
		return err
	}
	o.DontListen, o.Host, o.Port = false, "127.0.0.1", -1
	o.Username, o.Password = "switchboard", hex.EncodeToString(pw[:])
	o.Cluster = server.ClusterOpts{Name: clusterName, Host: host, Port: port}
	if c.Secret != "" {
		o.Cluster.Username, o.Cluster.Password = routeUser, c.Secret
	}
	for _, p := range c.peers() {
		u := &url.URL{Scheme: "nats-route", Host: p}
		if c.Secret != "" {
			u.User = url.UserPassword(routeUser, c.Secret)
		}
		o.Routes = append(o.Routes, u)
	}
	return nil
}

// size is how many nodes hold the data, as far as c tells.
func (c *Cluster) size() int {
	if c.Nodes > 0 {
		return c.Nodes
	}
	return 1 + len(c.peers())
}

// replicas is how many copies of each stream, bucket and object store
// the store keeps: min(3, the cluster's nodes), 1 for a single node. Three
// copies survive one node's loss with a majority left to write; more
// would cost every write without surviving more in a cluster this size.
// Everything the store creates takes its replicas from here.
func (s *Store) replicas() int {
	return s.nodes
}

// Replicas is how many copies of each stream and bucket the store keeps.
func (s *Store) Replicas() int { return s.replicas() }

// Clustered reports whether other nodes share the store: a binding or an
// event written there may come from another process.
func (s *Store) Clustered() bool { return s.clustered }

// connectExternal connects s to the NATS cluster c.URL names.
func (s *Store) connectExternal(c *Cluster) error {
	opts := []nats.Option{nats.Name("switchboard " + c.Node), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(false)}
	switch {
	case c.CredsFile != "":
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	case c.Token != "":
		opts = append(opts, nats.Token(c.Token))
	}
	nc, err := nats.Connect(c.URL, opts...)
	if err != nil {
		return fmt.Errorf("store: connecting to %s: %w", c.URL, err)
	}
	s.nc = nc
	if s.nodes = c.Nodes; s.nodes == 0 {
		// The servers the cluster announces (its routes' client URLs),
		// with those given.
		s.nodes = len(nc.Servers())
	}
	s.nodes = min(max(s.nodes, 1), 3)
	return nil
}

// waitLeader waits until the cluster's JetStream answers (it has elected
// a meta leader: a majority of its nodes are up and routed), at most d.
// There is no event to wait on from outside the server: it asks, again,
// until an answer or d.
func (s *Store) waitLeader(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := s.js.AccountInfo(actx)
		acancel()
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			routes := ""
			if s.srv != nil {
				routes = fmt.Sprintf(" (%d of the other %d nodes routed)", s.routedPeers(), s.nodes-1)
			}
			return fmt.Errorf("store: %w after %s%s: a cluster of %d nodes needs %d of them up and reaching each other; last answer: %v",
				ErrNoLeader, d, routes, max(s.nodes, 1), max(s.nodes, 1)/2+1, last)
		case <-tick.C:
		}
	}
}

// routedPeers is how many other nodes the embedded server has routes to
// (a pool of connections each).
func (s *Store) routedPeers() int {
	rz, err := s.srv.Routez(nil)
	if err != nil {
		return 0
	}
	peers := map[string]bool{}
	for _, r := range rz.Routes {
		peers[r.RemoteID] = true
	}
	return len(peers)
}

// ensureKV opens the bucket cfg describes, creating it, or updating one
// with other settings. Several nodes may do so at once: see settle.
func (s *Store) ensureKV(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	cfg.Replicas = s.replicas()
	return settle(ctx, s.clustered, func(ctx context.Context) (jetstream.KeyValue, error) {
		kv, err := s.js.KeyValue(ctx, cfg.Bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			return s.js.CreateKeyValue(ctx, cfg)
		}
		if err != nil {
			return nil, err
		}
		st, err := kv.Status(ctx)
		if err != nil {
			return nil, err
		}
		if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok && sameKV(bs.StreamInfo().Config, cfg) {
			return kv, nil // made by another node, or an earlier run: nothing to change
		}
		return s.js.UpdateKeyValue(ctx, cfg)
	})
}

// sameKV reports whether a bucket's stream has the settings of cfg that
// the store sets.
func sameKV(sc jetstream.StreamConfig, cfg jetstream.KeyValueConfig) bool {
	return sc.Replicas == cfg.Replicas && sc.MaxMsgsPerSubject == int64(cfg.History) &&
		sc.SubjectDeleteMarkerTTL == cfg.LimitMarkerTTL && sc.Storage == cfg.Storage && sc.Description == cfg.Description
}

// JetStream's API error codes for a cluster that is not whole yet: too
// few nodes joined for the replicas asked ("no suitable peers for
// placement"), and no leader for the moment.
const (
	jsClusterNoPeers         jetstream.ErrorCode = 10005
	jsTemporarilyUnavailable jetstream.ErrorCode = 10008
)

// settleAttempt bounds one attempt of settle in a cluster: one busy with
// another node's create of the same stream may leave a request
// unanswered. (A single node's attempt has the whole of ctx: its server
// answers, however late.)
const settleAttempt = 3 * time.Second

// settle runs op, which opens or creates a stream (or a bucket, or an
// object store), until it succeeds, fails for good, or ctx ends. Nodes of
// a cluster starting together each create the same streams: while one
// node's create is under way, another's is refused (the name is in use),
// the stream is not found yet, or a request goes unanswered. Those are
// tried again, after a pause that grows; the node then finds the stream
// the other made, and uses it as it is when its settings are the same.
func settle[T any](ctx context.Context, clustered bool, op func(context.Context) (T, error)) (T, error) {
	pause := 20 * time.Millisecond
	for {
		attempt := settleAttempt
		if !clustered {
			attempt = requestTimeout // a single node: a request's whole time (ctx bounds it too)
		}
		actx, cancel := context.WithTimeout(ctx, attempt)
		v, err := op(actx)
		cancel()
		if err == nil || ctx.Err() != nil || !transient(err) {
			return v, explainNoRoom(err)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, explainNoRoom(err)
		case <-t.C:
		}
		pause = min(2*pause, time.Second)
	}
}

// JetStream's API error codes for a server that cannot set a stream's
// byte limit aside (MaxBytes) against its max store or max memory.
const (
	jsMemoryExceeded  jetstream.ErrorCode = 10028
	jsStorageExceeded jetstream.ErrorCode = 10047
)

// explainNoRoom adds to err, when it is a NATS server's refusal to make a
// stream for want of room for its byte limit, what the operator can do.
// The embedded server sets nothing aside (unreserved), so this is an
// external server's answer, whose limits serve cannot change. In a
// cluster the refusal is a placement's ("no suitable peers for placement,
// insufficient storage"), which settle tries again until its time is up:
// a node whose figures have not reached the leader yet looks full too.
func explainNoRoom(err error) error {
	var api *jetstream.APIError
	if !errors.As(err, &api) {
		return err
	}
	limit := "max_file_store"
	switch {
	case api.ErrorCode == jsMemoryExceeded:
		limit = "max_memory_store"
	case api.ErrorCode == jsStorageExceeded,
		api.ErrorCode == jsClusterNoPeers && strings.Contains(api.Description, "insufficient storage"):
	default:
		return err
	}
	return fmt.Errorf("%w: the NATS server sets each stream's byte limit aside against its JetStream %s when the stream is made; "+
		"lower the event streams' byte limit (serve -events-max-bytes) or raise %s on the NATS servers", err, limit, limit)
}

// transient reports whether err is one a cluster answers while another
// node creates the same stream, or while its nodes are still joining.
func transient(err error) bool {
	var api *jetstream.APIError
	if errors.As(err, &api) && (api.ErrorCode == jsClusterNoPeers || api.ErrorCode == jsTemporarilyUnavailable) {
		return true
	}
	return errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) || errors.Is(err, jetstream.ErrBucketExists) ||
		errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || // a publish whose stream leader was lost
		directGetUnavailable(err)
}

// directGetUnavailable reports whether err is a direct get's 503: a
// replica that answers direct gets says "JetStream system temporarily
// unavailable" for a moment after a node's loss. nats.go returns that
// status as a bare string (jetstream's convertDirectGetMsgResponseToMsg),
// not as an APIError with its code, so the text is all there is to go on.
func directGetUnavailable(err error) bool {
	return err != nil && strings.HasSuffix(err.Error(), "JetStream system temporarily unavailable")
}
