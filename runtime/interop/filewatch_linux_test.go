package interop

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// watchDir returns a channel that receives after a file in dir was
// created or written to (several such changes may come as one), until
// the test ends. It is how a test waits on what a peer writes — a
// recording that grows, a message being recorded — without polling.
func watchDir(t *testing.T, dir string) <-chan struct{} {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatalf("inotify: %v", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_MODIFY|unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO); err != nil {
		unix.Close(fd)
		t.Fatalf("inotify on %s: %v", dir, err)
	}
	// A non-blocking descriptor goes to Go's poller, so Close ends the
	// reader's Read.
	f := os.NewFile(uintptr(fd), "inotify "+dir)
	changed := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
		for {
			if _, err := f.Read(buf); err != nil {
				return
			}
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { f.Close(); <-done })
	return changed
}
