package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"switchboard/compiler/apply"
	"switchboard/compiler/credentials"
	"switchboard/compiler/handover"
	"switchboard/compiler/ir"
	"switchboard/compiler/plan"
	"switchboard/compiler/state"
	"switchboard/email"
	"switchboard/runtime/portal"
)

// defaultInvitationApp is the app invitations tell people to install
// when nobody said which (invite -app).
const defaultInvitationApp = "a SIP app such as Linphone"

// portalSite answers the portal (portal.SiteFiles) from the directory
// serve runs: the applied state's invitations, an invitation sent again
// the way `switchboard invite` sends it, and the handover sheet. The
// runtime reads neither the state nor the site key, so serve supplies
// these.
type portalSite struct {
	dir, statePath string
	key            credentials.Key
	// program is the running program (a reload's, once it runs).
	program func() *ir.Program
	mailer  email.Mailer // nil: no -smtp, nothing is sent
}

func (s *portalSite) readState() (*state.State, error) {
	prog := s.program()
	st, _, err := state.NewStore(s.statePath).Read(prog.Site.Name)
	return st, err
}

// Invitations reads each applied user's invitation status from the state.
func (s *portalSite) Invitations() (map[string]string, error) {
	st, err := s.readState()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, u := range s.program().Users {
		o := st.Object(string(plan.KindUser) + "." + u.Name)
		if o == nil || (o.InProgress && len(o.Attributes) == 0) {
			continue
		}
		raw, ok := o.Attributes[plan.AttrInvitation]
		if !ok {
			out[u.Name] = "none (send_credentials is not set)"
			continue
		}
		var text string
		if json.Unmarshal([]byte(raw), &text) != nil {
			text = raw // not JSON text: shown as it is
		}
		out[u.Name] = text
	}
	return out, nil
}

// ResendInvitation sends user's current invitation again, as `switchboard
// invite` does, under the state's lock, and records it in the state.
func (s *portalSite) ResendInvitation(ctx context.Context, user string) (string, error) {
	prog := s.program()
	store := state.NewStore(s.statePath)
	lock, err := store.Lock("portal invite")
	if err != nil {
		var locked *state.LockedError
		if errors.As(err, &locked) {
			return "", errors.New("the state is locked by another switchboard command; try again once it is done")
		}
		return "", err
	}
	defer lock.Unlock()
	st, _, err := store.Read(prog.Site.Name)
	if err != nil {
		return "", err
	}
	desired := plan.NewDesired(plan.Input{Program: prog, Key: s.key, Invites: plan.Invites(prog)})
	mo := apply.MailOptions{App: defaultInvitationApp, Now: time.Now()}
	if in := prog.Site.Installer; in != nil {
		mo.Installer, mo.InstallerLogin = in.Company, in.Email
	}
	line, rec, err := invite(ctx, prog, s.key, st, desired, s.mailer, mo, user)
	if err != nil {
		return "", err
	}
	if rec != nil {
		st.Put(*rec)
		if err := store.Write(st); err != nil {
			return "", fmt.Errorf("sent, but the state could not record it: %w", err)
		}
	}
	return line, nil
}

// Commissioning reads the live checklist's results from the state.
func (s *portalSite) Commissioning() (*portal.Checklist, error) {
	st, err := s.readState()
	if err != nil || st.Commissioning == nil {
		return nil, err
	}
	cl := &portal.Checklist{Updated: st.Commissioning.Updated}
	for _, c := range st.Commissioning.Cases {
		cl.Cases = append(cl.Cases, portal.CheckCase{Name: c.Name, Origin: c.Origin, Status: c.Status, Detail: c.Detail, At: c.At})
	}
	return cl, nil
}

// HandoverHTML renders the handover sheet, as `switchboard handover`
// does, from the running program and the applied state.
func (s *portalSite) HandoverHTML() ([]byte, error) {
	st, err := s.readState()
	if err != nil {
		return nil, err
	}
	info, err := keyInfo(s.dir, s.key)
	if err != nil {
		return nil, err
	}
	info.Location = filepath.ToSlash(info.Location)
	var buf bytes.Buffer
	sheet := handover.New(handover.Input{Program: s.program(), State: st, Key: info, Now: time.Now()})
	if err := sheet.HTML(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
