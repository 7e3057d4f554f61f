//go:build !linux

package interop

import (
	"os"
	"testing"
)

// needRawSocket skips the test loudly unless SIPp can play a pcap:
// play_pcap_audio sends its packets through a raw socket, which takes
// root here.
func needRawSocket(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skipf("SKIPPING: SIPp's play_pcap_audio needs a raw socket, which takes root, so this SIPp RTP test did NOT run (uid %d)", os.Getuid())
	}
}
