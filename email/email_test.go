package email

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// part is one MIME part read back with the standard library.
type part struct {
	ContentType, Disposition, Encoding string
	Body                               string // decoded
}

// readBack parses data with net/mail and mime/multipart and decodes each
// part.
func readBack(t *testing.T, data []byte) (mail.Header, []part) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("net/mail: %v", err)
	}
	decode := func(enc string, r io.Reader) string {
		raw, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		switch enc {
		case "quoted-printable":
			b, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		case "base64":
			for _, line := range strings.Split(string(raw), "\r\n") {
				if len(line) > 76 {
					t.Errorf("base64 line of %d characters", len(line))
				}
			}
			b, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(raw), "\r\n", ""))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		t.Fatalf("encoding %q", enc)
		return ""
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	if mt != "multipart/mixed" {
		enc := msg.Header.Get("Content-Transfer-Encoding")
		return msg.Header, []part{{ContentType: msg.Header.Get("Content-Type"), Encoding: enc, Body: decode(enc, msg.Body)}}
	}
	var parts []part
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			return msg.Header, parts
		}
		if err != nil {
			t.Fatal(err)
		}
		enc := p.Header.Get("Content-Transfer-Encoding")
		parts = append(parts, part{ContentType: p.Header.Get("Content-Type"), Disposition: p.Header.Get("Content-Disposition"),
			Encoding: enc, Body: decode(enc, p)})
	}
}

var when = time.Date(2026, 3, 1, 9, 30, 5, 0, time.UTC)

func TestComposeText(t *testing.T) {
	m, err := Letter{
		From:    mail.Address{Name: "Harbour View", Address: "switchboard@hv.example"},
		To:      mail.Address{Name: "Máire Ní Bhroin", Address: "maire@example.com"},
		Subject: "Your login for Harbour View", Date: when,
		Text: "Hello Máire,\n\nA line that is rather longer than seventy-six characters, so that quoted-printable must wrap it.\n",
	}.Compose()
	if err != nil {
		t.Fatal(err)
	}
	if m.From != "switchboard@hv.example" || m.To != "maire@example.com" {
		t.Errorf("envelope %s → %s", m.From, m.To)
	}
	h, parts := readBack(t, m.Data)
	subject, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	to, _ := h.AddressList("To")
	got := map[string]string{"Subject": subject, "To": to[0].String(), "Date": h.Get("Date")}
	want := map[string]string{"Subject": "Your login for Harbour View", "To": (&mail.Address{Name: "Máire Ní Bhroin", Address: "maire@example.com"}).String(),
		"Date": "Sun, 01 Mar 2026 09:30:05 +0000"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	if !strings.HasSuffix(h.Get("Message-Id"), "@hv.example>") {
		t.Errorf("Message-ID %q", h.Get("Message-Id"))
	}
	wantParts := []part{{ContentType: "text/plain; charset=utf-8", Encoding: "quoted-printable",
		Body: "Hello Máire,\r\n\r\nA line that is rather longer than seventy-six characters, so that quoted-printable must wrap it.\r\n"}}
	if diff := cmp.Diff(wantParts, parts); diff != "" {
		t.Errorf("parts (-want +got):\n%s", diff)
	}
}

func TestComposeAttachment(t *testing.T) {
	wav := bytes.Repeat([]byte("RIFF\x00\x01\x02\xff"), 100)
	l := Letter{
		From:    mail.Address{Name: "Voicemail", Address: "vm@hv.example"},
		To:      mail.Address{Address: "mary@example.com"},
		Subject: "New voicemail", Date: when, MessageID: "vm.mary.1.2@hv.example",
		Text:        "The recording is attached.\n",
		Attachments: []Attachment{{Name: "msg-000001.wav", ContentType: "audio/wav", Data: wav}},
	}
	m, err := l.Compose()
	if err != nil {
		t.Fatal(err)
	}
	h, parts := readBack(t, m.Data)
	if got := h.Get("Message-Id"); got != "<vm.mary.1.2@hv.example>" {
		t.Errorf("Message-ID %q", got)
	}
	want := []part{
		{ContentType: "text/plain; charset=utf-8", Encoding: "quoted-printable", Body: "The recording is attached.\r\n"},
		{ContentType: `audio/wav; name=msg-000001.wav`, Disposition: `attachment; filename=msg-000001.wav`, Encoding: "base64", Body: string(wav)},
	}
	if diff := cmp.Diff(want, parts); diff != "" {
		t.Errorf("parts (-want +got):\n%s", diff)
	}
	again, _ := l.Compose()
	if !bytes.Equal(again.Data, m.Data) {
		t.Error("two compositions of one letter differ")
	}
	l.Attachments[0].Data = append(wav, 0)
	other, _ := l.Compose()
	if bytes.Equal(other.Data, m.Data) {
		t.Error("another attachment gives the same mail")
	}
}

// Names and subjects from outside cannot add headers.
func TestComposeHeaderInjection(t *testing.T) {
	m, err := Letter{
		From:    mail.Address{Name: "Site\r\nBcc: all@evil.example", Address: "vm@hv.example"},
		To:      mail.Address{Name: "Eve\nBcc: x@evil.example", Address: "eve@example.com"},
		Subject: "Hi\r\nBcc: y@evil.example", Date: when, MessageID: "a\r\nBcc: z@evil.example",
		Text:        "x\n",
		Attachments: []Attachment{{Name: "a\r\nBcc: w@evil.example.wav", ContentType: "audio/wav", Data: []byte("x")}},
	}.Compose()
	if err != nil {
		t.Fatal(err)
	}
	h, parts := readBack(t, m.Data)
	if h.Get("Bcc") != "" || strings.Contains(string(m.Data), "\r\nBcc:") || len(parts) != 2 {
		t.Errorf("a header was injected:\n%s", m.Data)
	}
}

func TestComposeBadAddress(t *testing.T) {
	for _, l := range []Letter{
		{From: mail.Address{Address: "vm@hv.example"}, To: mail.Address{Address: "not an address"}},
		{From: mail.Address{Address: ""}, To: mail.Address{Address: "mary@example.com"}},
	} {
		if _, err := l.Compose(); err == nil {
			t.Errorf("Compose(%v → %v) accepted", l.From, l.To)
		}
	}
}
