package site

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/compiler/ir"
	"switchboard/email"
	"switchboard/runtime/audio"
	"switchboard/runtime/auth"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/carrier"
	"switchboard/runtime/clock"
	"switchboard/runtime/events"
	"switchboard/runtime/listener"
	"switchboard/runtime/media"
	"switchboard/runtime/portal"
	"switchboard/runtime/presence"
	"switchboard/runtime/prompts"
	"switchboard/runtime/provisioning"
	"switchboard/runtime/registrar"
	"switchboard/runtime/services"
	"switchboard/runtime/sipdns"
	"switchboard/runtime/sipstack"
	"switchboard/runtime/store"
	"switchboard/runtime/voicemail"
)

// Config is one configuration of a site: everything a reload replaces.
type Config struct {
	Program *ir.Program
	// Secrets are the accounts' SIP passwords; when it has them too
	// (credentials.Lookup does), the mailboxes' initial PINs
	// (voicemail.PINSource) and the rooms' PINs (services.ConferencePINs).
	Secrets b2bua.Secrets
	// Trunks are the trunks' credentials at their carriers; nil: Secrets',
	// when it is a carrier.TrunkSecrets.
	Trunks carrier.TrunkSecrets
	// Previous are the SIP passwords of the site key a rekey replaced,
	// honoured for provisioning only until PreviousUntil: a device fetches
	// its files, holding its new password, with the old one. nil: no
	// rekey in its grace.
	Previous      b2bua.Secrets
	PreviousUntil time.Time
	// Bundle is the provisioning directory (a build's OUT/provision). The
	// site serves provisioning files when the configuration New starts
	// with has one; a reload's replaces it then, and is ignored otherwise.
	Bundle string
}

// Options are the parts of a site that no reload changes.
type Options struct {
	Events *events.Bus  // nil: events are dropped
	Clock  clock.Clock  // nil: the wall clock
	Logger *slog.Logger // nil: slog.Default()
	// MediaIP is where the media relay and the server's own media
	// endpoint bind; no relay and no services when invalid.
	MediaIP netip.Addr
	// MediaPortMin and MediaPortMax bound the UDP ports of the media
	// relay and the server's own endpoint (inclusive; RTP on even ports,
	// RTCP above): what a firewall opens. A call that finds the range used
	// up is refused with 503. Both zero: ports the kernel picks.
	MediaPortMin, MediaPortMax int
	// UDPMTU: an INVITE to a contact reached directly over UDP larger
	// than this many bytes goes over TCP first (RFC 3261 §18.1.1); 0:
	// 1 300, the RFC's; negative: never.
	UDPMTU int
	// Presence bounds the dialog-event (BLF) subscriptions; zero fields:
	// presence.DefaultLimits'.
	Presence presence.Limits
	// MediaListen opens the media's sockets; nil means real UDP. The
	// simulator passes its in-memory network's.
	MediaListen media.ListenFunc
	// DigestAlgorithms, when set, are offered to every account in this
	// order (serve -digest). Empty: each account is offered what its
	// client answers, as the program says (ir.Program.DigestOf): its
	// device model's algorithms, the site's digest attribute for apps and
	// trunks, MD5 unless the site asks for more. Some clients (SIPp 3.6,
	// baresip 1.0, much field firmware) answer only MD5 and give up when
	// offered SHA-256 first.
	DigestAlgorithms []auth.Algorithm

	// DataDir holds what the services keep (voicemail; with a Store, only
	// the recordings in progress); none when empty.
	DataDir string
	// Headless leaves out what only people browsing would use: the
	// portal, and with it the event history kept for its door log. The
	// simulator sets it: it keeps voicemail under DataDir, and nobody
	// logs in, so a history of every event would be pure cost (about a
	// twentieth of a large suite's CPU).
	Headless bool
	// VoicemailMemory, without a Store, keeps the voicemail's files in
	// the process's memory instead of under DataDir: the simulator's,
	// whose messages are read back once and dropped with the run.
	VoicemailMemory *voicemail.MemoryFiles
	// Store keeps what outlives a run of the server (store.Open): the
	// event stream, which the admin journal and the portal's door log and
	// call history read, the registrations, and the voicemail (with a
	// DataDir; voicemail.go). nil: the registrations are kept in memory,
	// the voicemail in files under DataDir, and the events, when the site
	// has a journal or a portal, in a stream of its own in the process's
	// memory store (stream.go), deleted at Close.
	Store *store.Store
	// EventLimits bound the event stream (zero fields: store.DefaultLimits').
	EventLimits store.Limits
	// StoreSpace is the last check of the free space under the store's
	// directory (store.SpaceWatch), shown in /admin/status as "store";
	// nil shows none.
	StoreSpace func() store.Space
	// Mailer sends voicemail notifications from MailFrom; nil sends none.
	Mailer   email.Mailer
	MailFrom string
	// PortalSite answers the portal what only the command knows: the
	// applied state's invitations, resending one, the handover sheet. nil:
	// the portal says they are not available.
	PortalSite portal.SiteFiles
	// DeleteAfterMail deletes a message once its e-mail was accepted.
	DeleteAfterMail bool
	// Services, when set, are served instead of the standard ones
	// (package services); &b2bua.Services{} offers none.
	Services *b2bua.Services
	// Carriers finds the carriers' servers by DNS (package sipdns: SRV,
	// cached for the answers' TTL); nil: the system's name servers.
	Carriers sipdns.Locator

	// Provisioning are options of the provisioning HTTP server.
	Provisioning []provisioning.Option
	// RotationGrace is how long, after a reload rotated an account's
	// password, its old one still fetches its provisioning files (a
	// device must fetch its new password with the old one). SIP takes
	// only the new one. 0: never.
	RotationGrace time.Duration
	// Limits bound the stream listeners (listeners.go).
	Limits Limits
	// CallSetups bounds the calls being set up at once and QueueDelay how
	// long the server's work may wait for the CPU: past either a new call
	// is refused with 503 and Retry-After (b2bua.Config; serve's defaults
	// are sipstack.DefaultCallSetups and DefaultQueueDelay). 0: no bound.
	CallSetups int
	QueueDelay time.Duration
	// NonceSlots sizes the rings of digest nonces (auth.WithNonceSlots, and
	// the provisioning server's with provisioning.WithNonceSlots):
	// nonces issued within their lifetime beyond it go stale and are
	// challenged again. 0: digest.DefaultSlots, 4 MiB, a large site's; a
	// server of many small sites (package sites) gives each less.
	NonceSlots int
	// authOptions are further options of the authenticator, for tests.
	authOptions []auth.Option

	// AdminToken is the bearer token the admin endpoints ask for
	// (Authorization: Bearer TOKEN; see AdminToken for making one). Without
	// one the admin endpoints refuse every request.
	AdminToken string

	// NodeOptions make the site a node of several serving it (node.go).
	NodeOptions

	// Recompile reads the configuration now on disk, for Reload. The
	// command supplies it: the runtime reads only the IR and does not
	// compile. Its error says why the configuration was refused.
	Recompile func() (Config, error)
}

