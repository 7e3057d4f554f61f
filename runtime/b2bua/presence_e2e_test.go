package b2bua_test

import (
	"context"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/presence"
	"switchboard/runtime/site"
	"switchboard/simulate/device"
)

// dialogInfo is the part of an RFC 4235 document the tests read.
type dialogInfo struct {
	Entity  string `xml:"entity,attr"`
	Version int    `xml:"version,attr"`
	Dialogs []struct {
		Direction string `xml:"direction,attr"`
		State     string `xml:"state"`
	} `xml:"dialog"`
}

// dialogStates lists, per NOTIFY of the dialog package d received for
// entity, "<subscription state>" and then each dialog's "direction:state".
func dialogStates(t *testing.T, d *device.Device, entity string) []string {
	t.Helper()
	var out []string
	for _, n := range d.Notifications() {
		if n.Event != presence.Event {
			continue
		}
		var doc dialogInfo
		if err := xml.Unmarshal([]byte(n.Body), &doc); err != nil {
			t.Fatalf("NOTIFY body %q: %v", n.Body, err)
		}
		if !strings.HasPrefix(doc.Entity, "sip:"+entity+"@") {
			continue
		}
		state, _, _ := strings.Cut(n.State, ";")
		line := state
		for _, dl := range doc.Dialogs {
			line += " " + dl.Direction + ":" + dl.State
		}
		out = append(out, line)
	}
	return out
}

// waitStates waits until d has received want for entity (in order).
func waitStates(t *testing.T, ctx context.Context, d *device.Device, entity string, want []string) {
	t.Helper()
	_, err := d.WaitNotification(ctx, presence.Event, func(string) bool {
		return len(dialogStates(t, d, entity)) >= len(want)
	})
	if diff := cmp.Diff(want, dialogStates(t, d, entity)); diff != "" || err != nil {
		t.Fatalf("NOTIFYs for %s (-want +got):\n%s%v", entity, diff, err)
	}
}

// A phone watching two people's extensions (BLF) sees each of their calls
// go through trying, early, confirmed and terminated, on the caller's side
// and the callee's, one NOTIFY per change and in order.
func TestPresenceFollowsCall(t *testing.T) {
	h := start(t)
	tom := h.device("app.tom")
	ann := h.device("app.ann")
	mary := h.device("app.mary")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for _, ext := range []string{"101", "201"} {
		if _, status, err := tom.Watch(ctx, ext, time.Hour); err != nil || status != 200 {
			t.Fatalf("tom watches %s: %d, %v", ext, status, err)
		}
		waitStates(t, ctx, tom, ext, []string{"active"})
	}
	answer := make(chan struct{})
	mary.SetPickupWhen(answer)
	call, err := func() (*device.Call, error) {
		type result struct {
			c   *device.Call
			err error
		}
		done := make(chan result, 1)
		go func() { c, err := ann.Dial(ctx, "101"); done <- result{c, err} }()
		// Mary's phone rings: her watcher sees early before she answers.
		waitStates(t, ctx, tom, "101", []string{"active", "active recipient:early"})
		close(answer)
		r := <-done
		return r.c, r.err
	}()
	if err != nil {
		t.Fatal(err)
	}
	waitStates(t, ctx, tom, "101", []string{"active", "active recipient:early", "active recipient:confirmed"})
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitStates(t, ctx, tom, "101", []string{"active", "active recipient:early", "active recipient:confirmed", "active recipient:terminated"})
	waitStates(t, ctx, tom, "201", []string{"active", "active initiator:trying", "active initiator:early", "active initiator:confirmed", "active initiator:terminated"})
}

