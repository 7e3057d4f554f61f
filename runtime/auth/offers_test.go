package auth_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"
	"github.com/icholy/digest"

	"switchboard/runtime/auth"
)

// TestOffersPerAccount: a challenge offers what the challenged name's
// client answers — a REGISTER's To, another request's From — and a name
// that is no account gets what an MD5-only account gets, so the challenge
// does not tell which names exist. -digest (WithAlgorithms) overrides.
func TestOffersPerAccount(t *testing.T) {
	both := challenge401
	tests := []struct {
		name  string
		opts  []auth.Option
		user  string
		proxy bool
		want  string
	}{
		{"app offered SHA-256 and MD5", nil, "app.mary", false, both},
		{"MD5-only door station", nil, "device.front-gate", false, md5Challenge401},
		{"no such account", nil, "device.back-gate", false, md5Challenge401},
		{"INVITE from the door station", nil, "device.front-gate", true, strings.ReplaceAll(strings.ReplaceAll(md5Challenge401,
			"WWW-Authenticate", "Proxy-Authenticate"), "401 Unauthorized", "407 Proxy Authentication Required")},
		{"-digest sha-256 overrides", []auth.Option{auth.WithAlgorithms(auth.SHA256)}, "device.front-gate", false,
			"401 Unauthorized\n" + strings.Split(challenge401, "\n")[1] + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opts...)
			req := register(tt.user)
			if tt.proxy {
				// An INVITE's To is the callee; its From is who is challenged.
				req.Method = sip.INVITE
				req.To().Address.User = "app.mary"
			}
			_, res := f.a.Check(req, "", tt.proxy)
			if diff := cmp.Diff(tt.want, shape(res)); diff != "" {
				t.Errorf("challenge (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDigestURINamesServer: a digest uri that names this server — its
// domain, or a listening address, with or without a scheme and URI
// parameters — is accepted as Kamailio accepts it; any other is refused
// with 400.
func TestDigestURINamesServer(t *testing.T) {
	const refused = "400 Credentials For Another URI\n"
	tests := []struct{ uri, want string }{
		{"sip:127.0.0.1:5060", "app.mary"},
		{"127.0.0.1:5060", "app.mary"},
		{"sip:127.0.0.1", "app.mary"},
		{"sip:127.0.0.1:5060;transport=udp", "app.mary"},
		{"SIPS:127.0.0.1:5060", "app.mary"},
		{"sip:[::1]:5070", "app.mary"},
		{"sip:[0:0:0:0:0:0:0:1]:5070", "app.mary"},
		{"sip:harbour-view.example.net:5080", "app.mary"},
		{"harbour-view.example.net", "app.mary"},
		{"sip:127.0.0.1:5061", refused},
		{"sip:127.0.0.2:5060", refused},
		{"sip:elsewhere.example.com", refused},
		{"sip:app.mary@127.0.0.1:5060", refused},
		{"sip:", refused},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			f := newFixture(t)
			f.a.AddServerAddress("127.0.0.1:5060")
			f.a.AddServerAddress("[::1]:5070")
			_, res := f.a.Check(register("app.mary"), "", false)
			// The response is computed over the uri sent, as a client does.
			req := respond(t, res, answer{user: "app.mary", password: "mary-secret", alg: "MD5", uri: tt.uri})
			acct, r := f.a.Check(req, "", false)
			got := acct
			if acct == "" {
				got = shape(r)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("uri %q (-want +got):\n%s", tt.uri, diff)
			}
		})
	}
}

// TestFailureLogged: every failed authentication logs its cause, and never
// the password or the response.
func TestFailureLogged(t *testing.T) {
	mary := answer{user: "app.mary", password: "mary-secret", alg: "MD5"}
	with := func(a answer, f func(*answer)) answer { f(&a); return a }
	tests := []struct {
		name  string
		ans   answer
		level string
		msg   string
	}{
		{"unknown user", answer{user: "app.mallory", password: "mary-secret", alg: "MD5"}, "WARN", "authentication failed: unknown user"},
		{"wrong password", with(mary, func(a *answer) { a.password = "guess" }), "WARN", "authentication failed: wrong password"},
		{"wrong realm", with(mary, func(a *answer) { a.mutate = func(c *digest.Credentials) { c.Realm = "other.example" } }), "WARN", "authentication failed: wrong realm"},
		{"uri mismatch", with(mary, func(a *answer) { a.uri = "sip:elsewhere.example.com" }), "WARN", "authentication failed: uri mismatch"},
		{"algorithm not offered", with(mary, func(a *answer) {
			a.user = "device.front-gate"
			a.password = "gate-secret"
			a.mutate = func(c *digest.Credentials) { c.Algorithm = "SHA-256" }
		}), "WARN", "authentication failed: algorithm not offered"},
		{"stale nonce", mary, "INFO", "authentication failed: stale nonce"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			f := newFixture(t, auth.WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
			_, res := f.a.Check(register(tt.ans.user), "", false)
			if buf.Len() != 0 {
				t.Fatalf("a request without credentials logged %s", buf.String())
			}
			if tt.name == "stale nonce" {
				f.clk.Advance(auth.DefaultNonceLifetime)
			}
			req := respond(t, res, tt.ans)
			if acct, _ := f.a.Check(req, "", false); acct != "" {
				t.Fatalf("authenticated %q", acct)
			}
			var line struct{ Level, Msg, User string }
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil || strings.Count(buf.String(), "\n") != 1 {
				t.Fatalf("log %q: want one JSON line (%v)", buf.String(), err)
			}
			if diff := cmp.Diff(struct{ Level, Msg, User string }{tt.level, tt.msg, tt.ans.user}, line); diff != "" {
				t.Errorf("log line (-want +got):\n%s", diff)
			}
			cred, _ := digest.ParseCredentials(req.GetHeader("Authorization").Value())
			for _, secret := range []string{"mary-secret", "gate-secret", cred.Response} {
				if strings.Contains(buf.String(), secret) {
					t.Errorf("log holds a secret or the response %q: %s", secret, buf.String())
				}
			}
		})
	}
}
