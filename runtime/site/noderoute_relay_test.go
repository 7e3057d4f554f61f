package site_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/credentials"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/flowtoken"
	"switchboard/runtime/registrar"
	"switchboard/runtime/site"
)

// A node relays the NOTIFYs another node sends a device through it, each
// waiting up to 30 s for the device's answer. A sender with a valid token
// (any party that saw one between the nodes) sending many at once to a
// device that does not answer is refused beyond the node's bound (503),
// rather than holding a goroutine and a transaction for each.
func TestNodeRouteNotifyRelaysBounded(t *testing.T) {
	c := startCluster(t)
	token, contact := c.silentBinding()

	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	to, err := net.ResolveUDPAddr("udp", c.b.addr)
	if err != nil {
		t.Fatal(err)
	}
	const sent, bound = 80, 64 // bound: b2bua's hopNotifyRelays
	local := conn.LocalAddr().String()
	for i := range sent {
		msg := "NOTIFY " + contact + " SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK" + sip.GenerateTagN(12) + ";rport\r\n" +
			"Max-Forwards: 69\r\n" +
			"Route: <sip:" + token + "@" + c.b.addr + ";lr;ob>\r\n" +
			"Event: message-summary\r\nSubscription-State: active\r\n" +
			"From: <sip:nodes.example>;tag=" + sip.GenerateTagN(8) + "\r\n" +
			"To: <sip:app.mary@nodes.example>\r\n" +
			fmt.Sprintf("Call-ID: relay-%d-%s\r\n", i, sip.GenerateTagN(8)) +
			"CSeq: 1 NOTIFY\r\n" +
			"Content-Length: 0\r\n\r\n"
		if _, err := conn.WriteTo([]byte(msg), to); err != nil {
			t.Fatal(err)
		}
	}
	// Those beyond the bound are refused at once; the others wait for
	// the silent device (30 s), so only refusals come in this time.
	refused := 0
	buf := make([]byte, 4096)
	deadline := time.Now().Add(5 * time.Second)
	for refused < sent-bound {
		conn.SetReadDeadline(deadline)
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			t.Fatalf("%d of %d NOTIFYs beyond the %d relayed at once refused (%v)", refused, sent-bound, bound, err)
		}
		var status int
		if _, err := fmt.Sscanf(string(buf[:n]), "SIP/2.0 %d", &status); err != nil {
			t.Fatalf("not a response: %q", buf[:n])
		}
		switch {
		case status == 503:
			refused++
		case status >= 200:
			t.Fatalf("a NOTIFY to a device that does not answer: %d, want 503 or nothing yet", status)
		}
	}
}

// A Route naming the node with any user part is answered without a
// challenge, so anyone can have many refused: the log says the first,
// not each (one line a minute at most).
func TestNodeRouteRefusalsNotLoggedEach(t *testing.T) {
	p := compileNodeSite(t)
	key, err := credentials.KeyFromBytes(nodeKey)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := conn.LocalAddr().String()
	h := &refusalCount{}
	st, err := site.New(site.Config{Program: p, Secrets: credentials.NewLookup(key, p)}, site.Options{
		Logger: slog.New(h), MediaIP: netip.MustParseAddr("127.0.0.2"), Services: &b2bua.Services{},
		NodeOptions: site.NodeOptions{Node: "sip:" + addr, Registrations: registrar.NewMemory()},
	})
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go st.ServeUDP(ctx, conn)
	t.Cleanup(func() {
		cancel()
		st.Close()
	})
	const sent = 20
	for range sent {
		if got := sendHop(t, addr, strings.Repeat("A", flowtoken.Size), "sip:app.mary@127.0.0.9:5060"); got != 403 {
			t.Fatalf("a forged token: %d, want 403", got)
		}
	}
	if got := h.n.Load(); got != 1 {
		t.Errorf("%d refusals of %d logged, want 1", got, sent)
	}
}

// refusalCount counts the log's records of refused hops.
type refusalCount struct{ n atomic.Int64 }

func (h *refusalCount) Enabled(context.Context, slog.Level) bool { return true }
func (h *refusalCount) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "request through this node refused" {
		h.n.Add(1)
	}
	return nil
}
func (h *refusalCount) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *refusalCount) WithGroup(string) slog.Handler      { return h }

// silentBinding stores a binding of app.mary held by node B, over a flow
// to a socket that takes every packet and answers none, and returns its
// token and contact URI.
func (c *cluster) silentBinding() (token, contact string) {
	t := c.t
	t.Helper()
	silent, err := net.ListenPacket("udp", "127.0.0.3:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			if _, _, err := silent.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	src := netip.MustParseAddrPort(silent.LocalAddr().String())
	token, ok := flowtoken.Mint(c.secrets.FlowTokenKey(), "sip:"+c.b.addr+";transport=UDP", flowtoken.Flow{Transport: "UDP", Source: src})
	if !ok {
		t.Fatal("no token")
	}
	contact = "sip:app.mary@127.0.0.9:5060"
	c.store.Put(registrar.Binding{
		Account: "app.mary", Contact: "<" + contact + ">", Key: contact, CallID: "silent", CSeq: 1,
		Expires: time.Now().Add(time.Hour), Since: time.Now(), Source: src.String(), Transport: "UDP",
		Path: []string{"<sip:" + token + "@" + c.b.addr + ";lr;ob>"},
	})
	return token, contact
}

// A valid token lets its holder send the device the NOTIFYs the nodes
// send (message waiting, check-sync), not others: not a check-sync that
// reboots the phone, not another event package.
func TestNodeRouteNotifyRelaysOnlyNodesEvents(t *testing.T) {
	c := startCluster(t)
	token, contact := c.silentBinding()
	route := "Route: <sip:" + token + "@" + c.b.addr + ";lr;ob>\r\n"
	for _, ev := range []string{"check-sync;reboot=true", "check-sync", "resync", "talk", ""} {
		extra := route + "Subscription-State: terminated\r\n"
		if ev != "" {
			extra += "Event: " + ev + "\r\n"
		}
		if got := request(t, c.b.addr, "NOTIFY "+contact+" SIP/2.0", extra); got != 489 {
			t.Errorf("NOTIFY with Event %q through B: %d, want 489", ev, got)
		}
	}
}
