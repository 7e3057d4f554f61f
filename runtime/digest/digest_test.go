package digest

import (
	"strings"
	"sync"
	"testing"
	"time"

	icholy "github.com/icholy/digest"
)

// The window with Reorder 64 (HTTP): counts may arrive out of order within
// 64 of the highest, each once.
func TestWindowReorder(t *testing.T) {
	var w window
	for _, tt := range []struct {
		nc   uint32
		want bool
	}{{0, false}, {1, true}, {1, false}, {65, true}, {1, false}, {2, true}, {2, false}, {64, true}, {1000, true}, {936, false}, {937, true}, {1 << 31, true}, {1000, false}} {
		if got := w.accept(tt.nc, 64); got != tt.want {
			t.Errorf("accept(%d) = %v, want %v", tt.nc, got, tt.want)
		}
	}
}

// The window with Reorder 0 (SIP): counts strictly increase.
func TestWindowStrict(t *testing.T) {
	var w window
	for _, tt := range []struct {
		nc   uint32
		want bool
	}{{0, false}, {2, true}, {2, false}, {1, false}, {3, true}, {7, true}, {5, false}} {
		if got := w.accept(tt.nc, 0); got != tt.want {
			t.Errorf("accept(%d) = %v, want %v", tt.nc, got, tt.want)
		}
	}
}

func TestNonces(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	n := NewNonces(Config{Lifetime: time.Minute, Slots: 2, Reorder: 64})
	s := n.Issue(now)
	o, ok := n.Open(s)
	if !ok || !o.Issued().Equal(now) {
		t.Fatalf("Open(%q) = %v, %v", s, o, ok)
	}
	tests := []struct {
		name string
		at   time.Time
		want bool
	}{
		{"now", now, true},
		{"before the lifetime ends", now.Add(59 * time.Second), true},
		{"at the end of the lifetime", now.Add(time.Minute), false},
		{"clock stepped back a little", now.Add(-30 * time.Second), true},
		{"clock stepped back an hour", now.Add(-time.Hour), false},
	}
	for _, tt := range tests {
		if got := n.Fresh(o, tt.at); got != tt.want {
			t.Errorf("%s: Fresh = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !n.Count(o, 1) || n.Count(o, 1) {
		t.Error("count 1 not accepted exactly once")
	}
	// Another key, or no nonce of ours at all, does not open.
	other := NewNonces(Config{})
	for _, s := range []string{other.Issue(now), "abc", strings.Repeat("A", nonceLen)} {
		if _, ok := n.Open(s); ok {
			t.Errorf("Open(%q) accepted a nonce these Nonces did not sign", s)
		}
	}
	// Two newer nonces reuse the ring's two windows: the first is stale.
	n.Issue(now)
	if !n.Fresh(o, now) {
		t.Error("stale after one newer nonce")
	}
	n.Issue(now)
	if n.Fresh(o, now) {
		t.Error("fresh after its window was reused")
	}
}

// Challenge writes what icholy/digest (sipgo's client, and the tests'
// HTTP client) reads back.
func TestChallenge(t *testing.T) {
	v := Challenge(`a "quoted" \ realm`, "n0nce", SHA256, true)
	c, err := icholy.ParseChallenge(v)
	if err != nil {
		t.Fatal(err)
	}
	if c.Realm != `a "quoted" \ realm` || c.Nonce != "n0nce" || c.Algorithm != "SHA-256" || !c.Stale || len(c.QOP) != 1 || c.QOP[0] != "auth" {
		t.Errorf("read back %+v from %s", c, v)
	}
}

// Verify agrees with icholy/digest's client on both algorithms, in either
// case of hex, and refuses another password.
func TestVerify(t *testing.T) {
	for _, alg := range []Algorithm{SHA256, MD5} {
		chal := &icholy.Challenge{Realm: "r", Nonce: "n", Algorithm: string(alg), QOP: []string{"auth"}}
		cred, err := icholy.Digest(chal, icholy.Options{Method: "GET", URI: "/f.cfg", Username: "u", Password: "pw", Count: 3, Cnonce: "c"})
		if err != nil {
			t.Fatal(err)
		}
		c, err := ParseCredentials(cred.String())
		if err != nil {
			t.Fatal(err)
		}
		if !Verify(alg, &c, "r", "GET", "pw") {
			t.Errorf("%s: right password refused", alg)
		}
		c.Response = strings.ToUpper(c.Response)
		if !Verify(alg, &c, "r", "GET", "pw") {
			t.Errorf("%s: upper-case response refused", alg)
		}
		if Verify(alg, &c, "r", "GET", "guess") || Verify(alg, &c, "other", "GET", "pw") || Verify(alg, &c, "r", "HEAD", "pw") {
			t.Errorf("%s: accepted with another password, realm or method", alg)
		}
	}
}

func TestParseAlgorithm(t *testing.T) {
	for in, want := range map[string]Algorithm{"": MD5, "md5": MD5, "MD5": MD5, "sha-256": SHA256, "SHA-256": SHA256, "MD5-sess": "", "SHA-512-256": ""} {
		if got := ParseAlgorithm(in); got != want {
			t.Errorf("ParseAlgorithm(%q) = %q, want %q", in, got, want)
		}
	}
}

// Counts sent at once from several goroutines (a device fetching files in
// parallel on one nonce) are each accepted exactly once.
func TestCountConcurrent(t *testing.T) {
	n := NewNonces(Config{Reorder: 64})
	o, _ := n.Open(n.Issue(time.Now()))
	const workers, counts = 4, 2000
	// Each count is accepted by the first worker to reach it: no worker
	// has passed it then, so it is above the highest count seen.
	accepted := make([]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for nc := uint32(1); nc <= counts; nc++ {
				if n.Count(o, nc) {
					accepted[w]++
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for _, a := range accepted {
		total += a
	}
	if total != counts {
		t.Errorf("%d counts accepted, want each of %d once", total, counts)
	}
}
