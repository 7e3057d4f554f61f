package sipstack

import (
	"context"
	"errors"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// ErrEndedUnanswered is what Do returns for a client transaction that
// ended with neither a final response nor an error of its own.
var ErrEndedUnanswered = errors.New("the transaction ended without an answer")

// Do sends req as sipgo's Client.Do does and returns the final response
// or an error, never neither: sipgo (v1.7.3) ClientTx.Terminate closes
// the transaction's done channel before it records why, so a Do that
// races a shutdown can return (nil, nil), and a caller reading the
// response dereferenced nil (a panic in runtime/site's node tests).
func Do(ctx context.Context, c *sipgo.Client, req *sip.Request, opts ...sipgo.ClientRequestOption) (*sip.Response, error) {
	return finalOrError(c.Do(ctx, req, opts...))
}

// DoDigestAuth is sipgo's Client.DoDigestAuth with Do's guarantee.
func DoDigestAuth(ctx context.Context, c *sipgo.Client, req *sip.Request, res *sip.Response, auth sipgo.DigestAuth) (*sip.Response, error) {
	return finalOrError(c.DoDigestAuth(ctx, req, res, auth))
}

// finalOrError turns a transaction's (nil, nil) into ErrEndedUnanswered.
func finalOrError(res *sip.Response, err error) (*sip.Response, error) {
	if res == nil && err == nil {
		return nil, ErrEndedUnanswered
	}
	return res, err
}
