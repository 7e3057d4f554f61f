package registrar_test

import (
	stdcmp "cmp"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"
	"github.com/icholy/digest"

	"switchboard/compiler/ir"
	"switchboard/runtime/auth"
	"switchboard/runtime/clock/clocktest"
	"switchboard/runtime/events"
	"switchboard/runtime/registrar"
)

const domain = "harbour-view.example.net"

// secrets is a map-backed auth.Secrets.
type secrets map[string]string

func (s secrets) SIPPassword(account string) (string, bool) {
	p, ok := s[account]
	return p, ok
}

var passwords = secrets{
	"app.mary":          "mary-secret",
	"app.john":          "john-secret",
	"device.front-gate": "gate-secret",
	"app.ghost":         "ghost-secret", // has a password but no account in the program
}

func origin(line int, object string) ir.Origin {
	return ir.Origin{File: "site.pbx.hcl", Line: line, Column: 1, EndLine: line, EndColumn: 2, Object: object}
}

// program is a hand-built site with three accounts.
func program() *ir.Program {
	p := &ir.Program{
		Version: ir.Version,
		Site:    ir.Site{Name: "harbour-view", Domain: domain, Origin: origin(1, `site "harbour-view"`)},
		Accounts: []ir.Account{
			{Name: "app.mary", Kind: ir.AccountApp, Username: "app.mary", AuthName: "app.mary",
				Owner: ir.UserRef("mary"), Origin: origin(25, `user "mary"`)},
			{Name: "app.john", Kind: ir.AccountApp, Username: "app.john", AuthName: "app.john",
				Owner: ir.UserRef("john"), Origin: origin(45, `user "john"`)},
			{Name: "device.front-gate", Kind: ir.AccountDevice, Username: "device.front-gate", AuthName: "device.front-gate",
				Owner: ir.DeviceRef("front-gate"), Device: "front-gate", Origin: origin(75, `device "front-gate"`)},
		},
	}
	p.Sort()
	return p
}

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	clk *clocktest.Fake
	bus *events.Bus
	sub *events.Subscription
	a   *auth.Authenticator
	r   *registrar.Registrar
}

func newFixture(t testing.TB, opts ...registrar.Option) *fixture {
	return newFixtureAuth(t, nil, opts...)
}

// newFixtureAuth is newFixture with options for the authenticator.
func newFixtureAuth(t testing.TB, authOpts []auth.Option, opts ...registrar.Option) *fixture {
	f := &fixture{clk: clocktest.New(epoch)}
	f.bus = events.NewBus(f.clk.Now)
	f.sub = f.bus.Subscribe(10000)
	p := program()
	authOpts = append([]auth.Option{auth.WithEvents(f.bus, func() *ir.Program { return p })}, authOpts...)
	f.a = auth.New(domain, passwords, f.clk, authOpts...)
	f.r = registrar.New(p, f.a, f.clk, append([]registrar.Option{registrar.WithEvents(f.bus)}, opts...)...)
	t.Cleanup(f.r.Close)
	return f
}

// events drains the events published so far, without times.
func (f *fixture) events() []events.Event {
	var out []events.Event
	for {
		select {
		case e := <-f.sub.C:
			e.Time = time.Time{}
			out = append(out, e)
		default:
			return out
		}
	}
}

// request parses a REGISTER of user from source with the given extra
// header lines.
func request(t testing.TB, user, callID string, cseq int, source string, extra ...string) *sip.Request {
	t.Helper()
	text := fmt.Sprintf("REGISTER sip:%[1]s SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-%[3]s-%[4]d;rport\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: <sip:%[2]s@%[1]s>;tag=%[3]s\r\n"+
		"To: <sip:%[2]s@%[1]s>\r\n"+
		"Call-ID: %[3]s\r\n"+
		"CSeq: %[4]d REGISTER\r\n", domain, user, callID, cseq)
	for _, h := range extra {
		text += h + "\r\n"
	}
	text += "Content-Length: 0\r\n\r\n"
	msg, err := sip.ParseMessage([]byte(text))
	if err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	req := msg.(*sip.Request)
	req.SetSource(source)
	return req
}