// Site is a running site: the SIP server, its registrar and
// authentication, routing, media, the services it answers itself, the
// provisioning HTTP server and the event stream, assembled once.
//
// Its configuration (program, passwords, trunk credentials, provisioning
// files) is one immutable generation behind one pointer, and Swap replaces
// it whole. Every SIP request (authentication, registration, routing,
// calls out over trunks) and the services read that pointer once; a
// provisioning fetch reads the bundle, which carries its generation's
// passwords. So a request is answered wholly by the old configuration or
// wholly by the new, never by a mix.
type Site struct {
	o   Options
	log *slog.Logger
	clk clock.Clock

	gen atomic.Pointer[generation]

	server    *b2bua.Server
	node      *node // this node of a cluster; nil: a single node (node.go)
	registrar *registrar.Registrar
	auth      *auth.Authenticator
	services  *services.Services // nil when Options.Services replaced them
	prov      *provisioning.Server
	portal    *portal.Portal // nil without a data directory
	admin     *adminGuard
	journal   *journal // nil without admin endpoints or events
	stream    *stream  // the event stream; nil without events (stream.go)
	// trace keeps each call's SIP messages for GET /admin/calls/{id}/sip;
	// nil without admin endpoints, where nobody could ask for them.
	trace     *sipstack.Trace
	ringTests chan struct{} // a place per ring test running (adminRingTest)
	// mediaPool keeps the relay's sockets between calls; nil with
	// MediaListen (a simulator's sockets) or without media.
	mediaPool *media.Pool
	stopWatch func()

	swapMu sync.Mutex // serialises Swap and Reload

	budgetOnce sync.Once
	budget     *listener.Budget // the stream listeners' connections (listeners.go)
}

