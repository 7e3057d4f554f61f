package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"switchboard/runtime/store"
)

// clusterFlags are serve's flags for running as one node of several that
// share one store (runtime/store's Cluster): the embedded servers joined
// by routes, or an external NATS cluster.
type clusterFlags struct {
	node       string
	listen     string
	peers      peerList
	url        natsURLs
	secretFile string
	credsFile  string
	wait       time.Duration
}

func (c *clusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.node, "node", "", "this node's `NAME` among the cluster's nodes: unique, the same across restarts (default: the host name)")
	fs.StringVar(&c.listen, "cluster-listen", "", "run as a node of an embedded cluster, taking the other nodes' route connections on `HOST:PORT` (NATS routes, such as 10.0.0.1:6222); needs -cluster-peer")
	fs.Var(&c.peers, "cluster-peer", "the other nodes' -cluster-listen `ADDRS` (host:port, comma-separated or repeated; this node's own is skipped, so every node may be given the same list)")
	fs.Var(&c.url, "cluster-url", "keep the store in the external NATS JetStream cluster at `URLS` (nats:// or tls://, comma-separated) instead of the embedded server; credentials from -cluster-creds or SWITCHBOARD_NATS_USER and SWITCHBOARD_NATS_PASSWORD, or SWITCHBOARD_NATS_TOKEN, never in the URL")
	fs.StringVar(&c.secretFile, "cluster-secret-file", "", "the routes' shared secret is in `FILE` (every node the same; SWITCHBOARD_CLUSTER_SECRET overrides); required unless -cluster-listen is a loopback address")
	fs.StringVar(&c.credsFile, "cluster-creds", "", "NATS credentials `FILE` (.creds: a user JWT and its nkey) for -cluster-url")
	fs.DurationVar(&c.wait, "cluster-wait", store.DefaultClusterWait, "at start, wait at most `DURATION` for a majority of the nodes to reach each other (the cluster's leader), then give up")
}

func init() {
	// The cluster flags' values check themselves (Set), as -var's do;
	// registered here, beside them.
	flagRules["serve -cluster-peer"] = checkedBySet
	flagRules["serve -cluster-url"] = checkedBySet
	// The cluster's part of serve's help: its flags in the usage lines,
	// its paragraph before the one on connections; kept here with the
	// flags it explains (serve.go is shared by many changes).
	const pad = "\n                         "
	serveCommand.usage = strings.Replace(serveCommand.usage, pad+"[-server HOST]",
		pad+"[-node NAME] [-cluster-listen HOST:PORT] [-cluster-peer ADDRS]..."+
			pad+"[-cluster-secret-file FILE] [-cluster-wait D]"+
			pad+"[-cluster-url URLS] [-cluster-creds FILE]"+
			pad+"[-server HOST]", 1)
	serveCommand.usage = strings.Replace(serveCommand.usage, "\n\nConnections are bounded", "\n\n"+clusterHelp+"\n\nConnections are bounded", 1)
}

const clusterHelp = `Several nodes: serve on three machines (or more) with -node NAME,
-cluster-listen HOST:PORT and -cluster-peer giving the other nodes'
-cluster-listen addresses, each with its own -data, all serving the same
site directory: their embedded stores form one NATS JetStream cluster
over those route connections, authenticated by a shared secret
(SWITCHBOARD_CLUSTER_SECRET or -cluster-secret-file). The event stream and
the registrations are kept on three nodes (on every node of a smaller
cluster): a device registered on any node is known to all, and with one
node of three down the other two keep serving and writing; a call placed
on any node for a device registered on another goes through that one, at
its -listen address (-node-uri when the peers reach it elsewhere). Two nodes
work, but lose the majority with either one: writes stop until it is
back. Or give -cluster-url to keep the store in a NATS cluster run apart.
Each node reloads on its own SIGHUP. A site's nodes attribute lists the
nodes, primary first, and its devices are provisioned to fail over to the
next when one dies.`

// enabled reports whether any cluster flag asks for a cluster.
func (c *clusterFlags) enabled() bool {
	return c.listen != "" || len(c.peers) > 0 || c.url != ""
}

