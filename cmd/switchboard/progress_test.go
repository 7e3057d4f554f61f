package main

import (
	"bytes"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestProgressLine(t *testing.T) {
	var b bytes.Buffer
	p := newProgressTo(&b, 24, "cases", 2)
	p.step("gate rings")
	p.step("a name far too long for the line")
	p.step("") // more than announced: no "of"
	p.clear()
	p.clear() // nothing shown since: nothing written
	want := "\r1 of 2 cases done: gate…\x1b[K" +
		"\r2 of 2 cases done: a na…\x1b[K" +
		"\r3 cases done\x1b[K" +
		"\r\x1b[K"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("progress output (-want +got):\n%s", diff)
	}
}

func TestProgressNilShowsNothing(t *testing.T) {
	var p *progress
	p.step("x") // must not panic
	p.clear()
}

func TestProgressConcurrent(t *testing.T) {
	var b bytes.Buffer
	p := newProgressTo(&b, 80, "changes", 50)
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); p.step("") }()
	}
	wg.Wait()
	if !bytes.HasSuffix(b.Bytes(), []byte("\r50 of 50 changes done\x1b[K")) {
		t.Errorf("last line = %q, want 50 of 50", b.String()[max(0, b.Len()-40):])
	}
}

// A run whose standard error is not a terminal, or that prints -json,
// gets no progress line.
func TestProgressOnlyOnATerminal(t *testing.T) {
	c := &cli{stderr: &bytes.Buffer{}}
	if p := c.newProgress("cases", 3); p != nil {
		t.Error("progress on a buffer")
	}
	c = &cli{stderr: &bytes.Buffer{}, json: true}
	if p := c.newProgress("cases", 3); p != nil {
		t.Error("progress under -json")
	}
}

// A line printed above the progress line (a case that failed, as it
// fails) erases the line first and leaves it to the next step to redraw.
func TestProgressAbove(t *testing.T) {
	var b bytes.Buffer
	p := newProgressTo(&b, 40, "cases", 3)
	p.above("FAIL  before any step") // nothing to erase yet
	p.step("a")
	p.above("FAIL  b: rings x: x never rang")
	p.step("c")
	p.clear()
	want := "FAIL  before any step\n" +
		"\r1 of 3 cases done: a\x1b[K" +
		"\r\x1b[KFAIL  b: rings x: x never rang\n" +
		"\r2 of 3 cases done: c\x1b[K" +
		"\r\x1b[K"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("progress output (-want +got):\n%s", diff)
	}
	var none *progress
	none.above("x") // must not panic
}
