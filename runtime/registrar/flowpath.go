package registrar

// WithFlowPath makes the registrar put, first in the Path of every binding
// it stores, the element head returns for the flow (source address,
// transport) the REGISTER came over; "" adds none. A node of a cluster
// (package site, Options.Node) names itself there with a flow token
// (RFC 5626 §5.2), so that the other nodes, which share the bindings,
// send the device's calls through it: only it holds the flow a NAT lets
// in.
//
// The element is the registrar's own: the 200 OK echoes only the Path the
// REGISTER brought (RFC 3327 §5.3), never it.
func WithFlowPath(head func(source, transport string) string) Option {
	return func(r *Registrar) { r.flowPath = head }
}

// pathOf is the Path a binding from source over transport keeps: the
// node's own element (WithFlowPath) before the REGISTER's.
func (r *Registrar) pathOf(path []string, source, transport string) []string {
	if r.flowPath == nil {
		return path
	}
	head := r.flowPath(source, transport)
	if head == "" {
		return path
	}
	return append([]string{head}, path...)
}
