package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
			// A fixed site key, so outputs are reproducible; scripts that
			// test the missing-key path unset it.
			env.Setenv("SWITCHBOARD_SITE_KEY", testSiteKey)
			examples, err := filepath.Abs(filepath.Join("..", "..", "examples"))
			if err != nil {
				return err
			}
			env.Setenv("EXAMPLES", examples)
			// The directory holding only the switchboard command, for a
			// script that needs a PATH without other programs on it.
			if exe, err := exec.LookPath("switchboard"); err == nil {
				env.Setenv("SWITCHBOARD_BINDIR", filepath.Dir(exe))
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"emulator":  cmdEmulator,
			"filemode":  cmdFilemode,
			"isjson":    cmdIsJSON,
			"nosecrets": cmdNoSecrets,
			"testbed":   cmdTestbed,
		},
		UpdateScripts:       os.Getenv("UPDATE_GOLDEN") != "",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
	})
}

// testSiteKey is the site key of the scripts: 32 bytes, hex.
const testSiteKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// cmdNoSecrets fails when any password listed in a `credentials -json`
// file appears in the given files or, recursively, directories — except
// in files of mode 0600, which are where device passwords must be:
//
//	nosecrets creds.json stdout stderr out/dialplan.json out/provision
func cmdNoSecrets(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: nosecrets creds.json path...")
	}
	var creds []struct{ Name, Password string }
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &creds))
	if len(creds) == 0 {
		ts.Fatalf("nosecrets: %s lists no credentials", args[0])
	}
	check := func(name, content string) {
		for _, c := range creds {
			if c.Password != "" && strings.Contains(content, c.Password) {
				ts.Fatalf("nosecrets: the password of %s appears in %s", c.Name, name)
			}
		}
	}
	for _, a := range args[1:] {
		if a == "stdout" || a == "stderr" {
			check(a, ts.ReadFile(a))
			continue
		}
		root := ts.MkAbs(a)
		ts.Check(filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if info.Mode().Perm() == 0o600 {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			check(p, string(data))
			return nil
		}))
	}
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
