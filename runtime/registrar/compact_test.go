package registrar_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/registrar"
)

// Memory hands back each binding as it was put, whether its key is a part
// of its contact (kept once) or not, and finds it by that key.
func TestMemoryKeyInContact(t *testing.T) {
	at := epoch.Add(time.Hour)
	for _, b := range []registrar.Binding{
		{Contact: "<sip:mary@10.0.0.5:5060>", Key: "sip:mary@10.0.0.5:5060"},                                                 // a part of it
		{Contact: "<sip:mary@10.0.0.5:5060;transport=UDP>", Key: "sip:mary@10.0.0.5:5060;transport=udp"},                     // not: case
		{Contact: `<sip:mary@10.0.0.5>;+sip.instance="<urn:uuid:1>"`, Key: "instance <urn:uuid:1>"},                          // not
		{Contact: "<sip:mary@10.0.0.5>", Key: ""},                                                                            // none
		{Contact: "sip:mary@10.0.0.5", Key: "sip:mary@10.0.0.5"},                                                             // all of it
		{Contact: "<sip:x@h>;a=sip:x@h", Key: "sip:x@h"},                                                                     // twice: the first
		{Contact: "<sip:bob@h>", Key: "sip:bob@h", CallID: "c", Source: "192.0.2.1:5060", UserAgent: "UA", Transport: "TCP"}, // with the rest
	} {
		b.Account, b.Expires, b.Since, b.CSeq = "app.mary", at, epoch, 7
		s := registrar.NewMemory()
		other := registrar.Binding{Account: "app.mary", Contact: "<sip:other@h>", Key: "sip:other@h", Expires: at}
		s.Put(other)
		s.Put(b)
		got := s.Lookup("app.mary")
		for i := range got {
			got[i].Expires, got[i].Since = got[i].Expires.UTC(), got[i].Since.UTC()
		}
		if d := cmp.Diff([]registrar.Binding{other, b}, got); d != "" {
			t.Errorf("%q in %q: looked up (-want +got):\n%s", b.Key, b.Contact, d)
		}
		if removed, ok := s.Remove("app.mary", b.Key); !ok || removed.Contact != b.Contact {
			t.Errorf("%q in %q: Remove = %q, %v", b.Key, b.Contact, removed.Contact, ok)
		}
		if got := s.Lookup("app.mary"); len(got) != 1 || got[0].Key != other.Key {
			t.Errorf("%q in %q: left after Remove: %+v", b.Key, b.Contact, got)
		}
	}
}
