package simulate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"regexp"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/catalogue"
	"switchboard/compiler/ir"
	"switchboard/runtime/auth"
	"switchboard/runtime/carrier"
	"switchboard/runtime/clock"
	"switchboard/runtime/events"
	"switchboard/runtime/media"
	"switchboard/runtime/services"
	"switchboard/runtime/site"
	"switchboard/runtime/voicemail"
	"switchboard/simulate/device"
	"switchboard/simulate/memnet"
)

// Options configure a run.
type Options struct {
	// Run selects cases whose name matches.
	Run *regexp.Regexp
	// Parallel is how many independent servers run cases at once;
	// GOMAXPROCS when zero.
	Parallel int
	// Wait bounds each expectation in real time; 5 s when zero. On the
	// in-memory network an expectation that is not met ends as soon as the
	// network has gone quiet (see worker.waitCtx), well before Wait.
	Wait time.Duration
	// IP is the address the server and devices use; the carrier gets the
	// next address, which the site's trunks are pointed at. Over UDP it
	// must be a loopback address (127.0.0.1 when invalid); in memory any
	// address works (192.0.2.1 when invalid: a documentation address no
	// host has, so nothing can reach a real socket by mistake).
	IP netip.Addr
	// Transport is how SIP and RTP travel between the server and the
	// devices: TransportMemory (the default) or TransportUDP.
	Transport string
	// TrunkSecrets are the values of the trunks' credentials (the
	// variables the IR names, as `switchboard test` reads them). With
	// them the server registers at the simulated carrier, which
	// challenges its REGISTER and its calls out with digest and checks
	// the answers. Without them (nil, or a reference with no value) a
	// trunk is simulated as IP-authenticated: its credentials are taken
	// out of the program the server runs and the carrier trusts the
	// server's address.
	TrunkSecrets carrier.TrunkSecrets
	// Progress, if set, is called as each selected case ends (skipped
	// ones too), one call at a time, with the case's name: what a
	// progress line on a terminal needs.
	Progress func(name string)
	// Result, if set, is called with each selected case's result as the
	// case ends (skipped ones too), one call at a time, before Progress:
	// what streaming the results as they come needs. The Report still
	// lists them all in case order.
	Result func(Result)
}

// Transports.
const (
	// TransportMemory carries every datagram in memory (package memnet):
	// the same bytes through the same SIP stack, without sockets.
	TransportMemory = "memory"
	// TransportUDP uses loopback UDP sockets, as on a real network.
	TransportUDP = "udp"
)

// Status is a case's outcome.
type Status string

const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Result is the outcome of one case.
type Result struct {
	Name     string
	Status   Status
	Duration time.Duration
	Message  string    // why it failed or was skipped
	Step     string    // the step that failed
	Origin   ir.Origin // the HCL the case proves
	Ladder   []string  // SIP messages of the case, for a failure
	// SIP is the same messages structured, for a ladder diagram; Ladder
	// has a line more when the call had more than could be kept, and
	// MoreSIP says so.
	SIP     []SIPMessage
	MoreSIP bool
}

// Report is the outcome of a run, in case order.
type Report struct {
	Results  []Result
	Duration time.Duration
	// Datagrams is how many datagrams the in-memory networks carried,
	// registrations included (0 over UDP): what a run costs in messages.
	Datagrams uint64
	// SIP is how many SIP messages the servers sent and received,
	// registrations included, over either transport; the rest of
	// Datagrams is media (RTP).
	SIP uint64
}

// Counts returns how many cases passed, failed and were skipped.
func (r *Report) Counts() (pass, fail, skip int) {
	for _, res := range r.Results {
		switch res.Status {
		case Pass:
			pass++
		case Fail:
			fail++
		case Skip:
			skip++
		}
	}
	return
}

// Secrets gives the simulated devices their passwords, as an installer
// gives them to real ones.
type Secrets interface {
	SIPPassword(account string) (string, bool)
}

