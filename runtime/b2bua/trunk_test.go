package b2bua

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/runtime/routing"
)

func TestCallerID(t *testing.T) {
	p := irtest.HarbourView()
	trunk := p.Trunks[0]
	noDDIs := trunk
	noDDIs.DDIs = nil
	tests := []struct {
		name, caller string
		trunk        ir.Trunk
		username     string
		want         string
	}{
		{"the user's own DDI, from the app", "app.mary", trunk, "harbour", "+35315550101"},
		{"the user's own DDI, from the desk phone", "device.desk-101", trunk, "harbour", "+35315550101"},
		{"a user without a DDI: the trunk's main number", "app.john", trunk, "harbour", "+35315550100"},
		{"a monitor (no user): the trunk's main number", "device.monitor-1a", trunk, "harbour", "+35315550100"},
		{"a trunk without numbers: its account name", "app.john", noDDIs, "harbour", "harbour"},
		{"and without credentials: the caller's account", "app.john", noDDIs, "", "app.john"},
		{"a DDI on another trunk does not count", "app.mary", ir.Trunk{Name: "other", DDIs: []string{"+35319990000"}}, "", "+35319990000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := callerID(p, tt.caller, &tt.trunk, tt.username); got != tt.want {
				t.Errorf("callerID(%s) = %q, want %q", tt.caller, got, tt.want)
			}
		})
	}
}

type trunkMap map[ir.SecretRef]string

func (m trunkMap) TrunkSecret(ref ir.SecretRef) (string, bool) { v, ok := m[ref]; return v, ok }

type bothSecrets struct {
	*credentials.Lookup
	trunkMap
}

func TestResolveTrunkCredentials(t *testing.T) {
	withCred := ir.Trunk{Name: "carrier", Username: "var.u", Password: "var.p"}
	tests := []struct {
		name    string
		trunk   ir.Trunk
		secrets Secrets
		want    trunkCredentials
		ok      bool
		err     string
	}{
		{"IP-authenticated", ir.Trunk{Name: "carrier"}, &credentials.Lookup{}, trunkCredentials{}, false, ""},
		{"both values", withCred, bothSecrets{nil, trunkMap{"var.u": "pbx", "var.p": "pw"}}, trunkCredentials{"pbx", "pw"}, true, ""},
		{"an empty value is a value", withCred, bothSecrets{nil, trunkMap{"var.u": "pbx", "var.p": ""}}, trunkCredentials{"pbx", ""}, true, ""},
		{"a value missing", withCred, bothSecrets{nil, trunkMap{"var.u": "pbx"}}, trunkCredentials{}, false,
			"no value for var.p: set it with -var, -var-file or SWITCHBOARD_VAR_<name>"},
		{"both missing", withCred, bothSecrets{nil, trunkMap{}}, trunkCredentials{}, false, "no value for var.u and var.p"},
		{"secrets that cannot resolve them", withCred, &credentials.Lookup{}, trunkCredentials{}, false,
			"the server was given no values for trunk credentials (var.u, var.p)"},
		{"a username alone", ir.Trunk{Name: "carrier", Username: "var.u"}, bothSecrets{nil, trunkMap{"var.u": "pbx"}}, trunkCredentials{}, false,
			`trunk "carrier" has a username or a password but not both`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := resolveTrunkCredentials(&tt.trunk, tt.secrets)
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %v %v (%q, %q), want %v (%q, %q)", got, ok, got.username, got.password, tt.ok, tt.want.username, tt.want.password)
			}
			if (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("err = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestCredentialsNeverFormatted(t *testing.T) {
	c := trunkCredentials{"pbx", "s3cret-value"}
	if s := fmt.Sprintf("%v %+v %s", c, c, c); strings.Contains(s, "s3cret") {
		t.Errorf("%q shows the password", s)
	}
}

func TestRetryAndRefreshDelays(t *testing.T) {
	var got []time.Duration
	for n := 1; n <= 8; n++ {
		got = append(got, retryDelay(n))
	}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 30 * time.Minute, 30 * time.Minute}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("retry delays (-want +got):\n%s", diff)
	}
	for granted, want := range map[time.Duration]time.Duration{time.Hour: 30 * time.Minute, 2 * time.Minute: time.Minute, time.Second: time.Second} {
		if got := refreshDelay(granted); got != want {
			t.Errorf("refreshDelay(%s) = %s, want %s", granted, got, want)
		}
	}
}

func TestGrantedExpiry(t *testing.T) {
	ours := sip.Uri{Scheme: "sip", User: "pbx", Host: "192.0.2.1", Port: 5060}
	res := func(hdrs ...string) *sip.Response {
		raw := "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\n" +
			strings.Join(hdrs, "\r\n") + "\r\nContent-Length: 0\r\n\r\n"
		msg, err := sip.ParseMessage([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		return msg.(*sip.Response)
	}
	tests := []struct {
		name string
		res  *sip.Response
		want time.Duration
	}{
		{"our Contact's expires", res("Contact: <sip:pbx@192.0.2.1:5060>;expires=120", "Expires: 3600"), 2 * time.Minute},
		{"another binding's expires is not ours", res("Contact: <sip:other@192.0.2.9:5060>;expires=60", "Expires: 900"), 15 * time.Minute},
		{"ours among others", res("Contact: <sip:other@192.0.2.9>;expires=60, <sip:pbx@192.0.2.1:5060>;expires=300"), 5 * time.Minute},
		{"the Expires header", res("Expires: 1800"), 30 * time.Minute},
		{"nothing: what was asked", res(), time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := grantedExpiry(tt.res, ours, time.Hour); got != tt.want {
				t.Errorf("granted %s, want %s", got, tt.want)
			}
		})
	}
}

func TestAuthorizePicksFirstUsableChallenge(t *testing.T) {
	challenge := func(status int, name string, algs ...string) *sip.Response {
		req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "carrier.example"})
		req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.REGISTER})
		res := sip.NewResponseFromRequest(req, status, "Challenge", nil)
		for _, a := range algs {
			res.AppendHeader(sip.NewHeader(name, `Digest realm="carrier", nonce="n1", qop="auth", algorithm=`+a))
		}
		return res
	}
	tests := []struct {
		name   string
		res    *sip.Response
		header string
		alg    string // in the credentials; "" for an error
	}{
		{"SHA-256 first", challenge(401, "WWW-Authenticate", "SHA-256", "MD5"), "Authorization", "SHA-256"},
		{"MD5 first", challenge(401, "WWW-Authenticate", "MD5", "SHA-256"), "Authorization", "MD5"},
		{"an unknown one skipped", challenge(401, "WWW-Authenticate", "AKAv1-MD5", "MD5"), "Authorization", "MD5"},
		{"lower case", challenge(401, "WWW-Authenticate", "sha-256"), "Authorization", "SHA-256"},
		{"a proxy's", challenge(407, "Proxy-Authenticate", "MD5"), "Proxy-Authorization", "MD5"},
		{"nothing usable", challenge(401, "WWW-Authenticate", "AKAv1-MD5"), "Authorization", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "carrier.example"})
			err := authorize(req, tt.res, trunkCredentials{"pbx", "pw"})
			if tt.alg == "" {
				if !errors.Is(err, errNoChallenge) {
					t.Errorf("err = %v, want errNoChallenge", err)
				}
				return
			}
			h := req.GetHeader(tt.header)
			if err != nil || h == nil {
				t.Fatalf("no %s: %v", tt.header, err)
			}
			if !strings.Contains(h.Value(), "algorithm="+tt.alg) {
				t.Errorf("%s: %s, want algorithm=%s", tt.header, h.Value(), tt.alg)
			}
		})
	}
}

