package credentials

// PurposeFlowToken is the key of the flow tokens the nodes of a site put
// in the Path of the registrations they take (package
// runtime/flowtoken). Every node derives it from the site key it already
// holds, so a cluster needs no secret of its own.
const PurposeFlowToken Purpose = "flow-token"

// FlowTokenKey is the site's flow-token key: 32 bytes, the same on every
// node serving the site with this key; another site's (or another key's)
// is unrelated. It turns with the site key (rekey) only.
func (s *Source) FlowTokenKey() []byte {
	st := s.key.stream(Identity{Site: s.site, Kind: "node", Name: "flow-token", Purpose: PurposeFlowToken})
	out := make([]byte, 32)
	for i := range out {
		out[i] = st.next()
	}
	return out
}

// FlowTokenKey is the site's flow-token key (Source.FlowTokenKey), which
// the runtime asks its secrets for in cluster mode.
func (l *Lookup) FlowTokenKey() []byte { return l.src.FlowTokenKey() }
