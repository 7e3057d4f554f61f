package registrar

// OnApplied has fn called each time p has taken in a change another
// server made (Share), so that a test waits on it.
func OnApplied(p *Persistent, fn func(account string)) { p.applied = fn }
