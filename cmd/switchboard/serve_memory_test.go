package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// serve -keep-in-memory opens no store: nothing under -data/jetstream,
// and so no lock on -data either (a second serve on it is not refused).
func TestServeKeepInMemory(t *testing.T) {
	t.Parallel()
	bin := buildSwitchboard(t)
	dir := copyExample(t, "family-home")
	data := t.TempDir()
	env := append(os.Environ(), "SWITCHBOARD_SITE_KEY="+testSiteKey, "NO_COLOR=1")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ready := regexp.MustCompile(`^switchboard serve: ready: site "[^"]+", sip udp 127\.0\.0\.1:\d+`)
	var servers []*served
	for range 2 {
		s := startServe(t, exec.CommandContext(ctx, bin, "serve", "-keep-in-memory", "-listen", "127.0.0.1:0", "-http", "", "-admin", "", "-data", data, dir), env)
		s.waitLine("ready line", ready)
		servers = append(servers, s)
	}
	for _, s := range servers {
		s.stop()
	}
	if _, err := os.Stat(filepath.Join(data, "jetstream")); !os.IsNotExist(err) {
		t.Errorf("-keep-in-memory: %s/jetstream: %v, want it absent", data, err)
	}
}
