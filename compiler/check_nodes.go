package compiler

import (
	"cmp"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"switchboard/compiler/catalogue"
	"switchboard/lang"
)

// Node is one SIP server the site is served from, as the site's nodes
// attribute names it.
type Node struct {
	Host string
	// Port is 0 when the node names none: lowering gives it the serving
	// side's port (build's -port, 5060).
	Port  int
	Range hcl.Range
}

// parseNode reads one element of the site's nodes attribute: "host",
// "host:port", "[v6]:port" or a bare IPv6 address. It returns a sentence
// saying what is wrong when the element is none of these. The host is a
// DNS name (as the domain attribute takes) or an IP address.
func parseNode(s string) (host string, port int, problem string) {
	host = s
	if strings.Count(s, ":") == 1 || strings.HasPrefix(s, "[") {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return "", 0, "It is neither \"host\" nor \"host:port\"."
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 || p != strconv.Itoa(n) {
			return "", 0, fmt.Sprintf("Its port %q is not a number from 1 to 65535.", p)
		}
		host, port = h, n
	}
	if !validHost(host) {
		return "", 0, fmt.Sprintf("%q is not a plausible host name or IP address: a DNS name such as \"sip1.example.net\" (letters, digits and dashes in dot-separated labels), an IPv4 address, or an IPv6 address in brackets when a port follows.", host)
	}
	return strings.ToLower(host), port, ""
}

// checkNodes checks the site's nodes attribute and records the nodes in
// order; none when the attribute is not written (the site is served from
// its domain, as before nodes existed).
func (c *checker) checkNodes(s *lang.Site) {
	if s.Nodes == nil {
		return
	}
	if len(s.Nodes) == 0 {
		c.errorf(s.NodesRange, "Empty nodes list",
			"The site's nodes attribute lists the SIP servers devices register with, primary first, and an empty list would leave devices none. Write at least one node, such as [\"sip1.example.net\", \"sip2.example.net\"], or remove the attribute to use the domain.")
		return
	}
	seen := map[string]hcl.Range{}
	for _, n := range s.Nodes {
		host, port, problem := parseNode(n.Value)
		if problem != "" {
			c.errorf(n.Range, "Invalid node", "The node %q cannot be used. %s", n.Value, problem)
			continue
		}
		// A node without a port and one with 5060 are the same server
		// under the default -port; comparing with 5060 catches that, the
		// usual slip.
		key := net.JoinHostPort(host, strconv.Itoa(cmp.Or(port, 5060)))
		if first, dup := seen[key]; dup {
			c.errorf(n.Range, "Duplicate node",
				"%q is already listed at %s. Each node is listed once; devices fail over to the next one in order.", n.Value, at(first))
			continue
		}
		seen[key] = n.Range
		c.out.Nodes = append(c.out.Nodes, Node{Host: host, Port: port, Range: n.Range})
	}
}

// checkNodesFit warns, once per vendor, when the site lists more nodes
// than a vendor's devices on it take: the later nodes are not written to
// their files, so those devices do not fail over to them.
func (c *checker) checkNodesFit() {
	seen := map[*catalogue.Vendor]bool{}
	for _, d := range c.out.Devices {
		if d.Model == nil || seen[d.Model.Vendor] {
			continue
		}
		seen[d.Model.Vendor] = true
		limit := d.Model.Vendor.SIPServers
		if limit == 0 || len(c.out.Nodes) <= limit {
			continue
		}
		var rest []string
		for _, n := range c.out.Nodes[limit:] {
			rest = append(rest, quote(hostPort(n.Host, n.Port)))
		}
		c.warnf(c.out.Nodes[limit].Range, "More nodes than devices take",
			"%s devices take %d SIP servers (a primary and a backup); %s %s not written to their files, so %s devices such as %q do not fail over to %s.",
			d.Model.Vendor.Name, limit, strings.Join(rest, ", "), plural(len(rest), "is", "are"), d.Model.Vendor.Name, d.Name, plural(len(rest), "it", "them"))
	}
}

// hostPort is a node as written back: host, or host:port.
func hostPort(host string, port int) string {
	if port == 0 {
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