// Run runs cases against servers of p, in parallel, and reports in case
// order.
func Run(ctx context.Context, p *ir.Program, secrets Secrets, cases []Case, o Options) (*Report, error) {
	start := time.Now()
	if o.Wait == 0 {
		o.Wait = 5 * time.Second
	}
	switch o.Transport {
	case "":
		o.Transport = TransportMemory
	case TransportMemory, TransportUDP:
	default:
		return nil, fmt.Errorf("unknown transport %q (want %q or %q)", o.Transport, TransportMemory, TransportUDP)
	}
	if !o.IP.IsValid() {
		o.IP = netip.MustParseAddr("127.0.0.1")
		if o.Transport == TransportMemory {
			o.IP = netip.MustParseAddr("192.0.2.1")
		}
	}
	var selected []int
	for i, c := range cases {
		if o.Run == nil || o.Run.MatchString(c.Name) {
			selected = append(selected, i)
		}
	}
	results := make([]Result, len(cases))
	work := make(chan int)
	workers := o.Parallel
	if workers <= 0 {
		workers = goruntime.GOMAXPROCS(0)
	}
	runnable := 0
	for _, i := range selected {
		if cases[i].Skip == "" {
			runnable++
		}
	}
	// Each worker first registers every account with a server of its
	// own: on a large site that costs as much as hundreds of cases (a
	// case costs about what eight registrations do), so a short selection
	// — a re-test after a small change — runs on fewer workers.
	perWorker := max(1, len(p.Accounts)/8)
	workers = max(1, min(workers, runnable, (runnable+perWorker-1)/perWorker))
	// Workers start together (each registers every account with its own
	// server) and take cases as soon as they are ready.
	var progressMu sync.Mutex
	ended := func(r Result) {
		if o.Progress == nil && o.Result == nil {
			return
		}
		progressMu.Lock()
		defer progressMu.Unlock()
		if o.Result != nil {
			o.Result(r)
		}
		if o.Progress != nil {
			o.Progress(r.Name)
		}
	}
	var wg sync.WaitGroup
	var datagrams, sipMessages atomic.Uint64
	errc := make(chan error, workers)
	failed := make(chan struct{})
	var failOnce sync.Once
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk, err := newWorker(p, secrets, o)
			if err != nil {
				errc <- err
				failOnce.Do(func() { close(failed) })
				return
			}
			defer func() {
				if wk.net != nil {
					datagrams.Add(wk.net.Stats().Delivered)
				}
				sipMessages.Add(wk.ladder.sent.Load())
				wk.close()
			}()
			for i := range work {
				results[i] = wk.run(ctx, cases[i])
				ended(results[i])
			}
		}()
	}
feed:
	for _, i := range selected {
		if cases[i].Skip != "" {
			results[i] = Result{Name: cases[i].Name, Status: Skip, Message: cases[i].Skip, Origin: cases[i].Origin}
			ended(results[i])
			continue
		}
		select {
		case work <- i:
		case <-ctx.Done():
		case <-failed:
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return nil, err
	}
	rep := &Report{Duration: time.Since(start), Datagrams: datagrams.Load(), SIP: sipMessages.Load()}
	for _, i := range selected {
		rep.Results = append(rep.Results, results[i])
	}
	return rep, ctx.Err()
}

// eventQueue is how many of the server's events a worker holds before it
// has taken them in.
const eventQueue = 1 << 12

// worker is one server with every device registered; it runs cases one at
// a time so that its virtual clock and event log belong to one case.
type worker struct {
	o        Options
	p        *ir.Program
	clock    *virtualClock
	site     *site.Site
	roomPINs services.ConferencePINs // nil: rooms with a PIN cannot be joined
	dataDir  string                  // the services' data: voicemail messages
	vmFiles  *voicemail.MemoryFiles  // the voicemail's files, in memory; nil: under dataDir
	hub      *device.Hub
	carriers []*device.Hub   // one per trunk, in the program's order
	net      *memnet.Network // the in-memory network; nil over UDP
	sub      *events.Subscription
	ladder   *ladder
	cancel   context.CancelFunc
	order    map[string]int // account → index in p.Accounts

	// What the case in progress has seen, reset when a case starts: its
	// events, how many calls started and ended, and the accounts its calls
	// reached. notify is signalled on each change; one step waits at a
	// time.
	mu      sync.Mutex
	events  []events.Event
	started int
	ended   int
	reached map[string]int // calls that reached each account
	notify  chan struct{}
}

// signal wakes the waiting step, if any.
func (w *worker) signal() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

