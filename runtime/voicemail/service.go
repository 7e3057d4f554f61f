package voicemail

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"switchboard/compiler/ir"
	"switchboard/email"
	"switchboard/runtime/audio"
	"switchboard/runtime/clock"
	"switchboard/runtime/events"
)

// Defaults of Config's zero values.
const (
	DefaultMaxMessage     = 3 * time.Minute
	DefaultMinMessage     = time.Second
	DefaultMaxGreeting    = time.Minute
	DefaultMaxMessages    = 99
	DefaultSyncEvery      = time.Second
	DefaultNoAudioTimeout = 10 * time.Second
	DefaultDigitTimeout   = 5 * time.Second
	DefaultBoxFailures    = 5
	DefaultSourceFailures = 10
	DefaultLockout        = 15 * time.Minute
)

// Config is what a Service runs with. Zero durations and counts take the
// Default… values.
type Config struct {
	// Program returns the running program: which boxes exist, whose they
	// are, the access number and the domain. It is read on every use, so
	// the service sees a reload the moment the site swaps it in (one
	// pointer for the whole site, never a copy of its own).
	Program func() *ir.Program
	// Dir holds one directory per mailbox; the server passes
	// filepath.Join(dataDir, "voicemail"). Open creates it. With a Store,
	// only the recordings in progress are written there.
	Dir string
	// Store, when set, keeps the boxes instead of Dir (serve's JetStream;
	// kept.go), and Open imports the files an older version kept in Dir
	// once (migrate.go).
	Store  Store
	Clock  clock.Clock  // nil: the wall clock
	Events *events.Bus  // nil: events are dropped
	Logger *slog.Logger // nil: slog.Default()

	// PINs gives each box's initial PIN. A PIN changed from the menu is
	// stored (hashed) in the box and takes its place. nil: a box whose
	// owner never set a PIN opens only from the owner's own devices.
	PINs PINSource
	// PINOwnDevices asks for the PIN on the owner's own devices too.
	PINOwnDevices bool
	// Throttle limits wrong PINs.
	Throttle Throttle

	// Mailer sends the new-message e-mails; nil sends none.
	Mailer email.Mailer
	// MailFrom is the sender of those e-mails; "voicemail@<site domain>"
	// when empty.
	MailFrom string
	// DeleteAfterNotify deletes a message once its e-mail was accepted.
	DeleteAfterNotify bool

	MaxMessage  time.Duration // longest message, in received audio
	MinMessage  time.Duration // shorter recordings are dropped
	MaxGreeting time.Duration // longest greeting
	MaxMessages int           // messages a box holds before it is full
	// SyncEvery is how much audio is recorded between syncs to disk: the
	// most a crash can lose.
	SyncEvery time.Duration
	// NoAudioTimeout ends a recording when no audio has arrived for this
	// long (on the clock).
	NoAudioTimeout time.Duration
	// DigitTimeout is how long a menu waits for a key, and PIN or number
	// entry for the next digit.
	DigitTimeout time.Duration
}

// Throttle limits wrong PINs. Each failure counts against the box and
// against the caller's source address in a window that opens with the
// first failure; a box or source that reaches its limit is refused until
// its window closes.
type Throttle struct {
	BoxFailures    int           // per box; default 5
	SourceFailures int           // per source address; default 10
	Window         time.Duration // default 15 minutes
}

// PINSource gives the initial PIN of a box: 4 to 6 digits, derived from
// the site key (compiler/credentials: Source.VoicemailPIN of the mailbox
// with its owner's rotation counter).
type PINSource interface {
	VoicemailPIN(box string) (pin string, ok bool)
}

// PINFunc adapts a function to PINSource.
type PINFunc func(box string) (string, bool)

// VoicemailPIN implements PINSource.
func (f PINFunc) VoicemailPIN(box string) (string, bool) { return f(box) }

// Caller is who called: the fields, in order, of b2bua.Caller, so the
// server converts one to the other.
type Caller struct {
	Account     string // the authenticated IR account, or trunk.<name>; "" when unknown
	DisplayName string
	Number      string // the caller's user part (a carrier's caller ID)
	Source      string // network address, for PIN throttling
	Call        string // Call-ID, for events
	// Reason is why the call came to voicemail ("no answer", "busy",
	// "declined"), kept with the message; empty when not known.
	Reason string
}

