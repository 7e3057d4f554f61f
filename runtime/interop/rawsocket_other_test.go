//go:build !linux

package interop

import (
	"fmt"
	"os"
	"testing"

	"switchboard/runtime/interop/peer"
)

// needRawSocket skips the test loudly unless SIPp can play a pcap:
// play_pcap_audio sends its packets through a raw socket, which takes
// root here.
func needRawSocket(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		peer.Missing(t, fmt.Sprintf("SIPp's play_pcap_audio needs a raw socket, which takes root (uid %d)", os.Getuid()), "run the tests as root")
	}
}