// cluster turns the flags into the store's Cluster, reading the secrets
// from the environment (getenv) or their files; nil without cluster
// flags. A warning about a cluster that runs but cannot survive a node's
// loss goes to log.
func (c *clusterFlags) cluster(getenv func(string) string, log *slog.Logger) (*store.Cluster, error) {
	if !c.enabled() {
		if c.secretFile != "" || c.credsFile != "" {
			return nil, errors.New("-cluster-secret-file and -cluster-creds need -cluster-listen or -cluster-url")
		}
		return nil, nil
	}
	node := c.node
	if node == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("-node: no host name to default to (%v); give one", err)
		}
		node = h
	}
	if strings.Trim(node, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
		return nil, fmt.Errorf("-node %q: a node's name takes letters, digits, '-', '_' and '.'", node)
	}
	sc := &store.Cluster{Node: node, Wait: c.wait}
	if c.url != "" {
		if c.listen != "" || len(c.peers) > 0 {
			return nil, errors.New("-cluster-url (an external NATS cluster) and -cluster-listen or -cluster-peer (the embedded one) exclude each other")
		}
		if c.secretFile != "" {
			return nil, errors.New("-cluster-secret-file is the embedded cluster's route secret; with -cluster-url, -cluster-creds or SWITCHBOARD_NATS_USER and SWITCHBOARD_NATS_PASSWORD log in")
		}
		sc.URL, sc.CredsFile = string(c.url), c.credsFile
		sc.User, sc.Password, sc.Token = getenv("SWITCHBOARD_NATS_USER"), getenv("SWITCHBOARD_NATS_PASSWORD"), getenv("SWITCHBOARD_NATS_TOKEN")
		return sc, nil
	}
	if c.credsFile != "" {
		return nil, errors.New("-cluster-creds logs in to -cluster-url's cluster; the embedded cluster's routes take -cluster-secret-file")
	}
	if c.listen == "" {
		return nil, errors.New("-cluster-peer needs -cluster-listen: this node's own route address, which the peers list")
	}
	sc.Listen, sc.Peers = c.listen, c.peers
	others := 0
	for _, p := range c.peers {
		if p != c.listen {
			others++
		}
	}
	if others == 0 {
		return nil, errors.New("-cluster-listen needs -cluster-peer: the route address of at least one other node")
	}
	secret := getenv("SWITCHBOARD_CLUSTER_SECRET")
	if secret == "" && c.secretFile != "" {
		b, err := os.ReadFile(c.secretFile)
		if err != nil {
			return nil, fmt.Errorf("-cluster-secret-file: %w", err)
		}
		secret = strings.TrimSpace(string(b))
		if secret == "" {
			return nil, fmt.Errorf("-cluster-secret-file: %s is empty", c.secretFile)
		}
	}
	if secret == "" && !loopback(c.listen) {
		return nil, fmt.Errorf("-cluster-listen %s is reachable from other machines: give the routes a shared secret (SWITCHBOARD_CLUSTER_SECRET or -cluster-secret-file), else anyone reaching the port joins the cluster and reads every registration", c.listen)
	}
	sc.Secret = secret
	if others+1 < 3 {
		log.Warn("a cluster of two nodes loses its majority when either stops: writes (registrations, events) stop until it is back; run three nodes to survive one's loss", "nodes", others+1)
	}
	return sc, nil
}

// loopback reports whether addr's host is a loopback address (or
// localhost): only this machine reaches it.
func loopback(addr string) bool {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if h == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}

// peerList is -cluster-peer: host:port addresses, comma-separated or
// repeated.
type peerList []string

func (l *peerList) String() string { return strings.Join(*l, ",") }

func (l *peerList) Set(s string) error {
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if err := hostPort(a); err != nil {
			return fmt.Errorf("%q: %v", a, err)
		}
		if _, p, _ := net.SplitHostPort(a); p == "0" {
			return fmt.Errorf("%q: a peer's port is the one it listens on, not 0", a)
		}
		*l = append(*l, a)
	}
	return nil
}

// natsURLs is -cluster-url: NATS URLs, comma-separated, without
// credentials (a command line shows in process listings).
type natsURLs string

func (u *natsURLs) String() string { return string(*u) }

func (u *natsURLs) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		p, err := url.Parse(strings.TrimSpace(v))
		if err != nil || p.Host == "" || (p.Scheme != "nats" && p.Scheme != "tls") {
			return fmt.Errorf("want nats://HOST:PORT or tls://HOST:PORT, comma-separated")
		}
		if p.User != nil {
			return fmt.Errorf("the URL carries credentials, which a command line shows to every user of the machine; give them in SWITCHBOARD_NATS_USER and SWITCHBOARD_NATS_PASSWORD, or -cluster-creds")
		}
	}
	*u = natsURLs(s)
	return nil
}
