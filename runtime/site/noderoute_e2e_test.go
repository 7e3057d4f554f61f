package site_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/compiler"
	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/lang"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/events"
	"switchboard/runtime/flowtoken"
	"switchboard/runtime/media"
	"switchboard/runtime/registrar"
	"switchboard/runtime/site"
	"switchboard/simulate/device"
)

// Two nodes of one site in one process, over real loopback UDP: node A on
// 127.0.0.1, node B on 127.0.0.2, sharing one registrar store. The
// residents' devices sit behind a "NAT" on 127.0.0.3 that lets in only
// what comes from B, where they registered: whatever A sends them
// directly is lost, and recorded, so each test can say nothing needed it.

const nodeSite = `
site "nodes" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "nodes.example"
  installer {
    company = "Doors Ltd"
    email   = "i@doors.example"
  }
}
residence "apt-1a" {
  label        = "1A"
  ring_timeout = "30s"
}
user "mary" {
  email     = "mary@x.example"
  residence = residence.apt-1a
  role      = "owner"
  extension = 101
  app       = true
}
device "gate" {
  model  = "akuvox-r29c"
  mac    = "0C:11:05:00:00:01"
  button "1" { calls = residence.apt-1a }
  relay "door" {
    dtmf = "#"
    hold = "3s"
  }
}
device "monitor-1a" {
  model     = "akuvox-c315"
  mac       = "0C:11:05:00:00:02"
  residence = residence.apt-1a
}
`

var nodeKey = []byte("0123456789abcdef0123456789abcdef")

