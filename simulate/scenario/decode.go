package scenario

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"switchboard/compiler/ir"
	"switchboard/simulate"
)

var fileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{{Type: "scenario", LabelNames: []string{"name"}}},
}

// Step block types. The call is placed by exactly one of callSteps; the
// expectations are what make a scenario prove something.
const (
	stepPress         = "press"
	stepKey           = "key"
	stepDial          = "dial"
	stepAnswer        = "answer"
	stepDecline       = "decline"
	stepBusy          = "busy"
	stepWait          = "wait"
	stepNobodyAnswers = "nobody_answers"
	stepSendDTMF      = "send_dtmf"
	stepHangUp        = "hang_up"
	stepRings         = "rings"
	stepRingsInOrder  = "rings_in_order"
	stepRingsOnly     = "rings_only"
	stepDoesNotRing   = "does_not_ring"
	stepDoorOpens     = "door_opens"
	stepDoorStaysShut = "door_stays_shut"
	stepRefused       = "refused"
	stepFallsBack     = "falls_back"
)

// stepSchemas lists every step block in the order the reference documents
// them, with what each does and what each argument takes: the one place
// these are written. The decoder reads each block with the schema made
// from its arguments, and `switchboard help test` prints the table
// (Steps), so the two cannot disagree.
var stepSchemas = []stepSpec{
	{stepPress, "A visitor presses a door station's button: the call.",
		[]arg{req("button", `the button, such as device.gate.button["1"]`)}},
	{stepKey, "A visitor keys a code on a door station's keypad: the call.",
		[]arg{req("at", "the door station, such as device.gate"),
			req("code", `what is keyed: digits such as "104", or residence.NAME for its label`)}},
	{stepDial, "Someone dials: the call. Give \"to\" or \"number\".",
		[]arg{req("from", "who calls: user.NAME (their first endpoint), device.NAME, or trunk.NAME (the carrier calling in)"),
			opt("to", "who is called: user.NAME (their extension), residence.NAME, or a door station device.NAME"),
			opt("number", `what is dialled, such as 201 or "+442079460100" or "*97"`)}},
	{stepAnswer, "The endpoint answers when it rings; also checks that the call connected to it.",
		[]arg{req("by", "user.NAME (the endpoint of theirs that rings) or device.NAME")}},
	{stepDecline, "The endpoint declines the call (603), which ends the whole call.",
		[]arg{req("by", "user.NAME or device.NAME")}},
	{stepBusy, "The endpoint answers busy (486) when it rings.",
		[]arg{req("by", "user.NAME or device.NAME")}},
	{stepWait, "Lets virtual time pass.",
		[]arg{req("for", `a duration, such as "10s"`)}},
	{stepNobodyAnswers, "Lets the whole ring run out unanswered.", nil},
	{stepSendDTMF, "The answering party keys DTMF digits in the call (RFC 4733).",
		[]arg{req("digits", `DTMF digits, such as "#" or "1234"`),
			opt("by", "who keys them: user.NAME or device.NAME; by default the caller, or for a door station's call the one who answered")}},
	{stepHangUp, "The call is hung up.", nil},
	{stepRings, "Expects each of the endpoints to ring (others may ring too).",
		[]arg{req("endpoints", "a list of user.NAME, device.NAME and residence.NAME"),
			opt("within", `how long after the call was placed it is ringing by, such as "5s"`)}},
	{stepRingsInOrder, "Expects the endpoints to ring one after another, in the order written, each for its turn of the ring.",
		[]arg{req("endpoints", "a list of user.NAME, device.NAME and residence.NAME (a residence stands for its ring's turns)")}},
	{stepRingsOnly, "Expects these endpoints to ring and nothing else, over the whole call.",
		[]arg{req("endpoints", "a list of user.NAME, device.NAME and residence.NAME"),
			opt("within", `how long after the call was placed they are ringing by, such as "5s"`)}},
	{stepDoesNotRing, "Expects none of the endpoints to ring.",
		[]arg{req("endpoints", "a list of user.NAME, device.NAME and residence.NAME")}},
	{stepDoorOpens, "Expects the code of the last send_dtmf to open a relay, and the door station to receive the digits. Give \"relay\" or \"door\".",
		[]arg{opt("relay", `the relay, such as device.gate.relay["gate"]`),
			opt("door", "the door station, such as device.gate, when any of its relays will do")}},
	{stepDoorStaysShut, "Expects the code of the last send_dtmf to open no relay of the door station.",
		[]arg{req("door", "the door station, such as device.gate")}},
	{stepRefused, "Expects the call to be refused with this SIP status.",
		[]arg{req("status", "a SIP status code from 300 to 699, such as 404 or 480")}},
	{stepFallsBack, "Expects the call, unanswered, declined or busy, to end in this fallback.",
		[]arg{req("to", `"voicemail" or "hangup"`),
			opt("mailbox", "user.NAME, whose voicemail box takes the message; by default the box the site sends this call to"),
			opt("within", `how long after the call was placed it has fallen back by, such as "40s"`)}},
}

