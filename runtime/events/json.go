package events

import (
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends e as json.Marshal writes it, byte for byte, without
// reflection: the event journal encodes every event it stores, a handful
// a call, and json.Marshal's reflection was about half the journal's own
// CPU in a door call (bench/sip, issue 19). TestAppendJSONAsMarshal and
// FuzzAppendJSON hold it to json.Marshal, every field filled.
func (e *Event) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"time":"`...)
	b, err := e.Time.AppendText(b) // json.Marshal's format, and its error for a year out of range
	if err != nil {
		return nil, err
	}
	b = append(b, `","kind":`...)
	b = appendJSONString(b, string(e.Kind))
	b = appendField(b, `,"call":`, e.Call)
	b = appendField(b, `,"leg":`, e.Leg)
	b = appendField(b, `,"account":`, e.Account)
	b = appendField(b, `,"from":`, e.From)
	b = appendField(b, `,"to":`, e.To)
	b = appendField(b, `,"target":`, e.Target)
	b = appendField(b, `,"device":`, e.Device)
	b = appendField(b, `,"relay":`, e.Relay)
	b = appendField(b, `,"digits":`, e.Digits)
	if e.Status != 0 {
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(e.Status), 10)
	}
	b = appendField(b, `,"cause":`, e.Cause)
	b = appendField(b, `,"source":`, e.Source)
	b = appendField(b, `,"user_agent":`, e.UserAgent)
	b = appendField(b, `,"path":`, e.Path)
	if !e.Origin.IsZero() {
		t, err := e.Origin.MarshalText()
		if err != nil {
			return nil, err
		}
		b = append(b, `,"origin":`...)
		b = appendJSONString(b, string(t))
	}
	return append(b, '}'), nil
}

// appendField appends an omitempty string field: key (with its comma and
// colon) and s, unless s is empty.
func appendField(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendJSONString(append(b, key...), s)
}

// appendJSONString appends s quoted as encoding/json quotes a string: HTML
// characters, control characters, U+2028 and U+2029 escaped, invalid UTF-8
// replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
