//go:build !linux

package main

import "os/exec"

// dieWithTest: only Linux kills a child with its parent (Pdeathsig);
// elsewhere the test's cleanup does.
func dieWithTest(*exec.Cmd) {}
