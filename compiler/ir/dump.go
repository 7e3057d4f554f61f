package ir

import (
	"bytes"
	"strconv"
	"strings"
	"time"
)

// Dump renders p as canonical text for golden tests and for reading: one
// block per node in the order of Program's fields, each node's attributes
// indented below it, every string quoted unless it is a plain word, origins
// as "file:line,col object". Dump puts p in canonical order first (Sort
// modifies p). The output holds no secret because the program holds none.
func Dump(p *Program) []byte {
	p.Sort()
	w := &dumper{}
	w.line(0, "ir", "version", strconv.Itoa(p.Version))

	s := p.Site
	w.blank()
	w.line(0, "site", q(s.Name))
	w.attr("display_name", s.DisplayName)
	w.attr("domain", s.Domain)
	w.attr("country", s.Country)
	w.attr("timezone", s.Timezone)
	w.list("emergency", s.Emergency)
	w.list("ntp", s.NTP)
	w.attr("provision_url", s.ProvisionURL)
	w.list("digest", s.Digest)
	w.attr("removed_data", s.RemovedData)
	if s.ArchiveDays != 0 {
		w.line(1, "archive_days", strconv.Itoa(s.ArchiveDays))
	}
	if in := s.Installer; in != nil {
		w.attr("installer.company", in.Company)
		w.attr("installer.email", in.Email)
		w.attr("installer.phone", in.Phone)
		if in.OwnsSite {
			w.line(1, "installer.owns_site", "true")
		}
	}
	w.origin(1, s.Origin)

	for _, a := range p.Accounts {
		w.blank()
		w.line(0, "account", q(a.Name))
		w.attr("kind", string(a.Kind))
		w.attr("username", a.Username)
		w.attr("auth_name", a.AuthName)
		w.attr("display_name", a.DisplayName)
		w.attr("caller_name", a.CallerName)
		w.attr("caller_number", a.CallerNumber)
		w.attr("owner", a.Owner.String())
		w.attr("device", a.Device)
		w.line(1, "rotation", strconv.Itoa(a.Rotation))
		w.list("digest", a.Digest)
		w.origin(1, a.Origin)
	}
	for _, u := range p.Users {
		w.blank()
		w.line(0, "user", q(u.Name))
		w.attr("identity", u.Identity)
		w.attr("display_name", u.DisplayName)
		w.attr("email", u.Email)
		w.attr("notify_email", u.NotifyEmail)
		w.attr("role", u.Role)
		w.attr("residence", u.Residence)
		w.attr("extension", u.Extension)
		w.list("endpoints", u.Endpoints)
		w.attr("mailbox", u.Mailbox)
		w.flag("directory", u.Directory)
		w.flag("send_credentials", u.SendCredentials)
		w.ring(u.Ring)
		w.line(1, "rotation", strconv.Itoa(u.Rotation))
		w.origin(1, u.Origin)
	}
	for _, r := range p.Residences {
		w.blank()
		w.line(0, "residence", q(r.Name))
		w.attr("label", r.Label)
		w.list("users", r.Users)
		w.list("monitors", r.Monitors)
		w.ring(r.Ring)
		w.origin(1, r.Origin)
	}
	for _, m := range p.Mailboxes {
		w.blank()
		w.line(0, "mailbox", q(m.Name))
		w.attr("owner", m.Owner.String())
		w.origin(1, m.Origin)
	}
	for _, r := range p.Retired {
		w.blank()
		w.line(0, "retired", q(r.Identity))
		w.attr("user", r.User)
		w.attr("data", r.Data)
		if !r.ArchiveUntil.IsZero() {
			w.attr("archive_until", r.ArchiveUntil.UTC().Format(time.RFC3339))
		}
		w.attr("owner", r.Owner)
	}
	if len(p.Numbers) > 0 {
		w.blank()
		w.line(0, "numbers")
		for _, n := range p.Numbers {
			w.line(1, q(n.Number), string(n.Action.Kind), opt(n.Action.Target.String()), w.at(n.Origin))
		}
	}
	if len(p.Entries) > 0 {
		w.blank()
		w.line(0, "entries")
		for _, e := range p.Entries {
			words := []string{q(e.Device), q(e.Code), e.Target.String()}
			if e.CallerName != "" {
				words = append(words, "as", q(e.CallerName))
			}
			w.line(1, append(words, w.at(e.Origin))...)
		}
	}
	if len(p.DDIs) > 0 {
		w.blank()
		w.line(0, "ddis")
		for _, d := range p.DDIs {
			w.line(1, q(d.Number), "trunk", q(d.Trunk), d.Target.String(), w.at(d.Origin))
		}
	}
	for _, c := range p.Conferences {
		w.blank()
		w.line(0, "conference", q(c.Name))
		w.attr("number", c.Number)
		w.attr("owner", c.Owner.String())
		w.flag("pin", c.PIN)
		w.origin(1, c.Origin)
	}
	for _, t := range p.Trunks {
		w.blank()
		w.line(0, "trunk", q(t.Name))
		w.attr("host", t.Host)
		if t.Port != 0 { // none: located by DNS SRV
			w.line(1, "port", strconv.Itoa(t.Port))
		}
		w.attr("transport", t.Transport)
		w.list("ddis", t.DDIs)
		w.attr("username", string(t.Username))
		w.attr("login", t.Login)
		w.attr("password", string(t.Password))
		w.attr("unassigned", t.Unassigned.String())
		w.attr("unassigned_mailbox", t.UnassignedMailbox)
		w.origin(1, t.Origin)
	}
	for _, d := range p.Devices {
		w.blank()
		w.device(d)
	}
	return w.buf.Bytes()
}