// stepSpec is one step block: its type, what it does, its arguments.
type stepSpec struct {
	typ  string
	doc  string
	args []arg
}

// arg is one argument of a step.
type arg struct {
	name     string
	required bool
	doc      string // what it takes
}

func (s stepSpec) schema() *hcl.BodySchema {
	out := &hcl.BodySchema{}
	for _, a := range s.args {
		out.Attributes = append(out.Attributes, hcl.AttributeSchema{Name: a.name, Required: a.required})
	}
	return out
}

// Step documents one step block of a scenario file, for the reference.
type Step struct {
	Type string
	// Role is "call" (places the scenario's one call, first), "action"
	// (something a party does) or "expectation" (what must happen).
	Role string
	Doc  string
	Args []Arg
}

// Arg documents one argument of a step.
type Arg struct {
	Name     string
	Required bool
	Doc      string
}

// Steps returns every step block a scenario may contain, in reference
// order, from the table the decoder reads them with.
func Steps() []Step {
	out := make([]Step, 0, len(stepSchemas))
	for _, s := range stepSchemas {
		st := Step{Type: s.typ, Role: "action", Doc: s.doc}
		switch {
		case callSteps[s.typ]:
			st.Role = "call"
		case expectations[s.typ]:
			st.Role = "expectation"
		}
		for _, a := range s.args {
			st.Args = append(st.Args, Arg{Name: a.name, Required: a.required, Doc: a.doc})
		}
		out = append(out, st)
	}
	return out
}

var callSteps = map[string]bool{stepPress: true, stepKey: true, stepDial: true}

var expectations = map[string]bool{
	stepRings: true, stepRingsInOrder: true, stepRingsOnly: true, stepDoesNotRing: true,
	stepAnswer: true, stepDoorOpens: true, stepDoorStaysShut: true, stepRefused: true, stepFallsBack: true,
}

func req(name, doc string) arg { return arg{name: name, required: true, doc: doc} }
func opt(name, doc string) arg { return arg{name: name, doc: doc} }

// scenarioArgs are the arguments of the scenario block itself.
var scenarioArgs = []arg{opt("skip", "a reason in quotes: the scenario is reported as skipped, not run")}

// ScenarioArgs documents the arguments of the scenario block itself.
func ScenarioArgs() []Arg {
	var out []Arg
	for _, a := range scenarioArgs {
		out = append(out, Arg{Name: a.name, Required: a.required, Doc: a.doc})
	}
	return out
}

var scenarioSchema = func() *hcl.BodySchema {
	s := stepSpec{args: scenarioArgs}.schema()
	for _, st := range stepSchemas {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: st.typ})
	}
	return s
}()

func schemaOf(typ string) *hcl.BodySchema {
	for _, st := range stepSchemas {
		if st.typ == typ {
			return st.schema()
		}
	}
	return nil
}

