package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"switchboard/runtime/events"
	"switchboard/runtime/site"
	"switchboard/simulate/device"
)

// clusterWait bounds each wait of the drill on something the cluster does
// (a binding replicated, a leader elected after a node's death): generous,
// for a loaded two-core machine; a step that works takes milliseconds.
const clusterWait = 60 * time.Second

// routePort returns a port free on 127.0.0.n, from the kernel. The test
// gives it to node n's -cluster-listen (its peers must know it before it
// starts), so it is released before serve binds it: another socket may
// take it meanwhile, and startDrill then starts the nodes again on fresh
// ports. Nothing but this test uses 127.0.0.2 and 127.0.0.3; on
// 127.0.0.1 a port the kernel just handed out is not handed out again at
// once, but a socket bound to all addresses can take any of them.
func routePort(t *testing.T, ip string) string {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Skipf("SKIPPING: cannot listen on %s (loopback aliases): %v", ip, err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// drill is the three `switchboard serve -node …` processes of a cluster
// drill, on 127.0.0.1, 127.0.0.2 and 127.0.0.3, serving one copy of
// family-home, each with its own data, all ready.
type drill struct {
	dir    string            // the site directory
	token  string            // the admin token
	creds  map[string]string // account passwords
	domain string            // the site's
	nodes  []*clusterNode
}

// drillRouteTries bounds the starts of a drill's nodes on fresh route
// ports when one was taken before its node bound it.
const drillRouteTries = 3

// startDrill builds switchboard and starts a drill's nodes; ctx bounds
// their processes, the test's cleanup kills them.
func startDrill(t *testing.T, ctx context.Context) *drill {
	t.Helper()
	bin := buildSwitchboard(t)
	d := &drill{dir: copyExample(t, "family-home"), token: "drill-admin-token-0123456789abcdef"}
	env := append(os.Environ(), "SWITCHBOARD_SITE_KEY="+testSiteKey, "NO_COLOR=1",
		"SWITCHBOARD_ADMIN_TOKEN="+d.token, "SWITCHBOARD_CLUSTER_SECRET=drill route secret")
	d.creds = serveCredentials(t, bin, d.dir, env)
	for try := 1; ; try++ {
		nodes, taken := startDrillNodes(t, ctx, bin, d.dir, d.token, env)
		if taken == "" {
			d.nodes = nodes
			break
		}
		if try == drillRouteTries {
			t.Fatalf("%d starts of the drill's nodes each found a route port taken; the last: %s", try, taken)
		}
		t.Logf("starting the nodes again on fresh route ports: %s", taken)
		for _, n := range nodes {
			n.s.kill()
		}
	}
	var plan struct{ Site struct{ Domain string } }
	readJSON(t, filepath.Join(d.dir, ".switchboard", "build", "dialplan.json"), &plan)
	d.domain = plan.Site.Domain
	return d
}

// startDrillNodes starts the three nodes on fresh route ports and waits
// until they are ready. When a node could not bind its route port (taken
// since routePort released it), it returns that node's error line and
// the nodes it started, for the caller to stop.
func startDrillNodes(t *testing.T, ctx context.Context, bin, dir, token string, env []string) (nodes []*clusterNode, taken string) {
	t.Helper()
	ips := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}
	var routes []string
	for _, ip := range ips {
		routes = append(routes, routePort(t, ip))
	}
	for i, ip := range ips {
		n := &clusterNode{name: fmt.Sprintf("node%d", i+1), token: token, t: t}
		n.s = startServe(t, exec.CommandContext(ctx, bin, "serve", "-node", n.name,
			"-listen", ip+":0", "-http", "", "-admin", ip+":0", "-data", t.TempDir(),
			"-cluster-listen", routes[i], "-cluster-peer", strings.Join(routes, ","), "-cluster-wait", "2m", dir), env)
		nodes = append(nodes, n)
		// The nodes share the test's site directory, and each writes its
		// build there: the next starts once this one has (on machines of
		// their own, each has its own copy).
		n.s.waitLineWithin("joining the cluster", regexp.MustCompile(`msg="joining the cluster"`), clusterWait)
	}
	// A node whose route port was taken logs it at once, then waits for
	// routes up to its -cluster-wait before it gives up (and its peers,
	// short of a node, may give up first): the test reads the nodes' logs
	// at once, and stops them all at the first line that is not ready.
	ready := regexp.MustCompile(`^switchboard serve: ready: site "[^"]+", sip udp (127\.0\.0\.\d:\d+), admin http (127\.0\.0\.\d:\d+), media 127\.0\.0\.\d$` +
		`|Error listening on router port: \d+ - .*address already in use`)
	type line struct {
		n   *clusterNode
		m   []string
		err error
	}
	lines := make(chan line, len(nodes))
	for _, n := range nodes {
		go func() {
			m, err := n.s.nextLine(ready, 3*time.Minute)
			lines <- line{n, m, err}
		}()
	}
	var failed *line
	for range nodes {
		l := <-lines
		switch {
		case l.err != nil && failed == nil:
			failed = &l
		case l.err != nil:
		case l.m[1] == "":
			taken = l.n.name + ": " + l.m[0]
		default:
			l.n.sip, l.n.admin = l.m[1], l.m[2]
			continue
		}
		for _, n := range nodes {
			n.s.kill() // the others' waits end with their logs
		}
	}
	if taken != "" {
		return nodes, taken
	}
	if failed != nil {
		t.Fatalf("%s: %v before its ready line\nstderr:\n%s", failed.n.name, failed.err, failed.n.s.log())
	}
	return nodes, ""
}

// clusterNode is one `switchboard serve -node …` of the drill.
type clusterNode struct {
	name       string
	s          *served
	sip, admin string
	token      string
	t          *testing.T
}

func (n *clusterNode) get(path string, v any) error {
	req, _ := http.NewRequest("GET", "http://"+n.admin+path, nil)
	req.Header.Set("Authorization", "Bearer "+n.token)
	c := http.Client{Timeout: 10 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return fmt.Errorf("GET %s on %s: %s", path, n.name, res.Status)
	}
	return json.NewDecoder(res.Body).Decode(v)
}

// bindings returns the bindings node n holds for account.
func (n *clusterNode) bindings(account string) []site.BindingInfo {
	n.t.Helper()
	var r site.AccountsReport
	if err := n.get("/admin/accounts", &r); err != nil {
		n.t.Fatalf("%s: %v", n.name, err)
	}
	for _, a := range r.Accounts {
		if a.Name == account {
			return a.Bindings
		}
	}
	return nil
}

// hasAccount reports whether node n's running configuration has account.
func (n *clusterNode) hasAccount(account string) bool {
	n.t.Helper()
	var r site.AccountsReport
	if err := n.get("/admin/accounts", &r); err != nil {
		n.t.Fatalf("%s: %v", n.name, err)
	}
	for _, a := range r.Accounts {
		if a.Name == account {
			return true
		}
	}
	return false
}

// eventually checks cond at short intervals until it holds, for at most
// clusterWait. The admin API has no long poll for a binding another node
// wrote: the test asks again, bounded, as a health check would.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(clusterWait)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, clusterWait)
		}
		<-tick.C
	}
}

