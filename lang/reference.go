package lang

import (
	"sort"

	"github.com/hashicorp/hcl/v2"
)

// BlockSpec documents one block type of the language: its labels, what it is
// for and every attribute and nested block it takes. It is the one place
// these are written: the decoder's hcl.BodySchema for the block is made from
// it (Schema), so a name cannot be decoded without being documented, and
// TestReferenceMatchesDecoder checks each attribute's type and default
// against what the decoder does with it. `switchboard help language`
// prints it.
type BlockSpec struct {
	Type   string
	Labels []string // label names, as in residence "name"
	// Count says how many of the block a site or its parent block may
	// have: "exactly one", "one or more", "any number", "at most one".
	Count string
	Doc   string
	Attrs []AttrSpec
	// AnyAttrs is set for blocks whose attributes are names the writer
	// chooses (locals); Attrs is then empty.
	AnyAttrs bool
	Blocks   []*BlockSpec
}

// AttrSpec documents one attribute of a block.
type AttrSpec struct {
	Name string
	// Type is the kind of value the decoder reads: "string", "bool",
	// "whole number", "duration", "dial number", "dial number or \"auto\"",
	// "list of phone numbers", "list of strings", "DTMF code", "secret
	// string", "reference to residence", "type constraint", "any value".
	Type     string
	Required bool
	// Default is the value the decoder uses when the attribute is left
	// out, written as it would be in a site file, or a phrase such as
	// "the block's name"; "" when leaving it out means "none".
	Default string
	Doc     string
}

// Schema returns the hcl.BodySchema the decoder reads the block's body
// with.
func (b *BlockSpec) Schema() *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, a := range b.Attrs {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: a.Name, Required: a.Required})
	}
	for _, nb := range b.Blocks {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: nb.Type, LabelNames: nb.Labels})
	}
	return s
}

// Language returns the top-level blocks of a site file, in the order the
// reference presents them. Treat the result as read-only.
func Language() []*BlockSpec { return language }

