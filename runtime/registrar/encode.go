package registrar

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
	"time"
)

// A binding in the bucket is encoded by hand: encoding/json's reflection
// was a seventh of the CPU a stored binding costs.
//
// The encoding is bindingFormat, then Account, Contact, Key, CallID,
// Source, Transport and UserAgent (each its length as a uvarint, then its
// bytes), CSeq (uvarint), Expires and Since (Unix nanoseconds as varints,
// Since 0 when unknown), and the count of Path values (uvarint) followed
// by each as the strings before. A value that begins with '{' is the JSON
// of a Binding, as the first version wrote.
const bindingFormat = 1

// appendBinding appends the encoding of b to out.
func appendBinding(out []byte, b *Binding) []byte {
	strs := [...]string{b.Account, b.Contact, b.Key, b.CallID, b.Source, b.Transport, b.UserAgent}
	// Room for all of it at once: growing from nil took five copies.
	n := 1 + 4*binary.MaxVarintLen64
	for _, s := range strs {
		n += binary.MaxVarintLen64 + len(s)
	}
	for _, p := range b.Path {
		n += binary.MaxVarintLen64 + len(p)
	}
	out = slices.Grow(out, n)
	out = append(out, bindingFormat)
	for _, s := range strs {
		out = appendString(out, s)
	}
	out = binary.AppendUvarint(out, uint64(b.CSeq))
	out = binary.AppendVarint(out, b.Expires.UnixNano())
	var since int64
	if !b.Since.IsZero() {
		since = b.Since.UnixNano()
	}
	out = binary.AppendVarint(out, since)
	out = binary.AppendUvarint(out, uint64(len(b.Path)))
	for _, p := range b.Path {
		out = appendString(out, p)
	}
	return out
}

func appendString(out []byte, s string) []byte {
	out = binary.AppendUvarint(out, uint64(len(s)))
	return append(out, s...)
}

var errBadBinding = errors.New("not a stored binding")

// decodeBinding reads a binding that appendBinding (or, as JSON, the
// first version) wrote.
func decodeBinding(v []byte) (Binding, error) {
	var b Binding
	if len(v) > 0 && v[0] == '{' {
		err := json.Unmarshal(v, &b)
		return b, err
	}
	if len(v) == 0 || v[0] != bindingFormat {
		return Binding{}, errBadBinding
	}
	d := decoder{v: v[1:]}
	for _, s := range [...]*string{&b.Account, &b.Contact, &b.Key, &b.CallID, &b.Source, &b.Transport, &b.UserAgent} {
		*s = d.string()
	}
	cseq := d.uvarint()
	if cseq > 1<<32-1 {
		d.err = true
	}
	b.CSeq = uint32(cseq)
	b.Expires = time.Unix(0, d.varint())
	if since := d.varint(); since != 0 {
		b.Since = time.Unix(0, since)
	}
	n := d.uvarint()
	if n > uint64(len(d.v)) { // each value takes a byte at least
		d.err = true
	}
	for i := uint64(0); i < n && !d.err; i++ {
		b.Path = append(b.Path, d.string())
	}
	if d.err || len(d.v) != 0 {
		return Binding{}, errBadBinding
	}
	return b, nil
}

// decoder reads appendBinding's parts; err is set, and the rest reads as
// zero, once one is malformed.
type decoder struct {
	v   []byte
	err bool
}

func (d *decoder) uvarint() uint64 {
	x, n := binary.Uvarint(d.v)
	if n <= 0 {
		d.err, d.v = true, nil
		return 0
	}
	d.v = d.v[n:]
	return x
}

func (d *decoder) varint() int64 {
	x, n := binary.Varint(d.v)
	if n <= 0 {
		d.err, d.v = true, nil
		return 0
	}
	d.v = d.v[n:]
	return x
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.v)) {
		d.err, d.v = true, nil
		return ""
	}
	s := string(d.v[:n])
	d.v = d.v[n:]
	return s
}
