package flowtoken_test

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/flowtoken"
)

var (
	key   = []byte("0123456789abcdef0123456789abcdef")
	other = []byte("fedcba9876543210fedcba9876543210")
)

const (
	nodeB = "sip:10.0.0.2:5060;transport=UDP"
	nodeC = "sip:10.0.0.3:5060;transport=UDP"
)

// A token names its flow, whatever the transport and address family, and
// is a SIP URI's user part as it stands.
func TestMintCheck(t *testing.T) {
	flows := []flowtoken.Flow{
		{Transport: "UDP", Source: netip.MustParseAddrPort("203.0.113.9:40000")},
		{Transport: "TCP", Source: netip.MustParseAddrPort("[2001:db8::5]:5060")},
		{Transport: "TLS", Source: netip.MustParseAddrPort("127.0.0.3:1")},
		{Transport: "WSS", Source: netip.MustParseAddrPort("198.51.100.1:65535")},
	}
	for _, f := range flows {
		tok, ok := flowtoken.Mint(key, nodeB, f)
		if !ok {
			t.Fatalf("Mint(%v) refused", f)
		}
		if len(tok) != flowtoken.Size {
			t.Errorf("token %q: %d bytes, want %d", tok, len(tok), flowtoken.Size)
		}
		var u sip.Uri
		if err := sip.ParseUri("sip:"+tok+"@10.0.0.2:5060;lr", &u); err != nil || u.User != tok {
			t.Errorf("token %q as a URI's user part: %q, %v", tok, u.User, err)
		}
		got, err := flowtoken.Check(key, nodeB, tok)
		if err != nil {
			t.Fatalf("Check(Mint(%v)): %v", f, err)
		}
		if diff := cmp.Diff(f.Source.String(), got.Source.String()); diff != "" || got.Transport != f.Transport {
			t.Errorf("flow (-want +got):\n%s (transport %q, want %q)", diff, got.Transport, f.Transport)
		}
	}
	if _, ok := flowtoken.Mint(key, nodeB, flowtoken.Flow{Transport: "SCTP", Source: flows[0].Source}); ok {
		t.Error("a token was made for an unknown transport")
	}
	if _, ok := flowtoken.Mint(key, nodeB, flowtoken.Flow{Transport: "UDP"}); ok {
		t.Error("a token was made without a source")
	}
}

// A token under another key (another site), for another node, or altered
// anywhere is refused; so is anything not the size of a token.
func TestCheckRefuses(t *testing.T) {
	f := flowtoken.Flow{Transport: "UDP", Source: netip.MustParseAddrPort("203.0.113.9:40000")}
	tok, _ := flowtoken.Mint(key, nodeB, f)
	otherSite, _ := flowtoken.Mint(other, nodeB, f)
	otherNode, _ := flowtoken.Mint(key, nodeC, f)
	tests := []struct {
		name, token string
		want        error
	}{
		{"another site's", otherSite, flowtoken.ErrForged},
		{"another node's", otherNode, flowtoken.ErrForged},
		{"empty", "", flowtoken.ErrMalformed},
		{"short", tok[:flowtoken.Size-1], flowtoken.ErrMalformed},
		{"long", tok + "A", flowtoken.ErrMalformed},
		{"padding", tok[:flowtoken.Size-1] + "=", flowtoken.ErrMalformed},
		{"standard base64", strings.Repeat("+", flowtoken.Size), flowtoken.ErrMalformed},
	}
	for i := range flowtoken.Size {
		b := []byte(tok)
		b[i] = "AB"[boolInt(b[i] == 'A')]
		tests = append(tests, struct {
			name, token string
			want        error
		}{fmt.Sprint("altered at ", i), string(b), nil})
	}
	for _, tt := range tests {
		_, err := flowtoken.Check(key, nodeB, tt.token)
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s (%q): %v, want %v", tt.name, tt.token, err, tt.want)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// FuzzCheck: whatever a Route's user part holds, Check answers a flow or
// an error, never panics, and a flow it accepts is one a node minted: it
// mints back to the same token.
func FuzzCheck(f *testing.F) {
	tok, _ := flowtoken.Mint(key, nodeB, flowtoken.Flow{Transport: "UDP", Source: netip.MustParseAddrPort("203.0.113.9:40000")})
	f.Add(tok)
	f.Add("")
	f.Add(strings.Repeat("A", flowtoken.Size))
	f.Add(tok[:10])
	f.Fuzz(func(t *testing.T, s string) {
		flow, err := flowtoken.Check(key, nodeB, s)
		if err != nil {
			return
		}
		again, ok := flowtoken.Mint(key, nodeB, flow)
		if !ok || again != s {
			t.Fatalf("Check accepted %q as %v, which mints %q", s, flow, again)
		}
	})
}