// journal reads node n's whole event stream, from the first event.
func (n *clusterNode) journal() []site.Entry {
	n.t.Helper()
	var all []site.Entry
	epoch, after := "", uint64(0)
	for {
		var p site.EventPage
		if err := n.get(fmt.Sprintf("/admin/events?epoch=%s&after=%d", epoch, after), &p); err != nil {
			n.t.Fatalf("%s: %v", n.name, err)
		}
		if len(p.Events) == 0 {
			return all
		}
		all = append(all, p.Events...)
		epoch, after = p.Epoch, p.Next
	}
}

// waitJournal reads node n's event stream from the first event until
// cond holds for what it has read, and returns that. Past the end it asks
// the admin API to wait for the next event (a long poll) instead of
// asking again and again; at most clusterWait in all.
func (n *clusterNode) waitJournal(what string, cond func([]site.Entry) bool) []site.Entry {
	n.t.Helper()
	deadline := time.Now().Add(clusterWait)
	var all []site.Entry
	epoch, after, wait := "", uint64(0), 0
	for !cond(all) {
		if time.Now().After(deadline) {
			n.t.Fatalf("%s: not within %s", what, clusterWait)
		}
		var p site.EventPage
		// Well within get's 10 s: a wait that ends without an event is
		// an empty page, not an error.
		if err := n.get(fmt.Sprintf("/admin/events?epoch=%s&after=%d&wait=%d", epoch, after, wait), &p); err != nil {
			n.t.Fatalf("%s: %v", n.name, err)
		}
		all = append(all, p.Events...)
		epoch, after, wait = p.Epoch, p.Next, 5
	}
	return all
}

