package main

import (
	"encoding/json"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/rogpeppe/go-internal/testscript"

	"switchboard/compiler/provision/akuvox"
	"switchboard/compiler/state"
	"switchboard/simulate/emulator"
)

// cmdTestbed gives the plan, apply and state scripts the things around a
// site: emulated Akuvox devices, a real SMTP server, serve's admin
// endpoints, a lock held by a live process, and exit-status checks.
//
//	testbed emulators FILE NAME...   start an emulator per device NAME and
//	                                 write a devices file (NAME URL lines);
//	                                 sets SWITCHBOARD_DEVICE_PASSWORD and
//	                                 EMULATOR_<NAME> to each one's URL
//	testbed mode NAME MODE           normal, drop-writes, unreachable,
//	                                 unsupported-firmware
//	testbed devicekeys NAME FILE     the emulator holds every setting of the
//	                                 AutoP file FILE (! : not all of them)
//	testbed smtp                     start an SMTP server (emersion/go-smtp);
//	                                 sets SMTP to its host:port
//	testbed mail N                   exactly N mails arrived; stdout gets
//	                                 each as "To: ADDR", "From: ADDR" and
//	                                 its decoded text, for stdout/grep
//	testbed serve                    start serve's admin endpoints (reload,
//	                                 check-sync), which refuse a request
//	                                 without the admin token; sets SERVE
//	                                 and SWITCHBOARD_ADMIN_TOKEN
//	testbed servecalls               stdout gets the admin calls made
//	testbed lock FILE [dead]         hold the state lock FILE in this
//	                                 process until the script ends (dead:
//	                                 only write the record a killed
//	                                 process leaves); sets LOCKID
//	testbed unlock                   release that lock, as the end of its
//	                                 process would
//	testbed status N PROG ARGS...    run PROG and expect exit status N
//	testbed devset NAME KEY VALUE    change a setting on emulator NAME, as
//	                                 someone at its web page would
//	testbed phone FILE NAME VENDOR MAC DIR
//	                                 start an emulated yealink or grandstream
//	                                 phone NAME with that MAC, which fetches
//	                                 its files from DIR when serve is asked
//	                                 to send it check-sync; append "NAME
//	                                 URL" to the devices FILE
//	testbed contacts NAME            stdout gets emulator NAME's contact
//	                                 list, "Name <phone>" a line
//	testbed addcontact NAME WHO NUMBER
//	                                 add a contact on emulator NAME, as
//	                                 someone at the monitor would
//	testbed statev1 FILE             rewrite the state FILE as a version 1
//	                                 switchboard wrote it: every attribute
//	                                 value a JSON string holding JSON, a
//	                                 trunk's references as "var.x"
func cmdTestbed(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: testbed emulators|mode|devicekeys|smtp|mail|serve|servecalls|lock|unlock|status ...")
	}
	bed := testbedFor(ts)
	switch args[0] {
	case "emulators":
		if len(args) < 3 {
			ts.Fatalf("usage: testbed emulators FILE NAME...")
		}
		var lines []string
		for _, name := range args[2:] {
			d, err := emulator.Start(emulator.WithCredentials("admin", testbedDevicePassword))
			ts.Check(err)
			ts.Defer(func() { d.Close() })
			bed.emulators[name] = d
			lines = append(lines, name+" "+d.URL())
			ts.Setenv("EMULATOR_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_")), d.URL())
		}
		ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
		ts.Setenv("SWITCHBOARD_DEVICE_PASSWORD", testbedDevicePassword)
	case "mode":
		if len(args) != 3 {
			ts.Fatalf("usage: testbed mode NAME MODE")
		}
		m, err := emulator.ParseMode(args[2])
		ts.Check(err)
		bed.emulator(ts, args[1]).SetMode(m)
	case "devicekeys":
		if len(args) != 3 {
			ts.Fatalf("usage: testbed devicekeys NAME FILE")
		}
		kvs, err := akuvox.Parse([]byte(ts.ReadFile(args[2])))
		ts.Check(err)
		keys := bed.emulator(ts, args[1]).Keys()
		var wrong []string
		for _, kv := range kvs {
			if keys[kv.Key] != kv.Value {
				wrong = append(wrong, kv.Key)
			}
		}
		switch {
		case len(wrong) > 0 && !neg:
			ts.Fatalf("device %s does not hold %d settings of %s: %s", args[1], len(wrong), args[2], strings.Join(wrong, ", "))
		case len(wrong) == 0 && neg:
			ts.Fatalf("device %s holds every setting of %s", args[1], args[2])
		}
	case "smtp":
		mb := &scriptMailbox{}
		s := smtp.NewServer(mb)
		s.Domain = "mail.test"
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		go s.Serve(ln)
		ts.Defer(func() { s.Close() })
		bed.mail = mb
		ts.Setenv("SMTP", ln.Addr().String())
	case "mail":
		if len(args) != 2 || bed.mail == nil {
			ts.Fatalf("usage: testbed mail N (after testbed smtp)")
		}
		want, err := strconv.Atoi(args[1])
		ts.Check(err)
		mail := bed.mail.received()
		if len(mail) != want {
			ts.Fatalf("%d mails arrived, want %d", len(mail), want)
		}
		for _, m := range mail {
			fmt.Fprintf(ts.Stdout(), "To: %s\nFrom: %s\n%s\n", strings.Join(m.to, ", "), m.from, m.text)
		}
	case "serve":
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+testbedAdminToken {
				http.Error(w, "wrong admin token", http.StatusUnauthorized)
				return
			}
			bed.mu.Lock()
			bed.serveCalls = append(bed.serveCalls, r.Method+" "+r.URL.RequestURI())
			phone := bed.emulators[r.URL.Query().Get("device")]
			bed.mu.Unlock()
			if r.URL.Path == "/admin/check-sync" && phone != nil && phone.Vendor() != emulator.Akuvox {
				// The phone gets the NOTIFY and fetches its files, as a
				// real one does; one that cannot is found by the read-back.
				phone.CheckSync(r.Context())
			}
			fmt.Fprintln(w, "ok")
		}))
		ts.Defer(srv.Close)
		ts.Setenv("SERVE", srv.URL)
		ts.Setenv("SWITCHBOARD_ADMIN_TOKEN", testbedAdminToken)
	case "servecalls":
		bed.mu.Lock()
		calls := slices.Clone(bed.serveCalls)
		bed.mu.Unlock()
		for _, c := range calls {
			fmt.Fprintln(ts.Stdout(), c)
		}
	case "lock":
		if len(args) < 2 || len(args) > 3 {
			ts.Fatalf("usage: testbed lock FILE [dead]")
		}
		host, _ := os.Hostname()
		path := ts.MkAbs(args[1])
		pid := os.Getpid()
		if len(args) == 3 && args[2] == "dead" {
			// A record only, as a killed apply leaves: no process holds
			// the kernel lock.
			cmd := exec.Command("true")
			ts.Check(cmd.Run())
			pid = cmd.ProcessState.Pid()
			ts.Check(os.MkdirAll(filepath.Dir(path), 0o755))
		} else {
			// This process takes the kernel lock until the script ends,
			// then puts a record with fixed values in the locked file.
			l, err := state.NewStore(strings.TrimSuffix(path, ".lock")).Lock("apply")
			ts.Check(err)
			ts.Defer(func() { l.Unlock() })
			bed.lock = l
		}
		info := state.LockInfo{ID: "0123456789abcdef", Operation: "apply", Who: "operator@" + host, Host: host, PID: pid,
			Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		data, _ := json.Marshal(info)
		ts.Check(os.WriteFile(path, data, 0o644))
		ts.Setenv("LOCKID", info.ID)
	case "unlock":
		if bed.lock == nil {
			ts.Fatalf("testbed unlock: no lock held")
		}
		ts.Check(bed.lock.Unlock())
		bed.lock = nil
	case "status":
		if len(args) < 3 {
			ts.Fatalf("usage: testbed status N PROG ARGS...")
		}
		want, err := strconv.Atoi(args[1])
		ts.Check(err)
		err = ts.Exec(args[2], args[3:]...)
		got := 0
		if ee, ok := err.(*exec.ExitError); ok {
			got = ee.ExitCode()
		} else if err != nil {
			ts.Fatalf("%s: %v", args[2], err)
		}
		if got != want {
			ts.Fatalf("%s exited with status %d, want %d", args[2], got, want)
		}
	case "devset":
		if len(args) != 4 {
			ts.Fatalf("usage: testbed devset NAME KEY VALUE")
		}
		bed.emulator(ts, args[1]).SetKey(args[2], args[3])
	case "phone":
		if len(args) != 6 {
			ts.Fatalf("usage: testbed phone FILE NAME VENDOR MAC DIR")
		}
		prov := httptest.NewServer(http.FileServer(http.Dir(ts.MkAbs(args[5]))))
		ts.Defer(prov.Close)
		d, err := emulator.Start(emulator.WithVendor(emulator.Vendor(args[3])), emulator.WithCredentials("admin", testbedDevicePassword),
			emulator.WithMAC(args[4]), emulator.WithProvisioning(prov.URL+"/"))
		ts.Check(err)
		ts.Defer(func() { d.Close() })
		bed.mu.Lock()
		bed.emulators[args[2]] = d
		bed.mu.Unlock()
		path := ts.MkAbs(args[1])
		old, _ := os.ReadFile(path)
		ts.Check(os.WriteFile(path, append(old, []byte(args[2]+" "+d.URL()+"\n")...), 0o644))
		ts.Setenv("SWITCHBOARD_DEVICE_PASSWORD", testbedDevicePassword)
	case "contacts":
		if len(args) != 2 {
			ts.Fatalf("usage: testbed contacts NAME")
		}
		for _, c := range bed.emulator(ts, args[1]).Contacts() {
			fmt.Fprintf(ts.Stdout(), "%s <%s>\n", c.Name, c.Phone)
		}
	case "addcontact":
		if len(args) != 4 {
			ts.Fatalf("usage: testbed addcontact NAME WHO NUMBER")
		}
		bed.emulator(ts, args[1]).AddContact(args[2], args[3])
	case "statev1":
		if len(args) != 2 {
			ts.Fatalf("usage: testbed statev1 FILE")
		}
		ts.Check(os.WriteFile(ts.MkAbs(args[1]), stateV1(ts, []byte(ts.ReadFile(args[1]))), 0o644))
	default:
		ts.Fatalf("testbed: unknown subcommand %q", args[0])
	}
}