func compileNodeSite(t *testing.T) *ir.Program {
	t.Helper()
	cfg, diags := lang.LoadSources(t.TempDir(), map[string][]byte{"site.pbx.hcl": []byte(nodeSite)}, lang.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	checked, diags := compiler.Check(cfg)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p, diags := compiler.Lower(checked, compiler.LowerOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return p
}

// clusterNode is one node: its site, its SIP address, its events.
type clusterNode struct {
	site   *site.Site
	addr   string // host:port of its SIP UDP socket
	uri    string // its Node URI
	events *eventLog
}

type cluster struct {
	t        *testing.T
	program  *ir.Program
	secrets  *credentials.Lookup
	store    registrar.Store
	services b2bua.Services
	a, b     *clusterNode
}

// startCluster starts nodes A and B of nodeSite, answering the calls
// to services with svcs (none when not given).
func startCluster(t *testing.T, svcs ...b2bua.Services) *cluster {
	t.Helper()
	p := compileNodeSite(t)
	key, err := credentials.KeyFromBytes(nodeKey)
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, program: p, secrets: credentials.NewLookup(key, p), store: registrar.NewMemory()}
	if len(svcs) > 0 {
		c.services = svcs[0]
	}
	c.a = c.startNode("127.0.0.1")
	c.b = c.startNode("127.0.0.2")
	return c
}

func (c *cluster) startNode(ip string) *clusterNode {
	t := c.t
	t.Helper()
	conn, err := net.ListenPacket("udp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	n := &clusterNode{addr: conn.LocalAddr().String(), events: newEventLog()}
	n.uri = "sip:" + n.addr
	bus := events.NewBus(nil)
	sub := bus.Subscribe(4096)
	go n.events.follow(sub)
	svcs := c.services
	o := site.Options{Events: bus, MediaIP: netip.MustParseAddr(ip), Services: &svcs,
		NodeOptions: site.NodeOptions{Node: n.uri, Registrations: c.store}}
	st, err := site.New(site.Config{Program: c.program, Secrets: c.secrets}, o)
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	n.site = st
	ctx, cancel := context.WithCancel(context.Background())
	go st.ServeUDP(ctx, conn)
	t.Cleanup(func() {
		cancel()
		st.Close()
		sub.Close()
	})
	// A node sends nothing before it serves (its client leaves from the
	// listening socket): the tests' requests from A would otherwise race
	// its start.
	if status := request(t, n.addr, "OPTIONS sip:"+n.addr+" SIP/2.0", ""); status != 200 {
		t.Fatalf("node %s answers OPTIONS %d", n.addr, status)
	}
	return n
}

// natted starts a device of account on 127.0.0.3 behind a "NAT" that
// lets in only what comes from node B (SIP and media), and registers it
// with B. Its Contact names an address nothing listens on: only the flow
// of its REGISTER reaches it.
func (c *cluster) natted(account string) (*device.Device, *nat) {
	t := c.t
	t.Helper()
	allow := netip.MustParseAddrPort(c.b.addr).Addr()
	fw := &nat{allow: allow}
	conn, err := net.ListenPacket("udp", "127.0.0.3:0")
	if err != nil {
		t.Fatal(err)
	}
	hub, err := device.NewHub(device.HubConfig{Domain: c.program.Site.Domain, Server: c.b.addr, IP: netip.MustParseAddr("127.0.0.3"),
		Conn: fw.conn(conn), ListenMedia: fw.listenMedia})
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	pw, _ := c.secrets.SIPPassword(account)
	d := hub.Add(account, pw)
	d.SetBehindNAT(netip.MustParseAddr("127.0.0.9"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if status, err := d.Register(ctx, time.Hour); err != nil || status != 200 {
		t.Fatalf("register %s with node B: %d, %v", account, status, err)
	}
	return d, fw
}

// plain starts a device of account on node's own address family and
// registers it with node (no NAT).
func (c *cluster) plain(n *clusterNode, account string) *device.Device {
	t := c.t
	t.Helper()
	pw, _ := c.secrets.SIPPassword(account)
	d, err := device.New(device.Config{Account: account, Password: pw, Domain: c.program.Site.Domain, Server: n.addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if status, err := d.Register(ctx, time.Hour); err != nil || status != 200 {
		t.Fatalf("register %s: %d, %v", account, status, err)
	}
	return d
}

// nat drops, and counts, every packet to the device's sockets from an
// address other than allow.
type nat struct {
	allow netip.Addr
	mu    sync.Mutex
	lost  []string // "from: first bytes" of each packet dropped
}

func (f *nat) admit(from netip.Addr, b []byte) bool {
	if from.Unmap() == f.allow {
		return true
	}
	f.mu.Lock()
	f.lost = append(f.lost, fmt.Sprintf("%v: %q", from, b[:min(len(b), 40)]))
	f.mu.Unlock()
	return false
}

// dropped are the packets the NAT did not let in.
func (f *nat) dropped() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.lost...)
}

func (f *nat) conn(c net.PacketConn) net.PacketConn { return &natConn{PacketConn: c, f: f} }

type natConn struct {
	net.PacketConn
	f *nat
}

func (c *natConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil {
			return n, addr, err
		}
		ap, perr := netip.ParseAddrPort(addr.String())
		if perr == nil && c.f.admit(ap.Addr(), b[:n]) {
			return n, addr, nil
		}
	}
}

func (f *nat) listenMedia(laddr netip.AddrPort) (media.PacketConn, error) {
	c, err := media.ListenUDP(laddr)
	if err != nil {
		return nil, err
	}
	return &natMedia{PacketConn: c, f: f}, nil
}

type natMedia struct {
	media.PacketConn
	f *nat
}

func (c *natMedia) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	for {
		n, addr, err := c.PacketConn.ReadFromUDPAddrPort(b)
		if err != nil || c.f.admit(addr.Addr(), b[:n]) {
			return n, addr, err
		}
	}
}

// eventLog keeps a node's events and lets a test wait for one.
type eventLog struct {
	mu   sync.Mutex
	seen []events.Event
	more chan struct{}
}

func newEventLog() *eventLog { return &eventLog{more: make(chan struct{})} }

func (l *eventLog) follow(sub *events.Subscription) {
	for e := range sub.C {
		l.mu.Lock()
		l.seen = append(l.seen, e)
		close(l.more)
		l.more = make(chan struct{})
		l.mu.Unlock()
	}
}

func (l *eventLog) wait(t *testing.T, what string, f func(events.Event) bool) events.Event {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		for _, e := range l.seen {
			if f(e) {
				l.mu.Unlock()
				return e
			}
		}
		more := l.more
		l.mu.Unlock()
		select {
		case <-more:
		case <-deadline.C:
			t.Fatalf("no %s event", what)
		}
	}
}

func ringing(in []device.Incoming) bool { return len(in) > 0 }

// A door on node A calls a resident whose app registered on node B behind
// NAT: it rings through B, is answered, media flows both ways, and a BYE
// from either side ends both legs. Nothing A sent the app directly was
// needed (nor, here, sent).
func TestNodeRouteDoorCallThroughHoldingNode(t *testing.T) {
	for _, hangup := range []string{"door", "resident"} {
		t.Run(hangup+" hangs up", func(t *testing.T) {
			c := startCluster(t)
			mary, fw := c.natted("app.mary")
			gate := c.plain(c.a, "device.gate")
			mary.SetAnswer(device.Pickup, 0)

			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			call, err := gate.Dial(ctx, "1A")
			if err != nil {
				t.Fatalf("the door's call: %v", err)
			}
			in := mary.Incoming()
			if len(in) != 1 {
				t.Fatalf("mary's app rang %d times, want 1", len(in))
			}
			answered := mary.Answered(in[0].CallID)
			if answered == nil {
				t.Fatal("mary's app has no answered call")
			}
			// The leg reached the app from B, presenting the door.
			if sentBy := in[0].SentBy; !strings.HasPrefix(sentBy, "127.0.0.2:") {
				t.Errorf("mary's INVITE came by way of %q, want node B (127.0.0.2)", sentBy)
			}
			c.b.events.wait(t, "B's hop answered", func(e events.Event) bool {
				return e.Kind == events.LegAnswered && e.Leg == "app.mary" && strings.HasPrefix(e.From, "node:")
			})

			// Media both ways, relayed by both nodes.
			if err := answered.SendTone(1000, 8000, 10); err != nil {
				t.Fatal(err)
			}
			if err := call.WaitAudio(ctx, 10*160); err != nil {
				t.Errorf("the door heard nothing of the app: %v", err)
			}
			if err := call.SendTone(700, 8000, 10); err != nil {
				t.Fatal(err)
			}
			if err := answered.WaitAudio(ctx, 10*160); err != nil {
				t.Errorf("the app heard nothing of the door: %v", err)
			}
			if _, n := answered.Received(); n == 0 {
				t.Error("the app received no RTP")
			}
			// The resident opens the door: the digit crosses B's relay
			// to A's, where the door call is.
			if err := answered.SendDTMF("#"); err != nil {
				t.Fatal(err)
			}
			c.a.events.wait(t, "the door opened on A", func(e events.Event) bool {
				return e.Kind == events.DoorOpened && e.Account == "app.mary" && e.Device == "gate"
			})

			switch hangup {
			case "door":
				if err := call.Hangup(ctx); err != nil {
					t.Fatal(err)
				}
				waitDone(t, ctx, "the app's leg", answered.Done())
			case "resident":
				if err := answered.Hangup(ctx); err != nil {
					t.Fatal(err)
				}
				waitDone(t, ctx, "the door's leg", call.Done())
			}
			c.a.events.wait(t, "A's call ended", func(e events.Event) bool {
				return e.Kind == events.CallEnded && e.From == "device.gate"
			})
			c.b.events.wait(t, "B's hop ended", func(e events.Event) bool {
				return e.Kind == events.CallEnded && strings.HasPrefix(e.From, "node:")
			})
			if lost := fw.dropped(); len(lost) > 0 {
				t.Errorf("the NAT dropped packets the app was sent from elsewhere than B: %q", lost)
			}
		})
	}
}

func waitDone(t *testing.T, ctx context.Context, what string, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("%s did not end", what)
	}
}

