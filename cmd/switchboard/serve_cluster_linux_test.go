package main

import (
	"os/exec"
	"syscall"
)

// dieWithTest has the kernel kill cmd when the test binary dies, however
// it dies: a test binary killed before its cleanup ran (go test's
// -timeout panics without running cleanups) would leave a serve behind,
// and a drill's nodes wait for their peers for ever.
func dieWithTest(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
