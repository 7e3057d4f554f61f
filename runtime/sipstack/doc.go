// Package sipstack is the one place where the server adapts sipgo: the
// process-wide settings sipgo keeps in package variables (message size
// limit, transaction timers for a served site and for a simulation,
// sipgo's default logger), the UDP listener as sipgo reads it (ReadyConn:
// readiness, shutdown), REGISTER over UDP answered beside sipgo's
// transaction layer (Register: a REGISTER without credentials challenged,
// and one with credentials handed to the registrar, from a scan of its
// header lines when the scan is sure of it), and the challenges to INVITEs and
// SUBSCRIBEs over UDP sent statelessly before sipgo makes a transaction
// (Stateless), the transport of large requests the server sends
// (Oversize, RFC 3261 §18.1.1), and the refusal of new calls when the
// server cannot keep up (Admission: 503 with Retry-After), and the record
// of each call's messages as they crossed the sockets (Trace), for its
// ladder diagram. Nothing else
// of ours sets a sipgo variable.
package sipstack
