package sipstack

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"
)

// timers are the sipgo settings the tunings write.
type timers struct {
	A, G, D, I, J, K, L, M time.Duration
}

func currentTimers() timers {
	return timers{A: sip.Timer_A, G: sip.Timer_G, D: sip.Timer_D, I: sip.Timer_I, J: sip.Timer_J, K: sip.Timer_K, L: sip.Timer_L, M: sip.Timer_M}
}

func restoreTimers(t timers) {
	sip.Timer_A, sip.Timer_G, sip.Timer_D, sip.Timer_I = t.A, t.G, t.D, t.I
	sip.Timer_J, sip.Timer_K, sip.Timer_L, sip.Timer_M = t.J, t.K, t.L, t.M
}

// The in-memory simulation retransmits nothing before a transaction gives
// up and soon forgets finished ones; a simulation over UDP, or a server,
// tuned after it in the same process (the CLI's tests run both) is back to
// retransmitting at T1 and keeping what a served site keeps.
func TestTuneRetransmissions(t *testing.T) {
	saved := currentTimers()
	t.Cleanup(func() { restoreTimers(saved) })
	lossy := timers{A: sip.T1, G: sip.T1, D: transactionRetention, I: sip.T4, J: transactionRetention, K: sip.T4, L: transactionRetention, M: transactionRetention}
	lossless := timers{A: sip.Timer_B, G: sip.Timer_H, D: losslessRetention, I: losslessRetention, J: losslessRetention, K: losslessRetention, L: losslessRetention, M: losslessRetention}
	for _, step := range []struct {
		name string
		tune func()
		want timers
	}{
		{"in memory", func() { TuneSimulation(true) }, lossless},
		{"then over UDP", func() { TuneSimulation(false) }, lossy},
		{"in memory again", func() { TuneSimulation(true) }, lossless},
		{"then serving", func() { TuneServe(nil) }, lossy},
	} {
		step.tune()
		if diff := cmp.Diff(step.want, currentTimers()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", step.name, diff)
		}
	}
}
