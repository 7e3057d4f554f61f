package b2bua_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"switchboard/runtime/notify"
	"switchboard/simulate/device"
)

// A check-sync to a device with stale registrations — addresses nobody
// answers any more, as after a phone was unplugged — used to take 10 s per
// contact, one after the other (issue 13: POST /admin/check-sync blocked
// 30 s). The contacts are now asked at once within notify.CheckSyncTimeout:
// the live one gets the NOTIFY, and the answer names each stale one.
func TestCheckSyncStaleRegistrationsBounded(t *testing.T) {
	h := start(t)
	const stale = 3
	for i := range stale {
		// Registered from a socket that then closes: its contact stays in
		// the registrar for the hour it asked for. Each from an address of
		// its own that no other test binds (127.0.0.3…): a port of
		// 127.0.0.1 closed here could be handed to another socket on a busy
		// machine, which would then answer the NOTIFY.
		pw, _ := h.secrets.SIPPassword("device.monitor-1a")
		d, err := device.New(device.Config{Account: "device.monitor-1a", Password: pw, Domain: "e2e.example", Server: h.addr,
			IP: netip.AddrFrom4([4]byte{127, 0, 0, byte(3 + i)})})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		status, err := d.Register(ctx, time.Hour)
		cancel()
		if err != nil || status != 200 {
			t.Fatalf("stale registration %d: %d, %v", i, status, err)
		}
		d.Close()
	}
	live := h.device("device.monitor-1a")

	began := time.Now()
	n, err := h.site.CheckSync(context.Background(), "monitor-1a")
	took := time.Since(began)
	if limit := notify.CheckSyncTimeout + 2*time.Second; took > limit {
		t.Errorf("check-sync took %s, want at most %s", took.Round(time.Millisecond), limit)
	}
	// The live contact accepts; each stale one is named as silent.
	silent := 0
	if err != nil {
		silent = strings.Count(err.Error(), "did not answer in time")
	}
	if n != 1 || silent != stale {
		t.Errorf("check-sync accepted by %d contacts and named %d silent (error %v); want the live one accepted and the %d stale ones named", n, silent, err, stale)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := live.WaitNotification(ctx, "check-sync", func(string) bool { return true }); err != nil {
		t.Errorf("the live monitor got no check-sync: %v", err)
	}
}
