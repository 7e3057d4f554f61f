package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeLogJSON runs the real binary with -log-format json and checks
// that every line on its standard error is one JSON object with a level
// and a message, no key twice: the site's diagnostics (a warning the test
// adds), the admin token line, the ready line, sipgo's own lines
// (provoked with an unparsable datagram and a stray response), a failed
// authentication, and the shutdown.
func TestServeLogJSON(t *testing.T) {
	t.Parallel()
	bin := buildSwitchboard(t)
	dir := copyExample(t, "family-home")
	// A person nothing can ring: a warning, printed as a record.
	if err := os.WriteFile(dir+"/ghost.pbx.hcl", []byte("user \"ghost\" {\n  email = \"ghost@example.com\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "SWITCHBOARD_SITE_KEY="+testSiteKey, "NO_COLOR=1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := startServe(t, exec.CommandContext(ctx, bin, "serve", "-log-format", "json",
		"-listen", "127.0.0.1:0", "-http", "", "-admin", "127.0.0.1:0", dir), env)
	ready := s.waitLine("ready record", regexp.MustCompile(`"msg":"ready".*"listeners":\["sip udp (127\.0\.0\.1:\d+)"`))

	conn, err := net.Dial("udp", ready[1])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	send := func(msg string) {
		if _, err := conn.Write([]byte(strings.ReplaceAll(msg, "\n", "\r\n"))); err != nil {
			t.Fatal(err)
		}
	}
	local := conn.LocalAddr().String()
	send("GARBAGE\n\n")
	s.waitLine("sipgo's parse error", regexp.MustCompile(`"msg":"failed to parse"`))
	send(fmt.Sprintf("SIP/2.0 200 OK\nVia: SIP/2.0/UDP %s;branch=z9hG4bKstray\nFrom: <sip:a@b>;tag=1\nTo: <sip:a@b>\nCall-ID: stray\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n", local))
	s.waitLine("sipgo's unhandled response", regexp.MustCompile(`"msg":"TransactionLayer: Unhandled sip response`))
	send(fmt.Sprintf("REGISTER sip:whitfield-home.example.net SIP/2.0\nVia: SIP/2.0/UDP %s;branch=z9hG4bKreg;rport\nFrom: <sip:app.nobody@whitfield-home.example.net>;tag=1\nTo: <sip:app.nobody@whitfield-home.example.net>\nCall-ID: reg\nCSeq: 1 REGISTER\nContact: <sip:app.nobody@%s>\nAuthorization: Digest username=\"app.nobody\", realm=\"elsewhere.example\", nonce=\"n\", uri=\"sip:whitfield-home.example.net\", response=\"0123456789abcdef0123456789abcdef\"\nContent-Length: 0\n\n", local, local))
	s.waitLine("failed authentication", regexp.MustCompile(`"msg":"authentication failed: wrong realm"`))

	s.stop()
	out := s.log()
	if !strings.Contains(out, `"msg":"User with no endpoint"`) || !strings.Contains(out, `admin token in `) {
		t.Errorf("no diagnostic or admin token record in\n%s", out)
	}
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		keys, err := objectKeys(line)
		if err != nil {
			t.Errorf("line %d is not a JSON object (%v): %s", i+1, err, line)
			continue
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if seen[k] {
				t.Errorf("line %d has key %q twice: %s", i+1, k, line)
			}
			seen[k] = true
		}
		if !seen["level"] || !seen["msg"] || !seen["time"] {
			t.Errorf("line %d lacks time, level or msg: %s", i+1, line)
		}
	}
}

// objectKeys returns the top-level keys of the JSON object line, in
// order, duplicates included (encoding/json keeps only the last).
func objectKeys(line string) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(line)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not an object")
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("more after the object")
	}
	return keys, nil
}
