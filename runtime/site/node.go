package site

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/flowtoken"
	"switchboard/runtime/registrar"
)

// NodeOptions are the options of a site served by several nodes at once
// (issue 20): every node registers devices into the same bindings, and a
// call for a device reaches it through the node that holds its flow —
// the connection, or the NAT binding, its REGISTER came over.
//
// How: the node a REGISTER reached puts itself first in the binding's
// Path, with a flow token naming that flow (RFC 5626 §5.2, package
// runtime/flowtoken; the 200 OK never shows it). The node itself strips
// it and sends over the flow, as a single node does; any other node sends
// the request there with the Path as its route set (RFC 3327), and the
// holding node, seeing its own Route with a valid token, rings the device
// over the flow as a B2BUA hop (package runtime/b2bua, nodehop.go). The
// token's key is derived from the site key every node already holds
// (credentials.Lookup's FlowTokenKey): no further secret.
type NodeOptions struct {
	// Node is this node's SIP URI as the other nodes reach it, such as
	// sip:10.0.0.2:5060 (sips: and ;transport= as they need); empty: a
	// single node, and nothing of this applies.
	Node string
	// Registrations, when set, keeps the registrar's bindings: a store
	// the nodes share (the site never closes it). nil: as Store says.
	Registrations registrar.Store
}

// node is this node as Options.Node names it.
type node struct {
	host      string // lower case, IPv6 without brackets
	port      int
	transport string // "UDP", "TCP", "TLS"
	secure    bool   // sips:
	// id names the node in its tokens' MACs: a token made for another
	// node's URI is refused.
	id string
}

// parseNode reads Options.Node; nil for a single node.
func parseNode(s string) (*node, error) {
	if s == "" {
		return nil, nil
	}
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil {
		return nil, fmt.Errorf("want a SIP URI such as sip:10.0.0.2:5060 (%w)", err)
	}
	scheme := strings.ToLower(u.Scheme)
	if (scheme != "sip" && scheme != "sips") || u.Host == "" || u.User != "" {
		return nil, errors.New("want a SIP URI such as sip:10.0.0.2:5060 (or sips:), without a user part")
	}
	n := &node{host: canonicalHost(u.Host), port: u.Port, secure: scheme == "sips", transport: "UDP"}
	if n.secure {
		n.transport = "TLS"
	}
	if t, ok := u.UriParams.Get("transport"); ok {
		n.transport = strings.ToUpper(t)
	}
	if n.transport != "UDP" && n.transport != "TCP" && n.transport != "TLS" {
		return nil, fmt.Errorf("want transport udp, tcp or tls, not %q", strings.ToLower(n.transport))
	}
	if n.port < 0 || n.port > 65535 {
		return nil, fmt.Errorf("want a port from 1 to 65535, not %d", n.port)
	}
	if n.port == 0 {
		n.port = defaultPort(n.secure)
	}
	n.id = scheme + ":" + net.JoinHostPort(n.host, strconv.Itoa(n.port)) + ";transport=" + n.transport
	return n, nil
}

func canonicalHost(h string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
}

func defaultPort(secure bool) int {
	if secure {
		return 5061
	}
	return 5060
}

// names reports whether u is an address of this node.
func (n *node) names(u *sip.Uri) bool {
	secure := strings.EqualFold(u.Scheme, "sips")
	port := u.Port
	if port == 0 {
		port = defaultPort(secure)
	}
	return canonicalHost(u.Host) == n.host && port == n.port
}

// element is the Path element of a binding whose REGISTER came over flow
// f to this node: this node's URI, the flow's token as its user part.
func (n *node) element(token string) string {
	scheme := "sip"
	if n.secure {
		scheme = "sips"
	}
	var b strings.Builder
	b.WriteString("<" + scheme + ":" + token + "@")
	b.WriteString(net.JoinHostPort(n.host, strconv.Itoa(n.port)))
	if n.transport != "UDP" && !n.secure {
		b.WriteString(";transport=" + strings.ToLower(n.transport))
	}
	b.WriteString(";lr;ob>")
	return b.String()
}

