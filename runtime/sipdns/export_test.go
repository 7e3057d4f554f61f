package sipdns

// OnWaiting sets a function called as each Locate starts waiting for a
// lookup it asked or joined: tests know when every caller is in.
func (r *Resolver) OnWaiting(f func()) { r.waiting = f }
