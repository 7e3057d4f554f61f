package registrar_test

import (
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/runtime/clock/clocktest"
	"switchboard/runtime/registrar"
)

// anyone is a Checker that lets every REGISTER through as the account its
// To names (app.mary when that is none of ours), so that the fuzzer reaches
// the Contact and Expires parsing behind authentication.
type anyone struct{}

func (anyone) Check(req *sip.Request, _ string, _ bool) (string, *sip.Response) {
	if to := req.To(); to != nil {
		switch to.Address.User {
		case "app.mary", "app.john", "device.front-gate":
			return to.Address.User, nil
		}
	}
	return "app.mary", nil
}

// FuzzHandle feeds REGISTERs as sipgo parses them off the network through
// the registrar's handling past authentication. Whatever the Contact,
// Expires, Require, Path and the rest say, the answer is one of the
// registrar's statuses (never a 5xx, never a panic); a 200 lists bindings
// within the expiry policy; an account never holds more than its limit of
// contacts; every stored contact parses again as the URI calls are sent
// to; and parsing and handling allocate in proportion to the request.
func FuzzHandle(f *testing.F) {
	const head = "REGISTER sip:" + domain + " SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-1;rport\r\nMax-Forwards: 70\r\n" +
		"From: <sip:app.mary@" + domain + ">;tag=a\r\nTo: <sip:app.mary@" + domain + ">\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\n"
	for _, extra := range []string{
		"Contact: <sip:app.mary@10.0.0.5:5060>\r\nExpires: 3600\r\n",
		"Contact: <sip:app.mary@10.0.0.5:5060;transport=tcp>;expires=30;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\";reg-id=1\r\nSupported: path, outbound\r\nPath: <sip:edge.example;lr>\r\n",
		"Contact: \"Mary\" <sips:app.mary@[2001:db8::1]:5061>;expires=99999999999999\r\nContact: <sip:app.mary@10.0.0.6>;q=0.5\r\n",
		"Contact: *\r\nExpires: 0\r\n",
		"Contact: *\r\nContact: <sip:a@b>\r\n",
		"Contact: <tel:+35315550101>\r\n",
		"Contact: <sip:@>\r\nExpires: -5\r\n",
		"Contact: <sip:app.mary@10.0.0.5>;expires=x\r\n",
		"Require: gruu, foo\r\nContact: <sip:app.mary@10.0.0.5>\r\n",
		"Contact: " + strings.Repeat("<sip:a@10.0.0.1>,", 20) + "<sip:b@10.0.0.2>\r\n",
		"Expires: 4294967296\r\nContact: <sip:app.mary@h>\r\n",
	} {
		f.Add([]byte(head + extra + "Content-Length: 0\r\n\r\n"))
	}
	f.Add([]byte("REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK4\r\nCall-ID: n4\r\nCSeq: x REGISTER\r\nContact: <<<>>>\r\nExpires: -5\r\n\r\n"))
	f.Add([]byte("REGISTER sip:x SIP/2.0\r\nTo: <sip:device.front-gate@x>\r\nContact: <sip:door@10.0.0.9:5062>\r\n\r\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		clk := clocktest.New(epoch)
		r := registrar.New(program(), nil, clk)
		defer r.Close()
		v := r.View(program(), anyone{})
		var req *sip.Request
		var res *sip.Response
		// Parsed as the server parses it off the wire, then handled.
		n := allocated(func() {
			msg, err := sip.NewParser().ParseSIP(data)
			if err != nil {
				return
			}
			if req, _ = msg.(*sip.Request); req == nil {
				return
			}
			req.SetSource("10.0.0.5:5060")
			res = v.Handle(req)
		})
		if req == nil {
			return
		}
		if n > allocBound(len(data)) {
			t.Fatalf("a %d-byte REGISTER allocated %d bytes", len(data), n)
		}
		if res == nil {
			t.Fatal("no response")
		}
		switch res.StatusCode {
		case 200, 400, 403, 420, 423:
		default:
			t.Fatalf("status %d %s", res.StatusCode, res.Reason)
		}
		if res.StatusCode == 423 {
			if h := res.GetHeader("Min-Expires"); h == nil || h.Value() != "60" {
				t.Fatalf("423 without Min-Expires: 60: %v", h)
			}
		}
		if res.StatusCode == 200 {
			for _, h := range res.GetHeaders("Contact") {
				// The registrar appends expires last (a URI inside <> may
				// carry one of its own).
				i := strings.LastIndex(h.Value(), ";expires=")
				if i < 0 {
					t.Fatalf("a listed binding without expires: %s", h.Value())
				}
				e := h.Value()[i+len(";expires="):]
				if n, err := strconv.Atoi(e); err != nil || n < 0 || n > 3600 {
					t.Fatalf("a listed binding expires in %q s, outside the policy", e)
				}
			}
		}
		for _, acct := range []string{"app.mary", "app.john", "device.front-gate"} {
			bs := r.Lookup(acct)
			if len(bs) > registrar.DefaultMaxContacts {
				t.Fatalf("%s holds %d contacts", acct, len(bs))
			}
			for _, b := range bs {
				if _, err := b.URI(); err != nil {
					t.Fatalf("stored contact %q does not parse: %v", b.Contact, err)
				}
				if b.Expires.After(epoch.Add(time.Hour)) || !b.Expires.After(epoch) {
					t.Fatalf("binding expires at %v, outside the policy", b.Expires)
				}
			}
		}
	})
}

// allocated runs f and returns the bytes it allocated (the whole
// process's, so the caller runs nothing else meanwhile).
func allocated(f func()) uint64 {
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	f()
	goruntime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// allocBound is what handling an input of n bytes may allocate: a fixed
// allowance and a small multiple of the input, so that no input makes the
// server allocate out of proportion to what it was sent.
func allocBound(n int) uint64 { return 1<<18 + 64*uint64(n) }
