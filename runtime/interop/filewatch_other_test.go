//go:build !linux

package interop

import (
	"testing"
	"time"
)

// watchDir, where there is no inotify, ticks every 20 ms (a phone's frame)
// until the test ends: waiters then look again. Nothing is waited for
// blindly — each tick only prompts a re-check of the condition — but it
// is a poll; the Linux version waits on the kernel's file events.
func watchDir(t *testing.T, dir string) <-chan struct{} {
	tk := time.NewTicker(20 * time.Millisecond)
	stop := make(chan struct{})
	t.Cleanup(func() { tk.Stop(); close(stop) })
	c := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-tk.C:
			case <-stop:
				return
			}
			select {
			case c <- struct{}{}:
			default:
			}
		}
	}()
	return c
}
