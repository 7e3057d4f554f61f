package catalogue

// Capability is one thing the catalogue knows a model can do, named for
// people and tools alike. `switchboard models` prints a model's
// Capabilities, so a capability added to Model and listed here shows there
// with no change to the command.
type Capability struct {
	Name string // snake_case of the Model field: "buttons", "dtmf_digits"
	// Value is an int, a bool, a string or a []string, as in JSON.
	Value any
	Doc   string // what it means, one phrase
	// Detail marks a capability that is a sentence rather than a fact
	// (where a figure comes from): `switchboard models MODEL` and -json
	// show it, the one-line-per-model list does not.
	Detail bool
}

// Present reports whether the capability says the model has something:
// a count above zero, true, a non-empty string or list. Text output lists
// only those.
func (c Capability) Present() bool {
	switch v := c.Value.(type) {
	case int:
		return v > 0
	case bool:
		return v
	case string:
		return v != ""
	case []string:
		return len(v) > 0
	}
	return c.Value != nil
}

// Capabilities lists what the catalogue knows m can do, in a fixed order:
// every field of Model but its identity (ID, Vendor, Name, Kind).
// TestCapabilitiesCoverModel fails when a field is missing here.
func (m *Model) Capabilities() []Capability {
	return []Capability{
		{Name: "buttons", Value: m.Buttons, Doc: "call buttons on a door station (physical or on-screen)"},
		{Name: "keypad", Value: m.Keypad, Doc: "visitors can key or pick any residence"},
		{Name: "relays", Value: m.Relays, Doc: "relays switched by DTMF (doors, local relays)"},
		{Name: "dtmf_digits", Value: m.DTMFDigits, Doc: "longest relay DTMF code the firmware accepts (0: no known limit)"},
		{Name: "video", Value: m.Video, Doc: "sends or shows video"},
		{Name: "line_keys", Value: m.LineKeys, Doc: "programmable line keys on a desk phone's first page"},
		{Name: "accounts", Value: m.Accounts, Doc: "SIP accounts it can register"},
		{Name: "blf", Value: m.BLF, Doc: "its busy-lamp-field key encoding is known: keys for the site's people by default"},
		{Name: "digest_algorithms", Value: m.Digest.Algorithms, Doc: "SIP digest algorithms its firmware answers, offered to its account in this order"},
		{Name: "digest_source", Value: m.Digest.Source, Doc: "where the digest algorithms are known from", Detail: true},
	}
}
