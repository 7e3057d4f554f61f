package apply

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"switchboard/email"
)

// Invitation is what one person's invitation says.
type Invitation struct {
	To       string // the notification address (notify_email, else email)
	Name     string // the person's full name
	SiteName string // the site's display name
	// Portal is the person's own app and portal login, when they have an
	// email address.
	PortalUser, PortalPassword string
	// SIP is their own SIP app account, when they have app = true.
	SIPUser, SIPAuthName, SIPPassword, SIPDomain string
	// App says which app to use.
	App string
	// Installer is who installed the site (a company name): named so the
	// person knows who to ask, never with the installer's login.
	Installer string
	// Role and Rights are the person's role and what the roles table
	// (ir.Roles) lets it do.
	Role   string
	Rights []string
}

// ErrInstallerLogin is returned by Compose when a message would show the
// installer's login.
var ErrInstallerLogin = errors.New("the invitation would show the installer's login")

// Compose writes an invitation as a plain-text mail from from. It refuses
// (ErrInstallerLogin) a message that would contain forbidden — the
// installer's login — anywhere, headers included.
func Compose(inv Invitation, from string, forbidden string, now time.Time) (email.Message, error) {
	var body strings.Builder
	first := inv.Name
	if f, _, ok := strings.Cut(inv.Name, " "); ok {
		first = f
	}
	fmt.Fprintf(&body, "Hello %s,\n\n", first)
	fmt.Fprintf(&body, "You now have your own login for the door intercom and phones of %s.\n", inv.SiteName)
	fmt.Fprintf(&body, "It is yours alone: please do not share it with anyone, including the\npeople you live or work with. Each of them gets a login of their own.\n\n")
	if inv.SIPUser != "" {
		fmt.Fprintf(&body, "To answer the door and make calls, install %s on your\nphone and add this account:\n\n", inv.App)
		fmt.Fprintf(&body, "  Username:   %s\n", inv.SIPUser)
		if inv.SIPAuthName != "" && inv.SIPAuthName != inv.SIPUser {
			fmt.Fprintf(&body, "  Auth name:  %s\n", inv.SIPAuthName)
		}
		fmt.Fprintf(&body, "  Password:   %s\n", inv.SIPPassword)
		fmt.Fprintf(&body, "  Domain:     %s\n\n", inv.SIPDomain)
	}
	if inv.PortalUser != "" {
		fmt.Fprintf(&body, "Your login for the app and the web portal (your settings, voicemail,\nwho may open the door):\n\n")
		fmt.Fprintf(&body, "  Login:      %s\n", inv.PortalUser)
		fmt.Fprintf(&body, "  Password:   %s\n\n", inv.PortalPassword)
	}
	if inv.Role != "" && len(inv.Rights) > 0 {
		fmt.Fprintf(&body, "Your role on the site is %s: you may %s.\n\n", inv.Role, strings.Join(inv.Rights, ", "))
	}
	if inv.Installer != "" {
		fmt.Fprintf(&body, "The system was installed by %s. If you did not expect this\nmessage, tell the owner of the building or the installer.\n", inv.Installer)
	} else {
		fmt.Fprintf(&body, "If you did not expect this message, tell the owner of the building.\n")
	}

	m, err := email.Letter{
		From:    mail.Address{Name: inv.SiteName, Address: from},
		To:      mail.Address{Name: inv.Name, Address: inv.To},
		Subject: "Your login for " + inv.SiteName,
		Date:    now,
		Text:    body.String(),
	}.Compose()
	if err != nil {
		return email.Message{}, fmt.Errorf("invitation: %w", err)
	}
	if forbidden != "" {
		lower := strings.ToLower(forbidden)
		if strings.Contains(strings.ToLower(string(m.Data)), lower) || strings.Contains(strings.ToLower(body.String()), lower) {
			return email.Message{}, ErrInstallerLogin
		}
	}
	return m, nil
}
