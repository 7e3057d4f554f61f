package interop

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"switchboard/runtime/audio"
	"switchboard/runtime/audio/audiotest"
	"switchboard/runtime/interop/peer"
)

// TestPortalGreetingRecordedInBrowser: bob records his greeting in
// headless Chromium from its fake microphone (a beep each second), hears
// it back, and saves it through the greeting card's upload form. The
// stored greeting is an 8 kHz mono WAV of about the two seconds recorded,
// not silence; the page plays it back at that length; and alice calling
// bob, whose phones are all off, hears it from his voicemail. The card is
// photographed while recording, once recorded and once saved.
func TestPortalGreetingRecordedInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	exe := peer.Require(t, "chromium", "apt-get install -y chromium (make peers)")
	s := startServer(t, serverConfig{voicemail: true})
	box := s.prog.User("bob").Mailbox
	if box == "" {
		t.Fatal("bob has no mailbox in testdata/site")
	}
	base := servePortal(t, s)
	tctx, do := browser(t, exe, 90*time.Second,
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"))
	shots := newShots(t)
	password, _ := s.secrets.PortalPassword("bob")
	do("logging in",
		chromedp.Navigate(base+"/portal/login"),
		chromedp.SendKeys(chromedp.CSS("#email"), "bob@interop.example"),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS(`nav a[aria-current="page"]`)),
	)
	seconds := func() float64 {
		t.Helper()
		v, err := chromedp.Run(tctx, chromedp.Evaluate[float64](`parseFloat(document.getElementById("recorder").dataset.seconds || "0")`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	do("opening voicemail", chromedp.Navigate(base+"/portal/u/bob/voicemail"),
		// The recorder shows once the page found a microphone.
		chromedp.WaitVisible(chromedp.CSS("#rec-start")),
		chromedp.ScrollIntoView(chromedp.CSS("#greeting")),
	)
	do("recording", chromedp.Click(chromedp.CSS("#rec-start")),
		chromedp.Poll[chromedp.Void](`parseFloat(document.getElementById("recorder").dataset.seconds || "0") >= 1.2`, chromedp.WithPollingTimeout(20*time.Second)))
	state, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("#rec-state")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(state, "Recording") {
		t.Errorf("the recorder's status while recording: %q", state)
	}
	shots.capture(tctx, "greeting-recording")
	do("recording two seconds",
		chromedp.Poll[chromedp.Void](`parseFloat(document.getElementById("recorder").dataset.seconds || "0") >= 2`, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Click(chromedp.CSS("#rec-stop")),
		chromedp.WaitVisible(chromedp.CSS("#rec-save")),
	)
	recorded := seconds()
	// Listening back: the preview plays the WAV made in the page.
	preview, err := chromedp.Run(tctx, chromedp.Evaluate[float64](`(async () => {
		const a = document.getElementById("rec-preview");
		await a.play();
		if (!(a.duration > 0)) await new Promise(r => a.addEventListener("durationchange", r, {once: true}));
		a.pause();
		return a.duration;
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("playing the recording back: %v", err)
	}
	if math.Abs(preview-recorded) > 0.2 {
		t.Errorf("the preview lasts %.2f s; %.2f s were recorded", preview, recorded)
	}
	shots.capture(tctx, "greeting-recorded")
	do("saving", chromedp.Click(chromedp.CSS("#rec-save")),
		chromedp.WaitVisible(chromedp.CSS(`#greeting p.ok[role=status]`)),
		chromedp.ScrollIntoView(chromedp.CSS("#greeting")),
	)
	shots.capture(tctx, "greeting-saved")

	// What the server keeps: an 8 kHz mono WAV as long as the recording
	// (ReadWAV takes no other), with the fake microphone's beeps in it.
	data, err := os.ReadFile(filepath.Join(s.dataDir, "voicemail", box, "greeting.wav"))
	if err != nil {
		t.Fatalf("the stored greeting: %v", err)
	}
	w, err := audio.ReadWAV(data)
	if err != nil {
		t.Fatalf("the stored greeting: %v", err)
	}
	t.Logf("recorded %.2f s; stored %.2f s, %v, RMS %.0f", recorded, w.Seconds(), w.Format, audio.RMS(w.Samples))
	if w.Format != audio.FormatPCM || math.Abs(w.Seconds()-recorded) > 0.05 || w.Seconds() < 1.9 || w.Seconds() > 3 {
		t.Errorf("the stored greeting: %v, %.2f s; want 16-bit PCM of the %.2f s recorded", w.Format, w.Seconds(), recorded)
	}
	if peak := peakOf(w.Samples); peak < 1000 {
		t.Errorf("the stored greeting is silent (peak %d)", peak)
	}
	// The page plays the greeting served back at its length.
	served, err := chromedp.Run(tctx, chromedp.Evaluate[float64](`(async () => {
		const a = document.querySelector("#greeting audio[aria-label='Your greeting']");
		if (!(a.duration > 0)) await new Promise(r => a.addEventListener("loadedmetadata", r, {once: true}));
		return a.duration;
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(served-w.Seconds()) > 0.05 {
		t.Errorf("the greeting served back lasts %.2f s, want %.2f s", served, w.Seconds())
	}

	// alice calls bob, whose phones are off: his voicemail answers with
	// the greeting recorded in the browser.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	call, err := s.device("app.alice").Dial(ctx, "102")
	if err != nil {
		t.Fatalf("alice calling bob: %v", err)
	}
	defer call.Hangup(ctx)
	if err := call.WaitAudio(ctx, len(w.Samples)); err != nil {
		t.Fatalf("alice heard no greeting: %v", err)
	}
	heard := call.Audio()
	c := audiotest.BestCorrelation(heard[:min(len(heard), len(w.Samples)+audio.Rate/2)], w.Samples[:audio.Rate])
	t.Logf("alice heard %.2f s; its best correlation with the greeting's first second: %.3f", float64(len(heard))/audio.Rate, c)
	if c < 0.9 {
		t.Errorf("what alice heard is not bob's recorded greeting (best correlation %.2f)", c)
	}
}

func peakOf(s []int16) int {
	peak := 0
	for _, v := range s {
		peak = max(peak, int(math.Abs(float64(v))))
	}
	return peak
}
