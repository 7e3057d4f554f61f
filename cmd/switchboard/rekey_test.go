package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/icholy/digest"

	"switchboard/compiler/credentials"
)

// TestRekeyEndToEnd runs the real binary: serve a copy of family-home
// with its key file, register every SIP account with its password, rekey
// with a short grace, reload. During the grace every device fetches its
// file — carrying its new password — with its old one, and registers with
// the new one: none is locked out, while SIP already refuses the old
// passwords. When the grace ends serve destroys the previous key, and the
// old passwords fetch nothing and register nothing; the new ones still
// do. Nothing printed holds a password or a key.
func TestRekeyEndToEnd(t *testing.T) {
	t.Parallel()
	bin := buildSwitchboard(t)
	dir := copyExample(t, "family-home")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, credentials.EnvVar+"=") {
			env = append(env, kv)
		}
	}
	env = append(env, "NO_COLOR=1")
	var printed strings.Builder
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), serveTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("switchboard %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if args[0] != "credentials" {
			printed.Write(out)
		}
		return string(out)
	}
	passwords := func() map[string]string {
		t.Helper()
		var list []struct{ Name, Password string }
		if err := json.Unmarshal([]byte(run("credentials", "-json", dir)), &list); err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, c := range list {
			if strings.HasPrefix(c.Name, "device.") || strings.HasPrefix(c.Name, "app.") {
				m[c.Name] = c.Password
			}
		}
		return m
	}
	run("init", "-key", dir)
	keyFile := filepath.Join(dir, filepath.FromSlash(credentials.KeyFile))
	oldKey, _ := os.ReadFile(keyFile)
	old := passwords()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := startServe(t, exec.CommandContext(ctx, bin, "serve", "-listen", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", "", dir), env)
	ready := s.waitLine("ready line", regexp.MustCompile(`^switchboard serve: ready: site "([^"]+)", sip udp (127\.0\.0\.1:\d+), http (127\.0\.0\.1:\d+)`))
	sipAddr, httpAddr := ready[2], ready[3]
	build := filepath.Join(dir, ".switchboard", "build")
	var plan struct{ Site struct{ Domain string } }
	readJSON(t, filepath.Join(build, "dialplan.json"), &plan)
	var manifest struct {
		Files []struct {
			Path, Device string
			Secret       bool
		}
	}
	readJSON(t, filepath.Join(build, "provision", "manifest.json"), &manifest)
	files := map[string]string{} // account → its device's file holding its password
	for _, f := range manifest.Files {
		if f.Device != "" && f.Secret && files["device."+f.Device] == "" {
			files["device."+f.Device] = f.Path
		}
	}
	if len(files) < 2 {
		t.Fatalf("the build has files for %d devices: %+v", len(files), manifest.Files)
	}

	register := func(account, password string) int {
		t.Helper()
		return registerAt(t, sipAddr, account, password, plan.Site.Domain)
	}
	fetch := func(account, password string) (int, string) {
		t.Helper()
		client := &http.Client{Timeout: serveTimeout, Transport: &digest.Transport{Username: account, Password: password}}
		res, err := client.Get("http://" + httpAddr + "/" + files[account])
		if err != nil {
			t.Fatalf("GET %s as %s: %v", files[account], account, err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	for account, pw := range old {
		if status := register(account, pw); status != 200 {
			t.Fatalf("%s before the rekey: %d", account, status)
		}
	}

	const grace = 6 * time.Second
	run("rekey", "-grace", grace.String(), dir)
	previous := filepath.Join(dir, filepath.FromSlash(credentials.PreviousKeyFile))
	if _, err := os.Stat(previous); err != nil {
		t.Fatalf("rekey kept no previous key: %v", err)
	}
	newKey, _ := os.ReadFile(keyFile)
	if string(newKey) == string(oldKey) {
		t.Fatal("rekey did not change the key file")
	}
	s.signal(syscall.SIGHUP)
	s.waitLine("reload after the rekey", regexp.MustCompile(`msg=reloaded`))
	cur := passwords()

	for account := range files {
		if cur[account] == old[account] {
			t.Fatalf("%s: the rekey did not change its password", account)
		}
		status, body := fetch(account, old[account])
		if status != 200 || !strings.Contains(body, cur[account]) {
			t.Errorf("%s fetching its file with its old password during the grace: %d (carries the new password: %v), want 200 carrying it", account, status, strings.Contains(body, cur[account]))
		}
		if status := register(account, cur[account]); status != 200 {
			t.Errorf("%s with the new password from its file: %d, want 200: locked out", account, status)
		}
		if status := register(account, old[account]); status == 200 {
			t.Errorf("%s registered over SIP with the old key's password", account)
		}
	}

	// serve destroys the previous key when the grace ends, and says so.
	s.waitLine("the end of the grace", regexp.MustCompile(`previous site key's grace ended; destroyed it`))
	if _, err := os.Stat(previous); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("serve said it destroyed the previous key, and it is still there: %v", err)
	}
	for account := range old {
		if status := register(account, old[account]); status == 200 {
			t.Errorf("%s registered with the old key's password after the grace", account)
		}
		if _, ok := files[account]; ok {
			if status, _ := fetch(account, old[account]); status == 200 {
				t.Errorf("%s fetched its file with the old key's password after the grace", account)
			}
			if status, _ := fetch(account, cur[account]); status != 200 {
				t.Errorf("%s fetching with its new password after the grace: %d", account, status)
			}
		}
		if status := register(account, cur[account]); status != 200 {
			t.Errorf("%s with its new password after the grace: %d", account, status)
		}
	}

	out := printed.String() + s.log()
	for account, pw := range old {
		if strings.Contains(out, pw) || strings.Contains(out, cur[account]) {
			t.Errorf("a password of %s was printed", account)
		}
	}
	for _, k := range [][]byte{oldKey, newKey} {
		if strings.Contains(out, strings.TrimSpace(string(k))) {
			t.Error("a site key was printed")
		}
	}
}
