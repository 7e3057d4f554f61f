package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"

	"switchboard/runtime/site"
)

// nodeFlags are serve's flags for serving a site as one node of several
// (issue 20): how the other nodes reach this one, for the calls they send
// its devices through it. flagRules checks -node-uri with site.CheckNode.
type nodeFlags struct {
	uri string
}

func (n *nodeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&n.uri, "node-uri", "", "this node's SIP `URI` as the other nodes of a cluster reach it, such as sip:10.0.0.2:5060: a device's calls and notifications from any node go through the node its registration reached, which holds its connection (RFC 3327 Path, RFC 5626 flow tokens keyed by the site key); default: with cluster flags, sip: and the -listen address, else none (a single node)")
}

// options are what the flags make of every site served.
func (n *nodeFlags) options() site.NodeOptions { return site.NodeOptions{Node: n.uri} }

// resolveNode gives a cluster node its node URI when -node-uri does not:
// the nodes share registrations, so a call placed on one node for a
// device registered on another must reach the other, at its SIP -listen
// address. A wildcard -listen (0.0.0.0, [::]) is no address a peer can
// send to: the operator names one. Port 0 (a test's "any free port") is
// bound here, now, so that the URI carries the port the socket has; the
// socket is returned for startListeners to serve (o.udp).
func resolveNode(o *serveOptions) error {
	if o.node.uri != "" || !o.store.cluster.enabled() {
		return nil
	}
	if o.listen == "" {
		return errors.New("a cluster node needs -node-uri when -listen is empty: the other nodes send the calls for its devices to it")
	}
	host, port, err := net.SplitHostPort(o.listen)
	if err != nil {
		return fmt.Errorf("-listen %s: %v", o.listen, err)
	}
	if ip, err := netip.ParseAddr(host); host == "" || err == nil && ip.IsUnspecified() {
		return fmt.Errorf("-listen %s listens on every interface, and the other nodes cannot send to that: give -node-uri sip:ADDR:PORT, the address they reach this node at", o.listen)
	}
	if port == "0" {
		conn, err := net.ListenPacket("udp", o.listen)
		if err != nil {
			return err
		}
		o.udp = conn
		_, port, _ = net.SplitHostPort(conn.LocalAddr().String())
	}
	o.node.uri = "sip:" + net.JoinHostPort(host, port)
	return site.CheckNode(o.node.uri)
}
