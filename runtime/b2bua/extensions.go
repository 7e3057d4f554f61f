package b2bua

import (
	"maps"
	"slices"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// supported are the SIP extensions (option tags) the server implements:
// Path (RFC 3327) in its registrar. Not 100rel (PRACK), timer (session
// timers) or others.
var supported = map[string]bool{"path": true}

// supportedList is supported as a Supported header's value.
var supportedList = strings.Join(slices.Sorted(maps.Keys(supported)), ", ")

// unsupported lists the option tags of req's Require header fields the
// server does not implement, lower-cased, each once.
func unsupported(req *sip.Request) []string {
	var out []string
	// One pass with EqualFold: sipgo's GetHeaders lower-cases (allocating)
	// the name of every header field it passes, and this runs for every
	// request.
	for _, h := range req.Headers() {
		if !strings.EqualFold(h.Name(), "Require") {
			continue
		}
		for tag := range strings.SplitSeq(h.Value(), ",") {
			tag = strings.ToLower(strings.TrimSpace(tag))
			if tag != "" && !supported[tag] && !slices.Contains(out, tag) {
				out = append(out, tag)
			}
		}
	}
	return out
}

// requireKnown wraps a request handler with RFC 3261 §8.2.2.3: a request
// that requires an extension we do not implement gets 420 Bad Extension
// listing it in Unsupported, rather than a session that silently lacks
// what the peer counted on (reliable provisional responses, session
// refreshes). ACK and CANCEL are never refused (§8.2.2.3); their handlers
// are not wrapped.
func requireKnown(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		if tags := unsupported(req); len(tags) > 0 {
			respond(tx, req, 420, "Bad Extension", sip.NewHeader("Unsupported", strings.Join(tags, ", ")))
			return
		}
		h(req, tx)
	}
}
