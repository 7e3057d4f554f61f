package compiler

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"switchboard/compiler/catalogue"
	"switchboard/lang"
)

// dtmfCode is what a relay's DTMF code may hold.
var dtmfCode = regexp.MustCompile(`^[0-9*#]{1,8}$`)

// checkDevices resolves each device's model and MAC and checks what the
// device may be bound to and carry, by kind.
func (c *checker) checkDevices() {
	macs := map[catalogue.MAC]*Device{}
	for _, ld := range c.cfg.Devices {
		d := &Device{Device: ld}
		c.out.Devices = append(c.out.Devices, d)
		c.out.DeviceByName[ld.Name] = d

		if ld.Model.Set {
			if m, ok := catalogue.Lookup(ld.Model.Value); ok {
				d.Model = m
				d.Kind = m.Kind
			} else {
				detail := fmt.Sprintf("switchboard does not know the model %q. Models are written <vendor>-<model> in lower case, such as \"akuvox-r29c\" or \"yealink-t54w\".", ld.Model.Value)
				if sug := catalogue.Suggest(ld.Model.Value); sug != "" {
					detail += fmt.Sprintf(" Did you mean %q?", sug)
				} else {
					detail += " Known vendors: " + vendorNames() + "; to add a model, add one line to compiler/catalogue."
				}
				c.errorf(ld.Model.Range, "Unknown model", "%s", detail)
			}
		}
		if d.Kind == "" {
			d.Kind = inferKind(ld)
		}

		if ld.MAC.Set {
			if mac, err := catalogue.ParseMAC(ld.MAC.Value); err != nil {
				c.errorf(ld.MAC.Range, "Invalid MAC address", "The MAC of device %q: %s.", ld.Name, err)
			} else if prev := macs[mac]; prev != nil {
				c.errorf(ld.MAC.Range, "Duplicate MAC address",
					"Device %q already has the MAC %s (%s). Each device is bound by its own MAC; copy it from the label on the device.", prev.Name, mac.Colons(), at(prev.Device.MAC.Range))
			} else {
				macs[mac] = d
				d.MAC = mac
				c.checkVendor(d)
			}
		}

		switch d.Kind {
		case catalogue.DoorStation:
			c.checkDoorStationDevice(d)
		case catalogue.Monitor:
			c.checkMonitorDevice(d)
			c.checkRelays(d)
		case catalogue.Phone:
			c.checkPhoneDevice(d)
		}
		if d.Model != nil && d.Kind == catalogue.Monitor && ld.Residence != nil {
			c.out.ResidenceMonitors[ld.Residence.Name] = append(c.out.ResidenceMonitors[ld.Residence.Name], d)
		}
		if d.Model != nil && d.Kind == catalogue.Phone && ld.User != nil {
			c.out.UserPhones[ld.User.Name] = append(c.out.UserPhones[ld.User.Name], d)
		}
	}
}

// inferKind guesses the kind of a device whose model is unknown, so that
// one typo in a model does not bring a cascade of unrelated errors.
func inferKind(d *lang.Device) catalogue.Kind {
	switch {
	case len(d.Buttons) > 0 || d.Keypad.Value:
		return catalogue.DoorStation
	case d.Residence != nil:
		return catalogue.Monitor
	case d.User != nil:
		return catalogue.Phone
	}
	return ""
}

func vendorNames() string {
	var names []string
	for _, v := range catalogue.Vendors() {
		names = append(names, v.ID)
	}
	return strings.Join(names, ", ")
}

