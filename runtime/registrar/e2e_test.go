package registrar_test

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/events"
)

// serve runs a sipgo server with the fixture's registrar on a loopback UDP
// port and returns its address. The socket is bound before serve returns,
// so the server is ready: datagrams wait in the socket until it reads.
func (f *fixture) serve(t testing.TB) *net.UDPAddr {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("switchboard-test"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnRegister(f.r.OnRegister)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeUDP(conn) }()
	t.Cleanup(func() {
		ua.Close()
		conn.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("server did not stop")
		}
	})
	return conn.LocalAddr().(*net.UDPAddr)
}

// phone is a sipgo client registering one account.
type phone struct {
	client *sipgo.Client
	server *net.UDPAddr
	user   string
	callID string
	cseq   uint32
}

func newPhone(t testing.TB, server *net.UDPAddr, user string) *phone {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(user))
	if err != nil {
		t.Fatal(err)
	}
	c, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); ua.Close() })
	return &phone{client: c, server: server, user: user, callID: fmt.Sprintf("%s-%p", user, c), cseq: 1}
}

// register sends a REGISTER with the given contact and Expires header,
// answers a 401 with password, and returns the final response.
func (p *phone) register(ctx context.Context, password, contact string, expires int) (*sip.Response, error) {
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: p.server.IP.String(), Port: p.server.Port})
	aor := sip.Uri{Scheme: "sip", User: p.user, Host: domain}
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	callID := sip.CallIDHeader(p.callID)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: p.cseq, MethodName: sip.REGISTER})
	req.AppendHeader(sip.NewHeader("Contact", contact))
	req.AppendHeader(sip.NewHeader("Expires", fmt.Sprint(expires)))
	res, err := p.client.Do(ctx, req)
	p.cseq++
	if err != nil || res.StatusCode != sip.StatusUnauthorized {
		return res, err
	}
	res, err = p.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.user, Password: password})
	p.cseq++
	return res, err
}

func contacts(res *sip.Response) []string {
	var out []string
	for _, h := range res.GetHeaders("Contact") {
		out = append(out, h.Value())
	}
	return out
}

func TestEndToEnd(t *testing.T) {
	f := newFixture(t)
	server := f.serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Mary's app on two phones, then one of them leaves.
	phone1 := newPhone(t, server, "app.mary")
	res, err := phone1.register(ctx, "mary-secret", "<sip:app.mary@127.0.0.1:5071>", 300)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("first phone: %v %v", res, err)
	}
	if diff := cmp.Diff([]string{"<sip:app.mary@127.0.0.1:5071>;expires=300"}, contacts(res)); diff != "" {
		t.Errorf("first phone contacts (-want +got):\n%s", diff)
	}
	phone2 := newPhone(t, server, "app.mary")
	f.clk.Advance(30 * time.Second)
	res, err = phone2.register(ctx, "mary-secret", "<sip:app.mary@127.0.0.1:5072>", 600)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("second phone: %v %v", res, err)
	}
	want := []string{"<sip:app.mary@127.0.0.1:5072>;expires=600", "<sip:app.mary@127.0.0.1:5071>;expires=270"}
	if diff := cmp.Diff(want, contacts(res)); diff != "" {
		t.Errorf("second phone contacts (-want +got):\n%s", diff)
	}
	bs := f.r.Lookup("app.mary")
	if len(bs) != 2 {
		t.Fatalf("Lookup: %d bindings, want 2", len(bs))
	}
	for _, b := range bs {
		// The source is the client's socket, not the contact's made-up port.
		if host, port, _ := net.SplitHostPort(b.Source); host != "127.0.0.1" || port == "" || strings.Contains(b.Contact, ":"+port+">") {
			t.Errorf("binding %s: source %q", b.Contact, b.Source)
		}
		if b.Transport != "UDP" {
			t.Errorf("binding %s: transport %q", b.Contact, b.Transport)
		}
	}

	res, err = phone1.register(ctx, "mary-secret", "<sip:app.mary@127.0.0.1:5071>", 0)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("un-REGISTER: %v %v", res, err)
	}
	if diff := cmp.Diff([]string{"<sip:app.mary@127.0.0.1:5072>;expires=600"}, contacts(res)); diff != "" {
		t.Errorf("after un-REGISTER (-want +got):\n%s", diff)
	}

	// The remaining contact expires on the clock.
	f.clk.Advance(600 * time.Second)
	if bs := f.r.Lookup("app.mary"); len(bs) != 0 {
		t.Errorf("after expiry: %v", bs)
	}

	var got []string
	for _, e := range f.events() {
		got = append(got, fmt.Sprintf("%s %s %s", e.Kind, e.Account, e.Cause))
	}
	wantEvents := []string{
		"registered app.mary new",
		"registered app.mary new",
		"unregistered app.mary unregistered",
		"unregistered app.mary expired",
	}
	if diff := cmp.Diff(wantEvents, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestEndToEndRefused(t *testing.T) {
	f := newFixture(t)
	server := f.serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	answer := func(user, password string) string {
		res, err := newPhone(t, server, user).register(ctx, password, "<sip:"+user+"@127.0.0.1:5071>", 300)
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%d %s", res.StatusCode, res.Reason)
		for _, h := range res.GetHeaders("WWW-Authenticate") {
			fmt.Fprintf(&b, "\n%s", nonce.ReplaceAllString(h.Value(), `nonce="N"`))
		}
		return b.String()
	}
	wrong := answer("app.mary", "guess")
	unknown := answer("app.nobody", "guess")
	if !strings.HasPrefix(wrong, "401 Unauthorized\n") {
		t.Errorf("wrong password: %s", wrong)
	}
	if wrong != unknown {
		t.Errorf("wrong password answered\n%s\nunknown user answered\n%s", wrong, unknown)
	}
	if bs := f.r.Lookup("app.mary"); len(bs) != 0 {
		t.Errorf("bindings after failures: %v", bs)
	}
	var kinds []events.Kind
	for _, e := range f.events() {
		kinds = append(kinds, e.Kind)
	}
	if diff := cmp.Diff([]events.Kind{events.AuthFailed, events.AuthFailed}, kinds); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// A REGISTER for another account's address is refused even with good
// credentials.
func TestEndToEndOtherAddress(t *testing.T) {
	f := newFixture(t)
	server := f.serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := newPhone(t, server, "app.john")
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: server.IP.String(), Port: server.Port})
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "app.john", Host: domain}})
	req.AppendHeader(sip.NewHeader("Contact", "<sip:app.john@127.0.0.1:5071>"))
	res, err := p.client.Do(ctx, req)
	if err != nil || res.StatusCode != 401 {
		t.Fatalf("%v %v", res, err)
	}
	res, err = p.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "app.mary", Password: "mary-secret"})
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 403 {
		t.Errorf("got %d %s, want 403", res.StatusCode, res.Reason)
	}
}

var nonce = regexp.MustCompile(`nonce="[^"]*"`)
