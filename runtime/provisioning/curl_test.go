package provisioning

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/icholy/digest"

	"switchboard/runtime/interop/peer"
)

// TestCurlInterop fetches files with curl's own digest implementation:
// `curl --digest -u user:pass URL`, as an operator (or a device's HTTP
// stack, which is often libcurl) would.
func TestCurlInterop(t *testing.T) {
	curl := peer.Require(t, "curl", "install it with `apt-get install -y curl` (digest interop with a third-party client is otherwise NOT tested)")
	for _, tt := range []struct {
		name string
		opts []Option
		alg  string // what curl must answer with
	}{
		{"SHA-256 and MD5 offered", nil, SHA256},
		{"MD5 only", []Option{WithAlgorithms(MD5)}, MD5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opts...)
			// Record the algorithm of each Authorization curl sends.
			var mu sync.Mutex
			var algs []string
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if h := r.Header.Get("Authorization"); h != "" {
					if c, err := digest.ParseCredentials(h); err == nil {
						mu.Lock()
						algs = append(algs, strings.ToUpper(c.Algorithm))
						mu.Unlock()
					}
				}
				f.srv.ServeHTTP(w, r)
			}))
			defer hs.Close()

			run := func(user, pass, path string, extra ...string) (code, body string) {
				t.Helper()
				args := append([]string{"--silent", "--show-error", "--digest", "-u", user + ":" + pass,
					"--write-out", "\n%{http_code}", hs.URL + path}, extra...)
				out, err := exec.Command(curl, args...).Output()
				if err != nil {
					t.Fatalf("curl %s: %v", path, err)
				}
				s := string(out)
				i := strings.LastIndex(s, "\n")
				return s[i+1:], s[:i]
			}

			code, body := run("front-gate", password("front-gate"), "/0c1105123456.cfg")
			if code != "200" || body != fileData("0c1105123456.cfg") {
				t.Errorf("own file: %s %q", code, body)
			}
			mu.Lock()
			if len(algs) == 0 || algs[len(algs)-1] != tt.alg {
				t.Errorf("curl answered with %q, want %s", algs, tt.alg)
			}
			mu.Unlock()
			if code, _ := run("front-gate", password("front-gate"), "/y000000000000.boot"); code != "200" {
				t.Errorf("common file: %s", code)
			}
			if code, _ := run("front-gate", password("front-gate"), "/805ec0112233.cfg"); code != "404" {
				t.Errorf("other device's file: %s, want 404", code)
			}
			if code, _ := run("front-gate", "guess", "/0c1105123456.cfg"); code != "401" {
				t.Errorf("wrong password: %s, want 401", code)
			}
			if code, _ := run("nobody", "guess", "/0c1105123456.cfg"); code != "401" {
				t.Errorf("unknown user: %s, want 401", code)
			}
			etag := `"` + sha(fileData("0c1105123456.cfg")) + `"`
			if code, body := run("front-gate", password("front-gate"), "/0c1105123456.cfg", "-H", "If-None-Match: "+etag); code != "304" || body != "" {
				t.Errorf("If-None-Match: %s %q, want 304", code, body)
			}
			if code, _ := run("front-gate", password("front-gate"), "/0c1105123456.cfg", "--head"); code != "200" {
				t.Errorf("HEAD: %s", code)
			}
		})
	}
}
