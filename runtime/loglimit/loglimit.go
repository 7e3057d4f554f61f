// Package loglimit bounds what the server's log can be made to hold by the
// people it reports on. Much of what a server logs is about messages from
// the network (a malformed SIP message, a failed TLS handshake, a refused
// connection), and sipgo logs an unparsable message whole, at ERROR: 200
// malformed 60 KB datagrams made 5.9 MB of log. Handler, wrapped around
// the log's handler, lets through at most Burst lines of one kind (level
// and message) per Interval, notes on the next line let through how many
// were suppressed, and cuts every text attribute to MaxValue bytes.
package loglimit

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The limits.
const (
	Burst    = 10
	Interval = 10 * time.Second
	// MaxValue is the longest text attribute kept, in bytes: enough for
	// a SIP start line, an address or an error, not for a message body.
	MaxValue = 256
	// maxKinds bounds the table of kinds; messages are the code's own
	// constants, so it fills only if some code logs a message it built.
	maxKinds = 1024
)

// Handler limits the records it passes to the handler it wraps.
type Handler struct {
	next  slog.Handler
	state *state
	now   func() time.Time
}

type state struct {
	mu    sync.Mutex
	kinds map[kind]*window
}

type kind struct {
	level slog.Level
	msg   string
}

// window counts one kind's records in its current interval.
type window struct {
	start      time.Time
	n          int // records in this interval
	suppressed int // records dropped since the last one let through
}

// New wraps next.
func New(next slog.Handler) *Handler {
	return &Handler{next: next, state: &state{kinds: map[kind]*window{}}, now: time.Now}
}

func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	suppressed, ok := h.state.allow(kind{r.Level, r.Message}, h.now())
	if !ok {
		return nil
	}
	out := slog.NewRecord(r.Time, r.Level, cut(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(cutAttr(a))
		return true
	})
	if suppressed > 0 {
		out.AddAttrs(slog.Int("suppressed", suppressed))
	}
	return h.next.Handle(ctx, out)
}

func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	cutAttrs := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		cutAttrs[i] = cutAttr(a)
	}
	return &Handler{next: h.next.WithAttrs(cutAttrs), state: h.state, now: h.now}
}

func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), state: h.state, now: h.now}
}

// allow reports whether a record of k may pass at now, and how many of
// its kind were suppressed since the last that did.
func (s *state) allow(k kind, now time.Time) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.kinds[k]
	if w == nil {
		if len(s.kinds) >= maxKinds {
			// Kinds beyond the table share one window.
			k = kind{k.level, "\x00other"}
			w = s.kinds[k]
		}
		if w == nil {
			w = &window{start: now}
			s.kinds[k] = w
		}
	}
	if now.Sub(w.start) >= Interval {
		w.start, w.n = now, 0
	}
	if w.n >= Burst {
		w.suppressed++
		return 0, false
	}
	w.n++
	n := w.suppressed
	w.suppressed = 0
	return n, true
}

// cutAttr cuts a's text (strings, errors, anything printed) to MaxValue.
func cutAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, cut(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, x := range g {
			out[i] = cutAttr(x)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, cut(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, cut(x.String()))
		case []byte:
			return slog.String(a.Key, cut(string(x)))
		}
		return slog.String(a.Key, cut(fmt.Sprint(v.Any())))
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// cut shortens s to MaxValue bytes (at a rune boundary), saying how long
// it was, and makes it valid UTF-8; the handler quotes it.
func cut(s string) string {
	if len(s) <= MaxValue {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	end := MaxValue
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return fmt.Sprintf("%s… (%d bytes)", strings.ToValidUTF8(s[:end], "\uFFFD"), len(s))
}
