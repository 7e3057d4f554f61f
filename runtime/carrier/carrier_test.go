package carrier

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/runtime/sipdns"
)

type trunkMap map[ir.SecretRef]string

func (m trunkMap) TrunkSecret(ref ir.SecretRef) (string, bool) { v, ok := m[ref]; return v, ok }

func TestResolveTrunkCredentials(t *testing.T) {
	withCred := ir.Trunk{Name: "carrier", Username: "var.u", Password: "var.p"}
	tests := []struct {
		name    string
		trunk   ir.Trunk
		secrets TrunkSecrets
		want    Credentials
		ok      bool
		err     string
	}{
		{"IP-authenticated", ir.Trunk{Name: "carrier"}, nil, Credentials{}, false, ""},
		{"both values", withCred, trunkMap{"var.u": "pbx", "var.p": "pw"}, Credentials{"pbx", "pw"}, true, ""},
		{"an empty value is a value", withCred, trunkMap{"var.u": "pbx", "var.p": ""}, Credentials{"pbx", ""}, true, ""},
		{"a value missing", withCred, trunkMap{"var.u": "pbx"}, Credentials{}, false,
			"no value for var.p: set it with -var, -var-file or SWITCHBOARD_VAR_<name>"},
		{"both missing", withCred, trunkMap{}, Credentials{}, false, "no value for var.u and var.p"},
		{"no values given", withCred, nil, Credentials{}, false,
			"the server was given no values for trunk credentials (var.u, var.p)"},
		{"a login written in the site", ir.Trunk{Name: "carrier", Login: "harbour", Password: "var.p"}, trunkMap{"var.p": "pw"}, Credentials{"harbour", "pw"}, true, ""},
		{"a login without a password", ir.Trunk{Name: "carrier", Login: "harbour"}, trunkMap{}, Credentials{}, false,
			`trunk "carrier" has a username or a password but not both`},
		{"a username alone", ir.Trunk{Name: "carrier", Username: "var.u"}, trunkMap{"var.u": "pbx"}, Credentials{}, false,
			`trunk "carrier" has a username or a password but not both`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := Resolve(&tt.trunk, tt.secrets)
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
	c := Credentials{"pbx", "s3cret-value"}
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
			err := Authorize(req, tt.res, Credentials{"pbx", "pw"})
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

// locatorFunc is a sipdns.Locator of a function.
type locatorFunc func(context.Context, sipdns.Target) ([]netip.AddrPort, error)

func (f locatorFunc) Locate(ctx context.Context, t sipdns.Target) ([]netip.AddrPort, error) {
	return f(ctx, t)
}

// TestServers: a trunk's servers are what DNS locates, in its order; a TLS
// trunk's are its name as written (its certificate is checked against
// it), at 5061 when no port is written, without asking DNS.
func TestServers(t *testing.T) {
	var asked []sipdns.Target
	loc := locatorFunc(func(_ context.Context, tg sipdns.Target) ([]netip.AddrPort, error) {
		asked = append(asked, tg)
		return []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:5070"), netip.MustParseAddrPort("[2001:db8::1]:5071")}, nil
	})
	for _, c := range []struct {
		trunk ir.Trunk
		want  []string
		asked bool
	}{
		{ir.Trunk{Host: "carrier.example", Transport: "udp"}, []string{"192.0.2.1:5070", "[2001:db8::1]:5071"}, true},
		{ir.Trunk{Host: "carrier.example", Transport: "tls"}, []string{"carrier.example:5061"}, false},
		{ir.Trunk{Host: "carrier.example", Port: 5081, Transport: "tls"}, []string{"carrier.example:5081"}, false},
	} {
		asked = nil
		got, err := Servers(context.Background(), loc, &c.trunk)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.want) || (len(asked) > 0) != c.asked {
			t.Errorf("%+v: %v (DNS asked %v), want %v (DNS asked: %t)", c.trunk, got, asked, c.want, c.asked)
		}
		if want := (sipdns.Target{Host: c.trunk.Host, Port: c.trunk.Port, Transport: Transport(&c.trunk)}); c.asked && (len(asked) != 1 || asked[0] != want) {
			t.Errorf("DNS asked for %v, want %v", asked, want)
		}
	}
}
