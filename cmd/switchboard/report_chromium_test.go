package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"switchboard/runtime/interop/peer"
)

// The phone and desktop widths the report is looked at in, CSS pixels.
const (
	phoneWidth   = 390
	phoneHeight  = 844
	desktopWidth = 1280
	desktopHigh  = 900
)

// wrongScenario makes the family home fail on purpose: the gate rings the
// whole house, not Sarah alone.
const wrongScenario = `scenario "the gate rings only Sarah" {
  press      { button = device.gate.button["1"] }
  rings_only { endpoints = [user.sarah] }
}
`

// TestReportInChromium renders the test -html report of a site with a
// failing scenario in headless Chromium: the failure's SVG ladder is laid
// out (its boxes have a size) with an arrow per SIP message of the call
// (counted from the -json run that wrote the page), passed cases are
// collapsed, the page requests nothing but itself, and at phone width only
// the ladder scrolls sideways. Screenshots at desktop and phone width go to
// the test's temporary directory and, when REPORT_SHOTS_DIR is set, there
// too, for a person to look at.
func TestReportInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	exe := peer.Require(t, "chromium", "apt-get install -y chromium (make peers)")
	dir := t.TempDir()
	site := filepath.Join(dir, "site")
	if err := os.MkdirAll(filepath.Join(site, "tests"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"site.pbx.hcl", "people.pbx.hcl", "devices.pbx.hcl"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "examples", "family-home", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(site, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(site, "tests", "wrong.test.hcl"), []byte(wrongScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "report.html")
	var stdout, stderr bytes.Buffer
	if status := run([]string{"test", "-json", "-html", page, site}, strings.NewReader(""), &stdout, &stderr); status != exitFail {
		t.Fatalf("switchboard test: exit status %d, want %d (the scenario fails)\n%s", status, exitFail, stderr.String())
	}
	messages := -1
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var r struct {
			Name   string
			Status string
			Ladder []string
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Status == "fail" {
			messages = len(r.Ladder)
		}
	}
	if messages <= 0 {
		t.Fatalf("the failing case has no SIP ladder in the -json output:\n%s", stdout.String())
	}

	b := startChromium(t, exe)
	url := "file://" + page
	requests := b.watchRequests(t)
	b.do(t, "desktop viewport", chromedp.EmulateViewport(desktopWidth, desktopHigh))
	b.do(t, "loading the report", chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("svg.ladder")))

	var got struct {
		Ladders, Arrows, DrawnArrows, Lanes int
		Width, Height                       float64
		Details, OpenDetails, VisiblePassed int
		Resources                           int
	}
	b.eval(t, `(() => {
		const svg = document.querySelectorAll("svg.ladder");
		const box = svg.length ? svg[0].getBoundingClientRect() : {width: 0, height: 0};
		const arrows = Array.from(document.querySelectorAll("svg.ladder g.msg"));
		const drawn = arrows.filter(g => { const l = g.querySelector("line").getBBox(); return l.width > 0 && g.querySelector("polygon").getBBox().width > 0; });
		const passed = Array.from(document.querySelectorAll("details.passed li"));
		return {
			Ladders: svg.length, Arrows: arrows.length, DrawnArrows: drawn.length,
			Lanes: document.querySelectorAll("svg.ladder line.lane").length,
			Width: box.width, Height: box.height,
			Details: document.querySelectorAll("details.passed").length,
			OpenDetails: document.querySelectorAll("details.passed[open]").length,
			VisiblePassed: passed.filter(li => li.checkVisibility()).length,
			Resources: performance.getEntriesByType("resource").length,
		};
	})()`, &got)
	if got.Ladders != 1 {
		t.Errorf("%d ladders on the page, want 1 (one failure)", got.Ladders)
	}
	if got.Width <= 0 || got.Height <= 0 {
		t.Errorf("the ladder is %.0f×%.0f px", got.Width, got.Height)
	}
	if got.Arrows != messages || got.DrawnArrows != messages {
		t.Errorf("the ladder has %d arrows (%d drawn), want one per SIP message: %d", got.Arrows, got.DrawnArrows, messages)
	}
	if got.Lanes < 3 {
		t.Errorf("the ladder has %d lanes; the gate, the server and the house's endpoints need more", got.Lanes)
	}
	if got.Details == 0 || got.OpenDetails != 0 || got.VisiblePassed != 0 {
		t.Errorf("passed cases: %d groups, %d open, %d visible; want them all collapsed", got.Details, got.OpenDetails, got.VisiblePassed)
	}
	if got.Resources != 0 {
		t.Errorf("the page loaded %d resources; it must be self-contained", got.Resources)
	}
	desktop := b.screenshot(t, "desktop screenshot")

	b.do(t, "phone viewport", chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateMobile))
	b.do(t, "reloading at phone width", chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("svg.ladder")))
	var phone struct {
		PageWidth  int
		Wider      []string
		LadderWrap float64
	}
	// Only the ladder's own scroller may hold something wider than the
	// phone; the page itself must not scroll sideways.
	b.eval(t, `(() => {
		const w = document.documentElement.clientWidth;
		const wider = Array.from(document.querySelectorAll("body *"))
			.filter(e => !e.closest(".ladder-wrap") && e.getBoundingClientRect().right > w + 1)
			.map(e => e.tagName + "." + e.className);
		return {PageWidth: document.documentElement.scrollWidth, Wider: wider,
			LadderWrap: document.querySelector(".ladder-wrap").getBoundingClientRect().width};
	})()`, &phone)
	if phone.PageWidth > phoneWidth || len(phone.Wider) > 0 {
		t.Errorf("at %d px the page is %d px wide; wider than the screen: %v", phoneWidth, phone.PageWidth, phone.Wider)
	}
	if phone.LadderWrap <= 0 || phone.LadderWrap > phoneWidth {
		t.Errorf("at %d px the ladder's scroller is %.0f px wide", phoneWidth, phone.LadderWrap)
	}
	phoneShot := b.screenshot(t, "phone screenshot")

	// The page was loaded twice (desktop, phone); nothing else was.
	urls := requests()
	if len(urls) != 2 {
		t.Errorf("the browser made %d requests for two loads of the page: %v", len(urls), urls)
	}
	for _, u := range urls {
		if u != url {
			t.Errorf("the browser requested %s; want only the page itself", u)
		}
	}
	checkWidth(t, desktop, desktopWidth)
	checkWidth(t, phoneShot, phoneWidth)
	keepShots(t, map[string][]byte{"report-desktop.png": desktop, "report-phone.png": phoneShot})
}

