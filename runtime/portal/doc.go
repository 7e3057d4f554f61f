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
// Every page is one line in Portal.routes and one template:
//
//   - A GET page: m.HandleFunc("GET /portal/site/people", p.page(pagePeople,
//     ir.RightSeeSite, false, p.peoplePage)). page resolves the session
//     (none: 303 to the login), runs decide(role, user, owner, right) —
//     owner is the {user} path value when the last argument is true, ""
//     for a page of the site — and calls the handler with the visit
//     (person, session, the running program). Pages of the site go under
//     /portal/site/...; pages of one person stay under /portal/u/{user}/
//     and are that person's alone. An admin's view of another person is a
//     site page that names them (/portal/site/people/{name}), not their
//     resident page.
//   - A state-changing POST: act("POST /portal/site/people/{name}/invite",
//     ir.RightInvite, maxForm, p.resendInvitation). action limits the body,
//     needs a session (401), checks the form's csrf field against the
//     session's token (403) and runs decide (403) before the handler.
//     Forms in templates carry <input type="hidden" name="csrf"
//     value="{{.Visit.CSRF}}">.
//   - A template assets/NAME.html defining "title" and "main" (the layout
//     is assets/layout.html); add NAME to allPages. navFor lists the pages
//     a role may open: add the site pages there, asked through decide.
//   - What a role may do is ir.Roles (compiler/ir/roles.go) alone; a new
//     kind of action is a new ir.Right there, not a check here. Change
//     requests (point 5 of issue 17) are POSTs that write proposed patches
//     under Config.Dir, never the site files. The operator view (point 6)
//     is the installer's: pages needing ir.RightBindDevices, which only the
//     installer holds; server-sent events can read Config.Events.
//
// The site's pages are in site.go (people, invitations, door log, live
// calls, the handover sheet: what needs the state or the site key is
// SiteFiles, which serve supplies), ringtest.go (ring tests, run in the
// background, their progress on a page that refreshes itself),
// requests.go (change requests) and operator.go (the installer's view and
// its event stream, which does not keep a session alive).
//
// TestEveryPage (portal_test.go) and TestEverySitePage (site_test.go) try
// every page and action with every role and with no session: add new
// routes to their tables.
package portal