// decoder decodes the scenarios of every file of a site against its
// program.
type decoder struct {
	p     *ir.Program
	names map[string]hcl.Range // scenario name → first label range
}

func newDecoder(p *ir.Program) *decoder {
	return &decoder{p: p, names: map[string]hcl.Range{}}
}

func (d *decoder) decodeFile(f *hcl.File) ([]simulate.Case, hcl.Diagnostics) {
	content, diags := f.Body.Content(fileSchema)
	var cases []simulate.Case
	for _, b := range content.Blocks {
		c, more := d.decodeScenario(b)
		diags = append(diags, more...)
		if c != nil {
			cases = append(cases, *c)
		}
	}
	return cases, diags
}

// step is one block of a scenario, decoded and resolved against the
// program. Which fields are set depends on typ.
type step struct {
	typ   string
	block *hcl.Block

	from, to  string     // the call: calling account, what it dials
	fromDoor  *ir.Device // the door station placing the call
	fromTrunk string     // the trunk whose carrier places the call
	toDoor    *ir.Device // the door station called (it answers by itself)

	by     string   // answer, decline, send_dtmf: the account ("" when left to the default)
	byUser *ir.User // when by named a user: send_dtmf picks the endpoint in the call
	digits string

	d      time.Duration // wait: how long; rings, falls_back: within
	groups []group       // the rings family

	door  *ir.Device // door_opens, door_stays_shut
	relay string

	status   int
	fallback ir.FallbackKind
	mailbox  string
	hasBox   bool
}

// group is what one element of an endpoints list rings: the accounts of a
// user, of a device, or of a leg of a residence's ring.
type group struct {
	label    string // as a ring leg labels it: user.mary, device.monitor-1a
	accounts []string
}

func (d *decoder) decodeScenario(b *hcl.Block) (*simulate.Case, hcl.Diagnostics) {
	name := b.Labels[0]
	var diags hcl.Diagnostics
	if strings.TrimSpace(name) == "" {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Empty scenario name",
			Detail:   "A scenario is named after what it proves, such as \"nobody home at 2B falls back to voicemail\"; the name is how reports and -run refer to it.",
			Subject:  b.LabelRanges[0].Ptr(),
		})
	} else if prev, ok := d.names[name]; ok {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate scenario",
			Detail:   fmt.Sprintf("A scenario named %q was already declared at %s. Reports and -run tell scenarios apart by name, so each needs its own.", name, rangeLine(prev)),
			Subject:  b.LabelRanges[0].Ptr(),
		})
	} else {
		d.names[name] = b.LabelRanges[0]
	}

	content, more := b.Body.Content(scenarioSchema)
	diags = append(diags, more...)
	c := &simulate.Case{Name: name, Origin: origin(b.DefRange, fmt.Sprintf("scenario %q", name))}
	if content.Attributes["skip"] != nil {
		a := &attrs{m: content.Attributes, diags: &diags}
		if s, ok := a.str("skip", "a reason in quotes"); ok {
			c.Skip = s
		}
	}

	var steps []*step
	for _, blk := range content.Blocks {
		st, more := d.decodeStep(blk)
		diags = append(diags, more...)
		if st != nil {
			steps = append(steps, st)
		}
	}
	if diags.HasErrors() {
		// References that did not resolve leave steps out; the structure
		// of what is left would only add doubtful complaints.
		return nil, diags
	}
	diags = append(diags, d.checkOrder(b, name, steps)...)
	if diags.HasErrors() {
		return nil, diags
	}
	c.Steps, c.StepOrigins, more = d.lower(steps, name)
	diags = append(diags, more...)
	if diags.HasErrors() {
		return nil, diags
	}
	return c, diags
}