// generation is one configuration as the running site uses it. It is
// never changed once stored.
type generation struct {
	program *ir.Program
	pw      *passwords
	secrets b2bua.Secrets   // pw, with the trunks' credentials when there are any
	core    *b2bua.Prepared // the call core's view: program, passwords, registrar
	flow    flowKeys        // the flow tokens' keys, in a cluster (node.go)
}

// New assembles and returns a site running cfg; Serve* start its sockets.
func New(cfg Config, o Options) (*Site, error) {
	if cfg.Program == nil {
		return nil, errors.New("site: no program")
	}
	if cfg.Secrets == nil {
		return nil, errors.New("site: no secrets")
	}
	if err := media.CheckPorts(o.MediaPortMin, o.MediaPortMax); err != nil {
		return nil, fmt.Errorf("site: %w", err)
	}
	s := &Site{o: o, log: o.Logger, clk: o.Clock, admin: newAdminGuard(o.AdminToken), stopWatch: func() {}, ringTests: make(chan struct{}, maxRingTests)}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.clk == nil {
		s.clk = clock.Real
	}
	if s.o.Carriers == nil {
		s.o.Carriers = sipdns.New(sipdns.Config{Clock: s.clk})
	}
	var err error
	if s.node, err = parseNode(o.Node); err != nil {
		return nil, fmt.Errorf("site: node URI %q: %w", o.Node, err)
	}
	if err := s.checkCluster(cfg); err != nil {
		return nil, err
	}
	authOpts := []auth.Option{auth.WithEvents(o.Events, s.Program), auth.WithLogger(s.log)}
	if len(o.DigestAlgorithms) > 0 {
		authOpts = append(authOpts, auth.WithAlgorithms(o.DigestAlgorithms...))
	}
	if o.NonceSlots > 0 {
		authOpts = append(authOpts, auth.WithNonceSlots(o.NonceSlots))
	}
	authOpts = append(authOpts, o.authOptions...)
	s.auth = auth.New(cfg.Program.Site.Domain, currentSecrets{s}, s.clk, authOpts...)
	regOpts := []registrar.Option{registrar.WithEvents(o.Events)}
	if o.Logger != nil {
		regOpts = append(regOpts, registrar.WithLogger(o.Logger))
	}
	// What a site keeps is named by its domain: the one name unique among
	// the sites one server serves.
	clustered, shared := s.clusterRegistrar()
	if !shared {
		kept, err := s.keptBindings(cfg.Program.Site.Domain)
		if err != nil {
			return nil, fmt.Errorf("registrations: %w", err)
		}
		regOpts = append(regOpts, kept...)
	}
	regOpts = append(regOpts, clustered...)
	s.registrar = registrar.New(cfg.Program, s.auth, s.clk, regOpts...)
	g := s.next(cfg)
	g.core = b2bua.Prepare(s.state(g))
	s.gen.Store(g)

	svcs := b2bua.Services{}
	if o.Services != nil {
		svcs = *o.Services
	} else {
		vm, err := s.keptVoicemail(cfg.Program.Site.Domain)
		if err == nil {
			s.services, err = services.New(services.Config{
				Program: s.Program, Clock: s.clk, Events: o.Events, Logger: s.log, DataDir: o.DataDir, VoicemailStore: vm,
				PINs: currentPINs{s}, Mailer: o.Mailer, MailFrom: o.MailFrom, DeleteAfterNotify: o.DeleteAfterMail,
			})
		}
		if err != nil {
			s.registrar.Close()
			return nil, err
		}
		svcs = s.services.Runtime()
		s.services.Retire(cfg.Program)
	}

	if o.AdminToken != "" {
		s.trace = sipstack.NewTrace()
	}
	rc := b2bua.Config{Current: s.core, Events: o.Events, Clock: s.clk, Logger: o.Logger, UDPMTU: o.UDPMTU, Presence: o.Presence, CallSetups: o.CallSetups, QueueDelay: o.QueueDelay, Trace: s.trace, Locator: s.o.Carriers}
	if s.node != nil {
		rc.Nodes = nodeHops{s}
	}
	if o.MediaIP.IsValid() {
		if o.MediaListen == nil {
			s.mediaPool = media.NewPool(media.PoolConfig{Clock: s.clk})
		}
		rc.Media = s.mediaFactory()
		rc.Services = svcs
		rc.LocalMedia = func() *media.Endpoint {
			return media.NewEndpoint(media.Config{IP: o.MediaIP, PortMin: o.MediaPortMin, PortMax: o.MediaPortMax, Clock: s.clk, Listen: o.MediaListen})
		}
	}
	srv, err := b2bua.New(rc)
	if err != nil {
		s.closeParts()
		return nil, err
	}
	s.server = srv
	if s.services != nil {
		s.stopWatch = s.services.WatchMailboxes(srv.MessageWaiting)
	}
	if err := s.openStream(cfg.Program.Site.Domain); err != nil {
		s.Close()
		return nil, err
	}
	if o.DataDir != "" && !o.Headless {
		pc := portal.Config{
			Program: s.Program, Passwords: s.portalPasswords, Bindings: s.registrar.Lookup,
			Events: o.Events, EventLog: s.eventLog(), Dir: filepath.Join(o.DataDir, "portal"), Clock: s.clk, Logger: s.log,
			Site: o.PortalSite, Trunks: s.portalTrunks, RingTest: s.portalRingTest,
		}
		if s.services != nil {
			pc.Voicemail = s.services.Voicemail()
		}
		if s.portal, err = portal.New(pc); err != nil {
			s.Close()
			return nil, err
		}
	}
	if o.AdminToken != "" && s.stream != nil {
		if s.journal, err = newJournal(s.stream.log, func(account string) bool { return len(s.registrar.Lookup(account)) > 0 }, s.log); err != nil {
			s.Close()
			return nil, fmt.Errorf("event journal: %w", err)
		}
	}
	if cfg.Bundle != "" {
		opts := append([]provisioning.Option{provisioning.WithEvents(o.Events), provisioning.WithLogger(s.log), provisioning.WithClock(s.clk),
			provisioning.WithAlgorithms(deviceDigest(cfg.Program)...)}, o.Provisioning...)
		if o.NonceSlots > 0 {
			opts = append(opts, provisioning.WithNonceSlots(o.NonceSlots))
		}
		if s.prov, err = provisioning.New(cfg.Program, cfg.Bundle, g.pw, opts...); err != nil {
			s.Close()
			return nil, fmt.Errorf("provisioning: %w", err)
		}
	}
	return s, nil
}