// TestGraphSVGInChromium renders graph -format svg of the small office
// (people, DDIs, conference rooms) in headless Chromium: a node per node
// of the DOT, each laid out with a size, and a screenshot.
func TestGraphSVGInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	exe := peer.Require(t, "chromium", "apt-get install -y chromium (make peers)")
	peer.Require(t, "dot", "apt-get install -y graphviz (make peers)")
	site := filepath.Join("..", "..", "examples", "small-office")
	var svg, dot, stderr bytes.Buffer
	if status := run([]string{"graph", "-format", "svg", site}, strings.NewReader(""), &svg, &stderr); status != exitOK {
		t.Fatalf("graph -format svg: exit status %d\n%s", status, stderr.String())
	}
	if status := run([]string{"graph", "-format", "dot", site}, strings.NewReader(""), &dot, &stderr); status != exitOK {
		t.Fatalf("graph -format dot: exit status %d\n%s", status, stderr.String())
	}
	nodes := strings.Count(dot.String(), "shape=")
	rooms := strings.Count(dot.String(), "shape=hexagon")
	if rooms == 0 {
		t.Fatal("the small office's DOT has no conference room")
	}
	path := filepath.Join(t.TempDir(), "graph.svg")
	if err := os.WriteFile(path, svg.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	b := startChromium(t, exe)
	b.do(t, "viewport", chromedp.EmulateViewport(desktopWidth, desktopHigh))
	b.do(t, "loading the graph", chromedp.Navigate("file://"+path), chromedp.WaitReady(chromedp.CSS("svg")))
	var got struct {
		Nodes, Sized, Rooms int
		Width, Height       float64
	}
	b.eval(t, `(() => {
		const nodes = Array.from(document.querySelectorAll("g.node"));
		const box = document.querySelector("svg").getBoundingClientRect();
		return {Nodes: nodes.length, Sized: nodes.filter(n => { const b = n.getBBox(); return b.width > 0 && b.height > 0; }).length,
			Rooms: nodes.filter(n => n.querySelector("title").textContent.startsWith("conference.")).length,
			Width: box.width, Height: box.height};
	})()`, &got)
	if got.Nodes != nodes || got.Sized != nodes {
		t.Errorf("the SVG shows %d nodes (%d with a size), the DOT has %d", got.Nodes, got.Sized, nodes)
	}
	if got.Rooms != rooms {
		t.Errorf("the SVG shows %d conference rooms, the DOT %d", got.Rooms, rooms)
	}
	if got.Width <= 0 || got.Height <= 0 {
		t.Errorf("the graph is %.0f×%.0f px", got.Width, got.Height)
	}
	shot := b.screenshot(t, "screenshot")
	keepShots(t, map[string][]byte{"graph.png": shot})
}

// browser is one headless Chromium tab for a test.
type browser struct {
	ctx context.Context // bounded: every action after the start
}

func startChromium(t *testing.T, exe string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// The first action starts the browser, which lives as long as ctx:
	// no timeout on it; the rest are bounded.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	tctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancelTimeout)
	return &browser{ctx: tctx}
}

func (b *browser) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		t.Fatalf("chromium: %s: %v", what, err)
	}
}

// eval runs a script that returns an object and decodes it into v.
func (b *browser) eval(t *testing.T, script string, v any) {
	t.Helper()
	res, err := chromedp.Run(b.ctx, chromedp.Evaluate[json.RawMessage](script))
	if err != nil {
		t.Fatalf("chromium: evaluating: %v", err)
	}
	if err := json.Unmarshal(res, v); err != nil {
		t.Fatalf("chromium: decoding %s: %v", res, err)
	}
}

func (b *browser) screenshot(t *testing.T, what string) []byte {
	t.Helper()
	shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("chromium: %s: %v", what, err)
	}
	return shot
}

// watchRequests records the URL of every request the tab makes from now
// on; the func it returns lists them.
func (b *browser) watchRequests(t *testing.T) func() []string {
	t.Helper()
	var mu sync.Mutex
	var urls []string
	if err := chromedp.Listen(b.ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			urls = append(urls, e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("chromium: listening: %v", err)
	}
	if _, err := chromedp.Call(b.ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("chromium: network events: %v", err)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), urls...)
	}
}

// checkWidth fails unless shot is a PNG as wide as the viewport.
func checkWidth(t *testing.T, shot []byte, width int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if w := img.Bounds().Dx(); w != width {
		t.Errorf("the screenshot is %d px wide, want %d", w, width)
	}
}

// keepShots writes the screenshots to the test's temporary directory and,
// when REPORT_SHOTS_DIR names one, there too, for a person to look at.
func keepShots(t *testing.T, shots map[string][]byte) {
	t.Helper()
	dirs := []string{t.TempDir()}
	if d := os.Getenv("REPORT_SHOTS_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		for name, data := range shots {
			if err := os.WriteFile(filepath.Join(d, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("screenshots in %s", strings.Join(dirs, " and "))
}