// checkOrder checks the shape of a scenario: one call, first; at most one
// party answering and one declining; at least one expectation.
func (d *decoder) checkOrder(b *hcl.Block, name string, steps []*step) hcl.Diagnostics {
	var diags hcl.Diagnostics
	var call, answer, decline, busy *step
	proves := false
	for _, st := range steps {
		switch {
		case callSteps[st.typ]:
			if call != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Second call in a scenario",
					Detail:   fmt.Sprintf("This scenario already places a call with %s at %s. A scenario follows one call; write another scenario for this one.", call.typ, rangeLine(call.block.DefRange)),
					Subject:  st.block.DefRange.Ptr(),
				})
				continue
			}
			call = st
			continue
		case call == nil:
			first := firstCall(steps)
			if first == nil {
				continue // reported below
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Step before the call",
				Detail:   fmt.Sprintf("Steps run in the order written, and the call is placed by %s at %s, after this %s step. Start the scenario with the call.", first.typ, rangeLine(first.block.DefRange), st.typ),
				Subject:  st.block.DefRange.Ptr(),
			})
		}
		proves = proves || expectations[st.typ]
		switch st.typ {
		case stepAnswer:
			if answer != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate answer",
					Detail:   fmt.Sprintf("Only one party answers a call, and %s already does at %s.", answer.by, rangeLine(answer.block.DefRange)),
					Subject:  st.block.DefRange.Ptr(),
				})
			}
			answer = st
		case stepDecline:
			if decline != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate decline",
					Detail:   fmt.Sprintf("A decline ends the whole call (603), and %s already declines at %s.", decline.by, rangeLine(decline.block.DefRange)),
					Subject:  st.block.DefRange.Ptr(),
				})
			}
			decline = st
		case stepBusy:
			if busy != nil && busy.by == st.by {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate busy",
					Detail:   fmt.Sprintf("%s is already busy at %s.", st.by, rangeLine(busy.block.DefRange)),
					Subject:  st.block.DefRange.Ptr(),
				})
			}
			busy = st
		}
	}
	if answer != nil && busy != nil && answer.by == busy.by {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Answer and busy by the same endpoint",
			Detail:   fmt.Sprintf("%s answers the call at %s and is busy here; say which.", answer.by, rangeLine(answer.block.DefRange)),
			Subject:  busy.block.DefRange.Ptr(),
		})
	}
	if answer != nil && decline != nil && answer.by == decline.by {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Answer and decline by the same endpoint",
			Detail:   fmt.Sprintf("%s answers the call at %s and declines it here; say which.", answer.by, rangeLine(answer.block.DefRange)),
			Subject:  decline.block.DefRange.Ptr(),
		})
	}
	if call == nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Scenario places no call",
			Detail:   fmt.Sprintf("Scenario %q has no press, key or dial step. Each scenario follows one call: a visitor pressing a door station's button (press), keying a code (key), or someone dialling (dial).", name),
			Subject:  b.DefRange.Ptr(),
		})
	} else if !proves {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Scenario proves nothing",
			Detail:   fmt.Sprintf("Scenario %q places a call but expects nothing of it, so it would pass whatever the site does. Say what must happen: rings, rings_in_order, rings_only, does_not_ring, answer, door_opens, door_stays_shut, refused or falls_back.", name),
			Subject:  b.DefRange.Ptr(),
		})
	}
	return diags
}

func firstCall(steps []*step) *step {
	for _, st := range steps {
		if callSteps[st.typ] {
			return st
		}
	}
	return nil
}

