package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
)

// With -log-format json, serve's standard error is its log: every line is
// one JSON record. The server's own lines (sipgo's too, package sipstack)
// are slog records already; what the command itself prints — the site's
// diagnostics, the ready line, its errors — becomes records here. The
// records the command writes bypass the server log's limit (package
// loglimit): a site's hundred warnings of one kind are all worth reading,
// and none of them comes from the network.

// logJSON returns a copy of c whose diagnostics are records of log
// (logDiagnostics) and whose standard error turns every line printed on
// it into a record of log.
func (c *cli) logJSON(log *slog.Logger) *cli {
	cc := *c
	cc.log = log
	cc.stderr = &lineLog{log: log}
	return &cc
}

// logDiagnostics logs each diagnostic as a record: its summary as the
// message, at ERROR or WARN, with the JSON rendering `validate -json`
// prints (file, range, detail, snippet) as its "diagnostic" attribute.
func (c *cli) logDiagnostics(site *loadedSite) {
	for _, d := range forPrinting(site.diags) {
		level := slog.LevelWarn
		if d.Severity == hcl.DiagError {
			level = slog.LevelError
		}
		c.log.Log(context.Background(), level, d.Summary, "diagnostic", newJSONDiagnostic(d, site.files))
	}
}

// lineLog is an io.Writer that logs every line written to it as an INFO
// record, without the "switchboard serve: " every such line starts with.
type lineLog struct {
	log *slog.Logger
	mu  sync.Mutex
	buf []byte
}

func (w *lineLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := strings.TrimRight(string(w.buf[:i]), "\r")
		w.buf = w.buf[i+1:]
		if strings.TrimSpace(line) == "" {
			continue
		}
		w.log.Info(strings.TrimPrefix(line, "switchboard serve: "))
	}
}
