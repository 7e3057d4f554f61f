//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: the terminal side a command
// writes to, and the side that reads what it wrote.
func openPTY(t *testing.T) (reader, terminal *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("open the terminal side: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m, s
}

// On a terminal, test shows one line rewritten in place as cases end, and
// erases it before the report; under -json it shows none.
func TestTestProgressOnATerminal(t *testing.T) {
	for _, tc := range []struct {
		json bool
		want bool
	}{{false, true}, {true, false}} {
		t.Run(fmt.Sprintf("json=%v", tc.json), func(t *testing.T) {
			reader, terminal := openPTY(t)
			read := make(chan []byte)
			go func() {
				// Ends with EIO once the terminal side is closed.
				data, _ := io.ReadAll(reader)
				read <- data
			}()
			args := []string{"test", "-run", "calls chloe", filepath.Join("..", "..", "examples", "family-home")}
			if tc.json {
				args = append([]string{"test", "-json"}, args[1:]...)
			}
			var stdout bytes.Buffer
			c := &cli{stdin: strings.NewReader(""), stdout: &stdout, stderr: terminal}
			status := c.run(args)
			terminal.Close()
			got := string(<-read)
			if status != exitOK {
				t.Fatalf("exit status %d; stderr:\n%s", status, got)
			}
			shown := strings.Contains(got, " cases done: ")
			if shown != tc.want {
				t.Fatalf("progress line shown: %v, want %v; the terminal got %q", shown, tc.want, got)
			}
			if tc.want {
				if !strings.Contains(got, "\r1 of ") || !strings.HasSuffix(got, "\r\x1b[K") {
					t.Errorf("want lines rewritten in place (\\r) and erased at the end; the terminal got %q", got)
				}
				if strings.Contains(stdout.String(), "\r") {
					t.Errorf("stdout has the progress line: %q", stdout.String())
				}
			}
		})
	}
}

// On a terminal, colour unless -no-color, NO_COLOR or TERM=dumb says not.
func TestColourOnATerminal(t *testing.T) {
	_, terminal := openPTY(t)
	defer terminal.Close()
	for _, tc := range []struct {
		noColor bool
		environ []string
		want    bool
	}{
		{false, nil, true},
		{true, nil, false},
		{false, []string{"NO_COLOR=1"}, false},
		{false, []string{"TERM=dumb"}, false},
	} {
		c := &cli{noColor: tc.noColor, environ: tc.environ}
		if got := c.styleFor(terminal).color; got != tc.want {
			t.Errorf("-no-color=%v, environment %q: colour %v, want %v", tc.noColor, tc.environ, got, tc.want)
		}
	}
	if (&cli{}).styleFor(&bytes.Buffer{}).color {
		t.Error("colour in a buffer")
	}
}
