package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"switchboard/compiler/apply"
)

// deviceAPIs collects -device and -devices: the devices' management API
// addresses, which apply pushes through and plan -refresh reads back.
func (o *planCommon) deviceAPIs(c *cli) (map[string]apply.Target, error) {
	user := c.getenv("SWITCHBOARD_DEVICE_USER")
	if user == "" {
		user = "admin"
	}
	password := c.getenv("SWITCHBOARD_DEVICE_PASSWORD")
	targets := map[string]apply.Target{}
	if o.devicesFile != "" {
		data, err := os.ReadFile(o.devicesFile)
		if err != nil {
			return nil, fmt.Errorf("-devices: %v", err)
		}
		t, err := apply.ParseTargets(string(data), user, password)
		if err != nil {
			return nil, fmt.Errorf("-devices %s: %v", o.devicesFile, err)
		}
		targets = t
	}
	for _, spec := range o.devices {
		name, t, err := apply.ParseTarget(spec, user, password)
		if err != nil {
			return nil, fmt.Errorf("-device: %v", err)
		}
		targets[name] = t
	}
	return targets, nil
}

// refresh reads the applied devices back (-refresh) and returns what it
// found, and the addresses of the devices that drifted.
func (c *cli) refresh(pr *prepared, o *planCommon) ([]apply.Drift, []string, error) {
	apis, err := o.deviceAPIs(c)
	if err != nil {
		return nil, nil, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	drift := apply.Refresh(ctx, apply.RefreshOptions{State: pr.state, Targets: apis, Timeout: o.timeout})
	var drifted []string
	for _, d := range drift {
		if d.Status == apply.Drifted {
			drifted = append(drifted, d.Address)
		}
	}
	return drift, drifted, nil
}

// writeDriftText says, before the plan, what the refresh found on each
// device: the settings that differ from the last apply, or why a device
// was not read.
func writeDriftText(w io.Writer, drift []apply.Drift, s style) {
	fmt.Fprintf(w, "Refreshing: reading the applied devices back.\n\n")
	if len(drift) == 0 {
		fmt.Fprintf(w, "  No device has been applied yet: nothing to read back.\n\n")
		return
	}
	n := 0
	for _, d := range drift {
		switch d.Status {
		case apply.InSync:
			fmt.Fprintf(w, "  %s device %q: %s\n", s.paint(ansiGreen, "✓"), d.Name, d.Status)
		case apply.Drifted:
			n++
			fmt.Fprintf(w, "  %s device %q: %s since the last apply:\n", s.paint(ansiYellow, "~"), d.Name, plural(len(d.Settings), "setting differs"))
			for _, set := range d.Settings {
				if set.Missing {
					fmt.Fprintf(w, "      %s = %q applied, gone from the device\n", set.Key, set.Applied)
					continue
				}
				if set.Extra {
					fmt.Fprintf(w, "      %s = %q on the device only\n", set.Key, set.Device)
					continue
				}
				fmt.Fprintf(w, "      %s = %q on the device, %q applied\n", set.Key, set.Device, set.Applied)
			}
		default:
			fmt.Fprintf(w, "  - device %q: %s: %s\n", d.Name, d.Status, d.Detail)
		}
	}
	if n > 0 {
		fmt.Fprintf(w, "\n%s changed behind switchboard's back; the plan applies the site's settings again.\n", plural(n, "device"))
	}
	fmt.Fprintln(w)
}

// driftJSON is one device's refresh in -json output.
type driftJSON struct {
	Address  string             `json:"address"`
	Status   string             `json:"status"`
	Detail   string             `json:"detail,omitempty"`
	Settings []settingDriftJSON `json:"settings,omitempty"`
}

type settingDriftJSON struct {
	Key     string `json:"key"`
	Applied string `json:"applied"`
	Device  string `json:"device,omitempty"`
	Missing bool   `json:"missing,omitempty"`
	Extra   bool   `json:"extra,omitempty"` // on the device only
}

func driftDocument(drift []apply.Drift) []driftJSON {
	if drift == nil {
		return nil
	}
	out := []driftJSON{}
	for _, d := range drift {
		dj := driftJSON{Address: d.Address, Status: string(d.Status), Detail: d.Detail}
		for _, s := range d.Settings {
			dj.Settings = append(dj.Settings, settingDriftJSON{s.Key, s.Applied, s.Device, s.Missing, s.Extra})
		}
		out = append(out, dj)
	}
	return out
}
