package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary act as the switchboard command, so that the
// scripts run the real CLI in a separate process ("exec switchboard ...").
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"switchboard": func() { os.Exit(Main()) },
	})
}

// TestScripts runs testdata/script/<command>_<behaviour>.txtar at the
// repository root. UPDATE_GOLDEN=1 rewrites the expected output in the
// scripts (cmp against a file of the archive); review the diff.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("..", "..", "testdata", "script"),
		Setup: func(env *testscript.Env) error {
			env.Setenv("TZ", "UTC")
			env.Setenv("NO_COLOR", "1")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"filemode": cmdFilemode,
		},
		UpdateScripts:       os.Getenv("UPDATE_GOLDEN") != "",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
	})
}

// cmdFilemode checks a file's permission bits: filemode 0600 path.
func cmdFilemode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: filemode 0600 path")
	}
	want, err := strconv.ParseUint(args[0], 8, 32)
	if err != nil {
		ts.Fatalf("filemode: bad mode %q: %v", args[0], err)
	}
	info, err := os.Stat(ts.MkAbs(args[1]))
	ts.Check(err)
	got := info.Mode().Perm()
	match := got == os.FileMode(want)
	switch {
	case match && neg:
		ts.Fatalf("%s has mode %#o", args[1], got)
	case !match && !neg:
		ts.Fatalf("%s has mode %s", args[1], fmt.Sprintf("%#o, want %#o", got, want))
	}
}