// decodeStep decodes one step block; it returns nil when the block has
// errors.
func (d *decoder) decodeStep(b *hcl.Block) (*step, hcl.Diagnostics) {
	content, diags := b.Body.Content(schemaOf(b.Type))
	st := &step{typ: b.Type, block: b}
	a := &attrs{m: content.Attributes, diags: &diags}
	r := &resolver{p: d.p, diags: &diags}
	switch b.Type {
	case stepPress:
		if attr := a.m["button"]; attr != nil {
			dev, label := r.button(attr)
			if dev != nil {
				st.fromDoor = dev
				st.from = dev.Account
				for _, btn := range dev.Buttons {
					if btn.Label == label {
						st.to = btn.Dial
					}
				}
			}
		}
	case stepKey:
		if attr := a.m["at"]; attr != nil {
			if ref := r.ref(attr, "device"); ref != nil {
				if dev := r.doorStation(ref, attr); dev != nil {
					st.fromDoor = dev
					st.from = dev.Account
				}
			}
		}
		if attr := a.m["code"]; attr != nil {
			st.to = r.code(attr)
		}
	case stepDial:
		st.from, st.fromDoor, st.fromTrunk = r.caller(a.m["from"])
		to, number := a.m["to"], a.m["number"]
		switch {
		case to != nil && number != nil:
			a.errorf(number.NameRange, "Conflicting arguments", "Say what is dialled either with \"to\" (a user, residence or door station) or with \"number\", not both.")
		case to != nil:
			st.to, st.toDoor = r.callee(to)
		case number != nil:
			if s, ok := a.dialString("number", dialWhat); ok {
				if !dialPattern.MatchString(s) {
					a.errorf(number.Expr.Range(), "Invalid number", "The %q argument must be %s; %q is not.", "number", dialWhat, s)
				}
				st.to = s
			}
		default:
			a.errorf(b.DefRange, "Missing argument", "A dial step needs \"to\" (a user, residence or door station, such as to = user.mary) or \"number\" (such as number = 201).")
		}
	case stepAnswer, stepDecline, stepBusy:
		st.by, st.byUser = r.endpoint(a.m["by"])
	case stepWait:
		st.d = a.duration("for")
	case stepSendDTMF:
		if s, ok := a.dialString("digits", `DTMF digits in quotes, such as "#" or "1234"`); ok {
			if !dtmfPattern.MatchString(s) {
				a.errorf(a.m["digits"].Expr.Range(), "Invalid DTMF digits", "The %q argument must be DTMF digits: 0-9, *, # and A-D; %q is not.", "digits", s)
			}
			st.digits = s
		}
		if attr := a.m["by"]; attr != nil {
			st.by, st.byUser = r.endpoint(attr)
		}
	case stepRings, stepRingsOnly, stepRingsInOrder, stepDoesNotRing:
		st.groups = r.endpoints(a.m["endpoints"], b.Type == stepRingsInOrder)
		if a.m["within"] != nil {
			st.d = a.duration("within")
		}
	case stepDoorOpens:
		relay, door := a.m["relay"], a.m["door"]
		switch {
		case relay != nil && door != nil:
			a.errorf(door.NameRange, "Conflicting arguments", "Name either the relay (relay = device.gate.relay[\"gate\"]) or, for any relay of it, the door station (door = device.gate); not both.")
		case relay != nil:
			st.door, st.relay = r.relay(relay)
		case door != nil:
			if ref := r.ref(door, "device"); ref != nil {
				st.door = r.doorStation(ref, door)
			}
		default:
			a.errorf(b.DefRange, "Missing argument", "A door_opens step names the relay that opens, such as relay = device.gate.relay[\"gate\"], or the door station, door = device.gate, when any of its relays will do.")
		}
	case stepDoorStaysShut:
		if attr := a.m["door"]; attr != nil {
			if ref := r.ref(attr, "device"); ref != nil {
				st.door = r.doorStation(ref, attr)
			}
		}
	case stepRefused:
		st.status = a.status("status")
	case stepFallsBack:
		if s, ok := a.str("to", `"voicemail" or "hangup"`); ok {
			switch ir.FallbackKind(s) {
			case ir.FallbackVoicemail, ir.FallbackHangup:
				st.fallback = ir.FallbackKind(s)
			default:
				detail := fmt.Sprintf("The %q argument must be \"voicemail\" or \"hangup\"; %q is neither.", "to", s)
				if sug := suggest(s, []string{string(ir.FallbackVoicemail), string(ir.FallbackHangup)}); sug != "" {
					detail += fmt.Sprintf(" Did you mean %q?", sug)
				}
				a.errorf(a.m["to"].Expr.Range(), "Invalid fallback", "%s", detail)
			}
		}
		if attr := a.m["mailbox"]; attr != nil {
			st.mailbox, st.hasBox = r.mailbox(attr), true
			if st.fallback == ir.FallbackHangup {
				a.errorf(attr.NameRange, "Mailbox without voicemail", "A call that falls back to \"hangup\" reaches no mailbox; drop \"mailbox\" or expect to = \"voicemail\".")
			}
		}
		if a.m["within"] != nil {
			st.d = a.duration("within")
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return st, diags
}

var dtmfPattern = regexp.MustCompile(`^[0-9*#A-Da-d]+$`)

var dialPattern = regexp.MustCompile(`^\+?[0-9*#]+$`)

const dialWhat = `a number such as 201, or in quotes such as "+442079460100" or "*97"`

// attrs reads literal attribute values: numbers, strings, durations.
type attrs struct {
	m     hcl.Attributes
	diags *hcl.Diagnostics
}

func (a *attrs) errorf(rng hcl.Range, summary, format string, args ...any) {
	*a.diags = append(*a.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rng.Ptr(),
	})
}

// literal evaluates an attribute that must not refer to anything.
func (a *attrs) literal(name, what string) (cty.Value, bool) {
	attr := a.m[name]
	if attr == nil {
		return cty.NilVal, false
	}
	if len(attr.Expr.Variables()) > 0 {
		a.errorf(attr.Expr.Range(), "Invalid value", "The %q argument must be %s, not a reference.", name, what)
		return cty.NilVal, false
	}
	v, diags := attr.Expr.Value(nil)
	*a.diags = append(*a.diags, diags...)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return cty.NilVal, false
	}
	if v.IsNull() {
		a.errorf(attr.Expr.Range(), "Invalid value", "The %q argument must be %s, not null.", name, what)
		return cty.NilVal, false
	}
	return v, true
}