func newWorker(prog *ir.Program, secrets Secrets, o Options) (*worker, error) {
	w := &worker{
		o: o, clock: newVirtualClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)),
		notify: make(chan struct{}, 1), reached: map[string]int{}, order: make(map[string]int, len(prog.Accounts)),
	}
	for i, a := range prog.Accounts {
		w.order[a.Name] = i
	}
	bus := events.NewBus(w.clock.Now)
	// A case's events are a few dozen and this goroutine takes them as
	// they come; the queue's room is kept in memory, and scanned at every
	// collection, for the whole run (1<<16 events were 21 MB a worker). A
	// case during which the queue overflowed fails (worker.run).
	w.sub = bus.Subscribe(eventQueue)
	go func() {
		for e := range w.sub.C {
			w.mu.Lock()
			switch e.Kind {
			case events.CallStarted:
				w.started++
			case events.CallEnded:
				w.ended++
			}
			w.events = append(w.events, e)
			w.mu.Unlock()
			w.signal()
		}
	}()
	// Until the server runs, close undoes what is open so far.
	var closers []func()
	fail := func(err error) (*worker, error) {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
		w.sub.Close()
		return nil, err
	}

	// Sockets: the server's, the devices' hub, the carrier's hub and every
	// RTP socket come from one in-memory network, or are real UDP.
	var (
		listenPacket = func(ip netip.Addr, port uint16) (net.PacketConn, error) {
			return net.ListenPacket("udp", netip.AddrPortFrom(ip, port).String())
		}
		// Real UDP with room for a burst: a simulated caller sends a
		// message's audio faster than a phone would, and a packet the
		// kernel drops (RcvbufErrors) can be the # that ends it.
		listenMedia media.ListenFunc = func(laddr netip.AddrPort) (media.PacketConn, error) {
			c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(laddr))
			if err != nil {
				return nil, err
			}
			_ = c.SetReadBuffer(1 << 20)
			return c, nil
		}
	)
	if o.Transport == TransportMemory {
		mn := memnet.New()
		w.net = mn
		listenPacket = func(ip netip.Addr, port uint16) (net.PacketConn, error) {
			return mn.Listen(netip.AddrPortFrom(ip, port))
		}
		listenMedia = func(laddr netip.AddrPort) (media.PacketConn, error) { return mn.Listen(laddr) }
	}
	serverPort := uint16(0)
	if o.Transport == TransportMemory {
		serverPort = 5060
	}
	conn, err := listenPacket(o.IP, serverPort)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() { conn.Close() })
	server := conn.LocalAddr().String()

	// Each trunk's carrier is simulated at an address of its own after
	// the server's, and the trunk is pointed there: the server tells
	// carriers apart by address, as it does real ones. Over UDP whatever
	// the site says.
	var carrierConns []net.PacketConn
	carrierIP := o.IP
	for range prog.Trunks {
		carrierIP = carrierIP.Next()
		c, err := listenPacket(carrierIP, 0)
		if err != nil {
			return fail(fmt.Errorf("simulated carrier at %s: %w (is %s a loopback address here?)", carrierIP, err, carrierIP))
		}
		closers = append(closers, func() { c.Close() })
		carrierConns = append(carrierConns, c)
	}
	p, carrierAuth := carrierProgram(prog, carrierConns, o.TrunkSecrets)
	w.p = p

	// The report says what went wrong, with the SIP ladder; the server's
	// log would only interleave with it.
	quiet := slog.New(slog.DiscardHandler)
	// Voicemail keeps its messages in a directory of the worker's own,
	// where a case finds the message it left, as an installer would.
	dataDir, err := os.MkdirTemp(scratchDir(), "switchboard-test-")
	if err != nil {
		return fail(err)
	}
	w.dataDir = dataDir
	closers = append(closers, func() { os.RemoveAll(dataDir) })
	if o.Transport == TransportMemory {
		// In memory, the voicemail's files too: a case reads its message
		// back once and the run drops them all, so the disk's creates,
		// syncs and renames (over a second of a large suite's CPU) buy
		// nothing. Over UDP they stay files, as serve writes them.
		w.vmFiles = voicemail.NewMemoryFiles()
	}
	w.roomPINs, _ = secrets.(services.ConferencePINs)
	// The site `switchboard serve` runs, assembled the same way, on the
	// simulation's clock and network.
	st, err := site.New(site.Config{Program: w.p, Secrets: secrets, Trunks: o.TrunkSecrets},
		site.Options{Events: bus, Clock: w.clock, Logger: quiet, MediaIP: o.IP, MediaListen: listenMedia, DataDir: dataDir, Headless: true, VoicemailMemory: w.vmFiles})
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() { st.Close() })
	w.site = st
	w.ladder = &ladder{PacketConn: conn, names: map[string]string{}}
	onIncoming := func(d *device.Device, callID string) bool {
		// Under w.mu, which beginCase holds to move to the next case: an
		// INVITE is the case's ring, or refused, never counted in the
		// next case for a verdict reached in this one.
		w.mu.Lock()
		if !w.ladder.invited(callID) {
			// An INVITE the server sent before this case began, taken in
			// late (see device.HubConfig.OnIncoming): another case's call,
			// which the device refuses rather than ring or answer as this
			// case told it to.
			w.mu.Unlock()
			return false
		}
		w.reached[d.Account()]++
		w.mu.Unlock()
		w.signal()
		return true
	}
	hubConn, err := listenPacket(o.IP, 0)
	if err != nil {
		return fail(err)
	}
	if w.hub, err = device.NewHub(device.HubConfig{Domain: p.Site.Domain, Server: server, IP: o.IP, Conn: hubConn, ListenMedia: listenMedia, OnIncoming: onIncoming}); err != nil {
		hubConn.Close()
		return fail(err)
	}
	closers = append(closers, func() { w.hub.Close() })
	w.ladder.name(w.hub.Addr(), "devices")
	for i, t := range p.Trunks {
		// The carrier's own device places the trunk's DDI calls and takes
		// every call out over it, whatever the number: the public network.
		account := ir.AccountName(ir.AccountTrunk, t.Name)
		ip, _ := netip.ParseAddrPort(carrierConns[i].LocalAddr().String())
		hub, err := device.NewHub(device.HubConfig{Domain: p.Site.Domain, Server: server, IP: ip.Addr(), Conn: carrierConns[i], ListenMedia: listenMedia,
			OnIncoming: onIncoming, Authenticate: carrierAuth[i], Registrar: true, CatchAll: account})
		if err != nil {
			return fail(fmt.Errorf("simulated carrier at %s: %w", ip.Addr(), err))
		}
		w.carriers = append(w.carriers, hub)
		closers = append(closers, func() { hub.Close() })
		name := "carrier"
		if len(p.Trunks) > 1 {
			name += " " + t.Name
		}
		w.ladder.name(hub.Addr(), name)
		hub.Add(account, "")
	}
	// The server last, with everyone listening: it registers at the
	// carrier as soon as it reads from its socket.
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go st.ServeUDP(ctx, w.ladder)
	if err := w.register(secrets); err != nil {
		w.close()
		return nil, err
	}
	if err := w.trunksRegistered(); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// carrierProgram is the program the server runs against the simulated
