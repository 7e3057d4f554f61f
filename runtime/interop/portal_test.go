package interop

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"switchboard/runtime/audio"
	"switchboard/runtime/events"
	"switchboard/runtime/interop/peer"
	"switchboard/runtime/voicemail"
	"switchboard/simulate/device"
)

// TestPortalInBrowser drives the portal in headless Chromium against a
// whole site served as serve serves it (SIP on loopback UDP, the portal
// on the site's HTTP listener): bob's phone subscribes to his mailbox and
// sees a message waiting; bob logs in with his portal password, plays
// the message (the audio element reports its duration), deletes it, and
// the phone is told "Messages-Waiting: no". A POST without the CSRF token
// and another resident's page are refused. Every page is photographed at
// a phone's width (390×844) and a desktop's (1280×800), into the test's
// temporary directory and, when PORTAL_SHOTS_DIR is set, there too.
func TestPortalInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	exe := peer.Require(t, "chromium", "apt-get install -y chromium (make peers)")
	s := startServer(t, serverConfig{voicemail: true})
	box := s.prog.User("bob").Mailbox
	if box == "" {
		t.Fatal("bob has no mailbox in testdata/site")
	}
	leaveMessage(t, filepath.Join(s.dataDir, "voicemail", box), 1, "Alice")

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	phone := s.device("app.bob")
	if status, err := phone.Subscribe(ctx, "message-summary", time.Hour); err != nil || status/100 != 2 {
		t.Fatalf("subscribing to bob's mailbox: %d %v", status, err)
	}
	hasMWI := func(line string) func(string) bool {
		return func(body string) bool { return strings.Contains(body, line) }
	}
	if _, err := phone.WaitNotification(ctx, "message-summary", hasMWI("Messages-Waiting: yes")); err != nil {
		t.Fatal(err)
	}
	openDoor(t, ctx, s, phone)

	// The portal on the site's own HTTP listener, as serve -http runs it.
	base := servePortal(t, s)
	tctx, do := browser(t, exe, 60*time.Second, chromedp.Flag("autoplay-policy", "no-user-gesture-required"))

	shots := newShots(t)
	shots.take(tctx, base+"/portal/login", "login")
	password, ok := s.secrets.PortalPassword("bob")
	if !ok {
		t.Fatal("no portal password for bob")
	}
	do("logging in",
		chromedp.Navigate(base+"/portal/login"),
		chromedp.SendKeys(chromedp.CSS("#email"), "bob@interop.example"),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS(`nav a[aria-current="page"]`)),
	)
	home := base + "/portal/u/bob/"
	for _, p := range []string{"", "voicemail", "doors", "devices", "calls", "settings"} {
		name := p
		if name == "" {
			name = "overview"
		}
		shots.take(tctx, home+p, name)
	}
	for page, want := range map[string]string{"doors": "gate (door)", "calls": "From gate", "devices": "— online"} {
		if text := pageShowing(t, tctx, s, home+page, want); !strings.Contains(text, want) {
			t.Errorf("the %s page does not say %q:\n%s", page, want, text)
		}
	}

	// The delete form without its CSRF token, submitted from the page
	// itself (same origin): refused, and the message is still there.
	do("opening voicemail", chromedp.Navigate(home+"voicemail"), chromedp.WaitVisible(chromedp.CSS("audio")))
	// The greeting recorder shows only where there is a microphone (this
	// Chromium has no fake one): without, the upload form is all there is.
	do("waiting for the recorder's look for a microphone", chromedp.Poll[chromedp.Void](`document.getElementById("recorder").dataset.mic`, chromedp.WithPollingTimeout(10*time.Second)))
	mic, err := chromedp.Run(tctx, chromedp.Evaluate[[]bool](`(async () => {
		const ds = await navigator.mediaDevices.enumerateDevices();
		const rec = document.getElementById("recorder");
		return [ds.some(d => d.kind === "audioinput"), !rec.hidden, document.getElementById("greeting-file").offsetParent !== null];
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("microphone %v, recorder shown %v, upload form shown %v", mic[0], mic[1], mic[2])
	if mic[0] != mic[1] || !mic[2] {
		t.Errorf("microphone %v, recorder shown %v, upload form shown %v: the recorder shows with a microphone only, the upload form always", mic[0], mic[1], mic[2])
	}
	res, err := chromedp.RunResponse(tctx, chromedp.Evaluate[chromedp.Void](`(() => {
		const f = document.querySelector("#msg-1 form[action$='/delete']");
		f.querySelector("input[name=csrf]").remove();
		f.submit();
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusForbidden {
		t.Errorf("the delete form without its CSRF token: %d, want 403", res.Status)
	}
	shots.capture(tctx, "csrf-refused")
	if n := messages(t, s, box); n != 1 {
		t.Fatalf("bob has %d messages after the refused POST, want 1", n)
	}

	// Another resident's page: refused.
	res, err = chromedp.Run(tctx, chromedp.NavigateResponse(base+"/portal/u/alice/voicemail"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusForbidden {
		t.Errorf("alice's voicemail opened by bob: %d, want 403", res.Status)
	}
	shots.capture(tctx, "refused")

	// Play the message: the audio element loads it and knows its length.
	do("opening voicemail", chromedp.Navigate(home+"voicemail"), chromedp.WaitVisible(chromedp.CSS("audio")))
	played, err := chromedp.Run(tctx, chromedp.Evaluate[float64](`(async () => {
		const a = document.querySelector("#msg-1 audio");
		await a.play();
		if (!(a.duration > 0)) await new Promise(r => a.addEventListener("durationchange", r, {once: true}));
		return a.duration;
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("playing the message: %v", err)
	}
	t.Logf("played at %s", time.Now().Format(time.StampMilli))
	if played < 1.9 || played > 2.1 {
		t.Errorf("the audio element reports %.2f s; the message lasts 2 s", played)
	}

	// Delete it: the phone's light goes out.
	do("deleting", chromedp.Click(chromedp.CSS(`#msg-1 button.danger`)), chromedp.WaitNotPresent(chromedp.CSS("#msg-1")), chromedp.WaitVisible(chromedp.CSS("#greeting")))
	t.Logf("deleted at %s", time.Now().Format(time.StampMilli))
	shots.capture(tctx, "voicemail-empty")
	if _, err := phone.WaitNotification(ctx, "message-summary", hasMWI("Messages-Waiting: no")); err != nil {
		t.Fatal(err)
	}
	if n := messages(t, s, box); n != 0 {
		t.Errorf("bob has %d messages after deleting, want 0", n)
	}

	// The desktop's width.
	do("desktop viewport", chromedp.EmulateViewport(1280, 800))
	for _, p := range []string{"", "voicemail", "doors", "devices", "calls", "settings"} {
		name := p
		if name == "" {
			name = "overview"
		}
		shots.take(tctx, home+p, name+"-desktop")
	}
	do("logging out", chromedp.Click(chromedp.CSS(".logout button")), chromedp.WaitVisible(chromedp.CSS("#email")))
	shots.capture(tctx, "login-desktop")
	res, err = chromedp.Run(tctx, chromedp.NavigateResponse(home))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(res.URL, "/portal/login") {
		t.Errorf("after logging out, %s landed on %s, want the login", home, res.URL)
	}

	// The installer's login opens the site page, never a resident's.
	installerPW, ok := s.secrets.InstallerPortalPassword()
	if !ok {
		t.Fatal("no installer portal password for testdata/site")
	}
	do("logging in as the installer",
		chromedp.SendKeys(chromedp.CSS("#email"), s.prog.Site.Installer.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), installerPW),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS(`nav a[aria-current="page"]`)),
	)
	shots.capture(tctx, "installer-desktop")
	for _, p := range []string{"", "voicemail", "voicemail/1.wav", "doors", "devices", "calls", "settings"} {
		res, err := chromedp.Run(tctx, chromedp.NavigateResponse(home+p))
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != http.StatusForbidden {
			t.Errorf("the installer opening %s: %d, want 403", home+p, res.Status)
		}
	}
}

// messages counts the messages on disk in box.
func messages(t *testing.T, s *server, box string) int {
	t.Helper()
	inv, err := voicemail.Count(filepath.Join(s.dataDir, "voicemail"), box)
	if err != nil {
		t.Fatal(err)
	}
	return inv.Messages
}

// leaveMessage writes a 2-second µ-law message into dir as a deposit
// leaves one (msg-N.wav and its metadata).
func leaveMessage(t *testing.T, dir string, id int, from string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	m := voicemail.Message{ID: id, Box: filepath.Base(dir), Folder: voicemail.FolderNew, Time: time.Now().UTC(), DurationMS: 2000, Codec: "PCMU", From: voicemail.From{Display: from, Number: "101"}}
	f, err := os.Create(filepath.Join(dir, m.Name()+".wav"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := audio.NewWAVWriter(f, audio.FormatULaw)
	if err != nil {
		t.Fatal(err)
	}
	samples := make([]int16, 2*audio.Rate)
	for i := range samples {
		samples[i] = int16((i/10%2)*16000 - 8000)
	}
	if err := w.WritePCM(samples); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	meta, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, m.Name()+".json"), meta, 0o600); err != nil {
		t.Fatal(err)
	}
}

// openDoor has the gate call flat 1A; bob's phone answers and keys "#",
// which opens the door: the door log and the calls have a real entry.
func openDoor(t *testing.T, ctx context.Context, s *server, bob *device.Device) {
	t.Helper()
	bob.SetAnswer(device.Pickup, 0)
	gate := s.device("device.gate")
	call, err := gate.Dial(ctx, "1A")
	if err != nil {
		t.Fatalf("the gate calling 1A: %v", err)
	}
	in := bob.Incoming()
	if len(in) == 0 {
		t.Fatal("bob's phone was not rung")
	}
	answered := bob.Answered(in[len(in)-1].CallID)
	if answered == nil {
		t.Fatal("bob's phone has no answered call")
	}
	if err := answered.SendDTMF("#"); err != nil {
		t.Fatal(err)
	}
	s.waitEvent("door_opened", kind(events.DoorOpened))
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	s.waitEvent("call_ended", kind(events.CallEnded))
	bob.SetAnswer(device.Ring, 0)
}

// pageShowing opens url until its main text says want: the door log and
// the calls take an event once the store has answered the recorder's
// batch, a few milliseconds after the event, so the page is opened again
// at each event the portal's history takes in, for at most 5 s. It
// returns the last text.
func pageShowing(t *testing.T, ctx context.Context, s *server, url, want string) string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		changed := s.site.PortalHistoryChanged() // before reading: no change is missed
		if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
			t.Fatalf("opening %s: %v", url, err)
		}
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		if err != nil {
			t.Fatalf("opening %s: %v", url, err)
		}
		if strings.Contains(text, want) {
			return text
		}
		select {
		case <-changed:
		case <-deadline:
			return text
		}
	}
}

// servePortal serves the site's HTTP listener, the portal's, on loopback
// until the test ends, as serve -http runs it; it returns its base URL.
func servePortal(t *testing.T, s *server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	webCtx, stopWeb := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.site.ServeWeb(webCtx, l, nil) }()
	t.Cleanup(func() { stopWeb(); <-served })
	return "http://" + l.Addr().String()
}

// browser starts headless Chromium (exe) at a phone's viewport for at
// most timeout, until the test ends; do runs steps in it, failing the
// test on an error.
func browser(t *testing.T, exe string, timeout time.Duration, extra ...chromedp.ExecAllocatorOption) (context.Context, func(what string, steps ...chromedp.Action[chromedp.Void])) {
	t.Helper()
	opts := append(append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU), extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	tctx, cancelT := context.WithTimeout(bctx, timeout)
	t.Cleanup(func() { cancelT(); cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return tctx, func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tctx, steps...); err != nil {
			t.Fatalf("chromium: %s: %v", what, err)
		}
	}
}

// shots saves screenshots into the test's directory and PORTAL_SHOTS_DIR.
type shots struct {
	t    *testing.T
	dirs []string
}

func newShots(t *testing.T) *shots {
	dirs := []string{t.TempDir()}
	if d := os.Getenv("PORTAL_SHOTS_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	return &shots{t: t, dirs: dirs}
}

// take opens url and photographs it as name.
func (s *shots) take(ctx context.Context, url, name string) {
	s.t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
		s.t.Fatalf("opening %s: %v", url, err)
	}
	s.capture(ctx, name)
}

// capture photographs the page as it is, whole.
func (s *shots) capture(ctx context.Context, name string) {
	s.t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	for _, d := range s.dirs {
		if err := os.WriteFile(filepath.Join(d, name+".png"), png, 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
}
