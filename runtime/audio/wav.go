package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Format is a WAV sample format.
type Format uint16

// WAVE format tags (RFC 2361).
const (
	FormatPCM  Format = 1 // 16-bit linear
	FormatALaw Format = 6
	FormatULaw Format = 7
)

// FormatOf is the WAV format that stores a codec's bytes unchanged.
func FormatOf(c Codec) Format {
	if c == PCMA {
		return FormatALaw
	}
	return FormatULaw
}

func (f Format) bytesPerSample() int {
	if f == FormatPCM {
		return 2
	}
	return 1
}

// headerSize is the size of the canonical header WAVWriter writes: RIFF,
// fmt (18 bytes, as non-PCM formats require a cbSize) and the data chunk
// header. A fixed size lets Sync rewrite the lengths in place.
const headerSize = 12 + 8 + 18 + 8

// WAVWriter writes a mono 8 kHz WAV file as samples arrive. The header's
// lengths are rewritten at every Sync, so a file cut short by a crash is
// still a valid WAV of everything synced.
type WAVWriter struct {
	w      io.WriteSeeker
	format Format
	data   int64 // bytes of sample data written
	synced int64
	err    error
}

// NewWAVWriter writes the header and returns a writer of sample data.
func NewWAVWriter(w io.WriteSeeker, f Format) (*WAVWriter, error) {
	ww := &WAVWriter{w: w, format: f}
	if _, err := w.Write(ww.header()); err != nil {
		return nil, err
	}
	return ww, nil
}

func (w *WAVWriter) header() []byte {
	h := make([]byte, headerSize)
	bps := w.format.bytesPerSample()
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(headerSize-8+w.data+w.data&1))
	copy(h[8:], "WAVE")
	copy(h[12:], "fmt ")
	binary.LittleEndian.PutUint32(h[16:], 18)
	binary.LittleEndian.PutUint16(h[20:], uint16(w.format))
	binary.LittleEndian.PutUint16(h[22:], 1) // mono
	binary.LittleEndian.PutUint32(h[24:], Rate)
	binary.LittleEndian.PutUint32(h[28:], uint32(Rate*bps))
	binary.LittleEndian.PutUint16(h[32:], uint16(bps))
	binary.LittleEndian.PutUint16(h[34:], uint16(8*bps))
	binary.LittleEndian.PutUint16(h[36:], 0) // cbSize
	copy(h[38:], "data")
	binary.LittleEndian.PutUint32(h[42:], uint32(w.data))
	return h
}

// WriteEncoded appends G.711 bytes; the writer's format must be that
// codec's.
func (w *WAVWriter) WriteEncoded(b []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.format == FormatPCM {
		return errors.New("audio: encoded bytes written to a PCM WAV")
	}
	n, err := w.w.Write(b)
	w.data += int64(n)
	w.err = err
	return err
}

// WritePCM appends linear samples, encoding them for a G.711 file.
func (w *WAVWriter) WritePCM(s []int16) error {
	if w.err != nil {
		return w.err
	}
	var b []byte
	switch w.format {
	case FormatALaw:
		b = PCMA.Encode(nil, s)
	case FormatULaw:
		b = PCMU.Encode(nil, s)
	default:
		b = make([]byte, 2*len(s))
		for i, v := range s {
			binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
		}
	}
	n, err := w.w.Write(b)
	w.data += int64(n)
	w.err = err
	return err
}

// Samples is the number of samples written so far.
func (w *WAVWriter) Samples() int64 { return w.data / int64(w.format.bytesPerSample()) }

// Sync rewrites the header's lengths to cover everything written.
func (w *WAVWriter) Sync() error {
	if w.err != nil {
		return w.err
	}
	if w.synced == w.data {
		return nil
	}
	if _, err := w.w.Seek(0, io.SeekStart); err != nil {
		w.err = err
		return err
	}
	if _, err := w.w.Write(w.header()); err != nil {
		w.err = err
		return err
	}
	_, err := w.w.Seek(headerSize+w.data, io.SeekStart)
	w.err = err
	w.synced = w.data
	return err
}

// Close pads the data chunk to an even length, as RIFF requires, and
// writes the final header. It does not close the underlying file.
func (w *WAVWriter) Close() error {
	if w.err == nil && w.data&1 == 1 {
		_, w.err = w.w.Write([]byte{0})
	}
	return w.Sync()
}

// WAV is a decoded mono 8 kHz WAV file.
type WAV struct {
	Format  Format
	Samples []int16 // linear, whatever the stored format
	Raw     []byte  // the data chunk as stored
}

// Duration is the length of the audio in samples / Rate seconds.
func (w *WAV) Seconds() float64 { return float64(len(w.Samples)) / Rate }

// ReadWAV parses a WAV file of 8 kHz mono PCM16, A-law or µ-law. A data
// chunk longer than the file (a recording cut short before its header was
// rewritten) is read as far as it goes.
func ReadWAV(b []byte) (*WAV, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, errors.New("audio: not a RIFF WAVE file")
	}
	var out WAV
	haveFmt := false
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:]))
		body := b[p+8:]
		if size < 0 || size > len(body) {
			size = len(body)
		}
		body = body[:size]
		switch id {
		case "fmt ":
			if size < 16 {
				return nil, errors.New("audio: short fmt chunk")
			}
			out.Format = Format(binary.LittleEndian.Uint16(body[0:]))
			channels := binary.LittleEndian.Uint16(body[2:])
			rate := binary.LittleEndian.Uint32(body[4:])
			bits := binary.LittleEndian.Uint16(body[14:])
			if channels != 1 || rate != Rate {
				return nil, fmt.Errorf("audio: %d channel(s) at %d Hz; want mono at %d Hz", channels, rate, Rate)
			}
			switch {
			case out.Format == FormatPCM && bits == 16,
				out.Format == FormatALaw && bits == 8,
				out.Format == FormatULaw && bits == 8:
			default:
				return nil, fmt.Errorf("audio: unsupported WAV format %d with %d bits per sample", out.Format, bits)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, errors.New("audio: data chunk before fmt chunk")
			}
			out.Raw = body
			switch out.Format {
			case FormatPCM:
				out.Samples = make([]int16, len(body)/2)
				for i := range out.Samples {
					out.Samples[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
				}
			case FormatALaw:
				out.Samples = PCMA.Decode(nil, body)
			case FormatULaw:
				out.Samples = PCMU.Decode(nil, body)
			}
			return &out, nil
		}
		p += 8 + size + size&1
	}
	return nil, errors.New("audio: no data chunk")
}
