package voicemail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/mail"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"switchboard/compiler/ir"
	"switchboard/email"
	"switchboard/runtime/audio"
)

// archiveMailFile records, inside an archived box, that the owner was
// mailed the archive. It is written once the mail server accepted the
// mail, so a restart or a reload never sends the archive again, and it
// goes with the archive when that is deleted. Its name is no message's,
// so the box loader passes it by.
const archiveMailFile = "owner-mail.json"

// wavHeader is the size of the header of a WAV file the service writes
// (audio.WAVWriter's).
const wavHeader = 46

// maxArchiveAttachments bounds the WAV files attached to one archive
// mail, below the 25 MB most mail servers take: the messages past it are
// listed as kept on the server instead.
const maxArchiveAttachments = 20 << 20

// ArchiveNotice is what the mail to the site's owner about one removed
// person's archived box says.
type ArchiveNotice struct {
	To       string // the owner's address
	Name     string // the owner's name
	Site     string // the site's display name
	User     string // the removed person (their block name)
	Identity string // their box, under the archive
	Until    time.Time
	Messages []Message
	// WAVs are the messages' files by message ID; a message without one
	// is listed as kept on the server.
	WAVs     map[int][]byte
	Location *time.Location // for the times shown; nil: UTC
	Now      time.Time      // the mail's date
}

// archiveRecord is archiveMailFile's content: where the mail went and
// when. No secret is in it.
type archiveRecord struct {
	To       string    `json:"to"`
	Sent     time.Time `json:"sent,omitzero"`
	Messages int       `json:"messages"`
	// Sending is when a node claimed the mail (archiveClaimTTL); Sent
	// replaces it once the mail server accepted the mail.
	Sending time.Time `json:"sending,omitzero"`
}

// archiveClaimTTL is how long a node's claim to send an archive's mail
// holds without the record that it was sent: longer than a send takes
// (email.SMTPMailer's timeouts), so that a slow send is not doubled; a
// node that died sending leaves the mail to the next start or reload
// after it.
const archiveClaimTTL = 15 * time.Minute

// ComposeArchiveMail writes n as one e-mail from from: the list of the
// archived messages (date, caller, length) and their recordings attached.
// It is deterministic: the same notice gives the same bytes.
func ComposeArchiveMail(n ArchiveNotice, from string) (email.Message, error) {
	loc := n.Location
	if loc == nil {
		loc = time.UTC
	}
	msgs := append([]Message(nil), n.Messages...)
	sort.Slice(msgs, func(i, j int) bool { return msgs[i].ID < msgs[j].ID })
	site := clean(n.Site)
	user := clean(n.User)

	var text strings.Builder
	if name := clean(n.Name); name != "" {
		first, _, _ := strings.Cut(name, " ")
		fmt.Fprintf(&text, "Hello %s,\n\n", first)
	}
	fmt.Fprintf(&text, "%s was removed from %s. Their voicemail box is archived for you, the site's owner", user, orText(site, "the site"))
	if !n.Until.IsZero() {
		fmt.Fprintf(&text, ", until %s; then it is deleted", n.Until.In(loc).Format("Mon 2 Jan 2006"))
	}
	fmt.Fprintf(&text, ".\n\n")
	var attach []email.Attachment
	var kept []string
	size := 0
	if len(msgs) == 0 {
		fmt.Fprintf(&text, "The box held no messages.\n")
	} else {
		fmt.Fprintf(&text, "It held %d message(s):\n\n", len(msgs))
	}
	for _, m := range msgs {
		file := m.Name() + ".wav"
		fmt.Fprintf(&text, "  %s  %s  %s  %s\n", file, m.Time.In(loc).Format("Mon 2 Jan 2006 15:04 MST"), clockText(m.Duration()), callerText(m.From))
		wav, ok := n.WAVs[m.ID]
		if !ok || size+len(wav) > maxArchiveAttachments {
			kept = append(kept, file)
			continue
		}
		size += len(wav)
		attach = append(attach, email.Attachment{Name: file, ContentType: "audio/wav", Data: wav})
	}
	switch {
	case len(attach) > 0 && len(kept) == 0:
		fmt.Fprintf(&text, "\nThe recordings are attached.\n")
	case len(kept) > 0:
		fmt.Fprintf(&text, "\n%d recording(s) are attached; %s stay in the archive on the server (%s).\n",
			len(attach), strings.Join(kept, ", "), filepath.ToSlash(filepath.Join(archiveDir, n.Identity)))
	}

	_, domain, _ := strings.Cut(from, "@")
	domain = strings.Trim(domain, "<> ")
	sender := "Voicemail"
	if site != "" {
		sender = site + " voicemail"
	}
	msg, err := email.Letter{
		From:        mail.Address{Name: sender, Address: from},
		To:          mail.Address{Name: clean(n.Name), Address: n.To},
		Subject:     fmt.Sprintf("Voicemail of %s, archived (%d messages)", user, len(msgs)),
		Date:        n.Now,
		MessageID:   fmt.Sprintf("vm-archive.%s.%d@%s", n.Identity, n.Until.Unix(), domain),
		Text:        text.String(),
		Attachments: attach,
	}.Compose()
	if err != nil {
		return email.Message{}, fmt.Errorf("voicemail: %w", err)
	}
	return msg, nil
}

