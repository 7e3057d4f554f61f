// Package notify sends the event notifications the server owes devices:
// message-waiting indication (RFC 3842) to subscribers of a mailbox and,
// unsolicited, to the registered devices that show its light, and the
// check-sync NOTIFY that makes a device fetch its provisioning files. It
// reaches the network through Stack, a two-method contract the call core
// implements.
package notify
