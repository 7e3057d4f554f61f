package main

import (
	"io"
	"os"

	"golang.org/x/term"
)

// defaultWidth is the wrapping width when the output is not a terminal.
const defaultWidth = 78

// style says how to write to one output stream.
type style struct {
	color bool
	width uint
}

// styleFor decides colour and width for w: colour only on a terminal, and
// never with -no-color, when NO_COLOR is set (https://no-color.org) or
// TERM is "dumb";
// the terminal's width, or defaultWidth.
func (c *cli) styleFor(w io.Writer) style {
	s := style{width: defaultWidth}
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return s
	}
	if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 20 {
		s.width = uint(width - 1)
	}
	s.color = !c.noColor && c.getenv("NO_COLOR") == "" && c.getenv("TERM") != "dumb"
	return s
}

const (
	ansiReset = "\x1b[0m"
	ansiBold  = "\x1b[1m"
	ansiGreen = "\x1b[32m"
	ansiRed   = "\x1b[31m"
)

// paint wraps text in an ANSI sequence when the style has colour.
func (s style) paint(code, text string) string {
	if !s.color {
		return text
	}
	return code + text + ansiReset
}
