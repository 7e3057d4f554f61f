package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"unicode/utf8"

	"golang.org/x/term"
)

// progress is one status line on a terminal, rewritten in place as a long
// run (apply, test) goes on, and erased before the run's own output. It
// exists only when standard error is a terminal and the output is not
// -json: a pipe or a log file gets no carriage returns. A nil *progress
// shows nothing, so callers need no conditions.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	width int // columns the line may take
	what  string
	total int
	done  int
	shown bool
}

// newProgress returns the progress line of a run of total items described
// by what ("cases", "changes"), or nil when it must not be shown.
func (c *cli) newProgress(what string, total int) *progress {
	if c.json {
		return nil
	}
	f, ok := c.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	width := defaultWidth
	if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 20 {
		width = w - 1
	}
	return newProgressTo(f, width, what, total)
}

func newProgressTo(w io.Writer, width int, what string, total int) *progress {
	return &progress{w: w, width: width, what: what, total: total}
}

// step counts one item done and shows the line, naming the last item.
// Safe for concurrent use.
func (p *progress) step(last string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	text := fmt.Sprintf("%d of %d %s done", p.done, p.total, p.what)
	if p.done > p.total {
		text = fmt.Sprintf("%d %s done", p.done, p.what)
	}
	if last != "" {
		text += ": " + last
	}
	// \r back to the start, the text cut to the terminal's width (a
	// wrapped line could not be rewritten), \x1b[K erases what an earlier,
	// longer line left.
	fmt.Fprintf(p.w, "\r%s\x1b[K", truncate(text, p.width))
	p.shown = true
}

// clear erases the line, so that what follows starts on a clean one.
func (p *progress) clear() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

// truncate cuts s to at most n runes, marking the cut with "…".
func truncate(s string, n int) string {
	if n < 1 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// above prints a line of its own above the progress line, which is drawn
// again under it: news (a failed case) that should not wait for the end.
func (p *progress) above(line string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
	fmt.Fprintln(p.w, line)
	p.shown = false
}
