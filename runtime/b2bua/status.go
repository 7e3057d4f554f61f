package b2bua

import (
	"slices"
	"strings"

	"switchboard/compiler/ir"
	"switchboard/runtime/sipstack"
)

// Status is what the server is doing now, for an operator's health check
// (serve's GET /admin/status). It holds no secret.
type Status struct {
	Site string `json:"site"`
	// Listeners are the addresses sipgo reads from, by transport.
	Listeners map[string]string `json:"listeners"`
	// UDPReceiveBuffer is the SIP UDP socket's receive buffer in bytes:
	// what the kernel (net.core.rmem_max on Linux) granted of
	// sipstack.ReceiveBuffer.
	UDPReceiveBuffer int `json:"udp_receive_buffer,omitempty"`
	// Registered is how many of the site's accounts (not trunks) have a
	// live binding, of Accounts.
	Registered int `json:"registered"`
	Accounts   int `json:"accounts"`
	// Calls is how many calls are in progress.
	Calls int `json:"calls"`
	// CallsRefused is how many new calls were refused with 503 since the
	// server started because too many were being set up (Config.CallSetups).
	CallsRefused int64 `json:"calls_refused,omitempty"`
	// LineEndRefused is how many SIP messages the process refused since
	// it started because their header had a CR or LF outside a CRLF
	// (dropped, or their connection closed): for the whole process, every
	// site of a many-sites server together (sipstack.LineEndsRefused).
	LineEndRefused uint64 `json:"line_end_refused,omitempty"`
	// Trunks are the trunks with credentials and whether the carrier
	// holds our registration; an IP-authenticated trunk is not listed.
	Trunks []TrunkStatus `json:"trunks,omitempty"`
}

// TrunkStatus is one trunk's registration at its carrier.
type TrunkStatus struct {
	Name       string `json:"name"`
	Registered bool   `json:"registered"`
}

// Status reports what the server is doing now. It walks every account of
// the program: cheap for an operator's probe, not for a hot path.
func (s *Server) Status() Status {
	st := s.st()
	out := Status{Site: st.program.Site.Name, Listeners: map[string]string{}, UDPReceiveBuffer: int(s.rcvBuf.Load()), CallsRefused: s.admission.Refused(), LineEndRefused: sipstack.LineEndsRefused()}
	s.listenMu.Lock()
	for t, a := range s.listeners {
		out.Listeners[t] = a.String()
	}
	s.listenMu.Unlock()
	for _, a := range st.program.Accounts {
		if a.Kind == ir.AccountTrunk {
			continue
		}
		out.Accounts++
		if len(st.reg.Contacts(a.Name)) > 0 {
			out.Registered++
		}
	}
	s.calls.Range(func(_, v any) bool {
		if v.(*callSide).br == nil { // the caller's side: one per call
			out.Calls++
		}
		return true
	})
	for name, registered := range s.trunks.Registered() {
		out.Trunks = append(out.Trunks, TrunkStatus{Name: name, Registered: registered})
	}
	slices.SortFunc(out.Trunks, func(a, b TrunkStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}
