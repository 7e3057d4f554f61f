package main

import (
	"fmt"
	"io"

	"switchboard/compiler/plan"
)

// writePlanCallouts opens a plan with what a reviewer must not miss among
// the attribute changes: the site changing owner, the site key changing
// (and so every password).
func writePlanCallouts(w io.Writer, p *plan.Plan, s style) {
	if p.Handover != nil {
		fmt.Fprintf(w, "%s %s. apply records the handover in the state and mails %s the handover sheet.\n\n",
			s.paint(ansiBold+ansiYellow, "Handover:"), p.Handover.Callout(), p.Handover.ToName)
	}
	if p.Rekeyed {
		fmt.Fprintf(w, "%s the site key was replaced (switchboard rekey), so every password and PIN of the site changes: each one below changes because the site key was rekeyed. Devices fetch their new files with their old password while the previous key's grace lasts.\n\n",
			s.paint(ansiBold+ansiYellow, "Site key rekeyed:"))
	}
}

// handoverJSON is a plan's change of owner in plan -json.
type handoverJSON struct {
	From     string `json:"from"`
	FromName string `json:"from_name"`
	To       string `json:"to"`
	ToName   string `json:"to_name"`
	Callout  string `json:"callout"`
}

func handoverDocument(h *plan.Handover) *handoverJSON {
	if h == nil {
		return nil
	}
	return &handoverJSON{From: h.From, FromName: h.FromName, To: h.To, ToName: h.ToName, Callout: h.Callout()}
}
