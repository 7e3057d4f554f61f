package notify

import (
	"testing"

	"switchboard/compiler/ir/irtest"
)

func TestMailboxOf(t *testing.T) {
	p := irtest.HarbourView()
	tests := []struct{ account, want string }{
		{"app.mary", "mary"},          // a user's own
		{"device.desk-102", "john"},   // a user's desk phone
		{"device.monitor-1a", "mary"}, // a residence's monitor: its voicemail fallback
		{"device.front-gate", ""},     // a door station shows no light
		{"app.nobody", ""},            // not in the program
	}
	for _, tt := range tests {
		if got := MailboxOf(p, tt.account); got != tt.want {
			t.Errorf("MailboxOf(%q) = %q, want %q", tt.account, got, tt.want)
		}
	}
}

func TestEventPackage(t *testing.T) {
	tests := []struct{ header, want string }{
		{"message-summary", "message-summary"},
		{"message-summary;id=1", "message-summary"},
		{"presence ;id=2", "presence"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := EventPackage(tt.header); got != tt.want {
			t.Errorf("EventPackage(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}
