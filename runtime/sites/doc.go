// Package sites serves many sites (package site) behind one set of
// listeners: one SIP UDP socket, one SIP TCP and one TLS listener, one
// HTTP listener and one admin listener for them all, each request handed
// to the site it belongs to.
//
// # Why a datagram demultiplexer, not one shared sipgo server
//
// Each site.Site owns its SIP stack: a b2bua.Server with its own sipgo
// UserAgent, server and client (transaction layer), its REGISTER fast path
// and stateless challenges beside sipgo (package sipstack), its calls,
// subscriptions, carrier registrations and admission budget. Sharing one
// sipgo server and dispatching in its handlers would mean taking all of
// that apart and threading a site through every handler and timer of the
// call core. Instead each site keeps its stack unchanged and reads from a
// net.PacketConn of its own (siteConn) that the one real socket feeds: a
// site cannot tell it shares the socket, a reload of one site swaps only
// that site's configuration, and a site's sockets close with the site.
// The cost is a stack per site: in TestManySites (200 generated sites, a
// door and two flats each, with their portals, and their event streams
// and registrations in one store on disk, as serve -data keeps them)
// about 12 ms to start and 350 KiB of resident memory a site on a busy
// machine (0.8 ms and 80 KiB without the store); `serve` of 200 such site directories
// is ready in 3.4 s, compiling included (6.6 s when it first writes their
// builds), at about 500 KiB a site. Most of
// it is not the SIP stack but what each site allocates for a large
// building (nonce rings, the portal's history and templates, event
// subscriptions); NonceSlots shrinks the largest.
//
// # Routing a datagram
//
// The demultiplexer reads only the start line and the Call-ID, To and From
// headers (scan.go); the site parses the message again, in full.
//
//   - A response belongs to the site that sent the request: every request a
//     site sends records its Call-ID as that site's (owners). A response
//     with a Call-ID no site sent is dropped.
//   - A request whose Call-ID a site sent (a BYE, NOTIFY or re-INVITE in a
//     dialog the site began, a carrier's answer to its registration) goes
//     to that site.
//   - A REGISTER goes to the site whose domain is the host of its To (the
//     account's address of record), else of its Request-URI; so a REGISTER
//     for an account of site A with site B's domain reaches B, which does
//     not know the account and refuses it.
//   - Any other request goes by the host of its Request-URI, else its To,
//     else — a carrier's call, addressed to our IP — the site whose trunk's
//     carrier sent it, else its From. Requests within a dialog a device
//     began (BYE, ACK, re-INVITE, to our Contact, which names no domain)
//     carry the site's domain in To and From.
//   - A REGISTER whose To and Request-URI name no served domain (a device
//     told an IP address for its domain) is no site's: with several sites
//     a device must use its site's domain.
//   - An OPTIONS to our IP address (a keep-alive, a health check) is
//     answered by any site: they all answer it alike.
//   - A request no site claims is answered 404 Not Found by the
//     demultiplexer, as a site answers an unknown account: which domains
//     are served is not told to a stranger.
//
// Call-IDs are remembered for a while after their last datagram (two
// generations of ownersTTL) and only when a site sends a request, so a
// stranger cannot grow the table: a request of its own is routed by
// domain and remembers nothing.
//
// # HTTP
//
// Provisioning files and the portal are routed by the Host header: the
// site's domain (with any port), else the host of the one site's
// provisioning URL that names it. Not by a path prefix: a device's digest
// response covers the path it asked for, which the compiler wrote. The
// admin endpoints are under /sites/DOMAIN/admin/... on the admin
// listener, each site answering with its own token check; with a single
// site, /admin/... works as before. Unknown hosts and sites get 404, the
// same as an unknown path.
//
// # Reload, failures, data
//
// Each site reloads on its own (Reload, ReloadAll): a site whose new
// configuration fails keeps running its old one, and the others are not
// touched. Two sites may not share a domain (Add, Claim). A site may be
// added while the listeners run (Add attaches it to each: its queue
// holds what is routed to it until its stack reads) and removed (Remove:
// unrouted at once, then closed as at shutdown, its calls hung up through
// the sockets still open, its stored data kept). The command
// (cmd/switchboard) compiles each site, reports and skips those that fail,
// and gives each its own data directory and event bus.
//
// # TCP and TLS
//
// A stream connection goes whole to the site its first request names
// (stream.go): the header of that request is read (within the handshake
// time, TLS made first), routed as a datagram is, and the connection,
// with the bytes read, handed to the site's listener. A device's
// connection carries its own site's requests; one that later carries
// another site's meets a site that does not know its accounts. TLS is made
// by the shared listener with one certificate for all sites.
package sites
