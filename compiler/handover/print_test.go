package handover_test

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"switchboard/compiler/handover"
	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/compiler/state"
	"switchboard/runtime/interop/peer"
)

// A4 in CSS pixels (96 per inch) and in PDF points (72 per inch).
const (
	a4WidthPx  = 794
	a4HeightPx = 1123
	a4WidthPt  = 595.3
	a4HeightPt = 841.9
)

// TestSheetPrintsOnA4 renders the HTML sheet of a 40-flat site in headless
// Chromium, prints it to PDF and screenshots it as printed: the PDF's
// pages are A4, there are several (the sheet breaks across pages rather
// than being cut), and nothing is wider than the printable width of an A4
// page. HANDOVER_PRINT_DIR keeps the PDF and PNG for a person to look at.
func TestSheetPrintsOnA4(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	exe := peer.Require(t, "chromium", "apt-get install -y chromium (make peers)")
	p := irtest.Generate(irtest.Options{Residences: 40, UsersPerResidence: 3, Seed: 4})
	p.Site.DisplayName = "Harbour View Apartments"
	p.Site.Installer = &ir.Installer{Company: "Dublin Door Systems", Email: "support@dds.example", Phone: "+35315550100"}
	_, st := harbour(t)
	st.Site = p.Site.Name
	st.Objects = nil
	st.Handovers[0].ToName = firstOwner(p)
	for i, d := range p.Devices {
		o := state.Object{Address: "device." + d.Name, Attributes: map[string]string{}, AppliedAt: when}
		if i%2 == 0 {
			o.Delivery = &state.Delivery{Method: "api", Outcome: "set and verified", Firmware: "29.30.2.17"}
		}
		st.Put(o)
	}
	s := handover.New(handover.Input{Program: p, State: st, Now: when,
		Key: handover.KeyInfo{Location: ".switchboard/site.key", Fingerprint: testKey(t).Fingerprint()}})
	var doc bytes.Buffer
	if err := s.HTML(&doc); err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("HANDOVER_PRINT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	htmlPath, err := filepath.Abs(filepath.Join(dir, "handover.html"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(htmlPath, doc.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first action starts the browser, which lives as long as ctx: no
	// timeout on it (chromedp.Run); the rest are bounded.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(a4WidthPx, a4HeightPx)); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	tctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()
	run := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("chromium: %s: %v", what, err)
		}
	}
	_, err = chromedp.Call(tctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
	run("print media", err)
	run("loading the sheet", chromedp.Do(tctx, chromedp.Navigate("file://"+htmlPath), chromedp.WaitReady(chromedp.CSS("footer"))))
	// Self-contained: the page loaded nothing but itself.
	requests, err := chromedp.Run(tctx, chromedp.Evaluate[int](`performance.getEntriesByType("resource").length`))
	run("counting requests", err)
	// Nothing reaches past the printable width of an A4 page.
	overflow, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`Array.from(document.querySelectorAll("body *")).some(e => e.getBoundingClientRect().right > `+strconv.Itoa(a4WidthPx)+`)`))
	run("measuring", err)
	pdf, err := chromedp.Run(tctx, chromedp.PrintToPDF(chromedp.PDFPreferCSSPageSize(), chromedp.PDFPrintBackground()))
	run("printing", err)
	shot, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	run("screenshot", err)
	if requests != 0 {
		t.Errorf("the page loaded %d resources; it must be self-contained", requests)
	}
	if overflow {
		t.Error("something on the page is wider than an A4 page")
	}
	if err := os.WriteFile(filepath.Join(dir, "handover.pdf"), pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "handover.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}

	boxes := regexp.MustCompile(`/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]`).FindAllSubmatch(pdf, -1)
	if len(boxes) < 2 {
		t.Fatalf("the PDF has %d pages; a 40-flat site's sheet needs several", len(boxes))
	}
	for i, b := range boxes {
		w, _ := strconv.ParseFloat(string(b[1]), 64)
		h, _ := strconv.ParseFloat(string(b[2]), 64)
		if abs(w-a4WidthPt) > 2 || abs(h-a4HeightPt) > 2 {
			t.Errorf("page %d is %.1f × %.1f pt, not A4 (%.1f × %.1f)", i+1, w, h, a4WidthPt, a4HeightPt)
		}
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if w := img.Bounds().Dx(); w != a4WidthPx {
		t.Errorf("the screenshot is %d px wide, want the A4 width %d", w, a4WidthPx)
	}
	t.Logf("%d A4 pages; PDF, PNG and HTML in %s", len(boxes), dir)
}

// firstOwner is the name of the sheet's owner: the first user with role owner.
func firstOwner(p *ir.Program) string {
	for _, u := range p.Users {
		if u.Role == "owner" {
			return u.DisplayName
		}
	}
	return ""
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