// The door gives up while the app rings through B: the CANCEL crosses
// both nodes, and the app's leg ends 487.
func TestNodeRouteCancelWhileRinging(t *testing.T) {
	c := startCluster(t)
	mary, fw := c.natted("app.mary")
	gate := c.plain(c.a, "device.gate")
	mary.SetAnswer(device.Ring, 0)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	dialCtx, hangUp := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := gate.Dial(dialCtx, "1A"); done <- err }()
	if _, err := mary.WaitIncoming(ctx, ringing); err != nil {
		t.Fatal(err)
	}
	c.a.events.wait(t, "A hears the ringing", func(e events.Event) bool {
		return e.Kind == events.LegRinging && e.Leg == "app.mary"
	})
	hangUp()
	if err := <-done; err == nil {
		t.Fatal("the door's cancelled call was answered")
	}
	if _, err := mary.WaitIncoming(ctx, func(in []device.Incoming) bool { return len(in) == 1 && in[0].Status == 487 }); err != nil {
		t.Fatalf("the app's leg was not cancelled: %v (%+v)", err, mary.Incoming())
	}
	c.b.events.wait(t, "B's hop ended", func(e events.Event) bool {
		return e.Kind == events.CallEnded && strings.HasPrefix(e.From, "node:") && e.Cause == "caller cancelled"
	})
	if lost := fw.dropped(); len(lost) > 0 {
		t.Errorf("the NAT dropped packets sent from elsewhere than B: %q", lost)
	}
}

