package apply

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"switchboard/compiler/provision/akuvox"
)

// phoneAnswers is what a fuzzed phone or monitor answers on each path.
type phoneAnswers struct {
	status     int
	login, get string
}

// FuzzReadBack reads settings back from a Yealink phone, a Grandstream
// phone and an Akuvox monitor's contact list whose answers are fuzzed.
// Whatever they answer, the read-back ends with one of the five verdicts,
// says "set and verified" only when the answer holds wanted values, and
// never puts a wanted value in its detail unless the device wrote it.
func FuzzReadBack(f *testing.F) {
	f.Add(200, `{"response":"success","body":{"sid":"s1"}}`, `{"response":"success","body":{"P3":"Mary Byrne","P47":"sip.example"}}`)
	f.Add(200, `{"response":"success","body":{"sid":"s1"}}`, "account.1.display_name = Mary Byrne\naccount.1.label = Mary Byrne\n")
	f.Add(200, `{"response":"error","body":"unauthorized"}`, `{"response":"success","body":{"P3":1}}`)
	f.Add(200, `{"response":"success","body":{"sid":""}}`, "no equals sign\n")
	f.Add(404, ``, ``)
	f.Add(200, `{"retcode":0,"data":{"num":1,"item":[{"ID":"1","Name":"Mary Byrne","Phone":"101"}]}}`, `{"retcode":0,"data":{"num":99,"item":[]}}`)
	f.Add(200, `{`, `{"retcode":0,"data":{"num":2,"item":[{"ID":"1"}]}}`)

	var cur atomic.Pointer[phoneAnswers]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := cur.Load()
		status := a.status
		if status < 200 || status > 599 || status == 401 {
			status = 200 // the digest client would answer a challenge that is not there
		}
		w.WriteHeader(status)
		switch r.URL.Path {
		case "/cgi-bin/dologin":
			w.Write([]byte(a.login))
		case "/api/contact/get":
			if r.URL.Query().Get("page") == "1" {
				w.Write([]byte(a.login))
			} else {
				w.Write([]byte(a.get))
			}
		default:
			w.Write([]byte(a.get))
		}
	}))
	f.Cleanup(srv.Close)
	target := Target{URL: srv.URL, User: "admin", Password: "phone-admin-pw"}
	want := map[string]string{"P3": "Mary Byrne", "P47": "sip.example", "account.1.display_name": "Mary Byrne", "account.1.label": "Mary Byrne"}
	verdicts := []Verdict{AlreadySet, SetVerified, DidNotStick, Unsupported, Unreachable}

	f.Fuzz(func(t *testing.T, status int, login, get string) {
		cur.Store(&phoneAnswers{status, login, get})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		device := login + get
		for _, vendor := range []string{"yealink", "grandstream"} {
			read, done := readerFor(vendor, target, 5*time.Second)
			p := verifyPhone(ctx, read, want, 0, time.Millisecond)
			done()
			if !slices.Contains(verdicts, p.Verdict) {
				t.Fatalf("%s: verdict %q", vendor, p.Verdict)
			}
			if p.Verdict.Succeeded() && !strings.Contains(device, "Mary Byrne") && !strings.Contains(device, "sip.example") {
				t.Fatalf("%s: %q without the values read back: %+v", vendor, p.Verdict, p)
			}
			for _, v := range []string{"Mary Byrne", "sip.example", target.Password} {
				if strings.Contains(p.Detail, v) && !strings.Contains(device, v) {
					t.Fatalf("%s: detail %q holds the value %q", vendor, p.Detail, v)
				}
			}
		}
		p := pushAkuvoxContacts(ctx, target, []akuvox.Contact{{Name: "Mary Byrne", Phone: "101", Group: "Default"}}, 5*time.Second)
		if !slices.Contains(verdicts, p.Verdict) {
			t.Fatalf("contacts: verdict %q", p.Verdict)
		}
		if p.Verdict.Succeeded() && !strings.Contains(device, "Mary Byrne") {
			t.Fatalf("contacts: %q without the contact read back: %+v", p.Verdict, p)
		}
	})
}