// authorise adds digest credentials answering challenge res to req and
// bumps its CSeq, as a client does.
func authorise(t testing.TB, req *sip.Request, res *sip.Response, user, password string) {
	t.Helper()
	chal, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	if err != nil {
		t.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: req.Recipient.Addr(), Username: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	req.RemoveHeader("Authorization")
	req.AppendHeader(sip.NewHeader("Authorization", cred.String()))
	req.CSeq().SeqNo++
}

// register sends req, answers a 401 with password, and returns the final
// response.
func (f *fixture) register(t testing.TB, req *sip.Request, password string) *sip.Response {
	t.Helper()
	res := f.r.Handle(req)
	if res.StatusCode != 401 {
		return res
	}
	authorise(t, req, res, req.To().Address.User, password)
	return f.r.Handle(req)
}

// summary renders the parts of a response the tests check.
func summary(res *sip.Response) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", res.StatusCode, res.Reason)
	for _, h := range res.Headers() {
		switch h.Name() {
		case "Contact", "Min-Expires", "Path", "Unsupported", "Retry-After":
			fmt.Fprintf(&b, "\n%s: %s", h.Name(), h.Value())
		}
	}
	return b.String()
}

// step is one REGISTER of a test case.
type step struct {
	advance  time.Duration // before sending
	user     string        // default app.mary
	password string        // default the user's
	callID   string        // default "c1"
	cseq     int           // default 1
	source   string        // default 203.0.113.9:40000
	headers  []string
	want     string // summary of the response
}

const ok = "200 OK"

