//go:build !unix

package simulate_test

import "time"

func processCPU() time.Duration { return 0 }
