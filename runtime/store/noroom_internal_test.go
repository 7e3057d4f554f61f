package store

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
)

// A server's refusal for want of room names the server limit to raise;
// other errors, a placement's that is not about room among them, are
// left as they are.
func TestExplainNoRoom(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string // the limit named; "": err unchanged
	}{
		{"file store", &jetstream.APIError{Code: 500, ErrorCode: jsStorageExceeded, Description: "insufficient storage resources available"}, "max_file_store"},
		{"memory", &jetstream.APIError{Code: 500, ErrorCode: jsMemoryExceeded, Description: "insufficient memory resources available"}, "max_memory_store"},
		{"placement", &jetstream.APIError{Code: 400, ErrorCode: jsClusterNoPeers, Description: "no suitable peers for placement, insufficient storage"}, "max_file_store"},
		{"placement, a peer offline", &jetstream.APIError{Code: 400, ErrorCode: jsClusterNoPeers, Description: "no suitable peers for placement, peer offline"}, ""},
		{"another", errors.New("nats: timeout"), ""},
		{"none", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := explainNoRoom(tc.err)
			if !errors.Is(got, tc.err) {
				t.Errorf("%v does not wrap %v", got, tc.err)
			}
			named := ""
			if got != nil && got != tc.err {
				for _, l := range []string{"max_file_store", "max_memory_store"} {
					if strings.HasSuffix(got.Error(), "raise "+l+" on the NATS servers") {
						named = l
					}
				}
			}
			if diff := cmp.Diff(tc.want, named); diff != "" {
				t.Errorf("limit named in %v (-want +got):\n%s", got, diff)
			}
		})
	}
}