// next builds the generation of cfg, after the running one (if any): an
// account whose rotation cfg raised keeps its current password for
// provisioning, for the rotation grace; every account whose password the
// previous site key derived otherwise keeps that one for provisioning
// until cfg.PreviousUntil (a rekey's grace).
func (s *Site) next(cfg Config) *generation {
	pw := &passwords{program: cfg.Program, cur: cfg.Secrets, now: s.clk.Now}
	if old := s.gen.Load(); old != nil && s.o.RotationGrace > 0 {
		now := s.clk.Now()
		for a, p := range old.pw.prev {
			if now.Before(p.until) {
				pw.remember(a, p)
			}
		}
		for _, a := range cfg.Program.Accounts {
			was := old.program.Account(a.Name)
			if was == nil || was.Rotation == a.Rotation {
				continue
			}
			if p, ok := old.pw.cur.SIPPassword(a.Name); ok {
				pw.remember(a.Name, previousPassword{password: p, until: now.Add(s.o.RotationGrace)})
			}
		}
	}
	rekeyGrace(pw, cfg, s.clk.Now())
	g := &generation{program: cfg.Program, pw: pw, secrets: pw, flow: s.flowKeysOf(cfg)}
	trunks := cfg.Trunks
	if trunks == nil {
		trunks, _ = cfg.Secrets.(carrier.TrunkSecrets)
	}
	if trunks != nil {
		g.secrets = withTrunks{pw, trunks}
	}
	return g
}

// state is generation g as the SIP server runs it: its program, its
// passwords for digest authentication and its registrar's view.
func (s *Site) state(g *generation) b2bua.State {
	a := genAuth{s.auth, g.secrets}
	return b2bua.State{Program: g.program, Secrets: g.secrets, Auth: a, Registrar: registrarView{s.registrar.View(g.program, a), s.node}, Locator: s.o.Carriers}
}

// Program returns the running program.
func (s *Site) Program() *ir.Program { return s.gen.Load().program }

// core is the running generation as the call core reads it, once per
// request.
func (s *Site) core() *b2bua.Prepared { return s.gen.Load().core }

// Swap makes next the running configuration. The whole of it is built
// first — provisioning files read, passwords and their rotation grace
// worked out — and then swapped in at once; on error nothing changes.
// Calls in progress continue with the configuration they started with.
// Registrations of accounts that still exist are kept.
func (s *Site) Swap(next Config) error {
	s.swapMu.Lock()
	defer s.swapMu.Unlock()
	_, err := s.swap(next)
	return err
}