// stateV1 is a version 2 state file as version 1 wrote the same state.
func stateV1(ts *testscript.TestScript, data []byte) []byte {
	var file map[string]any
	ts.Check(json.Unmarshal(data, &file))
	if file["format_version"] != 2.0 {
		ts.Fatalf("statev1: not a version 2 state file")
	}
	file["format_version"] = 1
	for _, o := range file["objects"].([]any) {
		obj := o.(map[string]any)
		attrs := obj["attributes"].(map[string]any)
		for k, v := range attrs {
			if m, ok := v.(map[string]any); ok && m["from"] != nil {
				v = m["from"] // version 1 recorded a reference as its name
			}
			text, err := json.Marshal(v)
			ts.Check(err)
			attrs[k] = string(text)
		}
	}
	out, err := json.MarshalIndent(file, "", "  ")
	ts.Check(err)
	return append(out, '\n')
}

const testbedDevicePassword = "emulator-admin-pw"

// testbedAdminToken is the admin token of testbed serve.
const testbedAdminToken = "testbed-serve-admin-token-0123456789abcdef"

// testbed is one script's emulators, mailbox and serve calls.
type testbed struct {
	mu         sync.Mutex
	emulators  map[string]*emulator.Device
	mail       *scriptMailbox
	serveCalls []string
	lock       *state.Lock // held by testbed lock until testbed unlock
}