// checkVendor warns when a MAC's prefix is not one of the model's vendor.
// OEM devices carry other prefixes, so this is a warning.
func (c *checker) checkVendor(d *Device) {
	if d.Model == nil {
		return
	}
	want := d.Model.Vendor
	got, ok := d.MAC.Vendor()
	switch {
	case ok && got == want:
		return
	case ok:
		c.warnf(d.Device.MAC.Range, "MAC vendor mismatch",
			"The MAC %s of device %q starts with %s, a prefix of %s, but the model %q is made by %s. Check the MAC and the model against the label on the device; an OEM device may legitimately differ.",
			d.MAC.Colons(), d.Name, catalogue.FormatOUI(d.MAC.OUI()), got.Name, d.Model.ID, want.Name)
	default:
		var known []string
		for _, o := range want.OUIs {
			known = append(known, catalogue.FormatOUI(o))
		}
		c.warnf(d.Device.MAC.Range, "MAC vendor mismatch",
			"The MAC %s of device %q starts with %s, which is not one of %s's known prefixes (%s). Check the MAC against the label on the device; an OEM device may legitimately differ.",
			d.MAC.Colons(), d.Name, catalogue.FormatOUI(d.MAC.OUI()), want.Name, strings.Join(known, ", "))
	}
}

func (c *checker) checkDoorStationDevice(d *Device) {
	ld := d.Device
	if ld.Residence != nil {
		c.errorf(ld.Residence.Range, "Unexpected residence",
			"Device %q is a door station: it calls residences through its buttons or keypad and belongs to none. Remove residence, and add button blocks or keypad = true.", ld.Name)
	}
	if ld.User != nil {
		c.errorf(ld.User.Range, "Unexpected user",
			"Device %q is a door station: it calls users through its buttons and belongs to none. Remove user, and add a button that calls %s.", ld.Name, ld.User)
	}
	c.noLineLabel(d, "a door station")
	if len(ld.Buttons) == 0 && !ld.Keypad.Value {
		c.errorf(ld.DeclRange, "Door station calls nobody",
			"Door station %q has no button blocks and no keypad, so a visitor cannot call anyone from it. Add button \"1\" { calls = residence.<name> }, or keypad = true.", ld.Name)
	}
	if ld.Keypad.Value && d.Model != nil && !d.Model.Keypad {
		c.warnf(ld.Keypad.Range, "Model has no keypad",
			"The %s of device %q has no keypad or touch-screen directory, so visitors cannot key a residence. Use buttons instead, or check the model.", d.Model, ld.Name)
	}
	for _, b := range ld.Buttons {
		n, err := strconv.Atoi(b.Label)
		if err != nil || n < 1 || strconv.Itoa(n) != b.Label {
			c.errorf(b.LabelRange, "Invalid button label",
				"Buttons are numbered from 1 as on the panel, without leading zeros, such as button \"1\"; %q is not a button number.", b.Label)
			continue
		}
		if d.Model != nil && n > d.Model.Buttons {
			c.warnf(b.LabelRange, "Button beyond model",
				"The %s has %d call button(s), so button %q of device %q may not exist on it. Check the panel's button count or the model.", d.Model, d.Model.Buttons, b.Label, ld.Name)
		}
	}
	c.checkRelays(d)
}

func (c *checker) checkMonitorDevice(d *Device) {
	ld := d.Device
	if ld.Residence == nil && d.Model != nil {
		c.errorf(ld.DeclRange, "Monitor without residence",
			"Device %q is an indoor monitor, which answers door calls for one residence. Add residence = residence.<name>.", ld.Name)
	}
	if ld.User != nil {
		c.errorf(ld.User.Range, "Unexpected user",
			"Device %q is an indoor monitor: it belongs to a residence, not to a user. Remove user; the users of its residence answer on it.", ld.Name)
	}
	c.noDoorControls(d, "an indoor monitor")
	c.noLineLabel(d, "an indoor monitor")
}