// A check-sync NOTIFY asked of node A reaches a monitor registered on B
// through B, and A hears its answer.
func TestNodeRouteCheckSyncThroughHoldingNode(t *testing.T) {
	c := startCluster(t)
	monitor, fw := c.natted("device.monitor-1a")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	n, err := c.a.site.CheckSync(ctx, "monitor-1a")
	if err != nil || n != 1 {
		t.Fatalf("check-sync from A: %d accepted, %v; want 1", n, err)
	}
	got := monitor.Notifications()
	if len(got) != 1 || !strings.HasPrefix(got[0].Event, "check-sync") {
		t.Errorf("the monitor's NOTIFYs: %+v, want one check-sync", got)
	}
	if lost := fw.dropped(); len(lost) > 0 {
		t.Errorf("the NAT dropped packets sent from elsewhere than B: %q", lost)
	}
}

// A request naming node B in its top Route with a token that is not one
// B made — forged, altered, another site's, made for node A's URI, or one
// whose flow (or whose contact on the flow) is no longer registered — is
// refused with 403 (430 for the last two), never delivered, never challenged as an ordinary call would be.
// A Route to B without a user part is no hop: the call is challenged.
func TestNodeRouteRefusesBadTokens(t *testing.T) {
	c := startCluster(t)
	mary, fw := c.natted("app.mary")
	bs := c.store.Lookup("app.mary")
	if len(bs) != 1 || len(bs[0].Path) != 1 {
		t.Fatalf("mary's bindings: %+v, want one with B's Path element", bs)
	}
	var first sip.Uri
	var params sip.HeaderParams
	if _, err := sip.ParseAddressValue(bs[0].Path[0], &first, &params); err != nil {
		t.Fatal(err)
	}
	good := first.User
	flow := flowtoken.Flow{Transport: "UDP", Source: netip.MustParseAddrPort(bs[0].Source)}

	otherKey, err := credentials.KeyFromBytes([]byte("another site's key, 32 bytes long"))
	if err != nil {
		t.Fatal(err)
	}
	otherSite, _ := flowtoken.Mint(credentials.NewLookup(otherKey, c.program).FlowTokenKey(), "sip:"+c.b.addr+";transport=UDP", flow)
	forA, _ := flowtoken.Mint(c.secrets.FlowTokenKey(), "sip:"+c.a.addr+";transport=UDP", flow)
	gone, _ := flowtoken.Mint(c.secrets.FlowTokenKey(), "sip:"+c.b.addr+";transport=UDP",
		flowtoken.Flow{Transport: "UDP", Source: netip.MustParseAddrPort("127.0.0.3:9")})
	altered := []byte(good)
	if altered[40] = 'A'; good[40] == 'A' {
		altered[40] = 'B' // one character of the MAC, another of base64url's
	}

	contact := contactOf(t, bs[0])
	tests := []struct {
		name, token, contact string
		want                 int
	}{
		{"forged", strings.Repeat("A", flowtoken.Size), contact, 403},
		{"altered", string(altered), contact, 403},
		{"another site's", otherSite, contact, 403},
		{"made for node A", forA, contact, 403},
		{"too long", good + "AAAA", contact, 403},
		{"not base64", strings.Repeat("!", flowtoken.Size), contact, 403},
		// No user part: a device's preloaded Route to its outbound
		// proxy, an ordinary call, challenged.
		{"none", "", contact, 407},
		{"a flow no longer registered", gone, contact, 430},
		{"a contact not on the flow", good, "sip:app.mary@127.0.0.9:5060", 430},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sendHop(t, c.b.addr, tt.token, tt.contact); got != tt.want {
				t.Errorf("INVITE with token %q: %d, want %d", tt.token, got, tt.want)
			}
		})
	}
	// NOTIFYs alike; one naming no node is refused as before (405).
	for _, tt := range []struct {
		name, route string
		want        int
	}{
		{"NOTIFY with a forged token", "Route: <sip:" + strings.Repeat("A", flowtoken.Size) + "@" + c.b.addr + ";lr;ob>\r\n", 403},
		{"NOTIFY for a flow no longer registered", "Route: <sip:" + gone + "@" + c.b.addr + ";lr;ob>\r\n", 430},
		{"NOTIFY through no node", "", 405},
	} {
		got := request(t, c.b.addr, "NOTIFY sip:app.mary@127.0.0.9:5060 SIP/2.0", tt.route+"Event: message-summary\r\nSubscription-State: active\r\n")
		if got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
	if got := len(mary.Incoming()); got != 0 {
		t.Errorf("mary's app rang %d times for refused tokens", got)
	}
	if got := len(mary.Notifications()); got != 0 {
		t.Errorf("mary's app got %d NOTIFYs through refused tokens", got)
	}
	if lost := fw.dropped(); len(lost) > 0 {
		t.Errorf("the NAT dropped packets: %q", lost)
	}
}

