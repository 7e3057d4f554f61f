package auth_test

import (
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"
	"github.com/icholy/digest"

	"switchboard/compiler/ir"
	"switchboard/runtime/auth"
	"switchboard/runtime/clock/clocktest"
	"switchboard/runtime/events"
)

const realm = "harbour-view.example.net"

// secrets is a map-backed auth.Secrets that counts its lookups, so a test
// can tell whether a request reached the password stage at all.
type secrets struct {
	m       map[string]string
	lookups atomic.Int64
}

func (s *secrets) SIPPassword(account string) (string, bool) {
	s.lookups.Add(1)
	p, ok := s.m[account]
	return p, ok
}

func newSecrets() *secrets {
	return &secrets{m: map[string]string{"app.mary": "mary-secret", "device.front-gate": "gate-secret"}}
}

func program() *ir.Program {
	return &ir.Program{
		Version: ir.Version,
		Site:    ir.Site{Name: "harbour-view", Domain: realm, Origin: ir.Origin{File: "site.pbx.hcl", Line: 1, Object: `site "harbour-view"`}},
		Accounts: []ir.Account{
			{Name: "app.mary", Kind: ir.AccountApp, Username: "app.mary", AuthName: "app.mary", Digest: []string{"SHA-256", "MD5"},
				Owner: ir.UserRef("mary"), Origin: ir.Origin{File: "site.pbx.hcl", Line: 25, Object: `user "mary"`}},
			{Name: "device.front-gate", Kind: ir.AccountDevice, Username: "device.front-gate", AuthName: "device.front-gate", Digest: []string{"MD5"},
				Owner: ir.DeviceRef("front-gate"), Device: "front-gate", Origin: ir.Origin{File: "site.pbx.hcl", Line: 75, Object: `device "front-gate"`}},
		},
	}
}

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	clk     *clocktest.Fake
	secrets *secrets
	bus     *events.Bus
	sub     *events.Subscription
	a       *auth.Authenticator
}

func newFixture(t *testing.T, opts ...auth.Option) *fixture {
	t.Helper()
	f := &fixture{clk: clocktest.New(epoch), secrets: newSecrets()}
	f.bus = events.NewBus(f.clk.Now)
	f.sub = f.bus.Subscribe(1000)
	p := program()
	opts = append([]auth.Option{auth.WithEvents(f.bus, func() *ir.Program { return p })}, opts...)
	f.a = auth.New(realm, f.secrets, f.clk, opts...)
	return f
}

// events drains the events published so far.
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

var seq atomic.Int64

func register(user string) *sip.Request {
	var ruri sip.Uri
	if err := sip.ParseUri("sip:"+realm, &ruri); err != nil {
		panic(err)
	}
	req := sip.NewRequest(sip.REGISTER, ruri)
	n := seq.Add(1)
	var via sip.ViaHeader
	via.ProtocolName, via.ProtocolVersion, via.Transport, via.Host, via.Port = "SIP", "2.0", "UDP", "192.0.2.10", 5060
	via.Params = sip.NewParams()
	via.Params.Add("branch", fmt.Sprintf("z9hG4bK%d", n))
	req.AppendHeader(&via)
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: realm}}
	from := &sip.FromHeader{Address: to.Address, Params: sip.NewParams()}
	from.Params.Add("tag", fmt.Sprint("t", n))
	req.AppendHeader(from)
	req.AppendHeader(to)
	cid := sip.CallIDHeader(fmt.Sprint("call-", n))
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.REGISTER})
	req.SetSource("192.0.2.10:5060")
	return req
}

// answer adds credentials for the first challenge of res offering alg
// ("" for the first) to a fresh REGISTER.
type answer struct {
	user, password string
	alg            string
	nc             int
	uri            string // digest uri; default the Request-URI
	noQOP          bool
	mutate         func(*digest.Credentials)
}

