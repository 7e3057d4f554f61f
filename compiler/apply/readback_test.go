package apply

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A Grandstream answer is believed only when it says "success" itself: an
// answer without it (a login page, an error object) verifies nothing, even
// after a successful login.
func TestGrandstreamAnswerMustSaySuccess(t *testing.T) {
	for _, tc := range []struct {
		name, values string
		want         Verdict
	}{
		{"success", `{"response":"success","body":{"P3":"Mary Byrne"}}`, SetVerified},
		{"no response", `{"body":{"P3":"Mary Byrne"}}`, Unsupported},
		{"error", `{"response":"error","body":{"P3":"Mary Byrne"}}`, Unsupported},
		{"other value", `{"response":"success","body":{"P3":"Someone"}}`, DidNotStick},
		{"none reported", `{"response":"success","body":{}}`, Unsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/cgi-bin/dologin" {
					w.Write([]byte(`{"response":"success","body":{"sid":"s1"}}`))
					return
				}
				w.Write([]byte(tc.values))
			}))
			defer srv.Close()
			read, done := readerFor("grandstream", Target{URL: srv.URL, User: "admin", Password: "pw"}, time.Second)
			defer done()
			p := verifyPhone(context.Background(), read, map[string]string{"P3": "Mary Byrne"}, 0, time.Millisecond)
			if d := cmp.Diff(tc.want, p.Verdict); d != "" {
				t.Errorf("verdict (-want +got):\n%s\n%+v", d, p)
			}
		})
	}
}
