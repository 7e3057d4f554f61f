//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package mediatest

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// holdEnv makes the test binary a process that takes the block of ports
// it names ("base,n"), says whether it got it, and holds it until its
// standard input closes: another test process, as a make test beside CI.
const holdEnv = "MEDIATEST_HOLD_PORTS"

func TestMain(m *testing.M) {
	if v := os.Getenv(holdEnv); v != "" {
		os.Exit(hold(v))
	}
	os.Exit(m.Run())
}

func hold(v string) int {
	b, n, _ := strings.Cut(v, ",")
	base, err1 := strconv.Atoi(b)
	count, err2 := strconv.Atoi(n)
	if err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "bad", holdEnv, v)
		return 2
	}
	ok, err := take(base, count)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(map[bool]string{true: "held", false: "refused"}[ok])
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes it
	return 0
}

// A block another process was given is not given here while that
// process lives, nor is a block overlapping it; once it exits, it is.
func TestBlocksApartAcrossProcesses(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The other process picks its block as FreeUDPBlock does; one that
	// a third process (tests running beside these) holds is refused,
	// and another is tried.
	var base int
	var child *exec.Cmd
	var stdin interface{ Close() error }
	for try := 0; child == nil; try++ {
		if try == 20 {
			t.Fatal("20 blocks refused to the holding process")
		}
		base = blockMin + 2*rand.IntN((blockMax-blockMin-8)/2)
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d,4", holdEnv, base))
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		said, _ := bufio.NewReader(out).ReadString('\n')
		if said == "held\n" {
			child, stdin = cmd, in
			continue
		}
		in.Close()
		if err := cmd.Wait(); err != nil || said != "refused\n" {
			t.Fatalf("holding process said %q, exited %v", said, err)
		}
	}
	exited := false
	t.Cleanup(func() {
		if !exited {
			stdin.Close()
			child.Wait()
		}
	})

	for _, b := range []struct{ base, n int }{{base, 4}, {base + 2, 4}, {base - 2, 4}, {base + 3, 1}} {
		if ok, err := take(b.base, b.n); ok || err != nil {
			t.Errorf("ports %d-%d, held by another process from %d to %d, given here: %v, %v", b.base, b.base+b.n-1, base, base+3, ok, err)
		}
	}

	stdin.Close()
	done := make(chan error, 1)
	go func() { done <- child.Wait() }()
	select {
	case err := <-done:
		exited = true
		if err != nil {
			t.Fatalf("holding process: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the holding process did not exit within 30s")
	}
	if ok, err := take(base, 4); !ok || err != nil {
		t.Errorf("ports %d-%d, free since their holder exited, not given: %v, %v", base, base+3, ok, err)
	}
}