// Errors of Deposit and Access.
var (
	ErrNoBox     = errors.New("voicemail: no such mailbox")
	ErrBoxFull   = errors.New("voicemail: mailbox full")
	ErrNoProgram = errors.New("voicemail: no program set")
	ErrLocked    = errors.New("voicemail: locked out after wrong PINs")
	ErrLogin     = errors.New("voicemail: login failed")
)

// Service is the voicemail of one server.
type Service struct {
	cfg   Config
	clk   clock.Clock
	log   *slog.Logger
	shelf shelf // where the boxes are kept: Dir, or the Store
	fs    files // where the files under Dir are: the disk, or Store.Memory

	mu       sync.Mutex
	boxes    map[string]*box
	watchers map[int]func(string)
	watchSeq int

	// recovered are the messages recoverAll finished at Open; they are
	// mailed once every box is recovered (a box read earlier would count
	// another crash's debris among its messages).
	recovered []msgRef

	// unfollow stops following the other nodes' writes (Store.Shared).
	unfollow func()

	throttle pinThrottle
	mail     sync.WaitGroup
	// retries are the e-mails waiting to be tried again (mail.go), by
	// message; closed stops new ones.
	retries map[msgRef]clock.Timer
	// completions are the deposits whose metadata is to be completed on
	// a later try (completeLater), by message.
	completions map[msgRef]clock.Timer
	closed      bool
	// archiveMail marks the archives being mailed to the owner, or
	// already said at WARN not to be (archive_mail.go), by identity.
	archiveMail map[string]bool

	// onRecord, when set (by tests), runs once a recording has started:
	// the beep is over and stale audio discarded.
	onRecord func()
	// onOpen, when set (by tests), runs as a message's files are opened:
	// after the beep, before the recording has started.
	onOpen func()
}

// msgRef names one message.
type msgRef struct {
	box string
	id  int
}

// Open prepares the boxes under cfg.Dir, recovering recordings that a
// crash cut short. Call it before serving.
func Open(cfg Config) (*Service, error) {
	if cfg.Dir == "" {
		return nil, errors.New("voicemail: no directory")
	}
	if cfg.Program == nil {
		return nil, errors.New("voicemail: no program")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.MaxMessage, DefaultMaxMessage)
	def(&cfg.MinMessage, DefaultMinMessage)
	def(&cfg.MaxGreeting, DefaultMaxGreeting)
	def(&cfg.SyncEvery, DefaultSyncEvery)
	def(&cfg.NoAudioTimeout, DefaultNoAudioTimeout)
	def(&cfg.DigitTimeout, DefaultDigitTimeout)
	def(&cfg.Throttle.Window, DefaultLockout)
	if cfg.MaxMessages <= 0 {
		cfg.MaxMessages = DefaultMaxMessages
	}
	if cfg.Throttle.BoxFailures <= 0 {
		cfg.Throttle.BoxFailures = DefaultBoxFailures
	}
	if cfg.Throttle.SourceFailures <= 0 {
		cfg.Throttle.SourceFailures = DefaultSourceFailures
	}
	s := &Service{cfg: cfg, clk: cfg.Clock, log: cfg.Logger, boxes: map[string]*box{}, watchers: map[int]func(string){}}
	if s.clk == nil {
		s.clk = clock.Real
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.throttle.init()
	s.fs = diskFiles{}
	if cfg.Store.Memory != nil {
		if cfg.Store.Objects != nil || cfg.Store.Keys != nil {
			return nil, errors.New("voicemail: a store and files in memory")
		}
		s.fs = cfg.Store.Memory
	}
	if err := s.files().mkdirAll(cfg.Dir); err != nil {
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	s.shelf = dirShelf{root: cfg.Dir, fs: s.fs}
	if cfg.Store.Objects != nil || cfg.Store.Keys != nil {
		k, err := openKept(cfg.Store, cfg.Dir, s.maxFile())
		if err != nil {
			return nil, err
		}
		// The files of an older version are finished (recovered) and
		// imported while s.shelf is still the directory.
		if err := s.migrate(k); err != nil {
			return nil, err
		}
		s.shelf = k
		// Count's inventory from the start (after migrate, which may
		// move the directory's files aside), not only after a change.
		k.startInventory()
	}
	if err := s.recoverAll(); err != nil {
		return nil, err
	}
	if k, ok := s.shelf.(*keptShelf); ok && cfg.Store.Shared {
		var err error
		if s.unfollow, err = k.follow(s.foreign); err != nil {
			return nil, fmt.Errorf("voicemail: %w", err)
		}
	}
	if p := cfg.Program(); p != nil {
		for _, r := range s.recovered {
			if p.Mailbox(r.box) != nil {
				s.notify(r.box, r.id) // the e-mail its caller was promised
			}
		}
	}
	s.recovered = nil
	return s, nil
}

// maxFile bounds an audio file kept in a store: the longest message or
// greeting recorded (a byte a sample, G.711), or the largest greeting file
// SetGreeting takes, and a header.
func (s *Service) maxFile() int64 {
	n := max(int64(s.cfg.MaxMessage*audio.Rate/time.Second), int64(s.cfg.MaxGreeting*audio.Rate/time.Second), MaxGreetingFile)
	return n + 1024
}

// Close waits for the e-mails in flight.
func (s *Service) Close() error {
	if s.unfollow != nil {
		s.unfollow()
	}
	s.mu.Lock()
	s.closed = true
	for _, t := range s.retries {
		t.Stop()
	}
	s.retries = nil
	for _, t := range s.completions {
		t.Stop()
	}
	s.completions = nil
	s.mu.Unlock()
	s.mail.Wait()
	return nil
}

// Watch calls f with a box's name whenever its messages change (a message
// left, recovered, saved or deleted), on the goroutine that changed it,
// once the change is on disk. f must not block. stop ends the watch.
func (s *Service) Watch(f func(box string)) (stop func()) {
	s.mu.Lock()
	s.watchSeq++
	id := s.watchSeq
	s.watchers[id] = f
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.watchers, id)
		s.mu.Unlock()
	}
}

