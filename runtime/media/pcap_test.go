package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sippDir holds the RFC 2833 captures sipp (Debian sip-tester) plays with
// play_pcap_audio: one key each, as a real sender emits it.
const sippDir = "/usr/share/sip-tester"

// readPcapUDP returns the UDP payloads of a classic pcap file (not
// pcapng) of Ethernet frames carrying IPv4: all these captures need.
func readPcapUDP(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < 24 {
		return nil, errors.New("short pcap header")
	}
	var order binary.ByteOrder
	switch binary.LittleEndian.Uint32(data) {
	case 0xa1b2c3d4, 0xa1b23c4d: // µs, ns timestamps
		order = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		order = binary.BigEndian
	default:
		return nil, errors.New("not a classic pcap file")
	}
	if link := order.Uint32(data[20:]); link != 1 {
		return nil, fmt.Errorf("link type %d, want Ethernet (1)", link)
	}
	var out [][]byte
	for off := 24; off < len(data); {
		if off+16 > len(data) {
			return nil, errors.New("truncated record header")
		}
		incl := int(order.Uint32(data[off+8:]))
		off += 16
		if incl > len(data)-off {
			return nil, errors.New("truncated record")
		}
		frame := data[off : off+incl]
		off += incl
		if len(frame) < 14+20 || binary.BigEndian.Uint16(frame[12:]) != 0x0800 {
			continue // not IPv4
		}
		ip := frame[14:]
		ihl := int(ip[0]&0x0f) * 4
		if ip[0]>>4 != 4 || ip[9] != 17 || ihl < 20 || len(ip) < ihl+8 {
			continue // not UDP
		}
		udp := ip[ihl:]
		n := int(binary.BigEndian.Uint16(udp[4:]))
		if n < 8 || n > len(udp) {
			return nil, errors.New("bad UDP length")
		}
		out = append(out, udp[8:n])
	}
	return out, nil
}

// TestSippDTMFCaptures replays sipp's RFC 2833 captures through a relay,
// as a caller would send them: each yields its key, once, and reaches the
// callee byte for byte.
func TestSippDTMFCaptures(t *testing.T) {
	if _, err := os.Stat(filepath.Join(sippDir, "dtmf_2833_1.pcap")); err != nil {
		t.Skipf("SKIPPED, sipp's captures are missing (install Debian sip-tester): %v", err)
	}
	type capture struct {
		name string
		key  rune
	}
	var captures []capture
	for d := '0'; d <= '9'; d++ {
		captures = append(captures, capture{string(d), d})
	}
	captures = append(captures, capture{"star", '*'}, capture{"pound", '#'})
	for _, cp := range captures {
		name, key := cp.name, cp.key
		t.Run(name, func(t *testing.T) {
			packets, err := readPcapUDP(filepath.Join(sippDir, "dtmf_2833_"+name+".pcap"))
			if err != nil {
				t.Fatal(err)
			}
			if len(packets) != 10 {
				t.Fatalf("%d packets in the capture, want 10", len(packets))
			}
			var (
				mu  sync.Mutex
				got []rune
			)
			c := newCall(t, Config{OnDigit: func(s Side, d rune, _ time.Time) {
				mu.Lock()
				defer mu.Unlock()
				if s != Caller {
					t.Errorf("digit %q from the %v", d, s)
				}
				got = append(got, d)
			}})
			for _, p := range packets {
				c.caller.send(c.toCaller[0].rtp, p)
				c.callee.expect(p)
			}
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff([]rune{key}, got); diff != "" {
				t.Errorf("digits (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadPcapRejects(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"short":  {1, 2, 3},
		"pcapng": append([]byte{0x0a, 0x0d, 0x0d, 0x0a}, make([]byte, 28)...),
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := readPcapUDP(p); err == nil {
			t.Errorf("%s: read without error", name)
		}
	}
}