// carriers listening on conns, one per trunk: each trunk points at its
// own, over UDP, and a trunk whose credentials have no value in trunks is
// IP-authenticated. It returns, per trunk, how its carrier vets the
// server's requests: digest with the trunk's credentials (401 for
// REGISTER, 407 for INVITE, as carriers do), or nil.
func carrierProgram(prog *ir.Program, conns []net.PacketConn, trunks carrier.TrunkSecrets) (*ir.Program, []func(*sip.Request) *sip.Response) {
	p := *prog
	p.Trunks = slices.Clone(prog.Trunks)
	vet := make([]func(*sip.Request) *sip.Response, len(p.Trunks))
	for i := range p.Trunks {
		t := &p.Trunks[i]
		addr, _ := netip.ParseAddrPort(conns[i].LocalAddr().String())
		realm := t.Host // the carrier's realm is its own name, as the site wrote it
		t.Host, t.Port, t.Transport = addr.Addr().String(), int(addr.Port()), "udp"
		var user, pass string
		ok := trunks != nil
		if ok {
			var uok, pok bool
			user, uok = t.Login, t.Login != "" // a username written as text
			if t.Login == "" {
				user, uok = trunks.TrunkSecret(t.Username)
			}
			pass, pok = trunks.TrunkSecret(t.Password)
			ok = uok && pok && (t.Username != "" || t.Login != "") && t.Password != ""
		}
		if !ok {
			t.Username, t.Login, t.Password = "", "", ""
			continue
		}
		// A carrier offers SHA-256 first (RFC 8760), as real ones do; the
		// server's trunk answers either.
		a := auth.New(realm, carrierPasswords{user: pass}, clock.Real, auth.WithAlgorithms(auth.SHA256, auth.MD5))
		vet[i] = func(req *sip.Request) *sip.Response {
			_, res := a.Check(req, "", req.Method == sip.INVITE)
			return res
		}
	}
	return &p, vet
}

// carrierPasswords are the trunks' passwords by user name, as the carrier
// knows them.
type carrierPasswords map[string]string

func (c carrierPasswords) SIPPassword(user string) (string, bool) {
	pw, ok := c[user]
	return pw, ok
}

// trunksRegistered waits until the server has registered every trunk with
// credentials at the carrier, so that no case sees the registration.
func (w *worker) trunksRegistered() error {
	want := map[string]bool{}
	for _, t := range w.p.Trunks {
		if t.Username != "" || t.Login != "" {
			want[ir.AccountName(ir.AccountTrunk, t.Name)] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	var failed []string
	ok := w.until(func() bool {
		done := map[string]bool{}
		failed = failed[:0]
		for _, e := range w.events {
			switch {
			case e.Kind == events.TrunkRegistered && want[e.Account]:
				done[e.Account] = true
			case e.Kind == events.TrunkRegistrationFailed && want[e.Account]:
				failed = append(failed, e.Account+": "+e.Cause)
			}
		}
		return len(done) == len(want) || len(failed) > 0
	})
	if len(failed) > 0 {
		return fmt.Errorf("the server could not register at the simulated carrier: %s", strings.Join(failed, "; "))
	}
	if !ok {
		return fmt.Errorf("the server did not register at the simulated carrier within %s", w.o.Wait)
	}
	return nil
}

// natAddr is the private address the i-th simulated app believes it has:
// in 127.255.0.0/16, which nothing listens on.
func natAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 255, byte(i >> 8), byte(1 + i%254)})
}

// registerAtOnce bounds the registrations in flight while a worker starts.
const registerAtOnce = 64

