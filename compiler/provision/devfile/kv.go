package devfile

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// KV is one key = value line.
type KV struct {
	Key   string
	Value string
}

// KVFile builds a key = value file: optional header lines, then one
// "key = value" line ("key =" for an empty value) per key in natural key
// order (digit runs compare as numbers, so linekey.2 comes before
// linekey.10), "\n" line ends, a final newline. Setting a key twice keeps
// the last value. The same settings always give the same bytes.
type KVFile struct {
	header []string
	vals   map[string]string
}

// NewKVFile starts a file with the given header lines (written verbatim).
func NewKVFile(header ...string) *KVFile {
	return &KVFile{header: header, vals: map[string]string{}}
}

// Set sets key to value, passed through OneLine.
func (f *KVFile) Set(key, value string) { f.vals[key] = OneLine(value) }

// Setf sets key to a formatted value.
func (f *KVFile) Setf(key, format string, args ...any) { f.Set(key, fmt.Sprintf(format, args...)) }

// Len is the number of keys set.
func (f *KVFile) Len() int { return len(f.vals) }

// Get returns the value of key.
func (f *KVFile) Get(key string) (string, bool) {
	v, ok := f.vals[key]
	return v, ok
}

// Bytes renders the file.
func (f *KVFile) Bytes() []byte {
	keys := make([]string, 0, len(f.vals))
	for k := range f.vals {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, NaturalCompare)
	var b bytes.Buffer
	for _, h := range f.header {
		b.WriteString(h)
		b.WriteByte('\n')
	}
	for _, k := range keys {
		b.WriteString(k)
		if v := f.vals[k]; v != "" {
			b.WriteString(" = ")
			b.WriteString(v)
		} else {
			b.WriteString(" =")
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// NaturalCompare orders strings with digit runs compared by numeric value
// ("key2" < "key10"); ties fall back to plain byte order so the order is
// total.
func NaturalCompare(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ca, cb := a[i], b[j]
		if isDigit(ca) && isDigit(cb) {
			si, sj := i, j
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			na := strings.TrimLeft(a[si:i], "0")
			nb := strings.TrimLeft(b[sj:j], "0")
			if len(na) != len(nb) {
				return cmpInt(len(na), len(nb))
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			continue
		}
		if ca != cb {
			return cmpInt(int(ca), int(cb))
		}
		i++
		j++
	}
	if c := cmpInt(len(a)-i, len(b)-j); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ParseError is a malformed line of a key = value file.
type ParseError struct {
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// ParseKV reads key = value lines. Blank lines and lines for which comment
// returns true are skipped; every other line must hold "=" with a non-empty
// key before it. Keys and values are trimmed of spaces and tabs; a "\r"
// before the newline is dropped. A key given twice is an error: no renderer
// writes one, and devices disagree about which one wins.
func ParseKV(data []byte, comment func(line string) bool) ([]KV, error) {
	var out []KV
	seen := map[string]int{}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		trimmed := strings.Trim(line, " \t")
		if trimmed == "" || comment(trimmed) {
			continue
		}
		k, v, ok := strings.Cut(trimmed, "=")
		if !ok {
			return nil, &ParseError{Line: n + 1, Msg: fmt.Sprintf("no %q in %q", "=", trimmed)}
		}
		k, v = strings.Trim(k, " \t"), strings.Trim(v, " \t")
		if k == "" {
			return nil, &ParseError{Line: n + 1, Msg: "empty key"}
		}
		if strings.ContainsAny(k, " \t") {
			return nil, &ParseError{Line: n + 1, Msg: fmt.Sprintf("space in key %q", k)}
		}
		if prev, dup := seen[k]; dup {
			return nil, &ParseError{Line: n + 1, Msg: fmt.Sprintf("key %q already set on line %d", k, prev)}
		}
		seen[k] = n + 1
		out = append(out, KV{Key: k, Value: v})
	}
	return out, nil
}

// KVMap turns parsed lines into a map.
func KVMap(kvs []KV) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}
