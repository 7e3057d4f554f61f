package portal

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The static files are served; a name the embedded file system refuses
// is not found, not a server error (FuzzRequest found net/http's file
// server answering 500 to a name that is not UTF-8).
func TestStaticFiles(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		path string
		want int
	}{
		{"/portal/static/portal.css", http.StatusOK},
		{"/portal/static/greeting.js", http.StatusOK},
		{"/portal/static/none.css", http.StatusNotFound},
		{"/portal/static/%83", http.StatusNotFound},
		{"/portal/static/a/%ff/b.css", http.StatusNotFound},
	}
	got := map[string]int{}
	want := map[string]int{}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		e.p.ServeHTTP(w, httptest.NewRequest("GET", tt.path, nil))
		got[tt.path], want[tt.path] = w.Code, tt.want
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}
