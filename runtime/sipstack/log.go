package sipstack

import (
	"context"
	"errors"
	"log/slog"
)

// sipgoHandler is the handler sipgo's own log goes through (TuneServe). It
// keeps sipgo's records well-formed for a JSON log: sipgo names some
// attributes after the keys every record already has ("msg" for the SIP
// message a line is about), and stacks With("caller", …) at each layer,
// so a record would hold "msg" and "caller" twice, which JSON readers
// resolve each their own way. Keys of a record's own (msg, time, level,
// source) are renamed sip_<key>, and of an attribute given twice the last
// (the innermost layer's) is kept.
//
// A record of a connection closed for a message refused (its "error"
// errBareLineEnd: sipgo's "Read error" or "Read filter error", at ERROR,
// one per connection) is dropped: the refusal is counted, and the first
// logged (noteRefused).
type sipgoHandler struct {
	next  slog.Handler
	attrs []slog.Attr // from WithAttrs, merged into each record
}

func newSipgoHandler(next slog.Handler) *sipgoHandler { return &sipgoHandler{next: next} }

func (h *sipgoHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *sipgoHandler) Handle(ctx context.Context, r slog.Record) error {
	refused := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Value.Kind() != slog.KindAny {
			return true
		}
		if err, ok := a.Value.Any().(error); ok && errors.Is(err, errBareLineEnd) {
			refused = true
		}
		return !refused
	})
	if refused {
		return nil
	}
	var all []slog.Attr
	add := func(a slog.Attr) bool {
		switch a.Key {
		case slog.MessageKey, slog.TimeKey, slog.LevelKey, slog.SourceKey:
			a.Key = "sip_" + a.Key
		}
		for i := range all {
			if all[i].Key == a.Key {
				all[i] = a
				return true
			}
		}
		all = append(all, a)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(all...)
	return h.next.Handle(ctx, out)
}

func (h *sipgoHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &sipgoHandler{next: h.next, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

func (h *sipgoHandler) WithGroup(name string) slog.Handler {
	return &sipgoHandler{next: h.next.WithAttrs(h.attrs).WithGroup(name)}
}