// registered reports whether entries hold a registration of account from
// source.
func registered(entries []site.Entry, account, source string) bool {
	for _, e := range entries {
		if e.Kind == events.Registered && e.Account == account && e.Source == source {
			return true
		}
	}
	return false
}

// TestClusterDrill runs three `switchboard serve` processes as one cluster
// on 127.0.0.1, 127.0.0.2 and 127.0.0.3, serving one site directory, each
// with its own data: an app registers on node 1 and nodes 2 and 3 hold its
// binding; node 1 is killed (SIGKILL); the app, finding no answer, turns to
// the next node of its list (as a device provisioned with the site's nodes
// does) and registers on node 2, and node 3 holds that binding; a reload
// (SIGHUP) during the failure is applied by both survivors; the event
// stream read from a survivor has every event numbered without a gap,
// node 1's registration and node 2's among them; and between, a door call
// placed on node 3 rings the app on node 2 through node 2.
func TestClusterDrill(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dr := startDrill(t, ctx)
	dir, token, creds, nodes := dr.dir, dr.token, dr.creds, dr.nodes
	var plan struct {
		Site    struct{ Domain string }
		Entries []struct{ Device, Code string }
	}
	readJSON(t, filepath.Join(dir, ".switchboard", "build", "dialplan.json"), &plan)

	// The app's servers, in the order the site's nodes give them.
	const account = "app.sarah"
	newApp := func(server string) *device.Device {
		t.Helper()
		d, err := device.New(device.Config{Account: account, Password: creds[account], Domain: plan.Site.Domain, Server: server, IP: netip.MustParseAddr("127.0.0.1")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	register := func(d *device.Device, within time.Duration) (int, error) {
		rctx, rcancel := context.WithTimeout(ctx, within)
		defer rcancel()
		return d.Register(rctx, time.Hour)
	}
	app := newApp(nodes[0].sip)
	if status, err := register(app, serveTimeout); err != nil || status != 200 {
		t.Fatalf("register on node 1: %d, %v", status, err)
	}
	var first string // the binding's source, as node 1 saw it
	for _, n := range nodes {
		eventually(t, n.name+" holds the binding made on node 1", func() bool {
			bs := n.bindings(account)
			if len(bs) == 1 {
				first = bs[0].Source
			}
			return len(bs) == 1
		})
	}
	// Node 1's registration is stored in the stream before it dies.
	nodes[2].waitJournal("node 1's registration in the stream read on node 3", func(all []site.Entry) bool {
		return registered(all, account, first)
	})

	// kill -9 node 1.
	if err := nodes[0].s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	// The app refreshes on node 1: no answer. It moves to the next node.
	if status, err := register(app, 3*time.Second); err == nil {
		t.Fatalf("a dead node answered the refresh: %d", status)
	}
	app = newApp(nodes[1].sip)
	var status int
	var err error
	eventually(t, "the app registers on node 2 once the survivors have their leader", func() bool {
		status, err = register(app, 10*time.Second)
		return err == nil && status == 200
	})
	var second string
	eventually(t, "node 3 holds the binding made on node 2", func() bool {
		for _, b := range nodes[2].bindings(account) {
			if b.Source != first {
				second = b.Source
				return true
			}
		}
		return false
	})

	// A door call placed on node 3 reaches the app registered on node 2
	// through node 2, which holds its flow (the Path node 2 put in the
	// binding, at node 2's -listen address: the cluster flags alone give
	// the node its URI); answered, then hung up, the BYE completing.
	code := ""
	for _, e := range plan.Entries {
		if e.Device == "gate" {
			code = e.Code
		}
	}
	if code == "" {
		t.Fatal("the build has no gate entry")
	}
	gate, err := device.New(device.Config{Account: "device.gate", Password: creds["device.gate"], Domain: plan.Site.Domain, Server: nodes[2].sip, IP: netip.MustParseAddr("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gate.Close() })
	if status, err := register(gate, clusterWait); err != nil || status != 200 {
		t.Fatalf("the gate's registration on node 3: %d, %v", status, err)
	}
	app.SetAnswer(device.Pickup, 0)
	dctx, dcancel := context.WithTimeout(ctx, clusterWait)
	defer dcancel()
	call, err := gate.Dial(dctx, code)
	if err != nil {
		t.Fatalf("the gate's call on node 3 to the app on node 2: %v", err)
	}
	in := app.Incoming()
	if len(in) != 1 || !in[0].Answered {
		t.Fatalf("the app's calls: %+v", in)
	}
	node2Host, _, _ := net.SplitHostPort(nodes[1].sip)
	if host, _, _ := net.SplitHostPort(in[0].SentBy); host != node2Host {
		t.Errorf("the call reached the app from %s, not through node 2 (%s)", in[0].SentBy, nodes[1].sip)
	}
	if err := call.Hangup(dctx); err != nil {
		t.Fatalf("the gate's BYE: %v", err)
	}
	nodes[1].waitJournal("the call's end in the stream read on node 2", func(all []site.Entry) bool {
		for _, e := range all {
			if e.Kind == events.CallEnded {
				return true
			}
		}
		return false
	})

	// A reload during the failure: a new person, on both survivors.
	people := filepath.Join(dir, "people.pbx.hcl")
	src, err := os.ReadFile(people)
	if err != nil {
		t.Fatal(err)
	}
	grace := `
user "grace" {
  first_name = "Grace"
  last_name  = "Whitfield"
  email      = "grace.whitfield@example.com"
  residence  = residence.home
  extension  = 205
  app        = true
}
`
	if err := os.WriteFile(people, append(src, grace...), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes[1:] {
		n.s.signal(syscall.SIGHUP)
		n.s.waitLineWithin("reload", regexp.MustCompile(`msg=reloaded`), clusterWait)
		if !n.hasAccount("app.grace") {
			t.Errorf("%s did not apply the reload: no app.grace", n.name)
		}
	}

	// The stream, read on node 3: every event from 1 on, no gap, both
	// registrations in it.
	all := nodes[2].waitJournal("node 2's registration in the stream read on node 3", func(all []site.Entry) bool {
		return registered(all, account, second)
	})
	if !registered(all, account, first) {
		t.Errorf("node 1's registration is not in the stream")
	}
	for i, e := range all {
		if e.ID != uint64(i+1) {
			t.Fatalf("the stream has a gap: event %d is number %d (want %d)", i, e.ID, i+1)
		}
	}
	var p site.EventPage
	if err := nodes[2].get("/admin/events?after=0", &p); err != nil || p.Missed != 0 {
		t.Errorf("the stream says %d events were lost (%v)", p.Missed, err)
	}
	for _, n := range nodes {
		if l := n.s.log(); strings.Contains(l, "drill route secret") || strings.Contains(l, token) {
			t.Errorf("%s logged a secret:\n%s", n.name, l)
		}
	}
}

// The cluster flags that cannot work are refused, saying what to give
// instead; a cluster of two runs, with a warning.
func TestClusterFlags(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string // in the error; "" for none
		warn string // in the log
	}{
		{name: "single node", args: nil},
		{name: "peer without listen", args: []string{"-cluster-peer", "10.0.0.2:6222"}, want: "-cluster-peer needs -cluster-listen"},
		{name: "listen without peers", args: []string{"-cluster-listen", "127.0.0.1:6222"}, want: "at least one other node"},
		{name: "only itself", args: []string{"-cluster-listen", "127.0.0.1:6222", "-cluster-peer", "127.0.0.1:6222"}, want: "at least one other node"},
		{name: "both kinds", args: []string{"-cluster-listen", "127.0.0.1:6222", "-cluster-url", "nats://10.0.0.9:4222"}, want: "exclude each other"},
		{name: "open routes", args: []string{"-cluster-listen", "10.0.0.1:6222", "-cluster-peer", "10.0.0.2:6222,10.0.0.3:6222"}, want: "shared secret"},
		{name: "empty secret file", args: []string{"-cluster-listen", "10.0.0.1:6222", "-cluster-peer", "10.0.0.2:6222", "-cluster-secret-file", empty}, want: "is empty"},
		{name: "bad node name", args: []string{"-node", "sip 1", "-cluster-listen", "127.0.0.1:6222", "-cluster-peer", "127.0.0.2:6222"}, want: "a node's name takes"},
		{name: "creds without url", args: []string{"-cluster-creds", "x.creds"}, want: "need -cluster-listen or -cluster-url"},
		{name: "creds with routes", args: []string{"-cluster-listen", "127.0.0.1:6222", "-cluster-peer", "127.0.0.2:6222", "-cluster-creds", "x.creds"}, want: "-cluster-creds logs in to -cluster-url"},
		{name: "two nodes", args: []string{"-cluster-listen", "10.0.0.1:6222", "-cluster-peer", "10.0.0.2:6222"},
			env: map[string]string{"SWITCHBOARD_CLUSTER_SECRET": "s"}, warn: "loses its majority"},
		{name: "three nodes", args: []string{"-node", "sip1", "-cluster-listen", "10.0.0.1:6222", "-cluster-peer", "10.0.0.1:6222,10.0.0.2:6222", "-cluster-peer", "10.0.0.3:6222"},
			env: map[string]string{"SWITCHBOARD_CLUSTER_SECRET": "s"}},
		{name: "external", args: []string{"-cluster-url", "nats://10.0.0.9:4222,tls://10.0.0.10:4222"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o serveOptions
			f := serveFlags(&o)
			f.checkValues()
			if err := f.fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			var logged strings.Builder
			log := slog.New(slog.NewTextHandler(&logged, nil))
			c, err := o.store.cluster.cluster(func(k string) string { return tc.env[k] }, log)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			case tc.want == "" && len(tc.args) > 0 && c == nil:
				t.Fatal("no cluster")
			}
			if !strings.Contains(logged.String(), tc.warn) || tc.warn == "" && logged.Len() > 0 {
				t.Errorf("logged %q, want %q", logged.String(), tc.warn)
			}
		})
	}
}

// A NATS URL with credentials, or a peer without a port, is a usage
// error of the flag itself.
func TestClusterFlagValues(t *testing.T) {
	for _, args := range [][]string{
		{"-cluster-url", "nats://user:pw@10.0.0.9:4222"},
		{"-cluster-url", "http://10.0.0.9:4222"},
		{"-cluster-peer", "10.0.0.2"},
		{"-cluster-peer", "10.0.0.2:0"},
	} {
		var o serveOptions
		f := serveFlags(&o)
		f.checkValues()
		if err := f.fs.Parse(args); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}