// swap is Swap; it returns the devices whose provisioning files changed.
func (s *Site) swap(next Config) (changed []string, err error) {
	if next.Program == nil || next.Secrets == nil {
		return nil, errors.New("site: a configuration needs a program and secrets")
	}
	if err := s.checkCluster(next); err != nil {
		return nil, err
	}
	g := s.next(next)
	g.core = b2bua.Prepare(s.state(g))
	var bundle provisioning.Bundle
	var before provisioning.Manifest
	if s.prov != nil {
		before = s.prov.Manifest()
		if bundle, err = s.prov.Load(next.Program, next.Bundle, g.pw); err != nil {
			return nil, fmt.Errorf("provisioning files: %w", err)
		}
	}
	// Built; now swapped in. SIP requests and the services read g from
	// s.gen; provisioning fetches read the bundle, which carries g's
	// passwords.
	s.gen.Store(g)
	if s.prov != nil {
		s.prov.Use(bundle)
		changed = provisioning.Changed(before, s.prov.Manifest())
	}
	s.server.Reloaded()
	// Bindings of removed accounts go; the sweeper's events name the new
	// program's origins.
	s.registrar.SetProgram(next.Program)
	if s.services != nil {
		// Removed people's boxes are archived or deleted once no account
		// of theirs is left to reach them.
		s.services.Retire(next.Program)
	}
	return changed, nil
}

// Reload swaps in the configuration Options.Recompile reads, and asks the
// devices whose provisioning files changed to fetch them again. reason
// names what asked for it (SIGHUP, the admin endpoint) in the log and the
// events. A configuration that cannot be read or served is refused and
// the running one stays.
func (s *Site) Reload(reason string) error {
	s.swapMu.Lock()
	defer s.swapMu.Unlock()
	if s.o.Recompile == nil {
		return errors.New("this site cannot reload: it was given no way to read its configuration")
	}
	next, err := s.o.Recompile()
	if err != nil {
		s.publish(events.Event{Kind: events.ReloadFailed, Cause: reason + ": " + err.Error() + "; the old one keeps running"})
		s.log.Error("reload rejected; the running configuration is unchanged", "trigger", reason, "error", err)
		return fmt.Errorf("%w; the old one keeps running", err)
	}
	changed, err := s.swap(next)
	if err != nil {
		s.publish(events.Event{Kind: events.ReloadFailed, Cause: err.Error()})
		s.log.Error("reload rejected; the running configuration is unchanged", "trigger", reason, "error", err)
		return err
	}
	s.log.Info("reloaded", "trigger", reason, "site", next.Program.Site.Name)
	for _, d := range changed {
		go func() {
			if _, err := s.server.CheckSync(context.Background(), d); err != nil {
				s.log.Info("check-sync not delivered", "device", d, "reason", err)
			}
		}()
	}
	return nil
}

func (s *Site) publish(e events.Event) {
	if s.o.Events != nil {
		if e.Time.IsZero() {
			e.Time = s.clk.Now()
		}
		s.o.Events.Publish(e)
	}
}

// ServeUDP serves SIP on conn until ctx ends or Close.
func (s *Site) ServeUDP(ctx context.Context, conn net.PacketConn) error {
	s.auth.AddServerAddress(conn.LocalAddr().String())
	return s.server.ServeUDP(ctx, conn)
}

// Status reports what the server is doing now.
func (s *Site) Status() b2bua.Status { return s.server.Status() }

// Events returns the events after ID after of the server's run epoch (""
// or another run's: from the oldest kept), waiting up to wait for one; ok
// is false when the site keeps no journal (no admin token, no event
// bus).
func (s *Site) Events(ctx context.Context, epoch string, after uint64, wait time.Duration) (p EventPage, ok bool) {
	if s.journal == nil {
		return EventPage{}, false
	}
	return s.journal.page(ctx, epoch, after, wait), true
}

// Accounts reports every account of the running site (registered or not,
// since when, from where, with which user agent, its last provisioning
// fetch), its trunks and the calls in progress; ok as for Events.
func (s *Site) Accounts() (r AccountsReport, ok bool) {
	if s.journal == nil {
		return AccountsReport{}, false
	}
	lookup := func(account string) []BindingInfo {
		var out []BindingInfo
		for _, b := range s.registrar.Lookup(account) {
			out = append(out, BindingInfo{Contact: b.Contact, Source: b.Source, Transport: b.Transport, Expires: b.Expires})
		}
		return out
	}
	return s.journal.accounts(s.Program(), lookup, s.server.Status().Trunks, s.clk.Now()), true
}

