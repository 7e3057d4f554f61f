// Package flowtoken makes and checks the flow tokens of a cluster of
// nodes serving one site (RFC 5626 §5.2): the user part of the Path
// element a node puts first in each registration it takes, naming the
// flow — transport and source address — the REGISTER came over.
//
// A device behind NAT can be reached only over that flow, so only through
// the node that holds it. Another node sends a request for the device to
// that node with the Path as its route set; the holding node reads the
// token back from the Route and sends on over the flow. The token is
// authenticated with an HMAC under a key every node of the site shares
// (derived from the site key), over the node's own URI too: a token
// forged, altered, minted for another site or moved to another node's URI
// is refused.
//
// A token is base64url without padding (characters a SIP URI's user part
// takes unescaped, RFC 3261 §25.1) of: a version byte, a transport byte,
// the source address (16 bytes, IPv4 mapped) and port (2 bytes), then
// the first 16 bytes of HMAC-SHA-256(key, label, node, those bytes).
package flowtoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
)

// Flow is the connection a registration came over.
type Flow struct {
	// Transport is "UDP", "TCP", "TLS", "WS" or "WSS".
	Transport string
	// Source is the address the REGISTER came from.
	Source netip.AddrPort
}

const (
	version = 1
	macSize = 16
	rawSize = 1 + 1 + 16 + 2 + macSize
	// Size is the length of every token.
	Size = (rawSize*8 + 5) / 6
	// label separates this use of the key from any other.
	label = "switchboard flow token v1"
)

var transports = [...]string{"UDP", "TCP", "TLS", "WS", "WSS"}

// Errors of Check. Both are a refusal (403 Forbidden); they differ only
// for the log.
var (
	ErrMalformed = errors.New("flow token: malformed")
	ErrForged    = errors.New("flow token: not made by a node of this site")
)

// Mint returns the token of flow f for the node whose URI is node, under
// key. ok is false for a flow a token cannot name (an unknown transport, a
// source that is not an IP address and port).
func Mint(key []byte, node string, f Flow) (token string, ok bool) {
	t := transportCode(f.Transport)
	if t < 0 || !f.Source.IsValid() {
		return "", false
	}
	raw := make([]byte, 0, rawSize)
	raw = append(raw, version, byte(t))
	a := f.Source.Addr().As16()
	raw = append(raw, a[:]...)
	raw = binary.BigEndian.AppendUint16(raw, f.Source.Port())
	raw = append(raw, mac(key, node, raw)...)
	return base64.RawURLEncoding.EncodeToString(raw), true
}

// Check reads token back, for the node whose URI is node: the flow it
// names, or ErrMalformed or ErrForged. It reads at most Size bytes of any
// input.
func Check(key []byte, node, token string) (Flow, error) {
	if len(token) != Size {
		return Flow{}, ErrMalformed
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(raw) != rawSize || raw[0] != version {
		return Flow{}, ErrMalformed
	}
	body, sum := raw[:rawSize-macSize], raw[rawSize-macSize:]
	// The MAC first: nothing of a forged token is believed, not even
	// which transport it names.
	if !hmac.Equal(sum, mac(key, node, body)) {
		return Flow{}, ErrForged
	}
	t := int(body[1])
	if t >= len(transports) {
		return Flow{}, ErrMalformed
	}
	addr := netip.AddrFrom16([16]byte(body[2:18])).Unmap()
	port := binary.BigEndian.Uint16(body[18:20])
	return Flow{Transport: transports[t], Source: netip.AddrPortFrom(addr, port)}, nil
}

func mac(key []byte, node string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	var n [4]byte
	for _, f := range [][]byte{[]byte(label), []byte(node), body} {
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		m.Write(n[:])
		m.Write(f)
	}
	return m.Sum(nil)[:macSize]
}

func transportCode(t string) int {
	for i, name := range transports {
		if strings.EqualFold(t, name) {
			return i
		}
	}
	return -1
}