func respond(t testing.TB, res *sip.Response, ans answer) *sip.Request {
	t.Helper()
	name := "WWW-Authenticate"
	hname := "Authorization"
	if res.StatusCode == 407 {
		name, hname = "Proxy-Authenticate", "Proxy-Authorization"
	}
	var chal *digest.Challenge
	for _, h := range res.GetHeaders(name) {
		c, err := digest.ParseChallenge(h.Value())
		if err != nil {
			t.Fatalf("challenge %q: %v", h.Value(), err)
		}
		if ans.alg == "" || c.Algorithm == ans.alg {
			chal = c
			break
		}
	}
	if chal == nil {
		t.Fatalf("no %s challenge in %s", ans.alg, res)
	}
	if ans.noQOP {
		chal.QOP = nil
	}
	req := register(ans.user)
	uri := ans.uri
	if uri == "" {
		uri = req.Recipient.String()
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: uri, Username: ans.user, Password: ans.password, Count: ans.nc})
	if err != nil {
		t.Fatal(err)
	}
	if ans.mutate != nil {
		ans.mutate(cred)
	}
	req.AppendHeader(sip.NewHeader(hname, cred.String()))
	return req
}

// shape is a response with the nonce blanked, for comparing answers.
func shape(res *sip.Response) string {
	if res == nil {
		return "<nil>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s\n", res.StatusCode, res.Reason)
	for _, h := range res.Headers() {
		switch strings.ToLower(h.Name()) {
		case "www-authenticate", "proxy-authenticate", "retry-after":
			fmt.Fprintf(&b, "%s: %s\n", h.Name(), nonceRE.ReplaceAllString(h.Value(), `nonce="N"`))
		}
	}
	return b.String()
}

var nonceRE = regexp.MustCompile(`nonce="[^"]*"`)

const (
	challenge401 = `401 Unauthorized
WWW-Authenticate: Digest realm="harbour-view.example.net", nonce="N", algorithm=SHA-256, qop="auth"
WWW-Authenticate: Digest realm="harbour-view.example.net", nonce="N", algorithm=MD5, qop="auth"
`
	stale401 = `401 Unauthorized
WWW-Authenticate: Digest realm="harbour-view.example.net", nonce="N", algorithm=SHA-256, qop="auth", stale=true
WWW-Authenticate: Digest realm="harbour-view.example.net", nonce="N", algorithm=MD5, qop="auth", stale=true
`
	// md5Challenge401 is what a name whose client answers only MD5 is
	// offered: a device of an MD5-only model, and a name that is no
	// account.
	md5Challenge401 = `401 Unauthorized
WWW-Authenticate: Digest realm="harbour-view.example.net", nonce="N", algorithm=MD5, qop="auth"
`
)

func TestChallenge(t *testing.T) {
	f := newFixture(t)
	acct, res := f.a.Check(register("app.mary"), "", false)
	if acct != "" {
		t.Fatalf("authenticated %q without credentials", acct)
	}
	if diff := cmp.Diff(challenge401, shape(res)); diff != "" {
		t.Errorf("challenge (-want +got):\n%s", diff)
	}
	hs := res.GetHeaders("WWW-Authenticate")
	if n0, n1 := nonceRE.FindString(hs[0].Value()), nonceRE.FindString(hs[1].Value()); n0 != n1 {
		t.Errorf("challenges carry different nonces %s and %s", n0, n1)
	}
	if got := res.To().Params; !got.Has("tag") {
		t.Errorf("challenge has no To tag")
	}

	_, res = f.a.Check(register("app.mary"), "", true)
	want := strings.ReplaceAll(strings.ReplaceAll(challenge401, "WWW-Authenticate", "Proxy-Authenticate"),
		"401 Unauthorized", "407 Proxy Authentication Required")
	if diff := cmp.Diff(want, shape(res)); diff != "" {
		t.Errorf("proxy challenge (-want +got):\n%s", diff)
	}

	g := newFixture(t, auth.WithAlgorithms(auth.MD5))
	_, res = g.a.Check(register("app.mary"), "", false)
	want = "401 Unauthorized\n" + strings.Split(challenge401, "\n")[2] + "\n"
	if diff := cmp.Diff(want, shape(res)); diff != "" {
		t.Errorf("MD5-only challenge (-want +got):\n%s", diff)
	}
}

