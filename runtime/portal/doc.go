// Package portal is the site's web portal: the people of a site log in
// with the e-mail of their invitation and a portal password (derived from
// the site key, or one they chose, kept only as an argon2id hash) and see
// and manage what is theirs — voicemail, greeting, PIN, the doors that
// ring them, their devices, their calls and their details as the site
// files have them.
//
// It is server-rendered (html/template), its assets embedded: it works
// offline and needs no CDN. runtime/site mounts it under /portal/ on the
// site's HTTP(S) listener (serve -http).
//
// # Who may do what
//
// Every page and action names the right it needs (ir.Right) and whose it
// is; decide is the one decision — the session's person, the page's
// owner and ir.Can — and every handler asks it. A resident's pages live
// under /portal/u/{user}/: another person's are refused (403) whatever
// the role, and the installer, who is not a resident, opens none of them.
//
// # Adding pages (the admin, owner and operator views)
//
// A page is a route on the one mux (routes), a handler taking the
// visit that p.page or p.action resolved (the session, the person, the
// program), and a template in assets/ that fills the "main" block of
// layout.html. Pages about the site rather than one person go under
// /portal/site/... with p.page(right, nil) (no owner: decide then only
// asks the role); actions use p.action, which checks the CSRF token. The
// nav (navFor) lists the pages the role may open.
package portal
