package switchboard_test

// This file states the import direction of DESIGN.md as policy, in the manner
// of go/build/deps_test.go: every package of the module must match a rule,
// and may import only the packages of ours that its rule allows
// (importPolicy) and only the third-party packages its layer needs
// (thirdPartyPolicy). A wrong import fails `go test ./...`; so does a
// package `go list` cannot read, and so does the go command missing: the
// test never skips.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "switchboard"

// importRule says what the packages under Prefix may import from this module.
// The first rule whose Prefix matches a package applies, so more specific
// prefixes come first. Standard-library imports are not restricted;
// third-party ones are thirdPartyPolicy's.
type importRule struct {
	Prefix string // a package path relative to the module; "" is the module root
	// Allow are prefixes (relative to the module) it may import; "x/..."
	// allows the packages below x but not x itself.
	Allow []string
	Deny  []string // prefixes within Allow it may not import all the same
	Why   string   // printed when the rule is broken
}

var importPolicy = []importRule{
	{Prefix: "atomicfile", Allow: nil,
		Why: "atomicfile is a leaf every layer may use for durable writes; it imports only the standard library"},
	{Prefix: "tlstest", Allow: nil,
		Why: "tlstest makes the loopback certificate for tests of every layer; it imports only the standard library, and only tests import it"},
	{Prefix: "email", Allow: nil,
		Why: "email composes and sends mail for compile time and run time alike; it imports nothing of ours"},
	{Prefix: "report", Allow: nil,
		Why: "report renders case results from the simulator and the live site alike; it takes plain cases and imports nothing of ours"},
	{Prefix: "lang", Allow: []string{"lang", "atomicfile"},
		Why: "lang knows HCL and imports nothing else of ours"},
	{Prefix: "compiler/ir", Allow: []string{"compiler/ir", "atomicfile"},
		Why: "the IR is the leaf contract between compile time and run time"},
	{Prefix: "compiler/plan", Allow: []string{"compiler/...", "atomicfile", "email"},
		Why: "plan diffs the IR against the state: it reads only what the compiler produced, never the site files"},
	{Prefix: "compiler/handover", Allow: []string{"compiler/...", "atomicfile", "email"},
		Why: "the handover sheet is made from the IR and the applied state, like the plan: never from the site files"},
	{Prefix: "compiler/apply", Allow: []string{"compiler/...", "atomicfile", "email"},
		Why: "apply carries out a plan from the IR: it reads only what the compiler produced, never the site files"},
	{Prefix: "compiler", Allow: []string{"lang", "compiler", "atomicfile", "email"},
		Why: "compiler imports lang and its own sub-packages"},
	{Prefix: "runtime/site", Allow: []string{"compiler/ir", "runtime", "atomicfile", "email"},
		Why: "the assembly puts the parts of the runtime together, from the IR alone"},
	{Prefix: "runtime/sites", Allow: []string{"compiler/ir", "runtime/listener", "runtime/site", "runtime/sipstack", "runtime/udp"},
		Why: "many sites behind one set of listeners: it routes to runtime/site's sites and knows nothing of their parts"},
	{Prefix: "runtime/b2bua", Allow: []string{"compiler/ir", "runtime/audio", "runtime/carrier", "runtime/clock", "runtime/events",
		"runtime/line", "runtime/media", "runtime/notify", "runtime/presence", "runtime/routing", "runtime/sipdns", "runtime/sipstack", "runtime/udp"},
		Why: "the call core uses its parts through small contracts; registrar, authentication, services and provisioning are plugged in by runtime/site"},
	{Prefix: "runtime/carrier", Allow: []string{"compiler/ir", "runtime/clock", "runtime/events", "runtime/sipdns"},
		Why: "carrier registration reaches the server only through carrier.Stack"},
	{Prefix: "runtime/notify", Allow: []string{"compiler/ir", "runtime/clock", "runtime/events"},
		Why: "notifications reach the server only through notify.Stack"},
	{Prefix: "runtime/presence", Allow: []string{"compiler/ir", "runtime/clock", "runtime/events"},
		Why: "presence watches the call events and reaches the server only through presence.Stack"},
	{Prefix: "runtime/sipstack", Allow: nil,
		Why: "the sipgo adaptation layer knows sipgo and nothing of ours"},
	{Prefix: "runtime/sipdns/sipdnstest", Allow: nil,
		Why: "the loopback DNS server for tests knows DNS and nothing of ours"},
	{Prefix: "runtime/sipdns", Allow: []string{"runtime/clock"},
		Why: "locating carriers by DNS (RFC 3263) knows DNS and the clock, never SIP; the call core and carrier registration use it through sipdns.Locator, and it imports neither"},
	{Prefix: "runtime/certs", Allow: nil,
		Why: "serve's TLS certificates (renewal, SNI) are files and crypto/tls; every TLS listener takes them through tls.Config and imports nothing of this package"},
	{Prefix: "runtime", Allow: []string{"compiler/ir", "runtime", "atomicfile", "email"}, Deny: []string{"runtime/site"},
		Why: "runtime reads only the IR, never HCL nor the rest of compiler; only the command and the simulator start sites"},
	{Prefix: "simulate", Allow: []string{"runtime", "compiler", "simulate", "atomicfile", "email"},
		Why: "simulate drives runtime with what compiler produced"},
	{Prefix: "cmd", Allow: []string{"lang", "compiler", "runtime", "simulate", "report", "atomicfile", "email"},
		Why: "the CLI may import every library package, but not another command"},
	{Prefix: "bench", Allow: nil,
		Why: "benchmark and soak tools drive the server from outside, over its sockets; they import nothing of ours"},
	{Prefix: "", Allow: nil,
		Why: "the module root holds only repository-wide tests"},
}

