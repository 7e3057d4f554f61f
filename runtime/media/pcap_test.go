package media

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	interoppeer "switchboard/runtime/interop/peer"
	"switchboard/runtime/media/mediatest"
)

// sippDir holds the RFC 2833 captures sipp (Debian sip-tester) plays with
// play_pcap_audio: one key each, as a real sender emits it.
const sippDir = "/usr/share/sip-tester"

// TestSippDTMFCaptures replays sipp's RFC 2833 captures through a relay,
// as a caller would send them: each yields its key, once, and reaches the
// callee byte for byte.
func TestSippDTMFCaptures(t *testing.T) {
	if _, err := os.Stat(filepath.Join(sippDir, "dtmf_2833_1.pcap")); err != nil {
		interoppeer.Missing(t, "sipp's captures are missing ("+err.Error()+")", "install them with `apt-get install -y sip-tester`")
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
			packets, err := mediatest.ReadPcapUDP(filepath.Join(sippDir, "dtmf_2833_"+name+".pcap"))
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
		if _, err := mediatest.ReadPcapUDP(p); err == nil {
			t.Errorf("%s: read without error", name)
		}
	}
}
