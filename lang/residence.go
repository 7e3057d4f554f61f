package lang

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

var residenceSchema = residenceBlock.Schema()

// Ring strategies and no-answer fallbacks of a residence.
const (
	RingSimultaneous  = "simultaneous"
	RingSequential    = "sequential"
	NoAnswerVoicemail = "voicemail"
	NoAnswerHangup    = "hangup"
)

// DefaultRingTimeout is how long a residence rings when nothing else is said.
const DefaultRingTimeout = 30 * time.Second

func decodeResidenceBlock(b *hcl.Block, ev *evaluator) (*Residence, hcl.Diagnostics) {
	r := &Residence{Name: b.Labels[0], NameRange: b.LabelRanges[0], DeclRange: b.DefRange}
	content, diags := b.Body.Content(residenceSchema)
	a := &attrs{m: content.Attributes, decl: b.DefRange, ev: ev, spec: residenceBlock}
	r.Label = a.str("label", r.Name)
	r.Ring = a.str("ring", RingSimultaneous)
	a.oneOf("ring", r.Ring, RingSimultaneous, RingSequential)
	r.RingTimeout = a.duration("ring_timeout", DefaultRingTimeout)
	r.NoAnswer = a.str("no_answer", NoAnswerVoicemail)
	a.oneOf("no_answer", r.NoAnswer, NoAnswerVoicemail, NoAnswerHangup)
	return r, append(diags, a.diags...)
}
