// Package b2bua is the call core of the live SIP server: a back-to-back
// user agent that routes each call by the IR (forking to every endpoint of
// a residence at once or in turn, with the configured timeouts, out over a
// carrier's trunk, or to a service the server answers itself), anchors the
// media so that it sees the DTMF that opens doors, and reports everything
// on an event stream.
//
// Each call has a caller-side dialog (the server answers the caller) and
// one client dialog per callee branch; the first branch to answer wins and
// the others are cancelled with a Reason header (RFC 3326), as Kamailio's
// tm module does.
//
// It executes the IR only: it never sees HCL. Its parts come through small
// contracts: the registrar and the authenticator (Registrar,
// Authenticator) and the services (Services) are plugged in by package
// runtime/site, which swaps the whole configuration at once (State);
// carrier registration (package runtime/carrier) and notifications
// (package runtime/notify) reach the network through the Stack each of
// them defines; sipgo is set up in package runtime/sipstack.
package b2bua
