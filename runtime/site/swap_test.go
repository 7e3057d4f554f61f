package site

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"switchboard/compiler/ir"
	"switchboard/runtime/auth"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/provisioning"
)

// passwordMap is a configuration's SIP passwords.
type passwordMap map[string]string

func (m passwordMap) SIPPassword(account string) (string, bool) {
	pw, ok := m[account]
	return pw, ok
}

const swapDomain = "swap.test"

// swapConfig is a configuration named name in which account app.alice
// registers the address user with password, and device phone fetches its
// provisioning file, which says name, with the device password
// name+"-phone". Two configurations that differ in all of it tell a mix
// apart: the SIP password of one with the address of the other is refused
// with 403 by the registrar, which neither configuration alone ever
// answers (each answers 200 to its own credentials and 401 to the other's
// password); a file of one served for the password of the other is a mix.
func swapConfig(t *testing.T, name, user, password string) Config {
	p := &ir.Program{
		Site: ir.Site{Name: "swap", Domain: swapDomain},
		Accounts: []ir.Account{
			{Name: "app.alice", Kind: ir.AccountApp, Username: user, AuthName: "app.alice"},
			{Name: "device.phone", Kind: ir.AccountDevice, Username: "phone", AuthName: "phone", Device: "phone"},
		},
		Devices: []ir.Device{{Name: "phone", MAC: phoneMAC, Account: "device.phone"}},
	}
	bundle := t.TempDir()
	if err := os.WriteFile(filepath.Join(bundle, phoneMAC+".cfg"), []byte(name), 0o600); err != nil {
		t.Fatal(err)
	}
	return Config{Program: p, Secrets: passwordMap{"app.alice": password, "device.phone": name + "-phone"}, Bundle: bundle}
}

const phoneMAC = "0c1105123456"

// Swap is atomic: while the configuration flips between two whose
// passwords, accounts and provisioning files differ, every REGISTER and
// every provisioning fetch is answered wholly by one of them — never by
// the passwords of one and the accounts or files of the other.
func TestSwapIsAtomicUnderLoad(t *testing.T) {
	a, b := swapConfig(t, "a", "alice", "password-a"), swapConfig(t, "b", "alice-b", "password-b")
	// No throttles: half the attempts meet the other configuration's
	// password, which would soon lock the test's one address out.
	s, err := New(a, Options{
		Services:     &b2bua.Services{},
		authOptions:  []auth.Option{auth.WithThrottle(auth.Throttle{})},
		Provisioning: []provisioning.Option{provisioning.WithThrottle(0, 0)},
	})
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(s.Handler())
	t.Cleanup(web.Close)
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
	// Devices fetch their file meanwhile, each with one configuration's
	// password: they get that configuration's file, or 401, never the
	// other's file.
	const fetchers = 4
	fetched := make([]outcome, fetchers)
	for i := range fetchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := []string{"a", "b"}[i%2]
			hc := &http.Client{Transport: &digest.Transport{Username: "phone", Password: name + "-phone", Transport: &http.Transport{}}}
			for range rounds {
				res, err := hc.Get(web.URL + "/" + phoneMAC + ".cfg")
				if err != nil {
					t.Errorf("fetcher %d: %v", i, err)
					return
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil {
					t.Errorf("fetcher %d: %v", i, err)
					return
				}
				switch {
				case res.StatusCode == http.StatusOK && string(body) == name:
					fetched[i].ok++
				case res.StatusCode == http.StatusUnauthorized:
					fetched[i].refused++
				default:
					t.Errorf("fetcher %d (configuration %s's password): %s %q: an answer neither configuration gives", i, name, res.Status, body)
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
	t.Logf("per fetcher (served, refused): %v", fetched)
	ok, refused = 0, 0
	for _, r := range fetched {
		ok += r.ok
		refused += r.refused
	}
	if ok == 0 || refused == 0 {
		t.Errorf("files served %d, refused %d: the swaps did not overlap the fetches", ok, refused)
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
