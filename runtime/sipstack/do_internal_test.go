package sipstack

import (
	"errors"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// A transaction that ends with neither a response nor an error (sipgo's
// Terminate racing Do) is an error to Do's caller, never a nil response;
// a response or an error passes through as it is.
func TestDoNeverNeither(t *testing.T) {
	res := &sip.Response{StatusCode: 200}
	cause := errors.New("timeout")
	for _, tt := range []struct {
		name    string
		res     *sip.Response
		err     error
		wantRes *sip.Response
		wantErr error
	}{
		{"neither", nil, nil, nil, ErrEndedUnanswered},
		{"response", res, nil, res, nil},
		{"error", nil, cause, nil, cause},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := finalOrError(tt.res, tt.err)
			if got != tt.wantRes || !errors.Is(err, tt.wantErr) {
				t.Errorf("finalOrError(%v, %v) = %v, %v; want %v, %v", tt.res, tt.err, got, err, tt.wantRes, tt.wantErr)
			}
		})
	}
}