// flowKeyer is what a configuration's secrets need in cluster mode
// (credentials.Lookup has it).
type flowKeyer interface{ FlowTokenKey() []byte }

// flowKeys are the flow-token keys a generation accepts: the site key's,
// and during a rekey's grace the previous key's, so that bindings made
// before the rekey stay reachable until their devices register again.
type flowKeys struct {
	cur, prev []byte
	prevUntil time.Time
}

// flowKeysOf derives cfg's flow-token keys; none outside cluster mode or
// without secrets that have one (checkCluster refuses those).
func (s *Site) flowKeysOf(cfg Config) flowKeys {
	k, ok := cfg.Secrets.(flowKeyer)
	if s.node == nil || !ok {
		return flowKeys{}
	}
	fk := flowKeys{cur: k.FlowTokenKey()}
	if p, ok := cfg.Previous.(flowKeyer); ok && s.clk.Now().Before(cfg.PreviousUntil) {
		fk.prev, fk.prevUntil = p.FlowTokenKey(), cfg.PreviousUntil
	}
	return fk
}

// checkCluster refuses, in cluster mode, a configuration whose secrets
// give no flow-token key.
func (s *Site) checkCluster(cfg Config) error {
	if s.node == nil {
		return nil
	}
	if _, ok := cfg.Secrets.(flowKeyer); !ok {
		return errors.New("site: a node of a cluster needs secrets derived from the site key (its flow tokens are keyed by it)")
	}
	return nil
}

// clusterRegistrar are the registrar's options of a cluster: the shared
// store, this node's Path element. shared is false when the site has no
// shared store (its bindings are then kept as Options.Store says).
func (s *Site) clusterRegistrar() (opts []registrar.Option, shared bool) {
	if s.o.Registrations != nil {
		opts = append(opts, registrar.WithStore(sharedStore{s.o.Registrations}))
	}
	if s.node != nil {
		opts = append(opts, registrar.WithFlowPath(s.pathHead))
	}
	return opts, s.o.Registrations != nil
}

// pathHead is the registrar's WithFlowPath in cluster mode: this node's
// element for the flow, under the running configuration's key.
func (s *Site) pathHead(source, transport string) string {
	src, err := netip.ParseAddrPort(source)
	if err != nil {
		return ""
	}
	g := s.gen.Load()
	if g == nil {
		return ""
	}
	tok, ok := flowtoken.Mint(g.flow.cur, s.node.id, flowtoken.Flow{Transport: transport, Source: src})
	if !ok {
		return ""
	}
	return s.node.element(tok)
}

// contactOf is where requests to binding b go from this node. A single
// node sends to the address the REGISTER came from, through its Path. In
// a cluster, when the Path begins with this node the element is dropped
// and the same holds; when it begins with another node (or an edge
// proxy) the request goes there, the Path its route set.
func (n *node) contactOf(b *registrar.Binding, u sip.Uri) b2bua.Contact {
	ct := b2bua.Contact{URI: u, Dest: b.Source, Transport: b.Transport, Path: b.Path}
	if n == nil || len(b.Path) == 0 {
		return ct
	}
	var first sip.Uri
	var params sip.HeaderParams
	if _, err := sip.ParseAddressValue(b.Path[0], &first, &params); err != nil {
		return ct
	}
	if n.names(&first) {
		ct.Path = b.Path[1:]
		if len(ct.Path) == 0 {
			ct.Path = nil
		}
		return ct
	}
	secure := strings.EqualFold(first.Scheme, "sips")
	port := first.Port
	if port == 0 {
		port = defaultPort(secure)
	}
	ct.Dest = net.JoinHostPort(canonicalHost(first.Host), strconv.Itoa(port))
	ct.Transport = "UDP"
	if secure {
		ct.Transport = "TLS"
	}
	if t, ok := first.UriParams.Get("transport"); ok {
		ct.Transport = strings.ToUpper(t)
	}
	return ct
}