// The block types, as the decoder reads them: siteSchema and the rest are made
// from these.
var (
	siteBlock = &BlockSpec{
		Type: "site", Labels: []string{"name"}, Count: "exactly one",
		Doc: "The installation: where it is, its SIP domain and who installed it. The label is the site's short name, used in file names and reports.",
		Attrs: []AttrSpec{
			{Name: "name", Type: "string", Default: "the block's name", Doc: "The site's name as people say it, printed in plans, invitations and the handover sheet."},
			{Name: "country", Type: "string", Required: true, Doc: "ISO 3166-1 country code, such as \"IE\". Emergency numbers and number formats follow from it: no extension may equal or begin with one."},
			{Name: "timezone", Type: "string", Required: true, Doc: "IANA time zone, such as \"Europe/Dublin\", set on the devices' clocks."},
			{Name: "domain", Type: "string", Required: true, Doc: "The SIP domain devices and apps register to, such as \"harbour-view.example.net\"."},
			{Name: "auto_extensions_from", Type: "dial number", Default: "100", Doc: "Where extension = \"auto\" starts counting."},
			{Name: "digest", Type: "list of strings", Default: `["md5"]`, Doc: "The SIP digest algorithms offered, in order, to accounts whose client switchboard cannot know from a device model (apps, trunks) and to user names that are no account: \"md5\" and \"sha-256\" (RFC 8760). A device's account is offered what its model answers (switchboard models). Clients that read only the first challenge, or give up at the first they cannot answer, register only when MD5 is all they are offered."},
			{Name: "nodes", Type: "list of strings", Default: "the domain", Doc: "The SIP servers the site is served from, primary first, each \"host\" or \"host:port\" (the port defaults to build's -port, 5060). Devices are provisioned with them in their models' backup-server fields so they fail over when a node dies; Akuvox, Grandstream and Yealink devices take two, and later nodes are not written to them (a warning says so). build's -server flag replaces the list with one server."},
			{Name: "removed_data", Type: "string", Default: `"archive"`, Doc: "What happens to a removed person's voicemail messages, greeting and PIN: \"archive\" keeps them archive_days for the owner, then deletes them; \"delete\" deletes them when the removal is applied."},
			{Name: "archive_days", Type: "whole number", Default: "30", Doc: "How many days a removed person's voicemail archive is kept (1 to 3650)."},
			{Name: "quarantine_days", Type: "whole number", Default: "90", Doc: "How many days a removed person's auto extension (and their DDIs, in switchboard numbers) stay out of use, so their callers do not reach a newcomer (0 to 3650)."},
		},
		Blocks: []*BlockSpec{installerBlock, featuresBlock},
	}
	installerBlock = &BlockSpec{
		Type: "installer", Count: "exactly one",
		Doc: "The installer's (admin) account: it binds devices and never answers calls, and no resident may log in with its email.",
		Attrs: []AttrSpec{
			{Name: "company", Type: "string", Required: true, Doc: "The installer's company, printed on the handover sheet."},
			{Name: "email", Type: "string", Required: true, Doc: "The installer's login and support address."},
			{Name: "phone", Type: "string", Doc: "The installer's support number, in E.164 form."},
			{Name: "owns_site", Type: "bool", Default: "false", Doc: "A visible acknowledgement that the installer is also the site's owner, for small sites; otherwise the owner is a user with role = \"owner\"."},
		},
	}
	featuresBlock = &BlockSpec{
		Type: "features", Count: "at most one",
		Doc: "The site's feature codes, dialled from phones and apps.",
		Attrs: []AttrSpec{
			{Name: "voicemail", Type: "dial number", Default: `"*97"`, Doc: "The code that reaches one's own voicemail box."},
		},
	}
	residenceBlock = &BlockSpec{
		Type: "residence", Labels: []string{"name"}, Count: "any number",
		Doc: "A flat, house or office: what a door panel calls. Its users' endpoints and its indoor monitors ring when it is called. Refer to it as residence.NAME.",
		Attrs: []AttrSpec{
			{Name: "label", Type: "string", Default: "the block's name", Doc: "What a visitor keys or picks on the door panel, such as \"1A\"."},
			{Name: "ring", Type: "string", Default: `"simultaneous"`, Doc: "\"simultaneous\" rings every endpoint at once; \"sequential\" rings monitors first, then each user in turn."},
			{Name: "ring_timeout", Type: "duration", Default: `"30s"`, Doc: "How long the residence rings in all before no_answer applies."},
			{Name: "no_answer", Type: "string", Default: `"voicemail"`, Doc: "What an unanswered call does: \"voicemail\" (the owner's box, else the first resident's with voicemail) or \"hangup\"."},
		},
	}
	userBlock = &BlockSpec{
		Type: "user", Labels: []string{"name"}, Count: "any number",
		Doc: "One real person with one login of their own. Refer to it as user.NAME.",
		Attrs: []AttrSpec{
			{Name: "first_name", Type: "string", Doc: "Given name, shown on displays and in the directory."},
			{Name: "last_name", Type: "string", Doc: "Family name."},
			{Name: "email", Type: "string", Doc: "The person's login and where their invitation goes; unique in the site and never the installer's. A person needs an email or a mobile."},
			{Name: "mobile", Type: "string", Doc: "Mobile number in E.164 form (\"+353871234567\"); unique. A person with a mobile and no email gets their invitation handed over in person."},
			{Name: "residence", Type: "reference to residence", Doc: "Where the person lives or works, such as residence.apt-1a; door calls to it ring them."},
			{Name: "role", Type: "string", Default: `"user"`, Doc: "\"owner\" (exactly one per site: receives the handover), \"admin\" (sees the site) or \"user\"."},
			{Name: "extension", Type: "dial number or \"auto\"", Doc: "The person's extension, unique and never an emergency number; \"auto\" takes the next free number and records it in switchboard.lock.hcl."},
			{Name: "app", Type: "bool", Default: "false", Doc: "Gives the person an app endpoint (a SIP account of their own) that rings with their other endpoints."},
			{Name: "directory", Type: "bool", Default: "false", Doc: "Lists the person in the site directory of monitors and phones."},
			{Name: "voicemail", Type: "bool", Default: "true", Doc: "Gives the person a voicemail box; unanswered calls to them end there."},
			{Name: "notify_email", Type: "string", Doc: "Where mail for the person goes (new voicemail, their invitation); email when not set."},
			{Name: "send_credentials", Type: "bool", Default: "false", Doc: "Has apply send the person an invitation with their logins, once the devices that ring them are bound."},
			{Name: "numbers", Type: "list of phone numbers", Doc: "DDIs that ring the person, each from a trunk's pool and given to one user only."},
			{Name: "conference", Type: "dial number", Doc: "The number of the person's own conference room."},
			{Name: "conference_pin", Type: "bool", Default: "false", Doc: "Callers other than the owner key the room's PIN to join the conference."},
			{Name: "ring_timeout", Type: "duration", Doc: "How long the person's endpoints ring: for calls to them (30s when not set), and as their turn in a residence's ring (when not set, the residence's ring_timeout, or its share of it in a sequential ring)."},
			{Name: "rotation", Type: "whole number", Default: "0", Doc: "Credential rotation counter: add one to rotate every password of this person's accounts."},
		},
	}
	deviceBlock = &BlockSpec{
		Type: "device", Labels: []string{"name"}, Count: "any number",
		Doc: "A door station, indoor monitor or desk phone, bound by its MAC address; what it is comes from its model (see switchboard models). Refer to it as device.NAME.",
		Attrs: []AttrSpec{
			{Name: "model", Type: "string", Required: true, Doc: "The catalogue model, \"<vendor>-<model>\" in lower case, such as \"akuvox-r29c\"."},
			{Name: "mac", Type: "string", Required: true, Doc: "The MAC address on the device's label, in any common notation; unique, and its vendor prefix should match the model's."},
			{Name: "location", Type: "string", Doc: "Where the device is, such as \"Front gate\"; shown to the people it calls."},
			{Name: "residence", Type: "reference to residence", Doc: "For an indoor monitor: the residence it answers door calls for."},
			{Name: "user", Type: "reference to user", Doc: "For a desk phone: the person whose phone it is."},
			{Name: "blf", Type: "list of references to user", Doc: "For a desk phone: the people its busy-lamp-field keys watch and call, in key order, such as [user.tom, user.ann]; each shows whether that person is ringing or on a call. When not set, the site's other people with an extension, as many as the phone has keys for; blf = [] for none."},
			{Name: "label", Type: "string", Doc: "For a desk phone: the name its line key shows; the user's name when not set."},
			{Name: "keypad", Type: "bool", Default: "false", Doc: "For a door station: visitors may key or pick any residence's label on the panel."},
			{Name: "rotation", Type: "whole number", Default: "0", Doc: "Credential rotation counter: add one to rotate the device's SIP password."},
		},
		Blocks: []*BlockSpec{buttonBlock, relayBlock},
	}
	buttonBlock = &BlockSpec{
		Type: "button", Labels: []string{"label"}, Count: "any number",
		Doc: "A door station's call button, labelled as on the panel (\"1\", \"2\", …).",
		Attrs: []AttrSpec{
			{Name: "calls", Type: "reference to residence or user", Required: true, Doc: "Who the button calls, such as residence.apt-1a or user.mary."},
		},
	}
	relayBlock = &BlockSpec{
		Type: "relay", Labels: []string{"name"}, Count: "any number",
		Doc: "A relay the device switches (a door, a gate) when the answering party keys its code.",
		Attrs: []AttrSpec{
			{Name: "dtmf", Type: "DTMF code", Required: true, Doc: "The code keyed during the call to open it, such as \"#\" or \"1234\"."},
			{Name: "hold", Type: "duration", Default: `"5s"`, Doc: "How long the relay stays open."},
		},
	}
	trunkBlock = &BlockSpec{
		Type: "trunk", Labels: []string{"name"}, Count: "any number",
		Doc: "A carrier's SIP trunk: calls out, and the pool of DDIs that ring users. Refer to it as trunk.NAME.",
		Attrs: []AttrSpec{
			{Name: "host", Type: "string", Required: true, Doc: "The carrier's SIP server."},
			{Name: "port", Type: "dial number", Doc: "The carrier's SIP port. Without it a host name is looked up as an SRV service for the transport (_sip._udp or _sip._tcp, RFC 3263), whose servers are tried in priority and weight order, the next one when one does not answer or answers 503; a name without SRV records is reached at 5060. With it, or with a numeric IP as host, no SRV is looked up. Over TLS the host is reached as written, at 5061 without a port: its certificate must name it."},
			{Name: "transport", Type: "string", Default: `"udp"`, Doc: "\"udp\", \"tcp\" or \"tls\"."},
			{Name: "username", Type: "secret string", Doc: "The trunk's login; write var.NAME so it stays out of git."},
			{Name: "password", Type: "secret string", Doc: "The trunk's password; write var.NAME with a sensitive variable: it is never printed."},
			{Name: "numbers", Type: "list of phone numbers", Doc: "The DDIs the carrier routes to the site, in E.164 form."},
			{Name: "short_dial", Type: "whole number", Default: "0", Doc: "Lets users dial the last N digits of each DDI internally; 0 turns short forms off."},
			{Name: "unassigned", Type: "reference to user or residence", Doc: "Where the carrier's calls to a spare number of the pool (one no user holds) go: user.NAME or residence.NAME, rung as a DDI rings its user; without it they are refused with 404."},
			{Name: "unassigned_voicemail", Type: "bool", Default: "false", Doc: "Sends calls to spare numbers straight to the voicemail box of the unassigned user instead of ringing them."},
		},
	}
	variableBlock = &BlockSpec{
		Type: "variable", Labels: []string{"name"}, Count: "any number",
		Doc: "An input to the site, used as var.NAME: set by -var name=value, -var-file FILE or SWITCHBOARD_VAR_NAME, else its default.",
		Attrs: []AttrSpec{
			{Name: "type", Type: "type constraint", Default: "any", Doc: "The type values must have, such as string, number or list(string); values from the command line are parsed as HCL for types other than string."},
			{Name: "default", Type: "any value", Doc: "The value when nothing sets it; without one, the variable must be set."},
			{Name: "description", Type: "string", Doc: "What the variable is for."},
			{Name: "sensitive", Type: "bool", Default: "false", Doc: "Marks the value secret: it, and anything computed from it, is never printed."},
		},
	}
	localsBlock = &BlockSpec{
		Type: "locals", Count: "any number", AnyAttrs: true,
		Doc: "Named values computed once and used as local.NAME, such as a residents list read with csvdecode(file(\"residents.csv\")). Each attribute is one local value.",
	}

	language = []*BlockSpec{siteBlock, residenceBlock, userBlock, deviceBlock, trunkBlock, variableBlock, localsBlock}
)

// FunctionNames lists the functions a site file may call, sorted: the
// library the evaluator is given, so that the reference cannot list one
// it lacks.
func FunctionNames() []string {
	fs := functions("")
	names := make([]string, 0, len(fs))
	for name := range fs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