var testbeds sync.Map // *testscript.TestScript → *testbed

func testbedFor(ts *testscript.TestScript) *testbed {
	b, loaded := testbeds.LoadOrStore(ts, &testbed{emulators: map[string]*emulator.Device{}})
	if !loaded {
		ts.Defer(func() { testbeds.Delete(ts) })
	}
	return b.(*testbed)
}

func (b *testbed) emulator(ts *testscript.TestScript, name string) *emulator.Device {
	d := b.emulators[name]
	if d == nil {
		ts.Fatalf("no emulator %q: start it with testbed emulators", name)
	}
	return d
}

// scriptMailbox is an SMTP backend that keeps every message.
type scriptMailbox struct {
	mu   sync.Mutex
	mail []scriptMail
}

type scriptMail struct {
	from string
	to   []string
	text string // headers, then the decoded body
}

func (mb *scriptMailbox) received() []scriptMail {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return slices.Clone(mb.mail)
}

func (mb *scriptMailbox) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &scriptSession{mb: mb}, nil
}

type scriptSession struct {
	mb  *scriptMailbox
	cur scriptMail
}

func (s *scriptSession) Reset()        { s.cur = scriptMail{} }
func (s *scriptSession) Logout() error { return nil }
func (s *scriptSession) Mail(from string, _ *smtp.MailOptions) error {
	s.cur.from = from
	return nil
}
func (s *scriptSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *scriptSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	head, body, _ := strings.Cut(string(data), "\r\n\r\n")
	text := body
	if strings.Contains(head, "quoted-printable") {
		b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
		if err != nil {
			return err
		}
		text = string(b)
	}
	s.cur.text = strings.ReplaceAll(head+"\n\n"+text, "\r\n", "\n")
	s.mb.mu.Lock()
	s.mb.mail = append(s.mb.mail, s.cur)
	s.mb.mu.Unlock()
	return nil
}
