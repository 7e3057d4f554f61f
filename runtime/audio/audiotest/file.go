// Package audiotest helps tests that write audio files or check what a
// call heard.
package audiotest

import "io"

// File is an in-memory io.WriteSeeker: the file a WAV writer needs, with
// no disk behind it.
type File struct {
	b   []byte
	off int
}

// Bytes is everything written so far.
func (f *File) Bytes() []byte { return f.b }

func (f *File) Write(p []byte) (int, error) {
	if need := f.off + len(p); need > len(f.b) {
		f.b = append(f.b, make([]byte, need-len(f.b))...)
	}
	copy(f.b[f.off:], p)
	f.off += len(p)
	return len(p), nil
}

func (f *File) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		f.off = int(off)
	case io.SeekCurrent:
		f.off += int(off)
	case io.SeekEnd:
		f.off = len(f.b) + int(off)
	}
	return int64(f.off), nil
}