// register adds a device for every account to the hub and registers it,
// many at a time, as a building's devices do after a power cut.
func (w *worker) register(secrets Secrets) error {
	devs := make([]*device.Device, len(w.p.Accounts))
	for i, a := range w.p.Accounts {
		pw, ok := secrets.SIPPassword(a.Name)
		if !ok {
			return fmt.Errorf("no password for account %q", a.Name)
		}
		devs[i] = w.hub.Add(a.Name, pw)
		if a.Kind == ir.AccountApp {
			// Apps run on phones on home Wi-Fi or mobile data: behind NAT,
			// with a private address in their Contact that the server must
			// not use. (A loopback address nothing listens on, so that no
			// packet sent there leaves this machine.)
			devs[i].SetBehindNAT(natAddr(i))
		}
		if d := w.p.Device(a.Device); d != nil && d.Kind == ir.DoorStation {
			// A camera door station offers video as the real one does:
			// an offer near a kilobyte, a second stream for the relay.
			if m, ok := catalogue.Lookup(d.Model); ok && m.Video {
				devs[i].SetCamera(true)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errs := make([]error, len(devs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(registerAtOnce, len(devs)) {
		wg.Go(func() {
			for i := range next {
				status, err := devs[i].Register(ctx, time.Hour)
				if err == nil && status != 200 {
					err = fmt.Errorf("status %d", status)
				}
				if err != nil {
					errs[i] = fmt.Errorf("registering %s with the server failed: %w", devs[i].Account(), err)
					cancel()
				}
			}
		})
	}
	for i := range devs {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *worker) close() {
	// The server first: it hangs up what is left while the devices can
	// still answer.
	w.site.Close()
	if w.dataDir != "" {
		os.RemoveAll(w.dataDir)
	}
	if w.cancel != nil {
		w.cancel()
	}
	if w.hub != nil {
		w.hub.Close()
	}
	for _, c := range w.carriers {
		c.Close()
	}
	w.sub.Close()
}

func (w *worker) device(account string) *device.Device {
	if d := w.hub.Device(account); d != nil {
		return d
	}
	for _, c := range w.carriers {
		if d := c.Device(account); d != nil {
			return d
		}
	}
	return nil
}

// caseState is what one case has going.
type caseState struct {
	call     *device.Call
	dialErr  error
	dialDone chan struct{}
	// carried is how many calls each carrier device had been offered
	// before the case: the case's own calls out come after.
	carried map[string]int
}

func (w *worker) run(ctx context.Context, c Case) (res Result) {
	start := time.Now()
	res = Result{Name: c.Name, Origin: c.Origin, Status: Pass}
	// Before any device is told what to do in this case: from here an
	// earlier case's INVITE is refused (onIncoming), so whatever a device
	// is told next applies to this case's calls only.
	w.beginCase()
	w.hub.RingAll()
	w.hub.ClearNotifications()
	for _, c := range w.carriers {
		c.RingAll()
	}
	w.clock.Rewind()
	w.mu.Lock()
	w.events = w.events[:0]
	w.started, w.ended = 0, 0
	w.mu.Unlock()
	st := &caseState{carried: map[string]int{}}
	for i, t := range w.p.Trunks {
		a := ir.AccountName(ir.AccountTrunk, t.Name)
		st.carried[a] = w.carriers[i].Device(a).IncomingCount()
	}
	dropped := w.sub.Dropped()
	defer func() {
		w.cleanup(st)
		w.endCase()
		if n := w.sub.Dropped() - dropped; n > 0 && res.Status == Pass {
			// A wait may have missed what it waited for, or a check what
			// it should have seen: no verdict either way.
			res.Status, res.Step, res.Message = Fail, "the simulator", fmt.Sprintf("the simulator lost %d of the server's events (its queue holds %d); the case cannot be judged", n, eventQueue)
		}
		res.Duration = time.Since(start)
		if res.Status == Fail {
			res.SIP, res.MoreSIP = w.ladder.messages()
			res.Ladder = ladderLines(res.SIP, res.MoreSIP)
		}
	}()
	for i, step := range c.Steps {
		if err := w.step(ctx, st, step); err != nil {
			res.Status, res.Step, res.Message = Fail, step.describe(), err.Error()
			if i < len(c.StepOrigins) && c.StepOrigins[i].File != "" {
				// The scenario's own line for the step that failed.
				res.Origin = c.StepOrigins[i]
			}
			return res
		}
	}
	return res
}

// beginCase forgets what the previous case saw. The ladder's calls and
// the rings go together, under w.mu as onIncoming reads them: an INVITE
// admitted before is the previous case's ring and cleared with it, one
// taken in after is refused unless the server sends it from now on.
func (w *worker) beginCase() {
	w.mu.Lock()
	w.ladder.reset()
	clear(w.reached)
	w.mu.Unlock()
}

// endCase closes the case to INVITEs that reach a device late: from here
// until the next case begins, a device refuses every INVITE the server
// sent before (onIncoming), rather than answer it as the case told it to
// when the server has long given up on the call. The ladder's messages
// stay, for the case's report.
func (w *worker) endCase() {
	w.mu.Lock()
	w.ladder.forgetCalls()
	w.mu.Unlock()
}

// cleanup ends whatever the case left running and waits for the server to
// report every call over, so the next case starts from a quiet server.
func (w *worker) cleanup(st *caseState) {
	if st.dialDone != nil && !closed(st.dialDone) {
		w.settle()
	}
	if st.dialDone != nil {
		// A call still ringing: let every timer run out, a virtual minute
		// at a time (the dial itself gives up after two real minutes).
		// After each minute, either the dial ends or the server arms its
		// next timer (the next hunt step, a retransmission) for the next
		// minute to reach; the expectation wait bounds a server that does
		// neither.
		for i := 0; i < 20 && !closed(st.dialDone); i++ {
			select {
			case <-w.clock.scheduled: // a signal from before this minute
			default:
			}
			w.clock.Advance(time.Minute)
			limit, stop := w.waitCtx(context.Background())
			select {
			case <-st.dialDone:
			case <-w.clock.scheduled:
			case <-limit.Done():
			}
			stop()
		}
		<-st.dialDone
	}
	if st.call != nil && !st.call.Ended() {
		ctx, cancel := w.waitCtx(context.Background())
		_ = st.call.Hangup(ctx)
		cancel()
	}
	w.until(func() bool { return w.started == w.ended })
}

// until waits until cond (called with w.mu held) holds, for at most the
// expectation wait (see waitCtx), and reports whether it did.
func (w *worker) until(cond func() bool) bool {
	return w.untilBy(cond, w.waitCtx)
}

// untilBy is until with the wait bounded by bound.
func (w *worker) untilBy(cond func() bool, bound func(context.Context) (context.Context, context.CancelFunc)) bool {
	var deadline <-chan struct{}
	for {
		w.mu.Lock()
		ok := cond()
		w.mu.Unlock()
		if ok {
			return true
		}
		if deadline == nil {
			ctx, cancel := bound(context.Background())
			defer cancel()
			deadline = ctx.Done()
		}
		select {
		case <-w.notify:
		case <-deadline:
			w.mu.Lock()
			ok := cond()
			w.mu.Unlock()
			return ok
		}
	}
}

// quietSettle is how long the in-memory network must carry nothing, with
// no reader still holding a datagram, before a wait concludes that nothing
// more will happen (memnet.Network.Quiet). It covers the goroutines that
// the SIP stack hands a datagram to after reading it.
const quietSettle = 250 * time.Millisecond

// waitCtx bounds one expectation. Between the steps of a case the virtual
// clock stands still, so once the in-memory network has gone quiet nothing
// more can happen until the next step: the wait ends then, costing a
// failing expectation a fraction of a second instead of the whole
// expectation wait. Options.Wait (real time) remains the bound over UDP,
// where the kernel's traffic is not visible, and for a network that never
// goes quiet.
func (w *worker) waitCtx(parent context.Context) (context.Context, context.CancelFunc) {
	if w.net == nil {
		return context.WithTimeout(parent, w.o.Wait)
	}
	// One timer for both bounds: ended once quiet or at the wait.
	ctx, cancel := context.WithCancel(parent)
	stop := w.net.AfterQuietOr(quietSettle, w.o.Wait, cancel)
	return ctx, func() { stop(); cancel() }
}

// waitEvent waits for an event of the case matching f.
func (w *worker) waitEvent(st *caseState, f func(events.Event) bool) (events.Event, bool) {
	return w.waitEventBy(st, f, w.waitCtx)
}

// waitWorkEvent waits for an event the server emits after work of its own
// that sends nothing, such as storing a voicemail message on disk: a quiet
// network does not mean it will not come, so only the real-time
// expectation wait bounds it.
func (w *worker) waitWorkEvent(st *caseState, f func(events.Event) bool) (events.Event, bool) {
	return w.waitEventBy(st, f, func(ctx context.Context) (context.Context, context.CancelFunc) {
		return context.WithTimeout(ctx, w.o.Wait)
	})
}

func (w *worker) waitEventBy(st *caseState, f func(events.Event) bool, bound func(context.Context) (context.Context, context.CancelFunc)) (events.Event, bool) {
	var found events.Event
	scanned := 0 // events are only appended during a case
	ok := w.untilBy(func() bool {
		for _, e := range w.events[scanned:] {
			if f(e) {
				found = e
				return true
			}
		}
		scanned = len(w.events)
		return false
	}, bound)
	return found, ok
}

// rungLocked reports whether a call of the case reached the account; w.mu
// held.
func (w *worker) rungLocked(account string) bool { return w.reached[account] > 0 }

// settle waits until the server has heard back from every device the
// case's calls reached (it rings, answers or refuses), before the virtual
// clock moves on: devices answer an INVITE in milliseconds, long before
// any timer of a ring. Otherwise whether a ring timeout or a device's
// 180 reached the server first would depend on the machine — whether
// the caller was told it rings, and so a failure's ladder, would differ
// from run to run.
func (w *worker) settle() {
	w.until(func() bool {
		heard := map[string]map[string]bool{} // account → calls
		for _, e := range w.events {
			switch e.Kind {
			case events.LegRinging, events.LegAnswered, events.LegFailed, events.LegCancelled:
				if heard[e.Leg] == nil {
					heard[e.Leg] = map[string]bool{}
				}
				heard[e.Leg][e.Call] = true
			}
		}
		for a, n := range w.reached {
			if len(heard[a]) < n {
				return false
			}
		}
		return true
	})
}

func (w *worker) rung(st *caseState, account string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rungLocked(account)
}

func (w *worker) step(ctx context.Context, st *caseState, s Step) error {
	switch s := s.(type) {
	case Dial:
		from := w.device(s.From)
		if from == nil {
			return fmt.Errorf("no simulated device for %q", s.From)
		}
		if s.Answer != "" {
			d := w.device(s.Answer)
			if d == nil {
				return fmt.Errorf("no simulated device for %q", s.Answer)
			}
			d.SetAnswer(device.Pickup, 0)
		}
		if s.Decline != "" {
			if d := w.device(s.Decline); d != nil {
				d.SetAnswer(device.Decline, 0)
			}
		}
		for _, a := range s.Busy {
			if d := w.device(a); d != nil {
				d.SetAnswer(device.Busy, 0)
			}
		}
		st.dialDone = make(chan struct{})
		go func() {
			defer close(st.dialDone)
			dctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			st.call, st.dialErr = from.Dial(dctx, s.To)
		}()
		return nil
	case ExpectRing:
		var missing []string
		w.until(func() bool {
			missing = missing[:0]
			for _, a := range s.Accounts {
				if !w.rungLocked(a) {
					missing = append(missing, a)
				}
			}
			return len(missing) == 0
		})
		if len(missing) > 0 {
			return fmt.Errorf("%s never rang", strings.Join(missing, ", "))
		}
		return nil
	case ExpectNotRung:
		for _, a := range s.Accounts {
			if w.rung(st, a) {
				return fmt.Errorf("%s rang before its turn", a)
			}
		}
		return nil
	case Advance:
		w.settle()
		w.clock.Advance(s.D)
		return nil
	case ExpectAnswered:
		if err := w.dialResult(st); err != nil {
			return err
		}
		d := w.device(s.By)
		if d == nil || d.Answered(st.call.ID()) == nil {
			// The caller's Call-ID differs from the callee's leg; find the
			// answering device by its own answered call.
			if !w.answeredBy(s.By) {
				return fmt.Errorf("the call connected, but not to %s", s.By)
			}
		}
		return nil
	case SendDTMF:
		call := w.callOf(st, s.From)
		if call == nil {
			return fmt.Errorf("%s has no call to send DTMF on", s.From)
		}
		return call.SendDTMF(s.Digits)
	case ExpectDoor:
		kind := events.DoorRefused
		if s.Open {
			kind = events.DoorOpened
		}
		_, ok := w.waitEvent(st, func(e events.Event) bool {
			return e.Kind == kind && e.Device == s.Device && e.Account == s.By && (s.Relay == "" || e.Relay == s.Relay)
		})
		if !ok {
			return fmt.Errorf("no %s event for %s at %s; saw %s", kind, s.By, s.Device, w.seen(st))
		}
		if !s.Open {
			if _, opened := w.waitEventNow(st, events.DoorOpened); opened {
				return errors.New("the door opened as well")
			}
		}
		return nil
	case ExpectDigits:
		call := w.callOf(st, s.Account)
		if call == nil {
			return fmt.Errorf("%s has no call", s.Account)
		}
		wctx, cancel := w.waitCtx(ctx)
		defer cancel()
		return call.WaitDigits(wctx, s.Digits)
	case ExpectVideo:
		from, to := w.callOf(st, s.From), w.callOf(st, s.To)
		if from == nil || to == nil {
			return fmt.Errorf("%s and %s are not in a call", s.From, s.To)
		}
		if err := from.SendVideo(3); err != nil {
			return err
		}
		wctx, cancel := w.waitCtx(ctx)
		defer cancel()
		if err := to.WaitVideo(wctx, 1); err != nil {
			return fmt.Errorf("the picture did not arrive: %w", err)
		}
		return nil
	case ExpectFailed:
		err := w.dialResult(st)
		var se *device.StatusError
		if err == nil {
			return fmt.Errorf("the call was answered; want it refused with %d", s.Status)
		}
		if !errors.As(err, &se) {
			return err
		}
		if se.Status != s.Status {
			return fmt.Errorf("the call ended with %d %s, want %d", se.Status, se.Reason, s.Status)
		}
		return nil
	case ExpectFallback:
		want := s.Fallback.String()
		e, ok := w.waitEvent(st, func(e events.Event) bool { return e.Kind == events.Fallback })
		if !ok {
			return fmt.Errorf("no fallback; saw %s", w.seen(st))
		}
		if !strings.HasSuffix(e.Cause, "→ "+want) {
			return fmt.Errorf("the ring ended in %q, want %q", e.Cause, want)
		}
		return nil
	case Hangup:
		if err := w.dialResult(st); err != nil {
			return err
		}
		hctx, cancel := w.waitCtx(ctx)
		defer cancel()
		return st.call.Hangup(hctx)
	case ExpectCallerID:
		d := w.device(s.Account)
		if d == nil {
			return fmt.Errorf("no simulated device for %q", s.Account)
		}
		var saw []string
		for _, in := range w.caseAnswered(d) {
			if in.FromName == s.Name && in.From == s.Number {
				return nil
			}
			saw = append(saw, fmt.Sprintf("%q <%s>", in.FromName, in.From))
		}
		if len(saw) == 0 {
			return fmt.Errorf("%s answered no call of this case, want one showing the caller as %q <%s>", s.Account, s.Name, s.Number)
		}
		return fmt.Errorf("%s was shown the caller as %s, want %q <%s>", s.Account, strings.Join(saw, ", "), s.Name, s.Number)
	case ExpectOut:
		carrier := w.device(ir.AccountName(ir.AccountTrunk, s.Trunk))
		if carrier == nil {
			return fmt.Errorf("no simulated carrier for trunk %q", s.Trunk)
		}
		var got []device.Incoming
		found := w.until(func() bool {
			got = carrier.Incoming()[st.carried[carrier.Account()]:]
			for _, in := range got {
				if in.To == s.Number {
					return true
				}
			}
			return false
		})
		if !found {
			var tos []string
			for _, in := range got {
				tos = append(tos, in.To)
			}
			if len(tos) == 0 {
				return fmt.Errorf("the carrier was offered no call; saw %s", w.seen(st))
			}
			return fmt.Errorf("the carrier was offered calls to %s, not %s", strings.Join(tos, ", "), s.Number)
		}
		for _, in := range got {
			if in.To != s.Number || s.As == "" {
				continue
			}
			if in.From != s.As {
				return fmt.Errorf("the call out presented %q in From, want %q", in.From, s.As)
			}
			if in.Identity != s.As {
				return fmt.Errorf("the call out presented %q in P-Asserted-Identity, want %q", in.Identity, s.As)
			}
		}
		return nil
	case ExpectOnlyRung:
		var extra []string
		w.mu.Lock()
		for a, n := range w.reached {
			if n > 0 && !slices.Contains(s.Accounts, a) {
				extra = append(extra, a)
			}
		}
		w.mu.Unlock()
		// In the program's account order, whatever order they rang in.
		slices.SortFunc(extra, func(a, b string) int { return w.order[a] - w.order[b] })
		if len(extra) > 0 {
			return fmt.Errorf("%s rang too", strings.Join(extra, ", "))
		}
		return nil
	}
	return w.serviceStep(ctx, st, s)
}

func (w *worker) waitEventNow(st *caseState, kind events.Kind) (events.Event, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.events {
		if e.Kind == kind {
			return e, true
		}
	}
	return events.Event{}, false
}

// dialResult waits for the caller's dial to finish.
func (w *worker) dialResult(st *caseState) error {
	if st.dialDone == nil {
		return errors.New("no call was placed")
	}
	if closed(st.dialDone) {
		return st.dialErr
	}
	ctx, cancel := w.waitCtx(context.Background())
	defer cancel()
	select {
	case <-st.dialDone:
	case <-ctx.Done():
		select {
		case <-st.dialDone:
		default:
			return errors.New("the call was neither answered nor refused")
		}
	}
	return st.dialErr
}

// callOf returns an account's side of the case's call: the caller's call,
// or the call the account answered.
func (w *worker) callOf(st *caseState, account string) *device.Call {
	if err := w.dialResult(st); err != nil {
		return nil
	}
	d := w.device(account)
	if d == nil {
		return nil
	}
	if d.Answered(st.call.ID()) != nil {
		return st.call
	}
	for _, in := range w.caseAnswered(d) {
		if c := d.Answered(in.CallID); c != nil && !c.Ended() {
			return c
		}
	}
	return nil
}

func (w *worker) answeredBy(account string) bool {
	d := w.device(account)
	if d == nil {
		return false
	}
	for _, in := range w.caseAnswered(d) {
		if d.Answered(in.CallID) != nil {
			return true
		}
	}
	return false
}

// caseAnswered returns the calls of the case in progress that d answered.
// A device keeps every call it answered during the run, and a worker runs
// case after case with the same devices: a scenario that has the door
// call a flat twice would otherwise find the first case's call in the
// second — its caller ID, its answerer — and pass on it. The case's calls
// are those the server sent an INVITE for since the case began (the
// ladder's, which onIncoming admits by too).
func (w *worker) caseAnswered(d *device.Device) []device.Incoming {
	all := d.AnsweredIncoming()
	mine := all[:0]
	for _, in := range all {
		if w.ladder.invited(in.CallID) {
			mine = append(mine, in)
		}
	}
	return mine
}

// seen lists the events of the case, for failure messages.
func (w *worker) seen(st *caseState) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, e := range w.events {
		s := string(e.Kind)
		if e.Leg != "" {
			s += " " + e.Leg
		}
		if e.Account != "" {
			s += " " + e.Account
		}
		if e.Cause != "" {
			s += " (" + e.Cause + ")"
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return "no events"
	}
	return strings.Join(out, "; ")
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// scratchDir is where workers keep their throwaway data: memory (/dev/shm)
// when the machine has it, as the messages of a run are read back once and
// deleted; creating, syncing and renaming files on a disk made the
// voicemail cases half the run's CPU time.
func scratchDir() string {
	const shm = "/dev/shm"
	if fi, err := os.Stat(shm); err == nil && fi.IsDir() {
		if f, err := os.CreateTemp(shm, ".switchboard-probe-"); err == nil {
			f.Close()
			os.Remove(f.Name())
			return shm
		}
	}
	return os.TempDir()
}