func (c *checker) checkPhoneDevice(d *Device) {
	ld := d.Device
	if ld.User == nil && d.Model != nil {
		c.errorf(ld.DeclRange, "Phone without user",
			"Device %q is a desk phone, which is one user's own phone. Add user = user.<name>.", ld.Name)
	}
	if ld.Residence != nil {
		c.errorf(ld.Residence.Range, "Unexpected residence",
			"Device %q is a desk phone: it belongs to a user, and rings for their residence through them. Remove residence.", ld.Name)
	}
	c.noDoorControls(d, "a desk phone")
	for _, r := range ld.Relays {
		c.errorf(r.NameRange, "Unexpected relay",
			"Device %q is a desk phone, which has no relays. Relays belong to door stations and monitors.", ld.Name)
	}
}

// noLineLabel reports a line label on a device that has no line of a
// person's to name: a door station shows its location, a monitor its
// residence.
func (c *checker) noLineLabel(d *Device, what string) {
	if l := d.Device.Label; l.Set {
		c.errorf(l.Range, "Unexpected label",
			"Device %q is %s; label names a desk phone's line. Use location to say where the device is.", d.Device.Name, what)
	}
}

// noDoorControls reports buttons and keypads on devices other than door
// stations.
func (c *checker) noDoorControls(d *Device, what string) {
	ld := d.Device
	for _, b := range ld.Buttons {
		c.errorf(b.LabelRange, "Unexpected button",
			"Device %q is %s; call buttons belong to door stations. Remove the button block.", ld.Name, what)
	}
	if ld.Keypad.Set && ld.Keypad.Value {
		c.errorf(ld.Keypad.Range, "Unexpected keypad",
			"Device %q is %s; keypads belong to door stations. Remove keypad.", ld.Name, what)
	}
}

// checkRelays checks relay DTMF codes, hold times and count.
func (c *checker) checkRelays(d *Device) {
	ld := d.Device
	codes := map[string]*lang.Relay{}
	var valid []*lang.Relay
	for i, r := range ld.Relays {
		if d.Model != nil && i == d.Model.Relays {
			c.warnf(r.NameRange, "More relays than the model has",
				"The %s has %d relay(s); relay %q of device %q is one more. Check the model, or remove the relay.", d.Model, d.Model.Relays, r.Name, ld.Name)
		}
		c.checkDuration(r.Hold, relayHoldRange, "hold", "relay", r.Name)
		if !r.DTMF.Set {
			continue
		}
		code := r.DTMF.Value
		switch {
		case !dtmfCode.MatchString(code):
			c.errorf(r.DTMF.Range, "Invalid DTMF code",
				"The DTMF code of relay %q is %q; it must be 1 to 8 of the keys 0-9, * and #, such as \"#\" or \"1234\".", r.Name, code)
		case codes[code] != nil:
			prev := codes[code]
			c.errorf(r.DTMF.Range, "Duplicate DTMF code",
				"Relay %q of this device already opens on %q (%s). Each relay needs its own code.", prev.Name, code, at(prev.DTMF.Range))
		default:
			codes[code] = r
			valid = append(valid, r)
			if d.Model != nil && d.Model.DTMFDigits > 0 && len(code) > d.Model.DTMFDigits {
				c.warnf(r.DTMF.Range, "DTMF code too long for model",
					"The %s accepts relay codes of at most %d keys; %q has %d. Use a shorter code.", d.Model, d.Model.DTMFDigits, code, len(code))
			}
		}
	}
	// A code that begins another fires first: the longer one can never be keyed.
	for _, a := range valid {
		for _, b := range valid {
			if a != b && strings.HasPrefix(b.DTMF.Value, a.DTMF.Value) {
				later, earlier := b, a
				if before(b.DTMF.Range, a.DTMF.Range) {
					later, earlier = a, b
				}
				c.warnf(later.DTMF.Range, "Overlapping DTMF codes",
					"Relay %q opens on %q and relay %q on %q (%s): the device acts on the shorter code as soon as it is keyed, so the longer one never fires. Use codes where neither begins the other.",
					a.Name, a.DTMF.Value, b.Name, b.DTMF.Value, at(earlier.DTMF.Range))
			}
		}
	}
}
