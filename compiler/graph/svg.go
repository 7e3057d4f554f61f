package graph

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// ErrNoDot is the error of the svg format where Graphviz is not installed:
// the layout is Graphviz's, and a hand-made one would not match what DOT
// users see.
var ErrNoDot = errors.New("graph -format svg needs Graphviz's dot: apt-get install graphviz")

// writeSVG lays the picture out with Graphviz (`dot -Tsvg`, found on PATH)
// and writes the SVG whole, or nothing when dot fails.
func writeSVG(w io.Writer, pic *picture) error {
	dot, err := exec.LookPath("dot")
	if err != nil {
		return ErrNoDot
	}
	var src, out, stderr bytes.Buffer
	if err := writeDOT(&src, pic); err != nil {
		return err
	}
	cmd := exec.Command(dot, "-Tsvg")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = &src, &out, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("dot -Tsvg: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	_, err = w.Write(out.Bytes())
	return err
}
