package site

import (
	"context"

	"switchboard/runtime/voicemail"
)

// keptVoicemail is where the site's voicemail is kept when the server has
// a store: messages and greetings in an object store of the site, their
// metadata (and with it the message-waiting state), PINs and archive
// records in a key-value bucket of the site, both named by the site's
// domain like its registrations. Without a store, or without a data
// directory (no voicemail at all), files under DataDir/voicemail: on
// disk, or in Options.VoicemailMemory.
func (s *Site) keptVoicemail(site string) (voicemail.Store, error) {
	if s.o.Store == nil || s.o.DataDir == "" {
		return voicemail.Store{Memory: s.o.VoicemailMemory}, nil
	}
	ctx := context.Background()
	objs, err := s.o.Store.Objects(ctx, "voicemail", site)
	if err != nil {
		return voicemail.Store{}, err
	}
	kv, err := s.o.Store.KV(ctx, "mailboxes", site)
	if err != nil {
		return voicemail.Store{}, err
	}
	// In a cluster the other nodes serve the site's voicemail from the
	// same store: each follows the others' writes.
	return voicemail.Store{Objects: objs, Keys: kv, Shared: s.o.Store.Clustered()}, nil
}
