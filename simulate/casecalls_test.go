package simulate

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// casesSite has three users with apps, each reachable on an extension.
const casesSite = `site "tower" {
  name     = "Tower"
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "tower.example.net"
  installer {
    company = "Dublin Door Systems"
    email   = "support@dds.example"
  }
}

residence "flat-1" {
  label = "1"
}

residence "flat-2" {
  label = "2"
}

user "u1" {
  first_name = "Resident"
  last_name  = "One"
  email      = "u1@tower.example"
  residence  = residence.flat-1
  role       = "owner"
  extension  = 20001
  app        = true
}

user "u2" {
  first_name = "Resident"
  last_name  = "Two"
  email      = "u2@tower.example"
  residence  = residence.flat-2
  role       = "user"
  extension  = 20002
  app        = true
}

user "u3" {
  first_name = "Resident"
  last_name  = "Three"
  email      = "u3@tower.example"
  residence  = residence.flat-2
  role       = "user"
  extension  = 20003
  app        = true
}
`

// runOnOneWorker runs cases on casesSite with one worker, so that every
// case uses the same simulated devices one after the other, as a long
// suite's cases do on each worker.
func runOnOneWorker(t *testing.T, cases []Case) []Result {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "site.pbx.hcl"), []byte(casesSite), 0o644); err != nil {
		t.Fatal(err)
	}
	p, sec := compileDir(t, dir)
	rep, err := Run(context.Background(), p, sec, cases, Options{Parallel: 1, Wait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != len(cases) {
		t.Fatalf("%d results for %d cases", len(rep.Results), len(cases))
	}
	return rep.Results
}

// A step that checks the call in progress reads that case's calls only.
// u1 answers u2 in a first case and u3 in a second; the second case
// expects the caller ID of the first case's caller. It used to pass on
// the first case's call, which u1's app still kept as answered: a
// scenario that repeats a caller and callee would not have seen a server
// presenting the second call wrongly.
func TestCallerIDOfAnotherCaseIsNotTheCases(t *testing.T) {
	u2 := ExpectCallerID{Account: "app.u1", Name: "Resident Two", Number: "20002"}
	results := runOnOneWorker(t, []Case{
		{Name: "u2 calls u1", Steps: []Step{
			Dial{From: "app.u2", To: "20001", Answer: "app.u1"},
			ExpectAnswered{By: "app.u1"},
			u2,
			Hangup{},
		}},
		{Name: "u3 calls u1, expected as u2", Steps: []Step{
			Dial{From: "app.u3", To: "20001", Answer: "app.u1"},
			ExpectAnswered{By: "app.u1"},
			u2,
			Hangup{},
		}},
	})
	if r := results[0]; r.Status != Pass {
		t.Fatalf("%s: %s at %q: %s (the site does not present callers as this test expects)", r.Name, r.Status, r.Step, r.Message)
	}
	r := results[1]
	if r.Status != Fail {
		t.Fatalf("%s: %s; want it to fail, as u1 was shown u3, not u2: the step found the first case's call", r.Name, r.Status)
	}
	if want := `app.u1 was shown the caller as "Resident Three" <20003>, want "Resident Two" <20002>`; r.Message != want {
		t.Errorf("%s: message %q, want %q", r.Name, r.Message, want)
	}
}

// A call of an earlier case can still be up when the next case begins:
// cleanup waits for the server to report its calls ended, not for the
// callee's device to take the BYE in, which on a loaded machine comes
// later. Here u1 answered u2 in the first case and its call is still up;
// in the second u3 answers. The steps that look for the call in progress
// must not take u1's for the case's: it did not answer, and it has no
// call of the case to key digits on.
func TestCallOfAnEarlierCaseStillUpIsNotTheCases(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "site.pbx.hcl"), []byte(casesSite), 0o644); err != nil {
		t.Fatal(err)
	}
	p, secrets := compileDir(t, dir)
	w, err := newWorker(p, secrets, Options{Wait: 5 * time.Second, IP: netip.MustParseAddr("192.0.2.1"), Transport: TransportMemory})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.close)
	ctx := context.Background()
	steps := func(st *caseState, steps ...Step) {
		t.Helper()
		for _, s := range steps {
			if err := w.step(ctx, st, s); err != nil {
				t.Fatalf("%s: %v", s.describe(), err)
			}
		}
	}

	// The first case, left with its call up (its cleanup not run).
	w.beginCase()
	w.hub.RingAll()
	first := &caseState{}
	steps(first, Dial{From: "app.u2", To: "20001", Answer: "app.u1"}, ExpectAnswered{By: "app.u1"})
	t.Cleanup(func() {
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = first.call.Hangup(hctx)
	})
	w.endCase()
	if c := w.device("app.u1").AnsweredIncoming(); len(c) != 1 || w.device("app.u1").Answered(c[0].CallID) == nil {
		t.Fatalf("app.u1's call of the first case is not up: %v", c)
	}

	// The second case: u3 answers u2.
	w.beginCase()
	w.hub.RingAll()
	second := &caseState{}
	steps(second, Dial{From: "app.u2", To: "20003", Answer: "app.u3"}, ExpectAnswered{By: "app.u3"})
	t.Cleanup(func() {
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = second.call.Hangup(hctx)
	})
	for _, tc := range []struct {
		step Step
		want string
	}{
		{ExpectAnswered{By: "app.u1"}, "the call connected, but not to app.u1"},
		{SendDTMF{From: "app.u1", Digits: "1"}, "app.u1 has no call to send DTMF on"},
		{ExpectDigits{Account: "app.u1", Digits: "1"}, "app.u1 has no call"},
		{ExpectCallerID{Account: "app.u1", Name: "Resident Two", Number: "20002"},
			`app.u1 answered no call of this case, want one showing the caller as "Resident Two" <20002>`},
	} {
		err := w.step(ctx, second, tc.step)
		if err == nil {
			t.Errorf("%s: passed on the first case's call", tc.step.describe())
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("%s: %q, want %q", tc.step.describe(), err, tc.want)
		}
	}
}
