// Package email composes and sends switchboard's e-mails: the invitations
// apply sends (compiler/apply) and the voicemail notifications the server
// sends (runtime/voicemail). It is the one composer, built on mime/multipart
// and mime/quotedprintable, and the one SMTP client, emersion/go-smtp.
//
// It imports nothing of ours, so both compile time and run time may use it.
package email

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// Message is a composed e-mail: its envelope and its RFC 5322 data.
type Message struct {
	From string // envelope sender
	To   string // one recipient
	Data []byte
}

// Mailer sends a composed message.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// Letter is what an e-mail says: headers, a plain text and attachments.
type Letter struct {
	From, To mail.Address // From.Address is also the envelope sender
	Subject  string
	Date     time.Time
	// MessageID is the Message-ID without its angle brackets; empty: one
	// derived from the content, at From's domain.
	MessageID   string
	Text        string // lines end in "\n"; sent as quoted-printable UTF-8
	Attachments []Attachment
}

// Attachment is a file sent with a letter (base64).
type Attachment struct {
	Name        string // the file name shown
	ContentType string // "audio/wav"
	Data        []byte
}

// Compose writes l as a message: text/plain alone, or multipart/mixed with
// the text first and the attachments after. It is deterministic: the same
// letter gives the same bytes (the boundary and a missing Message-ID are
// derived from the content), so a retried send is the same mail.
func (l Letter) Compose() (Message, error) {
	if _, err := mail.ParseAddress(l.To.Address); err != nil {
		return Message{}, fmt.Errorf("recipient %q: %w", l.To.Address, err)
	}
	if _, err := mail.ParseAddress(l.From.Address); err != nil {
		return Message{}, fmt.Errorf("sender %q: %w", l.From.Address, err)
	}
	var text bytes.Buffer
	qp := quotedprintable.NewWriter(&text)
	qp.Write([]byte(strings.ReplaceAll(l.Text, "\n", "\r\n")))
	qp.Close()

	sum := sha256.New()
	fmt.Fprintf(sum, "%s\x00%s\x00%s\x00%s\x00%d\x00", l.From.String(), l.To.String(), l.Subject, l.MessageID, l.Date.UnixNano())
	sum.Write(text.Bytes())
	for _, a := range l.Attachments {
		fmt.Fprintf(sum, "%s\x00%s\x00%d\x00", a.Name, a.ContentType, len(a.Data))
		sum.Write(a.Data)
	}
	seed := hex.EncodeToString(sum.Sum(nil))

	id := l.MessageID
	if id == "" {
		_, domain, _ := strings.Cut(l.From.Address, "@")
		id = seed[:24] + "@" + domain
	}
	var b bytes.Buffer
	// Header values from outside (names, subjects) are Q-encoded or
	// quoted by net/mail, and mime.QEncoding leaves no CR or LF: no
	// header injection.
	fmt.Fprintf(&b, "From: %s\r\n", l.From.String())
	fmt.Fprintf(&b, "To: %s\r\n", l.To.String())
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", oneLine(l.Subject)))
	fmt.Fprintf(&b, "Date: %s\r\n", l.Date.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s>\r\n", oneLine(id))
	fmt.Fprintf(&b, "MIME-Version: 1.0\r\n")
	textHeader := textproto.MIMEHeader{
		"Content-Type":              {"text/plain; charset=utf-8"},
		"Content-Transfer-Encoding": {"quoted-printable"},
	}
	if len(l.Attachments) == 0 {
		for _, k := range []string{"Content-Type", "Content-Transfer-Encoding"} {
			fmt.Fprintf(&b, "%s: %s\r\n", k, textHeader.Get(k))
		}
		b.WriteString("\r\n")
		b.Write(text.Bytes())
		return Message{From: l.From.Address, To: l.To.Address, Data: b.Bytes()}, nil
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	// A boundary from the content: base64 and quoted-printable never
	// produce "=_" followed by this, and the hash makes it the same for the
	// same letter.
	if err := mw.SetBoundary("=_" + seed[:32]); err != nil {
		return Message{}, err
	}
	fmt.Fprintf(&b, "Content-Type: %s\r\n\r\n", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": mw.Boundary()}))
	pw, err := mw.CreatePart(textHeader)
	if err != nil {
		return Message{}, err
	}
	pw.Write(text.Bytes())
	for _, a := range l.Attachments {
		name := oneLine(a.Name)
		h := textproto.MIMEHeader{
			"Content-Type":              {mime.FormatMediaType(a.ContentType, map[string]string{"name": name})},
			"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": name})},
			"Content-Transfer-Encoding": {"base64"},
		}
		pw, err := mw.CreatePart(h)
		if err != nil {
			return Message{}, err
		}
		writeBase64(pw, a.Data)
	}
	if err := mw.Close(); err != nil {
		return Message{}, err
	}
	b.Write(body.Bytes())
	return Message{From: l.From.Address, To: l.To.Address, Data: b.Bytes()}, nil
}

// writeBase64 writes data in base64 lines of 76 characters (RFC 2045).
func writeBase64(w io.Writer, data []byte) {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		io.WriteString(w, enc[:76]+"\r\n")
		enc = enc[76:]
	}
	if enc != "" {
		io.WriteString(w, enc+"\r\n")
	}
}

// oneLine drops line breaks, which have no place in a header.
func oneLine(s string) string {
	return strings.NewReplacer("\r", "", "\n", "").Replace(s)
}

// Refusal is a mail server's reply refusing a message, or a command
// leading to it.
type Refusal struct {
	Code int    // the reply code: 4xx for now, 5xx for good
	Text string // the server's words
}

func (r *Refusal) Error() string { return fmt.Sprintf("%d %s", r.Code, r.Text) }

// Permanent reports whether err is a refusal that trying again will not
// change: a 5xx reply (RFC 5321 §4.2.1). Anything else (a 4xx, an
// unreachable server, a timeout) may pass.
func Permanent(err error) bool {
	var r *Refusal
	return errors.As(err, &r) && r.Code >= 500
}