// Dialog subscriptions are bounded and answered as RFC 6665 says: a wrong
// password, an unknown event package, too short an expiry, someone not of
// the site and too many subscriptions are refused; refresh and unsubscribe
// work in the subscription's dialog, and unsubscribing frees its place.
func TestPresenceSubscriptionLimits(t *testing.T) {
	h := startSite(t, e2eSite, func(o *site.Options) {
		o.Presence = presence.Limits{PerAccount: 2, Total: 3, MinExpires: time.Minute, MaxExpires: time.Hour}
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	tom := h.device("app.tom")
	ann := h.device("app.ann")

	pw, _ := h.secrets.SIPPassword("app.bob")
	intruder, err := device.New(device.Config{Account: "app.bob", Password: pw + "x", Domain: "e2e.example", Server: h.addr})
	if err != nil {
		t.Fatal(err)
	}
	defer intruder.Close()
	got := map[string]int{}
	_, got["wrong password"], _ = intruder.Watch(ctx, "101", time.Hour)
	got["other event"], _ = tom.Subscribe(ctx, "presence", time.Hour)
	_, got["too brief"], _ = tom.Watch(ctx, "101", 10*time.Second)
	_, got["nobody"], _ = tom.Watch(ctx, "999", time.Hour)
	_, got["door station"], _ = tom.Watch(ctx, "device.gate", time.Hour)
	first, status, _ := tom.Watch(ctx, "101", time.Hour)
	got["first"] = status
	_, got["second"], _ = tom.Watch(ctx, "201", time.Hour)
	_, got["third of tom"], _ = tom.Watch(ctx, "202", time.Hour)
	_, got["ann's"], _ = ann.Watch(ctx, "102", time.Hour)
	_, got["over the total"], _ = ann.Watch(ctx, "101", time.Hour)
	want := map[string]int{"wrong password": 407, "other event": 489, "too brief": 423, "nobody": 404, "door station": 404,
		"first": 200, "second": 200, "third of tom": 503, "ann's": 200, "over the total": 503}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SUBSCRIBE answers (-want +got):\n%s", diff)
	}
	if first == nil {
		t.Fatal("tom's first subscription was refused")
	}

	// A refresh answers in the dialog and notifies the state again; an
	// unsubscribe ends it with a final NOTIFY and frees its place.
	if status, err := first.Refresh(ctx, 2*time.Minute); err != nil || status != 200 {
		t.Fatalf("refresh: %d, %v", status, err)
	}
	waitStates(t, ctx, tom, "101", []string{"active", "active"})
	if n := tom.Notifications(); !strings.Contains(n[len(n)-1].State, "expires=120") {
		t.Errorf("the refresh's NOTIFY says %q, want expires=120", n[len(n)-1].State)
	}
	if status, err := first.Refresh(ctx, 0); err != nil || status != 200 {
		t.Fatalf("unsubscribe: %d, %v", status, err)
	}
	waitStates(t, ctx, tom, "101", []string{"active", "active", "terminated"})
	if status, err := first.Refresh(ctx, time.Hour); err != nil || status != 481 {
		t.Errorf("refresh after unsubscribe: %d, %v; want 481", status, err)
	}
	if _, status, err := tom.Watch(ctx, "202", time.Hour); err != nil || status != 200 {
		t.Errorf("a subscription after unsubscribing: %d, %v; want 200", status, err)
	}
}

// A subscription that is not refreshed ends at its expiry with a final
// NOTIFY; a reload that removes the person watched ends the others with
// reason noresource, and keeps the rest.
func TestPresenceExpiryAndReload(t *testing.T) {
	h := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	tom := h.device("app.tom")
	for _, ext := range []string{"101", "201", "202"} {
		if _, status, err := tom.Watch(ctx, ext, 10*time.Minute); err != nil || status != 200 {
			t.Fatalf("watch %s: %d, %v", ext, status, err)
		}
		waitStates(t, ctx, tom, ext, []string{"active"})
	}
	withoutBob := compile(t, strings.Replace(e2eSite, `user "bob" {
  email     = "bob@x.example"
  residence = residence.apt-2b
  extension = 202
  app       = true
}`, "", 1))
	if err := h.site.Swap(site.Config{Program: withoutBob, Secrets: h.secrets}); err != nil {
		t.Fatal(err)
	}
	ended := func(ext string) string {
		for _, n := range tom.Notifications() {
			var doc dialogInfo
			if xml.Unmarshal([]byte(n.Body), &doc) == nil && strings.HasPrefix(doc.Entity, "sip:"+ext+"@") && strings.HasPrefix(n.State, "terminated") {
				return n.State
			}
		}
		return ""
	}
	if _, err := tom.WaitNotification(ctx, presence.Event, func(string) bool { return ended("202") != "" }); err != nil || ended("202") != "terminated;reason=noresource" {
		t.Fatalf("bob's watcher: %q, %v; want terminated;reason=noresource", ended("202"), err)
	}
	h.clock.Advance(10 * time.Minute)
	for _, ext := range []string{"101", "201"} {
		if _, err := tom.WaitNotification(ctx, presence.Event, func(string) bool { return ended(ext) != "" }); err != nil || ended(ext) != "terminated;reason=timeout" {
			t.Errorf("%s: %q, %v; want terminated;reason=timeout at expiry", ext, ended(ext), err)
		}
	}
}