// sendHop sends node at addr an INVITE for mary's app at contact as
// another node would, with token in its top Route, and returns the final
// status.
func sendHop(t *testing.T, addr, token, contact string) int {
	t.Helper()
	route := "<sip:" + addr + ";lr;ob>"
	if token != "" {
		route = "<sip:" + token + "@" + addr + ";lr;ob>"
	}
	return request(t, addr, "INVITE "+contact+" SIP/2.0", "Route: "+route+"\r\n")
}

// contactOf is the URI of binding b, as a request line names it.
func contactOf(t *testing.T, b registrar.Binding) string {
	t.Helper()
	u, err := b.URI()
	if err != nil {
		t.Fatal(err)
	}
	return u.String()
}

// request sends addr a request with the start line given and the extra
// header lines, from a socket of its own on 127.0.0.1, and returns the
// final status.
func request(t *testing.T, addr, start, extra string) int {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	method, _, _ := strings.Cut(start, " ")
	msg := start + "\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK" + sip.GenerateTagN(12) + ";rport\r\n" +
		"Max-Forwards: 69\r\n" + extra +
		"From: \"Gate\" <sip:gate@nodes.example>;tag=" + sip.GenerateTagN(8) + "\r\n" +
		"To: <sip:app.mary@nodes.example>\r\n" +
		"Call-ID: " + sip.GenerateTagN(16) + "\r\n" +
		"CSeq: 1 " + method + "\r\n" +
		"Contact: <sip:" + local + ">\r\n" +
		"Content-Length: 0\r\n\r\n"
	to, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.WriteTo([]byte(msg), to); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("no final response")
			}
			t.Fatal(err)
		}
		var status int
		if _, err := fmt.Sscanf(string(buf[:n]), "SIP/2.0 %d", &status); err != nil {
			t.Fatalf("not a response: %q", buf[:n])
		}
		if status >= 200 {
			return status
		}
	}
}

