package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"switchboard/compiler/provision/akuvox"
	"switchboard/compiler/state"
)

// DriftStatus is what a refresh found out about one device.
type DriftStatus string

const (
	// InSync: every recorded setting reads back as applied.
	InSync DriftStatus = "matches the last apply"
	// Drifted: some settings read back otherwise, or are gone.
	Drifted DriftStatus = "drifted"
	// NoReadBack: switchboard cannot read the device's settings back.
	NoReadBack DriftStatus = "no read-back"
	// NotRead: it could, but did not: no address, unreachable, nothing
	// recorded to compare with.
	NotRead DriftStatus = "not read"
)

// Drift is the refresh of one device: its settings read back and compared
// with the last applied ones (state.Delivery.Settings).
type Drift struct {
	Address string // device.NAME
	Name    string
	Status  DriftStatus
	// Detail says why a device was not read, or what was not compared.
	Detail string
	// Settings are the settings that differ, sorted by key.
	Settings []SettingDrift
}

// SettingDrift is one setting whose value on the device is not the one
// applied. Device is empty and Missing true when the device lacks it;
// Applied is empty and Extra true when the device has an entry the apply
// did not give it (a contact entered at the monitor).
type SettingDrift struct {
	Key, Applied, Device string
	Missing, Extra       bool
}

// RefreshOptions are what Refresh needs.
type RefreshOptions struct {
	// State is the applied state: its devices are refreshed.
	State *state.State
	// Targets are the devices' management API addresses, by device name.
	Targets map[string]Target
	// Timeout bounds each API request (default 10s).
	Timeout time.Duration
}

// Refresh reads back every applied device that has a management API and
// an address, and compares its settings with the last applied ones, in
// address order. Devices it cannot read say why.
func Refresh(ctx context.Context, o RefreshOptions) []Drift {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	var out []Drift
	for _, obj := range o.State.Objects {
		name, ok := strings.CutPrefix(obj.Address, "device.")
		if !ok || (obj.InProgress && len(obj.Attributes) == 0) {
			continue // not a device, or never applied
		}
		d := Drift{Address: obj.Address, Name: name}
		vendor := attrString(obj.Attributes["vendor"])
		t, hasTarget := o.Targets[name]
		read, done := readerFor(vendor, t, o.Timeout)
		switch {
		case vendor != akuvox.Vendor && read == nil:
			d.Status, d.Detail = NoReadBack, fmt.Sprintf("switchboard has no management API for %s devices, so it cannot read their settings back", orUnknown(vendor))
		case obj.Delivery == nil || len(obj.Delivery.Settings) == 0:
			d.Status, d.Detail = NotRead, "the state records no settings to compare with: it was applied before switchboard recorded them; the next apply records them"
		case !hasTarget:
			d.Status, d.Detail = NotRead, "no API address: give it with -device "+name+"=URL or in a -devices file"
		case vendor == akuvox.Vendor:
			d = compareDevice(ctx, d, t, obj.Delivery.Settings, o.Timeout)
		default:
			d = comparePhone(ctx, d, read, obj.Delivery.Settings)
		}
		done()
		out = append(out, d)
	}
	return out
}

func compareDevice(ctx context.Context, d Drift, t Target, applied map[string]string, timeout time.Duration) Drift {
	c := newAkuvoxClient(t, timeout)
	defer c.close()
	have, err := c.config(ctx)
	if err != nil {
		p := verdictFor(err)
		d.Status, d.Detail = NotRead, string(p.Verdict)+": "+p.Detail
		return d
	}
	var contacts []string
	_, hasList := applied[contactKey+"count"]
	for _, k := range slices.Sorted(maps.Keys(applied)) {
		if k == contactKey+"count" {
			continue
		}
		if strings.HasPrefix(k, contactKey) {
			contacts = append(contacts, applied[k])
			continue
		}
		got, ok := have[k]
		switch {
		case !ok:
			d.Settings = append(d.Settings, SettingDrift{Key: k, Applied: applied[k], Missing: true})
		case got != applied[k]:
			d.Settings = append(d.Settings, SettingDrift{Key: k, Applied: applied[k], Device: got})
		}
	}
	if hasList {
		list, err := c.contacts(ctx)
		if err != nil {
			p := verdictFor(err)
			d.Status, d.Detail = NotRead, "contacts: "+string(p.Verdict)+": "+p.Detail
			return d
		}
		d.Settings = append(d.Settings, contactDrift(contacts, list)...)
	}
	d.Status = InSync
	if len(d.Settings) > 0 {
		d.Status = Drifted
	}
	return d
}

// contactKey prefixes the entries of a monitor's contact list among its
// recorded settings (state.Delivery.Settings): "contact.<n>" holds "Name
// <number>", "contact.count" how many there are (so that an empty list is
// recorded too). They are no device keys: refresh compares them with the
// contact API's list.
const contactKey = "contact."

// contactSettings records a contact list as settings.
func contactSettings(out map[string]string, cs []akuvox.Contact) {
	out[contactKey+"count"] = strconv.Itoa(len(cs))
	for i, c := range cs {
		out[fmt.Sprintf("%s%d", contactKey, i+1)] = contactText(c.Name, c.Phone)
	}
}

func contactText(name, phone string) string { return name + " <" + phone + ">" }

// contactDrift compares applied contacts ("Name <number>") with the
// device's list: an applied one the device lacks is Missing, one the device
// has beyond them is shown with an empty applied value.
func contactDrift(applied []string, have []deviceContact) []SettingDrift {
	left := map[string]int{}
	for _, a := range applied {
		left[a]++
	}
	want := applied
	var out []SettingDrift
	for _, h := range have {
		t := contactText(h.Name, h.Phone)
		if left[t] > 0 {
			left[t]--
			continue
		}
		out = append(out, SettingDrift{Key: "contact", Device: t, Extra: true})
	}
	for _, w := range want {
		if left[w] > 0 {
			left[w]--
			out = append(out, SettingDrift{Key: "contact", Applied: w, Missing: true})
		}
	}
	return out
}

// comparePhone compares what a Yealink or Grandstream phone reports with
// what was applied; a setting its read-back does not report is not
// compared (and counted in the detail), since the phone shows only part of
// its configuration.
func comparePhone(ctx context.Context, d Drift, read phoneReader, applied map[string]string) Drift {
	keys := slices.Sorted(maps.Keys(applied))
	have, err := read(ctx, keys)
	if err != nil {
		p := verdictFor(err)
		d.Status, d.Detail = NotRead, string(p.Verdict)+": "+p.Detail
		return d
	}
	unreported := 0
	for _, k := range keys {
		got, ok := have[k]
		switch {
		case !ok:
			unreported++
		case got != applied[k]:
			d.Settings = append(d.Settings, SettingDrift{Key: k, Applied: applied[k], Device: got})
		}
	}
	d.Status = InSync
	if len(d.Settings) > 0 {
		d.Status = Drifted
	}
	if unreported > 0 {
		d.Detail = fmt.Sprintf("%d of %d settings compared; the phone's read-back does not report the others", len(keys)-unreported, len(keys))
	}
	return d
}

func attrString(v string) string {
	var s string
	json.Unmarshal([]byte(v), &s)
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