func TestRouteFromCarrier(t *testing.T) {
	r := routing.New(irtest.HarbourView())
	invite := func(ruri, to string) *sip.Request {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: ruri, Host: "192.0.2.1", Port: 5060})
		req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: to, Host: "carrier.example"}})
		return req
	}
	tests := []struct {
		name, ruri, to string
		target         string
		status         int
	}{
		{"the DDI in the Request-URI", "+35315550101", "+35315550101", "user.mary", 0},
		{"the registered contact, the DDI in To", "harbour", "+35315550101", "user.mary", 0},
		{"the DDI without its +, in To", "harbour", "35315550101", "user.mary", 0},
		{"neither is a DDI", "harbour", "+35319999999", "", 404},
		{"the Request-URI wins", "+35315550101", "+35319999999", "user.mary", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trunk, d := routeFromCarrier(r, []string{"carrier"}, invite(tt.ruri, tt.to))
			if d.Target.String() != tt.target || d.Status != tt.status || trunk != "carrier" {
				t.Errorf("routed to %q (status %d) from %q, want %q (%d) from carrier", d.Target, d.Status, trunk, tt.target, tt.status)
			}
		})
	}

	// Two accounts at one carrier, one address: a number is taken as
	// coming in on the trunk that holds it.
	p := irtest.HarbourView()
	p.Trunks = append(p.Trunks, ir.Trunk{Name: "fax", Host: "sip.carrier.example", DDIs: []string{"+35319990000"}})
	p.DDIs = append(p.DDIs, ir.DDI{Number: "+35319990000", Trunk: "fax", Target: ir.Ref{Kind: ir.RefUser, Name: "aoife"}})
	r = routing.New(p)
	for _, tt := range []struct{ number, trunk, target string }{
		{"+35315550101", "carrier", "user.mary"},
		{"+35319990000", "fax", "user.aoife"},
		{"+35310000000", "carrier", ""},
	} {
		trunk, d := routeFromCarrier(r, []string{"carrier", "fax"}, invite(tt.number, tt.number))
		if trunk != tt.trunk || d.Target.String() != tt.target {
			t.Errorf("%s: routed to %q from %q, want %q from %q", tt.number, d.Target, trunk, tt.target, tt.trunk)
		}
	}
}