// A ring test asked of node A rings a resident's app registered on B
// through B; the app hears the prompt, keys a digit, and A confirms.
func TestNodeRouteRingTestThroughHoldingNode(t *testing.T) {
	c := startCluster(t)
	mary, fw := c.natted("app.mary")
	mary.SetAnswer(device.Pickup, 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type result struct {
		r   b2bua.RingTestResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		// The confirmation window runs from the answer to the key press,
		// with the prompt crossing two nodes' relays before the app
		// hears it. The server hangs up as soon as the digit's first end
		// packet reaches it, while the app may still repeat that packet:
		// SendDTMF takes that as the key pressed (device media).
		r, err := c.a.site.RingTest(ctx, "mary", 10*time.Second, 40*time.Second)
		done <- result{r, err}
	}()
	in, err := mary.WaitIncoming(ctx, func(in []device.Incoming) bool { return len(in) == 1 && in[0].Answered })
	if err != nil {
		t.Fatal(err)
	}
	answered := mary.Answered(in[0].CallID)
	if answered == nil {
		t.Fatal("the app has no answered call")
	}
	if err := answered.WaitAudio(ctx, 160); err != nil {
		t.Fatalf("the app heard no prompt: %v", err)
	}
	if err := answered.SendDTMF("5"); err != nil {
		t.Fatal(err)
	}
	var got result
	select {
	case got = <-done:
	case <-ctx.Done():
		t.Fatal("the ring test did not end")
	}
	if got.err != nil || !got.r.Confirmed || got.r.Answered != "app.mary" || got.r.Digits != "5" {
		t.Errorf("ring test: %+v, %v; want confirmed by app.mary with 5", got.r, got.err)
	}
	if lost := fw.dropped(); len(lost) > 0 {
		t.Errorf("the NAT dropped packets sent from elsewhere than B: %q", lost)
	}
}

// A mailbox's message-waiting NOTIFY from node A reaches the resident's
// app registered on B through B (addressed, as message waiting is, to the
// account's user name).
func TestNodeRouteMessageWaitingThroughHoldingNode(t *testing.T) {
	summary := "Messages-Waiting: yes\r\nVoice-Message: 1/0\r\n"
	c := startCluster(t, b2bua.Services{MessageSummary: func(string) []byte { return []byte(summary) }})
	mary, fw := c.natted("app.mary")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c.a.site.MessageWaiting("mary")
	n, err := mary.WaitNotification(ctx, "message-summary", func(body string) bool { return strings.Contains(body, "Voice-Message: 1/0") })
	if err != nil {
		t.Fatalf("the app got no message-waiting NOTIFY: %v (%+v); dropped by the NAT: %q", err, mary.Notifications(), fw.dropped())
	}
	if n.State != "active" {
		t.Errorf("NOTIFY Subscription-State %q, want active", n.State)
	}
	if lost := fw.dropped(); len(lost) > 0 {
		t.Errorf("the NAT dropped packets sent from elsewhere than B: %q", lost)
	}
}

// After a rekey the bindings taken under the old key stay reachable
// through their node while the rekey's grace lasts (the old key's tokens
// are still accepted), and not after: their devices register again in
// that time, under the new key.
func TestNodeRouteRekeyGrace(t *testing.T) {
	for _, tt := range []struct {
		name  string
		grace time.Duration
		want  int
	}{
		{"in the grace", time.Hour, 486}, // the app's own answer: it was reached
		{"without one", 0, 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := startCluster(t)
			mary, _ := c.natted("app.mary")
			mary.SetAnswer(device.Busy, 0)
			bs := c.store.Lookup("app.mary")
			if len(bs) != 1 || len(bs[0].Path) != 1 {
				t.Fatalf("mary's bindings: %+v", bs)
			}
			var first sip.Uri
			var params sip.HeaderParams
			if _, err := sip.ParseAddressValue(bs[0].Path[0], &first, &params); err != nil {
				t.Fatal(err)
			}
			newKey, err := credentials.KeyFromBytes([]byte("the site's new key, 32 bytes long"))
			if err != nil {
				t.Fatal(err)
			}
			cfg := site.Config{Program: c.program, Secrets: credentials.NewLookup(newKey, c.program)}
			if tt.grace > 0 {
				cfg.Previous, cfg.PreviousUntil = c.secrets, time.Now().Add(tt.grace)
			}
			if err := c.b.site.Swap(cfg); err != nil {
				t.Fatal(err)
			}
			if got := sendHop(t, c.b.addr, first.User, contactOf(t, bs[0])); got != tt.want {
				t.Errorf("INVITE with the old key's token after the rekey: %d, want %d", got, tt.want)
			}
		})
	}
}

// A call placed on the node that holds the callee's flow goes straight
// over the flow, its own Path element dropped: no hop.
func TestNodeRouteHeldHereGoesStraight(t *testing.T) {
	c := startCluster(t)
	mary, fw := c.natted("app.mary")
	gate := c.plain(c.b, "device.gate")
	mary.SetAnswer(device.Pickup, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	call, err := gate.Dial(ctx, "1A")
	if err != nil {
		t.Fatalf("the door's call: %v", err)
	}
	in := mary.Incoming()
	if len(in) != 1 || !in[0].Answered {
		t.Fatalf("mary's app: %+v, want one answered call", in)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	c.b.events.wait(t, "the call ended", func(e events.Event) bool {
		return e.Kind == events.CallEnded && e.From == "device.gate"
	})
	c.b.events.mu.Lock()
	defer c.b.events.mu.Unlock()
	for _, e := range c.b.events.seen {
		if strings.HasPrefix(e.From, "node:") {
			t.Errorf("a hop on the node holding the flow: %+v", e)
		}
	}
	if lost := fw.dropped(); len(lost) > 0 {
		t.Errorf("the NAT dropped packets: %q", lost)
	}
}
