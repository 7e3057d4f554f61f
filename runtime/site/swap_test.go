package site

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
	"switchboard/runtime/auth"
	"switchboard/runtime/b2bua"
)

// passwordMap is a configuration's SIP passwords.
type passwordMap map[string]string

func (m passwordMap) SIPPassword(account string) (string, bool) {
	pw, ok := m[account]
	return pw, ok
}

const swapDomain = "swap.test"

// swapConfig is a configuration in which account app.alice registers the
// address user with password. Configurations that differ in both tell a
// mix apart: the password of one with the address of the other is
// refused with 403 by the registrar, which neither configuration alone
// ever answers (each answers 200 to its own credentials and 401 to the
// other's password).
func swapConfig(user, password string) Config {
	p := &ir.Program{
		Site:     ir.Site{Name: "swap", Domain: swapDomain},
		Accounts: []ir.Account{{Name: "app.alice", Kind: ir.AccountApp, Username: user, AuthName: "app.alice"}},
	}
	return Config{Program: p, Secrets: passwordMap{"app.alice": password}}
}

// Swap is atomic: while the configuration flips between two whose
// passwords and accounts differ, every REGISTER is answered wholly by one
// of them — never by the passwords of one and the accounts of the other.
func TestSwapIsAtomicUnderLoad(t *testing.T) {
	a, b := swapConfig("alice", "password-a"), swapConfig("alice-b", "password-b")
	// No throttle: half the attempts meet the other configuration's
	// password, which would soon lock the test's one address out.
	s, err := New(a, Options{Services: &b2bua.Services{}, authOptions: []auth.Option{auth.WithThrottle(auth.Throttle{})}})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := conn.LocalAddr().(*net.UDPAddr)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); _ = s.ServeUDP(ctx, conn) }()
	t.Cleanup(func() { s.Close(); cancel(); <-served })

	// The swapper flips until the clients are done.
	done := make(chan struct{})
	var swaps atomic.Int64
	var swapper sync.WaitGroup
	swapper.Add(1)
	go func() {
		defer swapper.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			next := a
			if i%2 == 0 {
				next = b
			}
			if err := s.Swap(next); err != nil {
				t.Error(err)
				return
			}
			swaps.Add(1)
		}
	}()

	const clients, rounds = 8, 40
	type outcome struct{ ok, refused int }
	results := make([]outcome, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user, password := "alice", "password-a"
			if i%2 == 1 {
				user, password = "alice-b", "password-b"
			}
			ph := newSwapPhone(t, server, user, i)
			for range rounds {
				res, err := ph.register(ctx, password)
				if err != nil {
					t.Errorf("client %d: %v", i, err)
					return
				}
				switch res.StatusCode {
				case sip.StatusOK:
					results[i].ok++
				case sip.StatusUnauthorized:
					results[i].refused++
				default:
					t.Errorf("client %d (%s): %d %s: a response neither configuration gives", i, user, res.StatusCode, res.Reason)
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	swapper.Wait()
	t.Logf("%d swaps; per client (registered, refused): %v", swaps.Load(), results)
	if swaps.Load() < 2 {
		t.Errorf("only %d swaps happened during the requests", swaps.Load())
	}
	var ok, refused int
	for _, r := range results {
		ok += r.ok
		refused += r.refused
	}
	// Both outcomes must occur, or the test did not interleave swaps
	// with requests at all.
	if ok == 0 || refused == 0 {
		t.Errorf("registered %d, refused %d: the swaps did not overlap the requests", ok, refused)
	}
}

// swapPhone registers app.alice under one address, answering the
// challenge with one password.
type swapPhone struct {
	client *sipgo.Client
	server *net.UDPAddr
	user   string
	callID string
	cseq   uint32
}

func newSwapPhone(t *testing.T, server *net.UDPAddr, user string, n int) *swapPhone {
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(user))
	if err != nil {
		t.Fatal(err)
	}
	c, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); ua.Close() })
	return &swapPhone{client: c, server: server, user: user, callID: fmt.Sprintf("swap-%d", n), cseq: 1}
}

func (p *swapPhone) register(ctx context.Context, password string) (*sip.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ap := netip.MustParseAddrPort(p.server.String())
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: ap.Addr().String(), Port: int(ap.Port())})
	aor := sip.Uri{Scheme: "sip", User: p.user, Host: swapDomain}
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	callID := sip.CallIDHeader(p.callID)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: p.cseq, MethodName: sip.REGISTER})
	req.AppendHeader(sip.NewHeader("Contact", "<sip:"+p.user+"@127.0.0.1:5999>"))
	req.AppendHeader(sip.NewHeader("Expires", "60"))
	res, err := p.client.Do(ctx, req)
	p.cseq++
	if err != nil || res.StatusCode != sip.StatusUnauthorized {
		return res, err
	}
	res, err = p.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "app.alice", Password: password})
	p.cseq++
	return res, err
}
