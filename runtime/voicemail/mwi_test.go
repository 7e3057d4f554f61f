package voicemail

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMWIBody(t *testing.T) {
	tests := []struct {
		name string
		m    MWI
		want string
	}{
		{"empty", MWI{Account: "sip:*97@example.net"},
			"Messages-Waiting: no\r\nMessage-Account: sip:*97@example.net\r\nVoice-Message: 0/0 (0/0)\r\n"},
		{"new and old", MWI{Waiting: true, Account: "sip:*97@example.net", Voice: Summary{New: 2, Old: 8}},
			"Messages-Waiting: yes\r\nMessage-Account: sip:*97@example.net\r\nVoice-Message: 2/8 (0/0)\r\n"},
		{"urgent", MWI{Waiting: true, Account: "sip:*97@example.net", Voice: Summary{New: 2, Old: 8, NewUrgent: 1, OldUrgent: 3}},
			"Messages-Waiting: yes\r\nMessage-Account: sip:*97@example.net\r\nVoice-Message: 2/8 (1/3)\r\n"},
		{"no account", MWI{Voice: Summary{Old: 1}},
			"Messages-Waiting: no\r\nVoice-Message: 0/1 (0/0)\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(tt.m.Body())
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("body (-want +got):\n%s", d)
			}
			back, err := ParseMWI([]byte(got))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.m, back); d != "" {
				t.Errorf("round trip (-want +got):\n%s", d)
			}
		})
	}
}

// Bodies from other servers, as RFC 3842 writes them.
func TestParseMWI(t *testing.T) {
	tests := []struct {
		body string
		want MWI
		ok   bool
	}{
		{"Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\nVoice-Message: 4/8 (1/2)\r\n",
			MWI{Waiting: true, Account: "sip:alice@vmail.example.com", Voice: Summary{4, 8, 1, 2}}, true},
		{"messages-waiting:no\nvoice-message: 0/0\n", MWI{}, true},
		{"Messages-Waiting: yes\r\nFax-Message: 2/1\r\nVoice-Message: 3/0\r\n\r\n", MWI{Waiting: true, Voice: Summary{New: 3}}, true},
		{"Messages-Waiting: maybe\r\n", MWI{}, false},
		{"Voice-Message: 1/0\r\n", MWI{}, false},
		{"Messages-Waiting: yes\r\nVoice-Message: 1\r\n", MWI{}, false},
		{"Messages-Waiting: yes\r\nVoice-Message: 1/-2\r\n", MWI{}, false},
		{"Messages-Waiting: yes\r\nVoice-Message: 1/2 (3/4\r\n", MWI{}, false},
		{"Messages-Waiting yes\r\n", MWI{}, false},
		{"", MWI{}, false},
	}
	for _, tt := range tests {
		got, err := ParseMWI([]byte(tt.body))
		if (err == nil) != tt.ok {
			t.Errorf("ParseMWI(%q): error %v, want ok %v", tt.body, err, tt.ok)
			continue
		}
		if d := cmp.Diff(tt.want, got); tt.ok && d != "" {
			t.Errorf("ParseMWI(%q) (-want +got):\n%s", tt.body, d)
		}
	}
}

func TestServiceMessageSummary(t *testing.T) {
	e := newEnv(t)
	e.addMessage("mary", FolderNew, epoch, 1, 440)
	e.addMessage("mary", FolderNew, epoch.Add(time.Minute), 1, 440)
	e.addMessage("mary", FolderSaved, epoch, 1, 440)
	for box, want := range map[string]string{
		"mary":  "Messages-Waiting: yes\r\nMessage-Account: sip:*97@harbour-view.example.net\r\nVoice-Message: 2/1 (0/0)\r\n",
		"john":  "Messages-Waiting: no\r\nMessage-Account: sip:*97@harbour-view.example.net\r\nVoice-Message: 0/0 (0/0)\r\n",
		"../..": "Messages-Waiting: no\r\nMessage-Account: sip:*97@harbour-view.example.net\r\nVoice-Message: 0/0 (0/0)\r\n",
	} {
		if d := cmp.Diff(want, string(e.s.MessageSummary(box))); d != "" {
			t.Errorf("%s (-want +got):\n%s", box, d)
		}
	}
	// Reading a box creates nothing.
	if _, err := os.Stat(filepath.Join(e.dir, "john")); err == nil {
		t.Error("the summary of an empty box created its directory")
	}
	// Without an access number, no Message-Account.
	e.prog.Numbers = e.prog.Numbers[1:] // read by the service on its next use
	if got := string(e.s.MessageSummary("john")); got != "Messages-Waiting: no\r\nVoice-Message: 0/0 (0/0)\r\n" {
		t.Errorf("no access number: %q", got)
	}
	for account, want := range map[string]string{"app.mary": "mary", "device.desk-102": "john", "device.monitor-1a": "", "app.aoife": "", "nobody": ""} {
		if got := e.s.BoxOf(account); got != want {
			t.Errorf("BoxOf(%s) = %q, want %q", account, got, want)
		}
	}
}

func FuzzParseMWI(f *testing.F) {
	f.Add([]byte("Messages-Waiting: yes\r\nMessage-Account: sip:*97@x\r\nVoice-Message: 2/8 (0/0)\r\n"))
	f.Add([]byte("messages-waiting:no\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMWI(b)
		if err != nil {
			return
		}
		// What parses renders, and the rendering parses back the same
		// (for accounts without line breaks, which a header cannot hold).
		if m.Voice.New < 0 || m.Voice.Old < 0 {
			t.Fatalf("negative counts %+v", m.Voice)
		}
		back, err := ParseMWI(m.Body())
		if err != nil {
			t.Fatalf("rendered body does not parse: %v\n%q", err, m.Body())
		}
		if d := cmp.Diff(m, back); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
	})
}