func TestCheck(t *testing.T) {
	mary := answer{user: "app.mary", password: "mary-secret"}
	with := func(a answer, f func(*answer)) answer { f(&a); return a }
	tests := []struct {
		name    string
		opts    []auth.Option
		proxy   bool
		answers []answer // answered in turn to the first challenge
		advance time.Duration
		want    []string // account or response shape per answer
		events  []events.Event
	}{{
		name:    "sha-256",
		answers: []answer{with(mary, func(a *answer) { a.alg = "SHA-256" })},
		want:    []string{"app.mary"},
	}, {
		name:    "md5",
		answers: []answer{with(mary, func(a *answer) { a.alg = "MD5" })},
		want:    []string{"app.mary"},
	}, {
		name:    "proxy",
		proxy:   true,
		answers: []answer{mary},
		want:    []string{"app.mary"},
	}, {
		name:    "nonce reused with increasing nc",
		answers: []answer{with(mary, func(a *answer) { a.nc = 1 }), with(mary, func(a *answer) { a.nc = 2 }), with(mary, func(a *answer) { a.nc = 7 })},
		want:    []string{"app.mary", "app.mary", "app.mary"},
	}, {
		name:    "replayed nc",
		answers: []answer{with(mary, func(a *answer) { a.nc = 2 }), with(mary, func(a *answer) { a.nc = 2 }), with(mary, func(a *answer) { a.nc = 1 })},
		want:    []string{"app.mary", stale401, stale401},
		events: []events.Event{
			{Kind: events.AuthFailed, Account: "app.mary", Source: "192.0.2.10:5060", Status: 401, Cause: "replayed nonce count", Origin: program().Accounts[0].Origin},
			{Kind: events.AuthFailed, Account: "app.mary", Source: "192.0.2.10:5060", Status: 401, Cause: "replayed nonce count", Origin: program().Accounts[0].Origin},
		},
	}, {
		name:    "without qop the nonce is good once",
		answers: []answer{with(mary, func(a *answer) { a.noQOP = true }), with(mary, func(a *answer) { a.noQOP = true })},
		want:    []string{"app.mary", stale401},
		events: []events.Event{
			{Kind: events.AuthFailed, Account: "app.mary", Source: "192.0.2.10:5060", Status: 401, Cause: "replayed nonce count", Origin: program().Accounts[0].Origin},
		},
	}, {
		name:    "uppercase hex response",
		answers: []answer{with(mary, func(a *answer) { a.mutate = func(c *digest.Credentials) { c.Response = strings.ToUpper(c.Response) } })},
		want:    []string{"app.mary"},
	}, {
		name:    "wrong password",
		answers: []answer{with(mary, func(a *answer) { a.password = "guess" })},
		want:    []string{challenge401},
		events: []events.Event{
			{Kind: events.AuthFailed, Account: "app.mary", Source: "192.0.2.10:5060", Status: 401, Cause: "wrong password", Origin: program().Accounts[0].Origin},
		},
	}, {
		name:    "unknown user",
		answers: []answer{{user: "app.mallory", password: "guess", alg: "MD5"}},
		want:    []string{md5Challenge401},
		events: []events.Event{
			{Kind: events.AuthFailed, Account: "app.mallory", Source: "192.0.2.10:5060", Status: 401, Cause: "unknown user", Origin: program().Site.Origin},
		},
	}, {
		name:    "expired nonce, right password",
		advance: auth.DefaultNonceLifetime,
		answers: []answer{mary},
		want:    []string{stale401},
	}, {
		name:    "expired nonce, wrong password",
		advance: auth.DefaultNonceLifetime,
		answers: []answer{with(mary, func(a *answer) { a.password = "guess" })},
		want:    []string{challenge401},
		events: []events.Event{
			{Kind: events.AuthFailed, Account: "app.mary", Source: "192.0.2.10:5060", Status: 401, Cause: "wrong password", Origin: program().Accounts[0].Origin},
		},
	}, {
		name:    "algorithm not offered",
		opts:    []auth.Option{auth.WithAlgorithms(auth.SHA256)},
		answers: []answer{with(mary, func(a *answer) { a.mutate = func(c *digest.Credentials) { c.Algorithm = "MD5" } })},
		want:    []string{"401 Unauthorized\n" + strings.Split(challenge401, "\n")[1] + "\n"},
	}, {
		name:    "auth-int",
		answers: []answer{with(mary, func(a *answer) { a.mutate = func(c *digest.Credentials) { c.QOP = "auth-int" } })},
		want:    []string{challenge401},
	}, {
		name:    "credentials for another uri",
		answers: []answer{with(mary, func(a *answer) { a.uri = "sip:elsewhere.example.com" })},
		want:    []string{"400 Credentials For Another URI\n"},
	}, {
		name:    "digest uri without parameters or port",
		answers: []answer{with(mary, func(a *answer) { a.uri = "sip:HARBOUR-VIEW.example.net" })},
		want:    []string{"app.mary"},
	}, {
		name:    "credentials for another realm",
		answers: []answer{with(mary, func(a *answer) { a.mutate = func(c *digest.Credentials) { c.Realm = "other" } })},
		want:    []string{challenge401},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opts...)
			_, res := f.a.Check(register("app.mary"), "", tt.proxy)
			f.clk.Advance(tt.advance)
			var got []string
			for _, ans := range tt.answers {
				req := respond(t, res, ans)
				acct, r := f.a.Check(req, "", tt.proxy)
				if acct != "" {
					if r != nil {
						t.Errorf("Check returned both %q and a response", acct)
					}
					got = append(got, acct)
				} else {
					got = append(got, shape(r))
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("answers (-want +got):\n%s", diff)
			}
			for i := range tt.events {
				tt.events[i].Call = "" // compared without Call-IDs
			}
			evs := f.events()
			for i := range evs {
				evs[i].Call = ""
			}
			if diff := cmp.Diff(tt.events, evs); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// A nonce from another process (another key) with the right password is
// stale, so clients re-authenticate silently after a restart.
func TestNonceFromAnotherProcess(t *testing.T) {
	old := newFixture(t)
	_, res := old.a.Check(register("app.mary"), "", false)
	f := newFixture(t)
	acct, r := f.a.Check(respond(t, res, answer{user: "app.mary", password: "mary-secret"}), "", false)
	if acct != "" || shape(r) != stale401 {
		t.Errorf("got %q, %s; want stale challenge", acct, shape(r))
	}
}

// Once as many newer nonces were issued as the ring has slots, a nonce is
// stale: its slot now counts for another.
func TestNonceSlotReused(t *testing.T) {
	f := newFixture(t, auth.WithNonceSlots(2))
	mary := answer{user: "app.mary", password: "mary-secret"}
	_, a := f.a.Check(register("app.mary"), "", false)
	_, b := f.a.Check(register("app.mary"), "", false)
	_, c := f.a.Check(register("app.mary"), "", false)
	var got []string
	for _, res := range []*sip.Response{c, b, a} {
		acct, r := f.a.Check(respond(t, res, mary), "", false)
		if acct == "" {
			acct = shape(r)
		}
		got = append(got, acct)
	}
	if diff := cmp.Diff([]string{"app.mary", "app.mary", stale401}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestMalformedCredentials(t *testing.T) {
	f := newFixture(t)
	for _, v := range []string{
		`Digest username="app.mary", realm="harbour-view.example.net", nc=zz`,
		`Digest username="app.mary" realm="x"`,
		`Digest username="app.mary`,
	} {
		req := register("app.mary")
		req.AppendHeader(sip.NewHeader("Authorization", v))
		acct, res := f.a.Check(req, "", false)
		if acct != "" || res.StatusCode != 400 {
			t.Errorf("%s: got %q, %s; want 400", v, acct, shape(res))
		}
	}
	// Not Digest: ignored, so challenged.
	req := register("app.mary")
	req.AppendHeader(sip.NewHeader("Authorization", `Basic YWxhZGRpbjpvcGVuc2VzYW1l`))
	if _, res := f.a.Check(req, "", false); shape(res) != challenge401 {
		t.Errorf("Basic: got %s", shape(res))
	}
	// Tabs are white space.
	_, res := f.a.Check(register("app.mary"), "", false)
	good := respond(t, res, answer{user: "app.mary", password: "mary-secret"})
	v := good.GetHeader("Authorization").Value()
	good.RemoveHeader("Authorization")
	good.AppendHeader(sip.NewHeader("Authorization", strings.ReplaceAll(v, ", ", ",\t")))
	if acct, res := f.a.Check(good, "", false); acct != "app.mary" {
		t.Errorf("tabs: got %q, %s", acct, shape(res))
	}
}

// Unknown users and wrong passwords must be indistinguishable on the wire:
// same status, same headers, and the same work (a password lookup and a
// digest) behind them.
func TestUnknownUserLooksLikeWrongPassword(t *testing.T) {
	f := newFixture(t)
	try := func(user string) (string, int64) {
		_, res := f.a.Check(register(user), "", false)
		before := f.secrets.lookups.Load()
		_, r := f.a.Check(respond(t, res, answer{user: user, password: "guess"}), "", false)
		return shape(r), f.secrets.lookups.Load() - before
	}
	// A name that is no account is offered what an account whose client
	// is unknown is, MD5 here: the same as the MD5-only door station.
	wrong, wrongLookups := try("device.front-gate")
	unknown, unknownLookups := try("app.nobody")
	if wrong != unknown {
		t.Errorf("wrong password answered\n%s\nunknown user answered\n%s", wrong, unknown)
	}
	if wrongLookups != 1 || unknownLookups != 1 {
		t.Errorf("password lookups: wrong password %d, unknown user %d; want 1 each", wrongLookups, unknownLookups)
	}
}

func TestThrottle(t *testing.T) {
	f := newFixture(t, auth.WithThrottle(auth.Throttle{Failures: 3, SourceFailures: 5, Window: time.Minute}))
	mary := answer{user: "app.mary", password: "guess"}
	attempt := func(ans answer, source string) string {
		t.Helper()
		req := register(ans.user)
		_, res := f.a.Check(req, source, false)
		if res.StatusCode != 401 {
			return shape(res)
		}
		acct, r := f.a.Check(respond(t, res, ans), source, false)
		if acct != "" {
			return acct
		}
		return shape(r)
	}
	for i := 0; i < 3; i++ {
		if got := attempt(mary, "192.0.2.10:5060"); got != challenge401 {
			t.Fatalf("failure %d: got %s", i+1, got)
		}
	}
	before := f.secrets.lookups.Load()
	refused := "403 Forbidden\nRetry-After: 60\n"
	if got := attempt(mary, "192.0.2.10:5062"); got != refused {
		t.Errorf("throttled: got %s, want %s", got, refused)
	}
	if n := f.secrets.lookups.Load() - before; n != 0 {
		t.Errorf("throttled request looked up %d passwords; want none", n)
	}
	// Another user behind the same address is not locked out, nor Mary from
	// another address, and the right password still fails for Mary here.
	if got := attempt(answer{user: "device.front-gate", password: "gate-secret"}, "192.0.2.10:5060"); got != "device.front-gate" {
		t.Errorf("front gate behind the same NAT: got %s", got)
	}
	if got := attempt(answer{user: "app.mary", password: "mary-secret"}, "198.51.100.7:5060"); got != "app.mary" {
		t.Errorf("mary from elsewhere: got %s", got)
	}
	if got := attempt(answer{user: "app.mary", password: "mary-secret"}, "192.0.2.10:5060"); got != refused {
		t.Errorf("mary from the throttled source: got %s", got)
	}

	// Scanning user names hits the per-source limit.
	f.clk.Advance(20 * time.Second)
	for _, u := range []string{"app.a", "app.b"} {
		if got := attempt(answer{user: u, password: "x"}, "192.0.2.10:5060"); got != md5Challenge401 {
			t.Fatalf("%s: got %s", u, got)
		}
	}
	// 5 failures from the source now: even a request without credentials is refused.
	_, res := f.a.Check(register("app.c"), "192.0.2.10:5060", false)
	if got := shape(res); got != "403 Forbidden\nRetry-After: 40\n" {
		t.Errorf("source throttled: got %s", got)
	}

	f.clk.Advance(40 * time.Second)
	if got := attempt(answer{user: "app.mary", password: "mary-secret"}, "192.0.2.10:5060"); got != "app.mary" {
		t.Errorf("after the window: got %s", got)
	}

	var kinds []string
	for _, e := range f.events() {
		if e.Kind == events.Throttled {
			kinds = append(kinds, fmt.Sprintf("%s %s %q", e.Source, e.Account, e.Cause))
		}
	}
	want := []string{
		`192.0.2.10 app.mary "3 failed authentications of \"app.mary\" within 1m0s"`,
		`192.0.2.10  "5 failed authentications within 1m0s"`,
	}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("throttled events (-want +got):\n%s", diff)
	}
}

func TestSuccessForgivesFailures(t *testing.T) {
	f := newFixture(t, auth.WithThrottle(auth.Throttle{Failures: 2, Window: time.Minute}))
	try := func(pw string) string {
		_, res := f.a.Check(register("app.mary"), "", false)
		acct, r := f.a.Check(respond(t, res, answer{user: "app.mary", password: pw}), "", false)
		if acct != "" {
			return acct
		}
		return shape(r)
	}
	var got []string
	for _, pw := range []string{"typo", "mary-secret", "typo", "mary-secret", "typo", "typo", "mary-secret"} {
		got = append(got, try(pw))
	}
	want := []string{challenge401, "app.mary", challenge401, "app.mary", challenge401, challenge401, "403 Forbidden\nRetry-After: 60\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		`Digest username="app.mary", realm="harbour-view.example.net", nonce="AAAAAAAAAAEAAAAAaaaaaaaaaaaaaaaaaaaaaaaaaaa", uri="sip:harbour-view.example.net", response="0123456789abcdef0123456789abcdef", algorithm=MD5, cnonce="abc", qop=auth, nc=00000001`,
		`Digest username="app.mary",realm="harbour-view.example.net",nonce="x",uri="sip:harbour-view.example.net",response="00",algorithm=SHA-256`,
		`Digest username="a\"b", realm="harbour-view.example.net", nc=ffffffff, qop=auth`,
		`Digest realm="harbour-view.example.net", algorithm=sha-256, userhash=true`,
		`Digest`,
		`digest   `,
		"Digest username=\"app.mary\",\trealm=\"harbour-view.example.net\"",
	} {
		f.Add(s)
	}
	a := auth.New(realm, newSecrets(), clocktest.New(epoch))
	f.Fuzz(func(t *testing.T, v string) {
		req := register("app.mary")
		req.AppendHeader(sip.NewHeader("Authorization", v))
		acct, res := a.Check(req, "", false)
		if acct != "" {
			t.Fatalf("fuzzed credentials %q authenticated %q", v, acct)
		}
		switch res.StatusCode {
		case 400, 401, 403:
		default:
			t.Fatalf("credentials %q: unexpected %d", v, res.StatusCode)
		}
	})
}

func BenchmarkCheck(b *testing.B) {
	for _, alg := range []string{"SHA-256", "MD5"} {
		b.Run(alg, func(b *testing.B) {
			f := &fixture{clk: clocktest.New(epoch), secrets: newSecrets()}
			// Mary's app is offered SHA-256 and MD5 by the program, as
			// a site asking for SHA-256 offers its apps.
			p := program()
			a := auth.New(realm, f.secrets, f.clk, auth.WithThrottle(auth.Throttle{}), auth.WithEvents(nil, func() *ir.Program { return p }))
			b.ReportAllocs()
			for b.Loop() {
				_, res := a.Check(register("app.mary"), "", false)
				b.StopTimer()
				req := respond(b, res, answer{user: "app.mary", password: "mary-secret", alg: alg})
				b.StartTimer()
				if acct, _ := a.Check(req, "", false); acct == "" {
					b.Fatal("not authenticated")
				}
			}
		})
	}
}

// RegisterChallengeWith answers what Check answers a REGISTER without
// credentials — the challenges, per user name and algorithm option, and
// nothing (Check's 403) for a throttled source — and its nonce is one
// Check accepts.
func TestRegisterChallengeAgreesWithCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []auth.Option
	}{
		{"per account", nil},
		{"md5 for all", []auth.Option{auth.WithAlgorithms(auth.MD5)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, append(tc.opts, auth.WithThrottle(auth.Throttle{SourceFailures: 2, Window: time.Minute}))...)
			const source, other = "192.0.2.10:5060", "198.51.100.7:5060"
			view := func(values []string) string {
				if values == nil {
					return "<nil>"
				}
				res := sip.NewResponse(401, "Unauthorized")
				for _, v := range values {
					res.AppendHeader(sip.NewHeader("WWW-Authenticate", v))
				}
				return shape(res)
			}
			check := func(user, source string) string {
				_, res := f.a.Check(register(user), source, false)
				if res.StatusCode != 401 {
					return "<nil>"
				}
				return shape(res)
			}
			for _, user := range []string{"app.mary", "device.front-gate", "nobody"} {
				if d := cmp.Diff(check(user, source), view(f.a.RegisterChallengeWith(f.secrets, user, source))); d != "" {
					t.Errorf("%s (-Check +RegisterChallengeWith):\n%s", user, d)
				}
			}
			// The nonce is good: the answer to it authenticates.
			values := f.a.RegisterChallengeWith(f.secrets, "app.mary", source)
			res := sip.NewResponse(401, "Unauthorized")
			for _, v := range values {
				res.AppendHeader(sip.NewHeader("WWW-Authenticate", v))
			}
			if acct, res := f.a.Check(respond(t, res, answer{user: "app.mary", password: "mary-secret", nc: 1}), source, false); acct != "app.mary" {
				t.Errorf("answering the challenge: %s", shape(res))
			}
			// Two wrong passwords throttle the source: both say nothing
			// (Check refuses), other sources are still challenged.
			for range 2 {
				_, res := f.a.Check(register("app.mary"), source, false)
				f.a.Check(respond(t, res, answer{user: "app.mary", password: "guess", nc: 1}), source, false)
			}
			if got := check("app.mary", source); got != "<nil>" {
				t.Fatalf("source not throttled: %s", got)
			}
			if got := f.a.RegisterChallengeWith(f.secrets, "app.mary", source); got != nil {
				t.Errorf("throttled source challenged: %q", got)
			}
			if d := cmp.Diff(check("app.mary", other), view(f.a.RegisterChallengeWith(f.secrets, "app.mary", other))); d != "" {
				t.Errorf("other source (-Check +RegisterChallengeWith):\n%s", d)
			}
		})
	}
}
