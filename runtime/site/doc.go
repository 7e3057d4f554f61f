// Package site assembles a running site: one constructor (New) turns a
// configuration — the IR program, its secrets, its provisioning files —
// and options into the SIP server with its registrar, digest
// authentication, routing, media relay, the services it answers itself
// (voicemail, conference bridges), the provisioning HTTP server and the
// event stream; one Swap replaces the whole configuration at once.
//
// As Caddy reloads, a new configuration is built completely (files read,
// passwords worked out) before any of it runs, and on error nothing
// changes. Each request then reads one generation: a REGISTER or INVITE
// is authenticated with the passwords, and routed and registered by the
// program, of the same configuration.
//
// Both `switchboard serve` and the simulator start sites here; the command
// supplies the recompile callback (Options.Recompile), since the runtime
// never compiles. The rotation grace, the reload (with check-sync of the
// devices whose files changed) and the admin HTTP endpoints live here too.
package site
