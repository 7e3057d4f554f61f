package interop

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"switchboard/runtime/interop/peer"
)

// needRawSocket skips the test loudly unless SIPp can play a pcap:
// play_pcap_audio sends its packets through a raw socket, which takes
// root or CAP_NET_RAW — the test process's, or file capabilities on the
// sipp binary. Without it SIPp fails the call ("Can't create raw IPv4
// socket (need to run as root?)").
func needRawSocket(t *testing.T) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_UDP)
	if err == nil {
		syscall.Close(fd)
		return
	}
	if bin, lerr := exec.LookPath("sipp"); lerr == nil {
		if _, xerr := syscall.Getxattr(bin, "security.capability", make([]byte, 64)); xerr == nil {
			return // setcap cap_net_raw+ep on sipp
		}
	}
	peer.Missing(t, fmt.Sprintf("SIPp's play_pcap_audio needs a raw socket, which this user (uid %d) may not open (%v)", os.Getuid(), err),
		"run the tests as root, or `setcap cap_net_raw+ep $(command -v sipp)`")
}
