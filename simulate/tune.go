package simulate

import (
	"runtime/debug"

	"switchboard/runtime/sipstack"
)

// TuneProcess adjusts process-wide settings for a process whose whole job
// is a simulation run (switchboard test, the benchmarks); a library must
// not call it on a server's behalf. sipgo's settings are package
// sipstack's (TuneSimulation); a simulation also allocates briskly and
// briefly, which a lazier collector suits.
func TuneProcess(transport string) {
	sipstack.TuneSimulation(transport == TransportMemory)
	debug.SetGCPercent(400)
}