func (a *attrs) str(name, what string) (string, bool) {
	v, ok := a.literal(name, what)
	if !ok {
		return "", false
	}
	if v.Type() != cty.String {
		a.errorf(a.m[name].Expr.Range(), "Incorrect attribute value type", "The %q argument must be %s.", name, what)
		return "", false
	}
	return v.AsString(), true
}

// dialString reads a whole number or a string: what is dialled or keyed.
func (a *attrs) dialString(name, what string) (string, bool) {
	v, ok := a.literal(name, what)
	if !ok {
		return "", false
	}
	rng := a.m[name].Expr.Range()
	switch v.Type() {
	case cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInt() && bf.Sign() >= 0 {
			i, _ := bf.Int(nil)
			return i.String(), true
		}
	case cty.String:
		if s := v.AsString(); s != "" {
			return s, true
		}
	}
	a.errorf(rng, "Invalid value", "The %q argument must be %s.", name, what)
	return "", false
}

func (a *attrs) duration(name string) time.Duration {
	const what = `a duration in quotes, such as "30s" or "1m30s"`
	s, ok := a.str(name, what)
	if !ok {
		return 0
	}
	dur, err := time.ParseDuration(s)
	if err != nil || dur <= 0 {
		a.errorf(a.m[name].Expr.Range(), "Invalid duration", "The %q argument must be %s; %q is not one.", name, what, s)
		return 0
	}
	return dur
}

func (a *attrs) status(name string) int {
	const what = "a SIP status code such as 404 or 480"
	v, ok := a.literal(name, what)
	if !ok {
		return 0
	}
	if v.Type() == cty.Number {
		if i, acc := v.AsBigFloat().Int64(); acc == big.Exact && i >= 300 && i <= 699 {
			return int(i)
		}
	}
	a.errorf(a.m[name].Expr.Range(), "Invalid status", "The %q argument must be %s: a whole number from 300 to 699, the status the caller is refused with.", name, what)
	return 0
}

// rangeLine renders a range as file:line.
func rangeLine(r hcl.Range) string { return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line) }
