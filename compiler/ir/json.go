package ir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Marshal writes p as canonical, indented JSON (the dialplan.json format):
// two-space indentation, fields in declaration order, keyed slices sorted,
// empty slices omitted, a trailing newline. The same program always gives
// the same bytes.
//
// Marshal puts p in canonical order first (Sort modifies p).
func Marshal(p *Program) ([]byte, error) {
	if p == nil {
		return nil, errors.New("ir: Marshal of nil program")
	}
	if p.Version != Version {
		return nil, fmt.Errorf("ir: program has version %d, this build writes version %d", p.Version, Version)
	}
	p.Sort()
	// Encoding compactly and indenting once into a buffer sized for it
	// gives the same bytes as an indenting Encoder with a third less time
	// and memory on large sites (the Encoder indents into a scratch buffer
	// and copies the result again).
	var compact bytes.Buffer
	enc := json.NewEncoder(&compact)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("ir: %w", err)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, compact.Bytes(), "", "  "); err != nil {
		return nil, fmt.Errorf("ir: %w", err)
	}
	return buf.Bytes(), nil
}

// VersionError is returned by Unmarshal for a program of another version.
type VersionError struct {
	Got int
}

func (e *VersionError) Error() string {
	if e.Got == 0 {
		return fmt.Sprintf("ir: no version in program (this build reads version %d)", Version)
	}
	return fmt.Sprintf("ir: program has version %d, this build reads version %d; rebuild the site with this switchboard", e.Got, Version)
}

// Unmarshal reads a program written by Marshal. It checks the version before
// decoding anything else, rejects unknown fields and trailing data, and
// validates the result.
func Unmarshal(data []byte) (*Program, error) {
	var head struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("ir: %w", err)
	}
	if head.Version != Version {
		return nil, &VersionError{Got: head.Version}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Program
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("ir: %w", err)
	}
	if dec.More() {
		return nil, errors.New("ir: trailing data after program")
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// MarshalText writes the reference as "<kind>.<name>".
func (r Ref) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses "<kind>.<name>".
func (r *Ref) UnmarshalText(b []byte) error {
	v, err := ParseRef(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("ir: %w", err)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the origin in its compact form (see Origin).
func (o Origin) MarshalText() ([]byte, error) {
	// Sized once: every stored event carries an origin (issue 19).
	b := make([]byte, 0, len(o.File)+6*7+1+len(o.Object))
	if o.File != "" {
		b = append(b, o.File...)
		for i, n := range []int{o.Line, o.Column, o.EndLine, o.EndColumn, o.Byte, o.EndByte} {
			b = append(b, "::-:@-"[i])
			b = strconv.AppendInt(b, int64(n), 10)
		}
	}
	if o.Object != "" {
		b = append(b, ' ')
		b = append(b, o.Object...)
	}
	return b, nil
}

// UnmarshalText parses the compact form.
func (o *Origin) UnmarshalText(b []byte) error {
	s := string(b)
	*o = Origin{}
	if s == "" {
		return nil
	}
	if obj, ok := strings.CutPrefix(s, " "); ok {
		o.Object = obj
		return nil
	}
	// The position follows the first colon after which it parses; a file
	// name may itself hold colons.
	for i := strings.IndexByte(s, ':'); i >= 0; {
		if rest, ok := o.parsePos(s[i+1:]); ok {
			o.File = s[:i]
			if rest != "" {
				o.Object = rest[1:]
			}
			return nil
		}
		j := strings.IndexByte(s[i+1:], ':')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	*o = Origin{}
	return fmt.Errorf("ir: malformed origin %q: want file:line:col-line:col@byte-byte [object]", s)
}

// parsePos reads "line:col-endline:endcol@byte-endbyte" and returns what
// follows, which is empty or starts with a space.
func (o *Origin) parsePos(s string) (string, bool) {
	dst := []*int{&o.Line, &o.Column, &o.EndLine, &o.EndColumn, &o.Byte, &o.EndByte}
	seps := ":-:@-"
	for i, p := range dst {
		n := 0
		for n < len(s) && '0' <= s[n] && s[n] <= '9' {
			n++
		}
		if n == 0 || n > 9 {
			return "", false
		}
		v, _ := strconv.Atoi(s[:n])
		*p = v
		s = s[n:]
		if i < len(seps) {
			if s == "" || s[0] != seps[i] {
				return "", false
			}
			s = s[1:]
		}
	}
	if s != "" && s[0] != ' ' {
		return "", false
	}
	return s, true
}