// nodeHops are the site's b2bua.NodeHops in cluster mode.
type nodeHops struct{ s *Site }

// Hop implements b2bua.NodeHops: a request whose top Route is this node
// with a user part carries a flow token; it is delivered when the token is the site's,
// made for this node, and a live binding of the account it is for (To)
// still came over that flow to this node.
func (h nodeHops) Hop(req *sip.Request) (b2bua.Hop, bool) {
	s := h.s
	rh := req.GetHeader("Route")
	if rh == nil {
		return b2bua.Hop{}, false
	}
	// A Route to this node without a user part is a device's preloaded
	// outbound proxy (RFC 3261 §8.1.2), not a hop: any other request.
	route, ok := rh.(*sip.RouteHeader)
	if !ok || route.Address.User == "" || !s.node.names(&route.Address) {
		return b2bua.Hop{}, false
	}
	token := route.Address.User
	g := s.gen.Load()
	flow, err := flowtoken.Check(g.flow.cur, s.node.id, token)
	if errors.Is(err, flowtoken.ErrForged) && g.flow.prev != nil && s.clk.Now().Before(g.flow.prevUntil) {
		flow, err = flowtoken.Check(g.flow.prev, s.node.id, token)
	}
	if err != nil {
		return b2bua.Hop{Status: 403, Cause: err.Error()}, true
	}
	account := accountTo(g.program, req)
	if account == "" {
		return b2bua.Hop{Status: 430, Cause: "the request names no account of the site"}, true
	}
	for _, b := range s.registrar.Lookup(account) {
		if len(b.Path) == 0 || b.Transport != flow.Transport {
			continue
		}
		if src, err := netip.ParseAddrPort(b.Source); err != nil || src.Addr().Unmap() != flow.Source.Addr() || src.Port() != flow.Source.Port() {
			continue
		}
		var first sip.Uri
		var params sip.HeaderParams
		if _, err := sip.ParseAddressValue(b.Path[0], &first, &params); err != nil || !s.node.names(&first) || first.User != token {
			continue
		}
		// The request is for one contact (its Request-URI): an account
		// may have several on one flow (a gateway's lines, two apps of
		// one phone), and each branch rings its own.
		u, err := b.URI()
		if err != nil || !sameContact(&u, &req.Recipient) {
			continue
		}
		return b2bua.Hop{Account: account, Contact: s.node.contactOf(&b, u)}, true
	}
	return b2bua.Hop{Status: 430, Cause: fmt.Sprintf("no binding of %s holds the flow %s/%s any longer", account, flow.Transport, flow.Source)}, true
}

// sameContact reports whether r, a hop's Request-URI, is contact u as the
// placing node sent it: user, host and port.
func sameContact(u, r *sip.Uri) bool {
	return u.User == r.User && canonicalHost(u.Host) == canonicalHost(r.Host) && u.Port == r.Port
}

// accountTo is the account a request for a device is for: its To names
// it (a call's legs, check-sync) or its user name (message waiting).
func accountTo(p *ir.Program, req *sip.Request) string {
	to := req.To()
	if to == nil || to.Address.User == "" {
		return ""
	}
	user := to.Address.User
	if a := p.Account(user); a != nil {
		return a.Name
	}
	for i := range p.Accounts {
		if a := &p.Accounts[i]; a.Username == user && a.Kind != ir.AccountTrunk {
			return a.Name
		}
	}
	return ""
}

// sharedStore is Options.Registrations as the registrar keeps it: without
// its Close, which is its owner's (the registrar closes a store it was
// given when it has one).
type sharedStore struct{ registrar.Store }

// CheckNode reports whether s could be Options.Node (serve -node-uri): an
// error completing "node URI "s": ".
func CheckNode(s string) error {
	_, err := parseNode(s)
	return err
}
