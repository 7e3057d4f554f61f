package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/lang"
	"switchboard/runtime/auth"
	"switchboard/runtime/clock"
	"switchboard/runtime/events"
)

// trunkSiteFiles is a small site whose trunk takes its credentials from
// two variables without defaults; @PORT@ is the carrier's port.
const trunkSiteFiles = `
variable "trunk_user" {
  type = string
}
variable "trunk_password" {
  type      = string
  sensitive = true
}
site "trunked" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "trunked.example"
  installer {
    company = "Doors Ltd"
    email   = "i@doors.example"
  }
}
residence "home" {
  label = "1"
}
user "mary" {
  email     = "mary@x.example"
  residence = residence.home
  role      = "owner"
  extension = 101
  app       = true
}
device "desk-mary" {
  model = "yealink-t54w"
  mac   = "80:5E:C0:00:00:01"
  user  = user.mary
}
trunk "carrier" {
  host     = "127.0.0.2"
  port     = "@PORT@"
  username = var.trunk_user
  password = var.trunk_password
  numbers  = ["+35315550100"]
}
`

func TestTrunkSecretsFromInputs(t *testing.T) {
	p := &ir.Program{Trunks: []ir.Trunk{{Name: "carrier", Username: "var.user", Password: "var.pass"}}}
	dir := t.TempDir()
	file := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	vars1 := file("a.vars", "user = \"from-file-a\"\npass = \"file-pass\"\nother = 3\n")
	vars2 := file("b.vars", "user = \"from-file-b\"\n")
	// A number would do (it converts to a string, as in Load); a list
	// does not.
	bad := file("bad.vars", "pass = [42]\n")
	env := []string{"SWITCHBOARD_VAR_user=from-env", "SWITCHBOARD_VAR_pass=env-pass", "SWITCHBOARD_VAR_unrelated=x", "PATH=/bin"}
	tests := []struct {
		name    string
		o       siteOptions
		environ []string
		want    trunkSecrets
		err     string
	}{
		{"nothing given", siteOptions{}, nil, trunkSecrets{}, ""},
		{"the environment", siteOptions{}, env, trunkSecrets{"var.user": "from-env", "var.pass": "env-pass"}, ""},
		{"files over the environment, later files over earlier", siteOptions{varFiles: listFlag{vars1, vars2}}, env,
			trunkSecrets{"var.user": "from-file-b", "var.pass": "file-pass"}, ""},
		{"-var over everything", siteOptions{vars: varsFlag{"user": "from-flag"}, varFiles: listFlag{vars1}}, env,
			trunkSecrets{"var.user": "from-flag", "var.pass": "file-pass"}, ""},
		{"a value that is not a string, not shown", siteOptions{varFiles: listFlag{bad}}, nil, nil, `Invalid value for variable; The value for variable "pass" is not string`},
		{"a missing file", siteOptions{varFiles: listFlag{filepath.Join(dir, "none")}}, nil, nil, "reading variables"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := trunkSecretsFromInputs(p, tt.o, tt.environ)
			if tt.err != "" {
				// The value must not be shown; the temporary directory's
				// random name may hold the digits too.
				if err == nil || !strings.Contains(err.Error(), tt.err) || strings.Contains(strings.ReplaceAll(err.Error(), dir, ""), "42") {
					t.Errorf("err = %v, want %q (without the value)", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestTrunkSecretsOf(t *testing.T) {
	src := strings.ReplaceAll(trunkSiteFiles, "@PORT@", "5060")
	cfg, diags := lang.LoadSources(t.TempDir(), map[string][]byte{"site.pbx.hcl": []byte(src)}, lang.Options{
		Vars: map[string]string{"trunk_user": "pbx-7"}, Environ: []string{"SWITCHBOARD_VAR_trunk_password=from-env"},
	})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := trunkSecrets{"var.trunk_user": "pbx-7", "var.trunk_password": "from-env"}
	got := trunkSecretsOf(cfg)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if s := fmt.Sprint(got); strings.Contains(s, "from-env") {
		t.Errorf("formatting shows a value: %s", s)
	}
}

type onePassword struct{ user, pass string }

func (o onePassword) SIPPassword(u string) (string, bool) { return o.pass, u == o.user }

// TestServeRegistersTrunk runs the real binary against a carrier's
// registrar (sipgo, challenging with digest) at 127.0.0.2: the trunk's
// user comes from -var and its password from SWITCHBOARD_VAR_, serve
// registers with them, the event file says so, SIGTERM withdraws the
// registration before serve exits, and the password is nowhere in the
// output.
func TestServeRegistersTrunk(t *testing.T) {
	t.Parallel()
	const user, password = "pbx-7", "carrier-secret-3"
	conn, err := net.ListenPacket("udp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("SKIPPING: cannot listen on 127.0.0.2 for the carrier: %v", err)
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-carrier"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	registrar := auth.New("carrier.example", onePassword{user, password}, clock.Real)
	got := make(chan *sip.Request, 16)
	srv.OnRegister(func(req *sip.Request, tx sip.ServerTransaction) {
		if _, res := registrar.Check(req, "", false); res != nil {
			_ = tx.Respond(res)
			return
		}
		got <- req.Clone()
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	go srv.ServeUDP(conn)
	t.Cleanup(func() { ua.Close(); conn.Close() })
	next := func(what string) *sip.Request {
		t.Helper()
		select {
		case r := <-got:
			return r
		case <-time.After(serveTimeout):
			t.Fatalf("no %s at the carrier within %s", what, serveTimeout)
			return nil
		}
	}

	bin := buildSwitchboard(t)
	dir := t.TempDir()
	port := conn.LocalAddr().(*net.UDPAddr).Port
	if err := os.WriteFile(filepath.Join(dir, "site.pbx.hcl"), []byte(strings.ReplaceAll(trunkSiteFiles, "@PORT@", fmt.Sprint(port))), 0o644); err != nil {
		t.Fatal(err)
	}
	eventsFile := filepath.Join(t.TempDir(), "events.jsonl")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := startServe(t, exec.CommandContext(ctx, bin, "serve", "-listen", "127.0.0.1:0", "-http", "", "-admin", "", "-events", eventsFile, "-var", "trunk_user="+user, dir),
		append(os.Environ(), "SWITCHBOARD_SITE_KEY="+testSiteKey, "NO_COLOR=1", "SWITCHBOARD_VAR_trunk_password="+password))
	ready := s.waitLine("ready line", regexp.MustCompile(`^switchboard serve: ready: site "trunked", sip udp (127\.0\.0\.1:\d+), media 127\.0\.0\.1$`))

	reg := next("authenticated REGISTER")
	if reg.Source() != ready[1] || reg.GetHeader("Expires").Value() != "3600" || reg.To().Address.User != user {
		t.Errorf("REGISTER from %s, Expires %s, To %s; want from %s, 3600, %s", reg.Source(), reg.GetHeader("Expires").Value(), reg.To().Address.User, ready[1], user)
	}
	s.waitLine("registered log line", regexp.MustCompile(`msg="trunk registered" trunk=carrier`))

	s.signal(syscall.SIGTERM)
	if un := next("un-REGISTER"); un.GetHeader("Expires").Value() != "0" {
		t.Errorf("un-REGISTER Expires %s, want 0", un.GetHeader("Expires").Value())
	}
	s.waitExit()
	data, err := os.ReadFile(eventsFile)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[events.Kind]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e events.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("event line %q: %v", line, err)
		}
		kinds[e.Kind]++
		if strings.HasPrefix(string(e.Kind), "trunk_") && (e.Account != "trunk.carrier" || e.Origin.File != "site.pbx.hcl") {
			t.Errorf("%s event without the trunk's account and origin: %+v", e.Kind, e)
		}
	}
	if kinds[events.TrunkRegistered] != 1 || kinds[events.TrunkUnregistered] != 1 {
		t.Errorf("events %v: want one trunk_registered and one trunk_unregistered", kinds)
	}
	for what, text := range map[string]string{"the event file": string(data), "serve's stderr": s.log()} {
		if strings.Contains(text, password) {
			t.Errorf("%s shows the trunk password", what)
		}
	}
}