// RingTest has the server call a person's endpoints, say to whoever
// answers that this is a test call and to press a key, beep, and wait for
// the digit that confirms it (b2bua RingTest): for commissioning what no
// visitor can trigger.
func (s *Site) RingTest(ctx context.Context, user string, ring, confirm time.Duration) (b2bua.RingTestResult, error) {
	return s.server.RingTest(ctx, user, ringTestPrompt(), ring, confirm)
}

// ringTestPrompt is what a ring test plays, over and over until a key:
// the spoken prompt — a surprise call must say what it is and what to do,
// and someone who answered with "hello?" hears it again — then the beep,
// then a pause to press the key in.
var ringTestPrompt = sync.OnceValue(func() []int16 {
	// Both are embedded (prompts' TestRequiredNames): Join cannot fail.
	s, _ := prompts.Join("ring-test", prompts.Beep)
	return append(s, make([]int16, audio.Rate)...)
})

// CheckSync asks a device to fetch its provisioning files again, within a
// few seconds however many of its registrations are stale; it returns how
// many of its contacts accepted, and an error naming those that did not
// (also when others did).
func (s *Site) CheckSync(ctx context.Context, device string) (int, error) {
	return s.server.CheckSync(ctx, device)
}

// MessageWaiting tells the devices that show mailbox's light that its
// messages changed. The standard services call it themselves.
func (s *Site) MessageWaiting(mailbox string) { s.server.MessageWaiting(mailbox) }

// WaitConferenceFrames waits until the conference bridge has taken in n
// frames from the call with Call-ID id, or ctx ends: the simulator's
// read-side signal before it moves its virtual clock on.
func (s *Site) WaitConferenceFrames(ctx context.Context, id string, n int) error {
	if s.services == nil {
		return errors.New("site: the standard services were replaced; no conference bridge to wait on")
	}
	return s.services.WaitConferenceFrames(ctx, id, n)
}

// Close stops the site: calls are hung up and carriers un-registered while
// the sockets are open, then the sockets, the registrar and the services
// close.
func (s *Site) Close() error {
	var err error
	if s.server != nil {
		err = s.server.Close()
	}
	s.closeParts()
	return err
}

func (s *Site) closeParts() {
	s.stopWatch()
	if s.portal != nil {
		s.portal.Close()
	}
	if s.journal != nil {
		s.journal.close()
	}
	s.registrar.Close()
	if s.services != nil {
		_ = s.services.Close()
	}
	s.closeStream()
	if s.mediaPool != nil {
		_ = s.mediaPool.Close()
	}
}

func (s *Site) mediaFactory() b2bua.MediaFactory {
	o := s.o
	return func(onDigit func(fromCallee bool, digit rune)) (b2bua.MediaSession, error) {
		r, err := media.NewRelay(media.Config{
			IP: o.MediaIP, PortMin: o.MediaPortMin, PortMax: o.MediaPortMax, Clock: s.clk, Listen: o.MediaListen, Pool: s.mediaPool,
			OnDigit: func(side media.Side, d rune, _ time.Time) { onDigit(side == media.Callee, d) },
		})
		if err != nil {
			return nil, err
		}
		return relaySession{r}, nil
	}
}

// relaySession adapts the media relay to the server's MediaSession.
type relaySession struct{ *media.Relay }

func (r relaySession) NewLeg(at ...netip.Addr) (b2bua.MediaLeg, []byte, error) {
	l, sdp, err := r.Relay.NewLeg(at...)
	if err != nil {
		return nil, nil, err
	}
	return l, sdp, nil
}

// deviceDigest is what the provisioning server offers: the digest
// algorithms the site's devices answer (their models', the catalogue's),
// SHA-256 first when one of them answers it. An HTTP challenge comes
// before the device names itself, so it offers the union; a device whose
// firmware reads only the first challenge must not meet one it cannot
// answer, and every model the catalogue knows today answers MD5 alone.
func deviceDigest(p *ir.Program) []string {
	var sha, md5 bool
	for _, a := range p.Accounts {
		if a.Device == "" {
			continue
		}
		for _, alg := range p.DigestOf(a.Name) {
			sha = sha || alg == ir.DigestSHA256
			md5 = md5 || alg == ir.DigestMD5
		}
	}
	var algs []string
	if sha {
		algs = append(algs, provisioning.SHA256)
	}
	if md5 || !sha {
		algs = append(algs, provisioning.MD5)
	}
	return algs
}
