package main

import (
	"flag"

	"switchboard/runtime/site"
)

// nodeFlags are serve's flags for serving a site as one node of several
// (issue 20): how the other nodes reach this one, for the calls they send
// its devices through it. flagRules checks -node-uri with site.CheckNode.
type nodeFlags struct {
	uri string
}

func (n *nodeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&n.uri, "node-uri", "", "this node's SIP `URI` as the other nodes of a cluster reach it, such as sip:10.0.0.2:5060: a device's calls and notifications from any node go through the node its registration reached, which holds its connection (RFC 3327 Path, RFC 5626 flow tokens keyed by the site key); empty: a single node")
}

// options are what the flags make of every site served.
func (n *nodeFlags) options() site.NodeOptions { return site.NodeOptions{Node: n.uri} }