func (s *Service) changed(box string) {
	s.mu.Lock()
	fs := make([]func(string), 0, len(s.watchers))
	for _, f := range s.watchers {
		fs = append(fs, f)
	}
	s.mu.Unlock()
	for _, f := range fs {
		f(box)
	}
}

// HasBox reports whether the running program has the mailbox.
func (s *Service) HasBox(box string) bool {
	p := s.cfg.Program()
	return p != nil && p.Mailbox(box) != nil && validBoxName(box)
}

// BoxOf is the mailbox of the user who owns account (an app or desk
// phone), or "".
func (s *Service) BoxOf(account string) string {
	p := s.cfg.Program()
	if p == nil {
		return ""
	}
	return ownBox(p, account)
}

func ownBox(p *ir.Program, account string) string {
	a := p.Account(account)
	if a == nil || a.Owner.Kind != ir.RefUser {
		return ""
	}
	if u := p.User(a.Owner.Name); u != nil && u.Mailbox != "" && p.Mailbox(u.Mailbox) != nil {
		return u.Mailbox
	}
	return ""
}

// boxByNumber is the mailbox a caller means by number: the mailbox of the
// user with that extension.
func boxByNumber(p *ir.Program, number string) string {
	if number == "" {
		return ""
	}
	if n := p.Number(number); n != nil && n.Action.Kind == ir.ActionRing && n.Action.Target.Kind == ir.RefUser {
		if u := p.User(n.Action.Target.Name); u != nil && u.Mailbox != "" && p.Mailbox(u.Mailbox) != nil {
			return u.Mailbox
		}
	}
	for i := range p.Users {
		if u := &p.Users[i]; u.Extension == number && u.Mailbox != "" && p.Mailbox(u.Mailbox) != nil {
			return u.Mailbox
		}
	}
	return ""
}

// owner is the user who owns box, or nil.
func owner(p *ir.Program, box string) *ir.User {
	m := p.Mailbox(box)
	if m == nil || m.Owner.Kind != ir.RefUser {
		return nil
	}
	return p.User(m.Owner.Name)
}

func (s *Service) publish(e events.Event, box string) {
	if s.cfg.Events == nil {
		return
	}
	if box != "" {
		e.Target = "mailbox." + box
		if p := s.cfg.Program(); p != nil {
			if m := p.Mailbox(box); m != nil {
				e.Origin = m.Origin
			}
		}
	}
	if e.Time.IsZero() {
		e.Time = s.clk.Now()
	}
	s.cfg.Events.Publish(e)
}