func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// siteOwner is who a removed person's archive is kept for: the user with
// role owner, at their notify_email else their email; the installer when
// the installer owns the site. ok is false when nobody is, or they have
// no address.
func siteOwner(p *ir.Program) (name, addr string, ok bool) {
	for _, u := range p.Users {
		if ir.Role(u.Role) == ir.RoleOwner {
			addr = u.NotifyEmail
			if addr == "" {
				addr = u.Email
			}
			return u.DisplayName, addr, addr != ""
		}
	}
	if in := p.Site.Installer; in != nil && in.OwnsSite {
		return in.Company, in.Email, in.Email != ""
	}
	return "", "", false
}

// siteLocation is the site's time zone, UTC when it names none or an
// unknown one.
func siteLocation(p *ir.Program) *time.Location {
	if tz := p.Site.Timezone; tz != "" {
		if l, err := time.LoadLocation(tz); err == nil {
			return l
		}
	}
	return time.UTC
}

// mailArchive sends the site's owner the archive of r's box (the box
// archived, on the shelf), once: off the calling goroutine, unless the
// archive's record says it was sent, or a send of it is under way.
// Without a mailer, or without an address for the owner, it says once at
// WARN where the archive is and until when. A send that fails is tried
// again at the next start or reload, when Retire runs again.
func (s *Service) mailArchive(p *ir.Program, r ir.Retired, archived string) {
	if _, err := s.shelf.read(archived, archiveMailFile); err == nil {
		return
	}
	name, to, ok := siteOwner(p)
	s.mu.Lock()
	if s.closed || s.archiveMail[r.Identity] {
		s.mu.Unlock()
		return
	}
	if s.archiveMail == nil {
		s.archiveMail = map[string]bool{}
	}
	s.archiveMail[r.Identity] = true
	s.mu.Unlock()
	until := ""
	if !r.ArchiveUntil.IsZero() {
		until = r.ArchiveUntil.Format(time.DateOnly)
	}
	if s.cfg.Mailer == nil || !ok {
		why := "the server has no SMTP server to mail it with (serve -smtp)"
		if s.cfg.Mailer != nil {
			why = "the site's owner has no e-mail address"
		}
		// Logged once per archive while the server runs; the mark stays
		// set so that reloads do not repeat it.
		s.log.Warn("voicemail: a removed person's box is archived for the owner but not mailed to them: "+why,
			"identity", r.Identity, "user", r.User, "archive", s.shelf.where(archived), "until", until)
		return
	}
	b := &box{name: archived, dir: filepath.Join(s.cfg.Dir, filepath.FromSlash(archived)), sh: s.shelf, fs: s.fs}
	b.mu.Lock()
	err := b.load()
	b.mu.Unlock()
	msgs := b.list()
	if err != nil {
		s.archiveFailed(r, err)
		return
	}
	// Read in the order the mail lists them, and no more than it can
	// attach: a full box is large. A message's size is known from its
	// length (G.711: a byte a sample, and the header) before it is read.
	sort.Slice(msgs, func(i, j int) bool { return msgs[i].ID < msgs[j].ID })
	wavs := map[int][]byte{}
	size := 0
	for _, m := range msgs {
		if size+int(m.DurationMS*audio.Rate/1000)+wavHeader > maxArchiveAttachments {
			continue
		}
		data, err := b.wav(m.ID)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			s.archiveFailed(r, err)
			return
		}
		size += len(data)
		wavs[m.ID] = data
	}
	site := p.Site.DisplayName
	if site == "" {
		site = p.Site.Name
	}
	from := s.cfg.MailFrom
	if from == "" {
		from = "voicemail@" + p.Site.Domain
	}
	msg, err := ComposeArchiveMail(ArchiveNotice{
		To: to, Name: name, Site: site, User: r.User, Identity: r.Identity, Until: r.ArchiveUntil,
		Messages: msgs, WAVs: wavs, Location: siteLocation(p), Now: s.clk.Now(),
	}, from)
	if err != nil {
		s.archiveFailed(r, err)
		return
	}
	// Claimed before it is sent: in a cluster every node retires the box
	// at its start and reload, and each would mail it (the record is
	// written only once the mail went). The claim is the record's key,
	// so the other nodes pass it by as sent; it runs out after
	// archiveClaimTTL, should this node die sending.
	claim, _ := json.Marshal(archiveRecord{To: to, Sending: s.clk.Now().UTC(), Messages: len(msgs)})
	claimed, err := s.shelf.claim(archived, archiveMailFile, append(claim, '\n'), archiveClaimTTL)
	if err != nil {
		s.archiveFailed(r, err)
		return
	}
	if !claimed {
		// Another node sends it (or did): this one's next Retire reads
		// its record, or claims it again if that node gave up.
		s.mu.Lock()
		delete(s.archiveMail, r.Identity)
		s.mu.Unlock()
		return
	}
	s.mail.Add(1)
	go func() {
		defer s.mail.Done()
		if err := s.cfg.Mailer.Send(context.Background(), msg); err != nil {
			if rerr := s.shelf.remove(archived, archiveMailFile); rerr != nil {
				// The claim stays until it runs out; the mail is tried
				// again after that.
				s.log.Error("voicemail: releasing the claim on an archive's mail", "identity", r.Identity, "error", rerr)
			}
			s.archiveFailed(r, fmt.Errorf("to %s: %w", to, err))
			return
		}
		rec, _ := json.MarshalIndent(archiveRecord{To: to, Sent: s.clk.Now().UTC(), Messages: len(msgs)}, "", "  ")
		if err := s.shelf.write(archived, archiveMailFile, append(rec, '\n')); err != nil {
			// The mail went; without its record a restart sends it again,
			// which is better than never.
			s.log.Error("voicemail: recording that an archive was mailed", "identity", r.Identity, "error", err)
			return
		}
		s.log.Info("voicemail: mailed a removed person's archived box to the site's owner",
			"identity", r.Identity, "user", r.User, "to", to, "messages", len(msgs), "until", until)
	}()
}

// archiveFailed logs a failed archive mail and lets the next Retire try
// it again.
func (s *Service) archiveFailed(r ir.Retired, err error) {
	s.log.Error("voicemail: mailing a removed person's archived box to the site's owner; trying again at the next start or reload",
		"identity", r.Identity, "user", r.User, "error", err)
	s.mu.Lock()
	delete(s.archiveMail, r.Identity)
	s.mu.Unlock()
}