func TestRegister(t *testing.T) {
	tests := []struct {
		name     string
		opts     []registrar.Option
		steps    []step
		bindings map[string][]registrar.Binding // per account, after the steps (Expires checked)
		events   []string                       // kind account cause
	}{{
		name: "one contact",
		steps: []step{{
			headers: []string{"Contact: <sip:app.mary@10.0.0.5:5060>", "Expires: 300", "User-Agent: Yealink SIP-T54W 96.86.0.70"},
			want:    ok + "\nContact: <sip:app.mary@10.0.0.5:5060>;expires=300",
		}},
		bindings: map[string][]registrar.Binding{"app.mary": {{
			Account: "app.mary", Contact: "<sip:app.mary@10.0.0.5:5060>", Key: "sip:app.mary@10.0.0.5:5060",
			CallID: "c1", CSeq: 2, Expires: epoch.Add(300 * time.Second), Source: "203.0.113.9:40000", Transport: "UDP",
			UserAgent: "Yealink SIP-T54W 96.86.0.70", Since: epoch,
		}}},
		events: []string{"registered app.mary new"},
	}, {
		name: "a refresh keeps since when the binding exists",
		steps: []step{{
			headers: []string{"Contact: <sip:app.mary@10.0.0.5:5060>", "Expires: 300", "User-Agent: app 1.0"},
			want:    ok + "\nContact: <sip:app.mary@10.0.0.5:5060>;expires=300",
		}, {
			advance: 100 * time.Second,
			cseq:    3,
			headers: []string{"Contact: <sip:app.mary@10.0.0.5:5060>", "Expires: 300", "User-Agent: app 1.1"},
			want:    ok + "\nContact: <sip:app.mary@10.0.0.5:5060>;expires=300",
		}},
		bindings: map[string][]registrar.Binding{"app.mary": {{
			Account: "app.mary", Contact: "<sip:app.mary@10.0.0.5:5060>", Key: "sip:app.mary@10.0.0.5:5060",
			CallID: "c1", CSeq: 4, Expires: epoch.Add(400 * time.Second), Source: "203.0.113.9:40000", Transport: "UDP",
			UserAgent: "app 1.1", Since: epoch,
		}}},
		events: []string{"registered app.mary new", "registered app.mary refresh"},
	}, {
		name: "app on two phones",
		steps: []step{{
			headers: []string{"Contact: <sip:app.mary@10.0.0.5:5060;transport=udp>;+sip.instance=\"<urn:uuid:phone-1>\"", "Expires: 300"},
			want:    ok + "\nContact: <sip:app.mary@10.0.0.5:5060;transport=udp>;+sip.instance=\"<urn:uuid:phone-1>\";expires=300",
		}, {
			advance: 10 * time.Second,
			callID:  "c2",
			source:  "198.51.100.4:5060",
			headers: []string{"Contact: <sip:app.mary@10.0.0.6:5062;transport=udp>;+sip.instance=\"<urn:uuid:phone-2>\"", "Expires: 300"},
			want: ok + "\nContact: <sip:app.mary@10.0.0.6:5062;transport=udp>;+sip.instance=\"<urn:uuid:phone-2>\";expires=300" +
				"\nContact: <sip:app.mary@10.0.0.5:5060;transport=udp>;+sip.instance=\"<urn:uuid:phone-1>\";expires=290",
		}},
		events: []string{"registered app.mary new", "registered app.mary new"},
	}, {
		name: "two contacts in one request, expires parameter first",
		steps: []step{{
			headers: []string{"Contact: <sip:app.mary@10.0.0.5>;expires=120, <sip:app.mary@10.0.0.7>", "m: <sip:app.mary@10.0.0.8>;expires=99999", "Expires: 600"},
			want: ok + "\nContact: <sip:app.mary@10.0.0.8>;expires=3600" +
				"\nContact: <sip:app.mary@10.0.0.7>;expires=600" +
				"\nContact: <sip:app.mary@10.0.0.5>;expires=120",
		}},
		events: []string{"registered app.mary new", "registered app.mary new", "registered app.mary new"},
	}, {
		name: "default expiry",
		steps: []step{{
			headers: []string{"Contact: <sip:app.mary@10.0.0.5>"},
			want:    ok + "\nContact: <sip:app.mary@10.0.0.5>;expires=3600",
		}},
		events: []string{"registered app.mary new"},
	}, {
		name: "interval too brief",
		steps: []step{{
			headers: []string{"Contact: <sip:app.mary@10.0.0.5>", "Expires: 30"},
			want:    "423 Interval Too Brief\nMin-Expires: 60",
		}, {
			headers: []string{"Contact: <sip:app.mary@10.0.0.5>;expires=59", "Expires: 300"},
			want:    "423 Interval Too Brief\nMin-Expires: 60",
		}},
	}, {
		name: "refresh and un-register",
		steps: []step{{
			headers: []string{"Contact: <sip:app.mary@10.0.0.5>, <sip:app.mary@10.0.0.6>", "Expires: 300"},
			want:    ok + "\nContact: <sip:app.mary@10.0.0.5>;expires=300\nContact: <sip:app.mary@10.0.0.6>;expires=300",
		}, {
			advance: 100 * time.Second,
			cseq:    3,
			headers: []string{"Contact: <sip:app.mary@10.0.0.5>", "Expires: 300"},
			want:    ok + "\nContact: <sip:app.mary@10.0.0.5>;expires=300\nContact: <sip:app.mary@10.0.0.6>;expires=200",
		}, {
			cseq:    5,
			headers: []string{"Contact: <sip:app.mary@10.0.0.6>", "Expires: 0"},
			want:    ok + "\nContact: <sip:app.mary@10.0.0.5>;expires=300",
		}},
		events: []string{"registered app.mary new", "registered app.mary new", "registered app.mary refresh", "unregistered app.mary unregistered"},
	}, {
		name: "out-of-order CSeq",
		steps: []step{{
			cseq:    5,
			headers: []string{"Contact: <sip:app.mary@10.0.0.5>", "Expires: 300"},
			want:    ok + "\nContact: <sip:app.mary@10.0.0.5>;expires=300",
		}, {
			cseq:    3,
			headers: []string{"Contact: <sip:app.mary@10.0.0.5>", "Expires: 0"},
			want:    "400 Out-of-order CSeq",
		}, {
			callID:  "other",
			cseq:    1,
			headers: []string{"Contact: <sip:app.mary@10.0.0.5>", "Expires: 0"},
			want:    ok,
		}},
		events: []string{"registered app.mary new", "unregistered app.mary unregistered"},
	}, {
		name: "wildcard",
		steps: []step{{
			headers: []string{"Contact: <sip:app.mary@10.0.0.5>, <sip:app.mary@10.0.0.6>", "Expires: 300"},
			want:    ok + "\nContact: <sip:app.mary@10.0.0.5>;expires=300\nContact: <sip:app.mary@10.0.0.6>;expires=300",
		}, {
			cseq:    3,
			headers: []string{"Contact: *"},
			want:    "400 Invalid Wildcard Contact",
		}, {
			cseq:    5,
			headers: []string{"Contact: *", "Contact: <sip:app.mary@10.0.0.5>", "Expires: 0"},
			want:    "400 Invalid Wildcard Contact",
		}, {
			cseq:    7,
			headers: []string{"Contact: *", "Expires: 300"},
			want:    "400 Invalid Wildcard Contact",
		}, {
			cseq:    9,
			headers: []string{"Contact: *", "Expires: 0"},
			want:    ok,
		}},
		events: []string{"registered app.mary new", "registered app.mary new", "unregistered app.mary unregistered", "unregistered app.mary unregistered"},
	}, {
		name: "query",
		steps: []step{{
			headers: []string{"Contact: <sip:app.mary@10.0.0.5>", "Expires: 300"},
			want:    ok + "\nContact: <sip:app.mary@10.0.0.5>;expires=300",
		}, {
			advance: time.Minute,
			callID:  "c2",
			want:    ok + "\nContact: <sip:app.mary@10.0.0.5>;expires=240",
		}},
		events: []string{"registered app.mary new"},
	}, {
		name: "another account's address",
		steps: []step{{
			user:     "app.john",
			password: "mary-secret",
			headers:  []string{"Contact: <sip:app.john@10.0.0.5>", "Expires: 300", "Authorization: placeholder"},
			want:     "403 Forbidden",
		}},
		events: []string{"auth_failed app.mary registering the address of another account"},
	}, {
		name: "password known, account not in the program",
		steps: []step{{
			user:    "app.ghost",
			headers: []string{"Contact: <sip:app.ghost@10.0.0.5>"},
			want:    "403 Forbidden",
		}},
		events: []string{"auth_failed app.ghost account not in the running configuration"},
	}, {
		name: "wrong password and unknown user",
		steps: []step{{
			password: "guess",
			headers:  []string{"Contact: <sip:app.mary@10.0.0.5>"},
			want:     "401 Unauthorized",
		}, {
			user:    "app.nobody",
			headers: []string{"Contact: <sip:app.nobody@10.0.0.5>"},
			want:    "401 Unauthorized",
		}},
		events: []string{"auth_failed app.mary wrong password", "auth_failed app.nobody unknown user"},
	}, {
		name: "path",
		steps: []step{{
			headers: []string{"Contact: <sip:app.mary@10.0.0.5>", "Expires: 300",
				"Path: <sip:edge-1.example.net;lr>", "Path: <sip:edge-2.example.net;lr>", "Supported: path, outbound"},
			want: ok + "\nContact: <sip:app.mary@10.0.0.5>;expires=300\nPath: <sip:edge-1.example.net;lr>\nPath: <sip:edge-2.example.net;lr>",
		}},
		bindings: map[string][]registrar.Binding{"app.mary": {{
			Account: "app.mary", Contact: "<sip:app.mary@10.0.0.5>", Key: "sip:app.mary@10.0.0.5",
			CallID: "c1", CSeq: 2, Expires: epoch.Add(300 * time.Second), Source: "203.0.113.9:40000", Transport: "UDP",
			Since: epoch, Path: []string{"<sip:edge-1.example.net;lr>", "<sip:edge-2.example.net;lr>"},
		}}},
		events: []string{"registered app.mary new"},
	}, {
		name: "unsupported extension",
		steps: []step{{
			headers: []string{"Contact: <sip:app.mary@10.0.0.5>", "Require: path, gruu"},
			want:    "420 Bad Extension\nUnsupported: gruu",
		}},
	}, {
		name: "instance moves to a new address",
		steps: []step{{
			headers: []string{"Contact: <sip:app.mary@10.0.0.5>;+sip.instance=\"<urn:uuid:1>\";reg-id=1", "Expires: 300"},
			want:    ok + "\nContact: <sip:app.mary@10.0.0.5>;+sip.instance=\"<urn:uuid:1>\";reg-id=1;expires=300",
		}, {
			callID:  "after-reboot",
			source:  "203.0.113.9:40002",
			headers: []string{"Contact: <sip:app.mary@10.0.0.9>;+sip.instance=\"<urn:uuid:1>\";reg-id=1", "Expires: 300"},
			want:    ok + "\nContact: <sip:app.mary@10.0.0.9>;+sip.instance=\"<urn:uuid:1>\";reg-id=1;expires=300",
		}},
		events: []string{"registered app.mary new", "registered app.mary refresh"},
	}, {
		name: "too many contacts",
		opts: []registrar.Option{registrar.WithMaxContacts(2)},
		steps: []step{{
			headers: []string{"Contact: <sip:app.mary@10.0.0.5>", "Expires: 300"},
			want:    ok + "\nContact: <sip:app.mary@10.0.0.5>;expires=300",
		}, {
			advance: time.Second,
			callID:  "c2",
			headers: []string{"Contact: <sip:app.mary@10.0.0.6>", "Expires: 300"},
			want:    ok + "\nContact: <sip:app.mary@10.0.0.6>;expires=300\nContact: <sip:app.mary@10.0.0.5>;expires=299",
		}, {
			advance: time.Second,
			callID:  "c3",
			headers: []string{"Contact: <sip:app.mary@10.0.0.7>", "Expires: 300"},
			want:    ok + "\nContact: <sip:app.mary@10.0.0.7>;expires=300\nContact: <sip:app.mary@10.0.0.6>;expires=299",
		}, {
			callID:  "c4",
			headers: []string{"Contact: <sip:app.mary@10.0.0.1>, <sip:app.mary@10.0.0.2>, <sip:app.mary@10.0.0.3>", "Expires: 300"},
			want:    "403 Too Many Contacts",
		}},
		events: []string{"registered app.mary new", "registered app.mary new", "registered app.mary new", "unregistered app.mary replaced by a newer contact"},
	}, {
		name: "expiry",
		steps: []step{{
			headers: []string{"Contact: <sip:app.mary@10.0.0.5>;expires=60, <sip:app.mary@10.0.0.6>;expires=120"},
			want:    ok + "\nContact: <sip:app.mary@10.0.0.6>;expires=120\nContact: <sip:app.mary@10.0.0.5>;expires=60",
		}, {
			advance: 61 * time.Second,
			callID:  "c2",
			want:    ok + "\nContact: <sip:app.mary@10.0.0.6>;expires=59",
		}, {
			advance: 60 * time.Second,
			callID:  "c3",
			want:    ok,
		}},
		events: []string{"registered app.mary new", "registered app.mary new", "unregistered app.mary expired", "unregistered app.mary expired"},
	}, {
		name: "bad expires",
		steps: []step{{
			headers: []string{"Contact: <sip:app.mary@10.0.0.5>", "Expires: soon"},
			want:    "400 Invalid Expires",
		}, {
			headers: []string{"Contact: <sip:app.mary@10.0.0.5>;expires=-1"},
			want:    "400 Invalid Contact Expires",
		}, {
			headers: []string{"Contact: <mailto:mary@example.com>"},
			want:    "400 Invalid Contact",
		}, {
			headers: []string{"Contact: <sip:app.mary@10.0.0.5>", "Expires: 99999999999"},
			want:    ok + "\nContact: <sip:app.mary@10.0.0.5>;expires=3600",
		}},
		events: []string{"registered app.mary new"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opts...)
			var got, want []string
			for i, s := range tt.steps {
				f.clk.Advance(s.advance)
				user := stdcmp.Or(s.user, "app.mary")
				password := stdcmp.Or(s.password, passwords[user])
				req := request(t, user, stdcmp.Or(s.callID, "c1"), stdcmp.Or(s.cseq, 1), stdcmp.Or(s.source, "203.0.113.9:40000"), s.headers...)
				var res *sip.Response
				if req.GetHeader("Authorization") != nil {
					// Authenticate as Mary, register for the step's user.
					req.RemoveHeader("Authorization")
					challenge := f.r.Handle(req)
					authorise(t, req, challenge, "app.mary", password)
					res = f.r.Handle(req)
				} else {
					res = f.register(t, req, password)
				}
				got = append(got, fmt.Sprintf("step %d: %s", i+1, summary(res)))
				want = append(want, fmt.Sprintf("step %d: %s", i+1, s.want))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("responses (-want +got):\n%s", diff)
			}
			for account, bs := range tt.bindings {
				if diff := cmp.Diff(bs, f.r.Lookup(account)); diff != "" {
					t.Errorf("bindings of %s (-want +got):\n%s", account, diff)
				}
			}
			var evs []string
			for _, e := range f.events() {
				evs = append(evs, strings.TrimSpace(fmt.Sprintf("%s %s %s", e.Kind, e.Account, e.Cause)))
			}
			if diff := cmp.Diff(tt.events, evs); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// Registrations carry the IR origin of their account, and a response's
// Date header the registrar's time.
func TestEventOriginAndDate(t *testing.T) {
	f := newFixture(t)
	res := f.register(t, request(t, "device.front-gate", "c1", 1, "192.0.2.50:5060", "Contact: <sip:device.front-gate@192.0.2.50>"), "gate-secret")
	if got, want := res.GetHeader("Date").Value(), "Sun, 01 Mar 2026 12:00:00 GMT"; got != want {
		t.Errorf("Date: %q, want %q", got, want)
	}
	want := []events.Event{{Kind: events.Registered, Account: "device.front-gate", Source: "192.0.2.50:5060",
		Status: 200, Cause: "new", Origin: origin(75, `device "front-gate"`)}}
	if diff := cmp.Diff(want, f.events()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// A reload that drops an account drops its bindings.
func TestSetProgramRemovesBindings(t *testing.T) {
	f := newFixture(t)
	for _, user := range []string{"app.mary", "app.john"} {
		res := f.register(t, request(t, user, "c-"+user, 1, "192.0.2.7:5060", "Contact: <sip:"+user+"@192.0.2.7>"), passwords[user])
		if res.StatusCode != 200 {
			t.Fatalf("%s: %s", user, summary(res))
		}
	}
	f.events()
	p := program()
	p.Accounts = p.Accounts[1:] // drop app.john (sorted: app.john, app.mary, device.front-gate)
	f.r.SetProgram(p)
	if got := f.r.Lookup("app.john"); len(got) != 0 {
		t.Errorf("app.john still has %d bindings", len(got))
	}
	if got := f.r.Lookup("app.mary"); len(got) != 1 {
		t.Errorf("app.mary has %d bindings, want 1", len(got))
	}
	want := []events.Event{{Kind: events.Unregistered, Account: "app.john", Source: "192.0.2.7:5060",
		Cause: "account removed from the configuration", Origin: origin(45, `user "john"`)}}
	if diff := cmp.Diff(want, f.events()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestBindingURI(t *testing.T) {
	b := registrar.Binding{Contact: `<sip:app.mary@10.0.0.5:5062;transport=tcp>;+sip.instance="<urn:uuid:1>"`}
	u, err := b.URI()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.String(), "sip:app.mary@10.0.0.5:5062;transport=tcp"; got != want {
		t.Errorf("URI %q, want %q", got, want)
	}
}

func TestCloseStopsSweeping(t *testing.T) {
	f := newFixture(t)
	if f.clk.Pending() != 1 {
		t.Fatalf("%d timers pending, want the sweeper's", f.clk.Pending())
	}
	f.clk.Advance(3 * registrar.DefaultSweep)
	f.r.Close()
	if n := f.clk.Pending(); n != 0 {
		t.Errorf("%d timers pending after Close", n)
	}
}

// Concurrent registrations of one account keep its contacts within the
// limit, and the updates of different accounts do not interfere.
func TestConcurrentRegistrations(t *testing.T) {
	f := newFixtureAuth(t, []auth.Option{auth.WithThrottle(auth.Throttle{})}, registrar.WithMaxContacts(3))
	done := make(chan string)
	for g := range 8 {
		go func() {
			user := []string{"app.mary", "app.john"}[g%2]
			for i := range 20 {
				req := request(t, user, fmt.Sprintf("g%d-%d", g, i), 1, fmt.Sprintf("192.0.2.%d:5060", g+1),
					fmt.Sprintf("Contact: <sip:%s@192.0.2.%d:%d>", user, g+1, 5060+i), "Expires: 300")
				if res := f.register(t, req, passwords[user]); res.StatusCode != 200 {
					done <- fmt.Sprintf("%s %d: %s", user, i, summary(res))
					return
				}
			}
			done <- ""
		}()
	}
	for range 8 {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
	for _, user := range []string{"app.mary", "app.john"} {
		if n := len(f.r.Lookup(user)); n != 3 {
			t.Errorf("%s has %d bindings, want 3", user, n)
		}
	}
}
