package state

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"time"
)

// Removed is a person an apply removed: who they were and what happens to
// their data. Their identity is never given to anyone again, so a newcomer
// with the same block name starts with an empty voicemail box and a PIN of
// their own.
type Removed struct {
	// User is the block name they had.
	User string `json:"user"`
	// Identity is the identity their data belonged to (see Identity).
	Identity string `json:"identity"`
	// At is when the removal was applied.
	At time.Time `json:"at"`
	// Data is what happens to their voicemail messages, greeting and PIN:
	// "archive" (kept until ArchiveUntil for the owner, then deleted) or
	// "delete".
	Data         string    `json:"data"`
	ArchiveUntil time.Time `json:"archive_until,omitzero"`
	// Owner is the user the archive is kept for.
	Owner string `json:"owner,omitempty"`
	// DDIs are the carrier numbers they held, spare since; Extension the
	// extension they had.
	DDIs      []string `json:"ddis,omitempty"`
	Extension string   `json:"extension,omitempty"`
}

// identityPrefix begins every identity the state hands out: no block name
// a person wrote for a legacy box is likely to start with it, and it is a
// valid mailbox directory name.
const identityPrefix = "id-"

// Identity is the stable identity of user: what their data (voicemail
// box, greeting, PIN) belongs to. The block name is only a label; the
// identity is recorded at first apply and kept while the person stays.
//
//   - A user the state records with an identity keeps it.
//   - A user applied before identities were recorded (an object without
//     one) is their block name, where their data already is.
//   - With no state yet (Serial 0: nothing applied; `test`, a first
//     serve), every user is their block name: deterministic, and what a
//     first apply records.
//   - Otherwise a user not applied yet gets an identity derived from the
//     state's lineage, the name and how many people of that name were
//     removed before: the same for the plan, serve and the apply that
//     records it, and never a removed person's.
func (s *State) Identity(user string) string {
	if o := s.Object("user." + user); o != nil {
		if o.Identity != "" {
			return o.Identity
		}
		return user
	}
	if s.Serial == 0 && len(s.Objects) == 0 {
		return user
	}
	gen := 0
	for _, r := range s.Removed {
		if r.User == user {
			gen++
		}
	}
	sum := sha256.Sum256([]byte(s.Lineage + "\x00" + user + "\x00" + strconv.Itoa(gen)))
	return identityPrefix + hex.EncodeToString(sum[:8])
}

// RecordRemoval records that user is being removed, with the identity
// their data belongs to, and returns that record. The user's object stays
// until RemoveUser: apply records the removal before the server reloads,
// so that the reload already archives or deletes the data; a second record
// of the same identity is not added.
func (s *State) RecordRemoval(user string, r Removed) Removed {
	r.User = user
	r.Identity = s.Identity(user)
	for _, have := range s.Removed {
		if have.Identity == r.Identity {
			return have
		}
	}
	s.Removed = append(s.Removed, r)
	return r
}

// RemoveUser forgets a removed user's object, recording the removal when
// RecordRemoval has not.
func (s *State) RemoveUser(user string, r Removed) {
	s.RecordRemoval(user, r)
	s.Remove("user." + user)
}

// Returned drops the removal records of identity: the person is applied
// again (a removal that did not happen, then undone), and their data must
// stay theirs.
func (s *State) Returned(identity string) {
	s.Removed = slices.DeleteFunc(s.Removed, func(r Removed) bool { return r.Identity == identity })
}
