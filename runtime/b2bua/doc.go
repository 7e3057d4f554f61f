// Package b2bua is the call core of the live SIP server of a site: it authenticates and
// registers devices and apps, routes calls by the IR (forking to every
// endpoint of a residence at once or in turn, with the configured
// timeouts), anchors the media so that it sees the DTMF that opens doors,
// and reports everything on an event stream.
//
// It executes the IR only: it never sees HCL. Secrets arrive through the
// Secrets interface, supplied by the command that starts it.
//
// The server is a back-to-back user agent: each call has a caller-side
// dialog (the server answers the caller) and one client dialog per callee
// branch; the first branch to answer wins and the others are cancelled with
// a Reason header (RFC 3326), as Kamailio's tm module does.
package b2bua
