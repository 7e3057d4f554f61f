package credentials_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
)

// The flow-token key is HMAC-SHA-256 under the site key of the identity
// (site, "node", "flow-token", purpose flow-token, rotation 0), as every
// credential is: every node holding the site key derives the same one,
// another site or another key a different one.
func TestFlowTokenKey(t *testing.T) {
	k := testKey(t)
	p := &ir.Program{Site: ir.Site{Name: "harbour-view"}}
	got := credentials.NewLookup(k, p).FlowTokenKey()

	// By hand: the message is each field length-prefixed, then the
	// attempt and block counters (both 0).
	var msg []byte
	for _, f := range []string{"switchboard credentials v1", "harbour-view", "node", "flow-token", "flow-token", "0"} {
		msg = binary.BigEndian.AppendUint32(msg, uint32(len(f)))
		msg = append(msg, f...)
	}
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(i)
	}
	m := hmac.New(sha256.New, raw)
	m.Write(msg)
	m.Write(make([]byte, 8))
	if want := m.Sum(nil); !bytes.Equal(got, want) {
		t.Errorf("FlowTokenKey = %x, want %x", got, want)
	}
	if again := credentials.NewLookup(k, p).FlowTokenKey(); !bytes.Equal(got, again) {
		t.Error("FlowTokenKey is not deterministic")
	}
	other := credentials.NewLookup(k, &ir.Program{Site: ir.Site{Name: "other"}}).FlowTokenKey()
	if bytes.Equal(got, other) {
		t.Error("two sites share a flow-token key")
	}
}