type dumper struct {
	buf bytes.Buffer
}

func (w *dumper) blank() { w.buf.WriteByte('\n') }

// line writes words separated by spaces at the given depth, skipping empty
// words.
func (w *dumper) line(depth int, words ...string) {
	for range depth {
		w.buf.WriteString("  ")
	}
	first := true
	for _, s := range words {
		if s == "" {
			continue
		}
		if !first {
			w.buf.WriteByte(' ')
		}
		first = false
		w.buf.WriteString(s)
	}
	w.buf.WriteByte('\n')
}

func (w *dumper) attr(key, value string) {
	if value != "" {
		w.line(1, key, q(value))
	}
}

func (w *dumper) flag(key string, on bool) {
	if on {
		w.line(1, key)
	}
}

func (w *dumper) list(key string, values []string) {
	if len(values) == 0 {
		return
	}
	words := make([]string, 0, len(values)+1)
	words = append(words, key)
	for _, v := range values {
		words = append(words, q(v))
	}
	w.line(1, words...)
}

func (w *dumper) origin(depth int, o Origin) {
	if s := w.at(o); s != "" {
		w.line(depth, "origin", s[1:])
	}
}

// at renders an origin as "@file:line,col object", or "" when zero.
func (w *dumper) at(o Origin) string {
	if o.IsZero() {
		return ""
	}
	s := "@" + o.Pos()
	if o.Object != "" {
		if o.Pos() != "" {
			s += " "
		}
		s += o.Object
	}
	return s
}

func (w *dumper) ring(r Ring) {
	w.line(1, "ring", string(r.Strategy), "timeout", r.Timeout.String())
	for _, l := range r.Legs {
		words := []string{"leg", opt(q(l.Label)), l.Timeout.String(), ":"}
		for _, a := range l.Accounts {
			words = append(words, q(a))
		}
		w.line(2, words...)
	}
	w.fallback("no_answer", r.NoAnswer)
	w.fallback("busy", r.Busy)
	w.fallback("decline", r.Decline)
}

func (w *dumper) fallback(key string, f Fallback) {
	w.line(2, key, string(f.Kind), opt(q(f.Mailbox)))
}

func (w *dumper) device(d Device) {
	w.line(0, "device", q(d.Name))
	w.attr("kind", string(d.Kind))
	w.attr("vendor", d.Vendor)
	w.attr("model", d.Model)
	w.attr("mac", d.MAC)
	w.attr("location", d.Location)
	w.attr("account", d.Account)
	w.attr("residence", d.Residence)
	w.attr("user", d.User)
	w.attr("timezone", d.Timezone)
	w.line(1, "sip", q(d.SIP.Server), strconv.Itoa(d.SIP.Port), d.SIP.Transport, "expiry", d.SIP.Expiry.String())
	for _, b := range d.SIP.Backup {
		w.line(1, "sip-backup", q(b.Server), strconv.Itoa(b.Port))
	}
	for _, b := range d.Buttons {
		w.line(1, "button", strconv.Itoa(b.Index), "label", q(b.Label), "dials", q(b.Dial), b.Target.String(), w.at(b.Origin))
	}
	w.flag("keypad", d.Keypad)
	for _, r := range d.Relays {
		words := []string{"relay", strconv.Itoa(r.Index), q(r.Name), "dtmf", q(r.DTMF), "hold", r.Hold.String(), "trigger", string(r.Trigger.Policy)}
		for _, a := range r.Trigger.Accounts {
			words = append(words, q(a))
		}
		words = append(words, w.at(r.Origin))
		w.line(1, words...)
	}
	for _, c := range d.Contacts {
		w.line(1, "contact", q(c.Name), q(c.Number), w.at(c.Origin))
	}
	w.attr("unlock_dtmf", d.UnlockDTMF)
	for _, k := range d.LineKeys {
		words := []string{"line_key", strconv.Itoa(k.Index), string(k.Type)}
		if k.Value != "" {
			words = append(words, "value", q(k.Value))
		}
		if k.Label != "" {
			words = append(words, "label", q(k.Label))
		}
		w.line(1, append(words, w.at(k.Origin))...)
	}
	w.origin(1, d.Origin)
}

// q quotes s unless it is a plain word: letters, digits and . _ - + * # / :
// @ with no leading @ (which marks an origin).
func q(s string) string {
	if s == "" {
		return `""`
	}
	if s[0] == '@' || s[0] == '"' {
		return strconv.Quote(s)
	}
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.ContainsRune("._-+*#/:@", c):
		default:
			return strconv.Quote(s)
		}
	}
	return s
}

// opt drops the quoted empty string so that optional words vanish.
func opt(s string) string {
	if s == `""` {
		return ""
	}
	return s
}