// within reports whether path (relative to the module) is prefix or below it.
func within(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// ruleFor returns the rule that governs pkg (relative to the module).
func ruleFor(pkg string) (importRule, bool) {
	for _, r := range importPolicy {
		if r.Prefix == "" {
			if pkg == "" {
				return r, true
			}
			continue
		}
		if within(pkg, r.Prefix) {
			return r, true
		}
	}
	return importRule{}, false
}

// checkImport returns a non-empty explanation when pkg may not import imp;
// both are relative to the module.
func checkImport(pkg, imp string) string {
	r, ok := ruleFor(pkg)
	if !ok {
		return fmt.Sprintf("package %q is not covered by the import policy; add a rule for it to importPolicy in deps_test.go", modulePath(pkg))
	}
	if within(imp, "cmd") {
		return fmt.Sprintf("%s imports %s: nothing imports cmd", modulePath(pkg), modulePath(imp))
	}
	for _, d := range r.Deny {
		if within(imp, d) {
			return fmt.Sprintf("%s imports %s, which is not allowed: %s", modulePath(pkg), modulePath(imp), r.Why)
		}
	}
	for _, a := range r.Allow {
		if below, ok := strings.CutSuffix(a, "/..."); ok {
			if strings.HasPrefix(imp, below+"/") {
				return ""
			}
			continue
		}
		if within(imp, a) {
			return ""
		}
	}
	allowed := "nothing of ours"
	if len(r.Allow) > 0 {
		allowed = strings.Join(r.Allow, ", ")
	}
	return fmt.Sprintf("%s imports %s, which is not allowed: %s (allowed: %s)", modulePath(pkg), modulePath(imp), r.Why, allowed)
}

func modulePath(rel string) string {
	if rel == "" {
		return module
	}
	return module + "/" + rel
}

// relative turns an import path into one relative to the module, and reports
// whether it belongs to the module at all.
func relative(path string) (string, bool) {
	if path == module {
		return "", true
	}
	if rest, ok := strings.CutPrefix(path, module+"/"); ok {
		return rest, true
	}
	return "", false
}

// thirdPartyRule says which third-party packages the packages under Prefix
// may import (first matching rule, as importRule). An Allow entry is an
// import path, or a path ending in "/..." for it and every package below.
type thirdPartyRule struct {
	Prefix string
	Allow  []string
	Why    string
}

// thirdPartyPolicy keeps each library in its layer: HCL and cty are the
// language's (and the CLI's, which renders their diagnostics), never the
// runtime's; the SIP stack is the runtime's SIP packages' and the simulated
// devices', and sipgo's machinery (UA, server, client) only the adaptation
// layer's and the call core's; RTP and SDP are media's. A new dependency
// goes in the rule of the layer that needs it, with the reason.
var thirdPartyPolicy = []thirdPartyRule{
	{Prefix: "atomicfile", Allow: nil, Why: "a durable write needs only the standard library"},
	{Prefix: "tlstest", Allow: nil, Why: "a test certificate needs only the standard library"},
	{Prefix: "report", Allow: nil, Why: "the report page is html/template and inline SVG: the standard library"},
	{Prefix: "email", Allow: []string{"github.com/emersion/go-smtp", "github.com/emersion/go-sasl"},
		Why: "the one mail composer and SMTP client, for compile time and run time alike"},
	{Prefix: "lang", Allow: []string{hcl, cty, levenshtein},
		Why: "lang is the HCL front end: hcl, cty and did-you-mean suggestions; it never speaks SIP"},
	{Prefix: "compiler/ir/irtest", Allow: []string{"github.com/google/go-cmp/...", "github.com/rogpeppe/go-internal/..."},
		Why: "the IR's test helpers compare and read txtar goldens"},
	{Prefix: "compiler/ir", Allow: []string{"github.com/hashicorp/hcl/v2"},
		Why: "the IR is plain data: it may name hcl.Range for origins, nothing more"},
	{Prefix: "compiler", Allow: []string{hcl, cty, levenshtein, digestPkg, "github.com/rogpeppe/go-internal/..."},
		Why: "compile time needs HCL diagnostics and values, suggestions, HTTP digest towards devices (apply) and file locking; never a SIP stack or media"},
	{Prefix: "runtime/sipstack", Allow: []string{sipgo, sipgoSIP},
		Why: "the sipgo adaptation layer"},
	{Prefix: "runtime/b2bua", Allow: []string{sipgo, sipgoSIP},
		Why: "the call core runs sipgo's server and client, set up by runtime/sipstack"},
	{Prefix: "runtime/carrier", Allow: []string{sipgoSIP, digestPkg},
		Why: "carrier registration builds SIP messages and answers digest challenges; the stack is the call core's"},
	{Prefix: "runtime/auth", Allow: []string{sipgoSIP, digestPkg},
		Why: "digest authentication of SIP requests"},
	{Prefix: "runtime/provisioning", Allow: []string{digestPkg},
		Why: "HTTP digest authentication of provisioning fetches"},
	{Prefix: "runtime/sipdns", Allow: []string{dnsmessage, "golang.org/x/sync/singleflight"},
		Why: "Go's resolver hides TTLs: sipdns reads them from the DNS responses (and its test server writes them) with x/net's DNS message package; concurrent lookups of one name share one query (x/sync's singleflight)"},
	{Prefix: "runtime/registrar", Allow: []string{sipgoSIP}, Why: "the registrar reads and answers SIP messages"},
	{Prefix: "runtime/notify", Allow: []string{sipgoSIP}, Why: "notifications are SIP messages"},
	{Prefix: "runtime/presence", Allow: []string{sipgoSIP}, Why: "dialog-event subscriptions and NOTIFYs are SIP messages"},
	{Prefix: "runtime/site", Allow: []string{sipgoSIP}, Why: "the assembly adapts the registrar and authenticator to the call core's contracts"},
	{Prefix: "runtime/media", Allow: []string{"github.com/pion/rtp", "github.com/pion/sdp/v3"}, Why: "RTP and SDP are media's"},
	{Prefix: "runtime/store", Allow: []string{"github.com/nats-io/nats-server/v2/server", "github.com/nats-io/nats.go", "github.com/nats-io/nats.go/jetstream"},
		Why: "the store runs NATS JetStream embedded (DESIGN, scale-out); the rest of the runtime reaches it through the store's types"},
	{Prefix: "runtime/portal", Allow: []string{"golang.org/x/crypto/argon2"}, Why: "portal passwords a person chose are kept only as argon2id hashes"},
	{Prefix: "runtime", Allow: nil,
		Why: "the rest of the runtime is plain Go: SIP is the SIP packages' business, RTP media's, and HCL never reaches the runtime"},
	{Prefix: "simulate/scenario", Allow: []string{hcl, cty, levenshtein}, Why: "scenario files are HCL"},
	{Prefix: "simulate/device", Allow: []string{sipgo, sipgoSIP, digestPkg, "github.com/pion/rtp", "github.com/pion/sdp/v3"},
		Why: "simulated devices are SIP user agents with media"},
	{Prefix: "simulate/probe", Allow: []string{sipgoSIP, digestPkg},
		Why: "the probe writes SIP by hand, as an attacker does, reads the answers with sipgo's parser and answers digest challenges (SIP and HTTP); its legitimate callee is a simulated device"},
	{Prefix: "simulate/emulator", Allow: []string{digestPkg}, Why: "the vendor device emulator answers HTTP digest"},
	{Prefix: "simulate", Allow: []string{sipgoSIP}, Why: "the runner reads SIP messages for its ladders; the devices do the rest"},
	{Prefix: "cmd", Allow: []string{hcl, cty, levenshtein, "github.com/rogpeppe/go-internal/...", "golang.org/x/term", "golang.org/x/text/..."},
		Why: "the CLI renders diagnostics and talks to terminals; it reaches SIP and media only through runtime and simulate"},
	{Prefix: "", Allow: nil, Why: "the module root holds only repository-wide tests"},
}

const (
	hcl         = "github.com/hashicorp/hcl/v2/..."
	cty         = "github.com/zclconf/go-cty/..."
	levenshtein = "github.com/agext/levenshtein"
	digestPkg   = "github.com/icholy/digest"
	sipgo       = "github.com/emiago/sipgo"
	sipgoSIP    = "github.com/emiago/sipgo/sip"
	dnsmessage  = "golang.org/x/net/dns/dnsmessage"
)

// thirdParty reports whether an import path is outside the standard
// library and the module: its first element names a host.
func thirdParty(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return strings.Contains(first, ".")
}

// checkThirdParty returns a non-empty explanation when pkg (relative to the
// module) may not import imp, a third-party import path.
func checkThirdParty(pkg, imp string) string {
	for _, r := range thirdPartyPolicy {
		if r.Prefix == "" && pkg != "" || r.Prefix != "" && !within(pkg, r.Prefix) {
			continue
		}
		for _, a := range r.Allow {
			if tree, ok := strings.CutSuffix(a, "/..."); ok && within(imp, tree) || a == imp {
				return ""
			}
		}
		return fmt.Sprintf("%s imports %s, which its layer may not: %s (add it to thirdPartyPolicy in deps_test.go, with the reason, if the layer needs it)", modulePath(pkg), imp, r.Why)
	}
	return fmt.Sprintf("package %q is not covered by the third-party import policy; add a rule for it to thirdPartyPolicy in deps_test.go", modulePath(pkg))
}

func TestThirdPartyPolicyTable(t *testing.T) {
	tests := []struct {
		pkg, imp string
		ok       bool
	}{
		{"lang", "github.com/hashicorp/hcl/v2/hclsyntax", true},
		{"lang", "github.com/zclconf/go-cty/cty", true},
		{"lang", "github.com/emiago/sipgo/sip", false},
		{"compiler/ir", "github.com/hashicorp/hcl/v2", true},
		{"compiler/ir", "github.com/hashicorp/hcl/v2/hclsyntax", false},
		{"compiler/ir", "github.com/zclconf/go-cty/cty", false},
		{"compiler", "github.com/emiago/sipgo", false},
		{"runtime/sipstack", "github.com/emiago/sipgo", true},
		{"runtime/b2bua", "github.com/emiago/sipgo/sip", true},
		{"runtime/registrar", "github.com/emiago/sipgo/sip", true},
		{"runtime/registrar", "github.com/emiago/sipgo", false}, // the stack is the call core's
		{"runtime/routing", "github.com/emiago/sipgo/sip", false},
		{"runtime/voicemail", "github.com/hashicorp/hcl/v2", false},
		{"runtime/media", "github.com/pion/rtp", true},
		{"runtime/b2bua", "github.com/pion/rtp", false},
		{"runtime/b2bua", "github.com/hashicorp/hcl/v2", false},
		{"simulate/device", "github.com/emiago/sipgo", true},
		{"simulate", "github.com/emiago/sipgo", false},
		{"simulate/probe", "github.com/emiago/sipgo/sip", true},
		{"simulate/probe", "github.com/icholy/digest", true},
		{"simulate/probe", "github.com/emiago/sipgo", false}, // the stack is the devices'
		{"simulate/probe", "github.com/pion/rtp", false},
		{"simulate/scenario", "github.com/hashicorp/hcl/v2", true},
		{"cmd/switchboard", "github.com/hashicorp/hcl/v2/hclwrite", true},
		{"cmd/switchboard", "github.com/emiago/sipgo/sip", false},
		{"email", "github.com/emersion/go-smtp", true},
		{"runtime/voicemail", "github.com/emersion/go-smtp", false}, // mail goes through package email
		{"", "github.com/google/go-cmp/cmp", false},
		{"runtimes", "github.com/emiago/sipgo", false}, // no rule
	}
	for _, tt := range tests {
		msg := checkThirdParty(tt.pkg, tt.imp)
		if got := msg == ""; got != tt.ok {
			t.Errorf("checkThirdParty(%q, %q) allowed = %v, want %v (%s)", tt.pkg, tt.imp, got, tt.ok, msg)
		}
	}
	for _, tt := range []struct {
		path string
		want bool
	}{{"github.com/emiago/sipgo", true}, {"golang.org/x/term", true}, {"net/http", false}, {"switchboard/lang", false}} {
		if got := thirdParty(tt.path); got != tt.want {
			t.Errorf("thirdParty(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestImportPolicyTable(t *testing.T) {
	tests := []struct {
		pkg, imp string
		ok       bool
	}{
		{"lang", "lang/funcs", true},
		{"lang", "compiler", false},
		{"lang/funcs", "compiler/ir", false},
		{"compiler/ir", "lang", false},
		{"compiler/ir", "compiler", false},
		{"compiler/ir", "compiler/ir/dump", true},
		{"compiler", "lang", true},
		{"compiler", "compiler/ir", true},
		{"compiler/credentials", "compiler/ir", true},
		{"compiler/plan", "lang", false},
		{"compiler/plan", "compiler/ir", true},
		{"compiler/plan", "compiler", false},
		{"compiler/apply", "lang", false},
		{"compiler/apply/mail", "lang", false},
		{"compiler/apply", "compiler/plan", true},
		{"compiler/apply", "compiler/state", true},
		{"compiler", "runtime", false},
		{"compiler", "simulate", false},
		{"runtime/b2bua", "compiler/ir", true},
		{"runtime/registrar", "runtime/routing", true},
		{"runtime/provisioning", "runtime/digest", true},
		{"runtime/b2bua", "compiler", false},
		{"runtime/b2bua", "compiler/credentials", false},
		{"runtime/routing", "lang", false},
		{"runtime/b2bua", "simulate", false},
		{"runtime/b2bua", "runtime/carrier", true},
		{"runtime/b2bua", "runtime/registrar", false}, // plugged in by the assembly
		{"runtime/b2bua", "runtime/site", false},
		{"runtime/carrier", "runtime/b2bua", false}, // only through carrier.Stack
		{"runtime/notify", "runtime/b2bua", false},
		{"runtime/presence", "runtime/b2bua", false}, // only through presence.Stack
		{"runtime/sipstack", "runtime/clock", false},
		{"runtime/services", "runtime/b2bua", true},
		{"runtime/services", "runtime/site", false},
		{"runtime/site", "runtime/registrar", true},
		{"runtime/site", "compiler/credentials", false},
		{"simulate", "runtime/site", true},
		{"simulate", "runtime", true},
		{"simulate", "compiler/ir", true},
		{"simulate", "compiler", true},
		{"simulate", "lang", false},
		{"cmd/switchboard", "lang", true},
		{"cmd/switchboard", "simulate", true},
		{"cmd/switchboard", "cmd/other", false},
		{"simulate", "cmd/switchboard", false},
		{"", "lang", false},
		{"langx", "lang", false},           // "langx" is not under "lang": no rule
		{"runtimes", "compiler/ir", false}, // likewise
		{"internal/thing", "lang", false},  // uncovered packages fail
		{"lang", "atomicfile", true},
		{"compiler/ir", "atomicfile", true},
		{"runtime/voicemail", "atomicfile", true},
		{"cmd/switchboard", "atomicfile", true},
		{"atomicfile", "lang", false},
		{"compiler/apply", "email", true},
		{"runtime/voicemail", "email", true},
		{"lang", "email", false},
		{"compiler/ir", "email", false},
		{"email", "runtime", false},
	}
	for _, tt := range tests {
		msg := checkImport(tt.pkg, tt.imp)
		if got := msg == ""; got != tt.ok {
			t.Errorf("checkImport(%q, %q) allowed = %v, want %v (%s)", tt.pkg, tt.imp, got, tt.ok, msg)
		}
	}
}

// listedPackage is the part of `go list -json` output this test reads.
type listedPackage struct {
	ImportPath string
	Imports    []string
	Error      *struct{ Err string }
}

func goList(t *testing.T) []listedPackage {
	t.Helper()
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to check the import policy: %v", err)
	}
	cmd := exec.Command(gocmd, "list", "-e", "-json=ImportPath,Imports,Error", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestImportDirection enforces importPolicy and thirdPartyPolicy on the
// module's packages (production imports; tests may reach further for
// fixtures and peers).
func TestImportDirection(t *testing.T) {
	pkgs := goList(t)
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	var problems []string
	for _, p := range pkgs {
		if p.Error != nil {
			// A package go list cannot read might hide any import: the
			// policy is not proven, so the test fails (its imports are
			// still checked below).
			problems = append(problems, fmt.Sprintf("go list: %s: %s", p.ImportPath, p.Error.Err))
		}
		pkg, ours := relative(p.ImportPath)
		if !ours {
			problems = append(problems, fmt.Sprintf("go list ./... listed %s, which is not in module %s", p.ImportPath, module))
			continue
		}
		if _, ok := ruleFor(pkg); !ok {
			problems = append(problems, checkImport(pkg, ""))
			continue
		}
		for _, imp := range p.Imports {
			if thirdParty(imp) {
				if msg := checkThirdParty(pkg, imp); msg != "" {
					problems = append(problems, msg)
				}
				continue
			}
			rel, ours := relative(imp)
			if !ours {
				continue
			}
			if msg := checkImport(pkg, rel); msg != "" {
				problems = append(problems, msg)
			}
		}
	}
	sort.Strings(problems)
	for _, msg := range problems {
		t.Error(msg)
	}
}
