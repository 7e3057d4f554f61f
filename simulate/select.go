package simulate

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"reflect"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"

	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/compiler/plan"
	"switchboard/compiler/state"
)

// Shard returns part k (1-based) of n of the cases: every case is in
// exactly one part, the parts together are the whole list, and their sizes
// differ by at most one. Cases are dealt to the parts in the order of a
// hash of their names, so a part is a spread of the suite (not the door
// cases in one, the extensions in another), and every job that shards the
// same list gets the same parts. Cases keep their order within a part. k
// and n must satisfy 1 ≤ k ≤ n.
func Shard(cases []Case, k, n int) []Case {
	if n < 1 || k < 1 || k > n {
		panic(fmt.Sprintf("simulate.Shard: part %d of %d", k, n))
	}
	type ranked struct {
		hash uint64
		i    int
	}
	order := make([]ranked, len(cases))
	for i, c := range cases {
		h := fnv.New64a()
		h.Write([]byte(c.Name))
		order[i] = ranked{h.Sum64(), i}
	}
	slices.SortFunc(order, func(a, b ranked) int {
		if c := cmp.Compare(a.hash, b.hash); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	in := make([]bool, len(cases))
	for r, o := range order {
		in[o.i] = r%n == k-1
	}
	var out []Case
	for i, c := range cases {
		if in[i] {
			out = append(out, c)
		}
	}
	return out
}

// Subjects are the objects of the site a case depends on, as plan
// addresses ("user.mary", "residence.apt-1a", "device.gate",
// "trunk.carrier", "conference.board"): the owners of every account its
// steps name, what the numbers it dials reach (the entry's door station and
// target, a user by extension, a DDI's user and trunk, a conference room),
// the mailboxes' owners, the trunks, and the object its origin lies in.
// When one of them changes the case may end differently; when none does it
// proves what it proved before. Sorted.
func Subjects(p *ir.Program, c Case) []string {
	return newSubjectIndex(p).subjects(c)
}

// subjectIndex finds what a dialled number reaches without scanning the
// program for every case of a large site.
type subjectIndex struct {
	p       *ir.Program
	numbers map[string][]ir.Ref // number → what it reaches from anywhere
	entries map[string][]ir.Ref // device + "\x00" + code → door and target
}

func newSubjectIndex(p *ir.Program) *subjectIndex {
	x := &subjectIndex{p: p, numbers: map[string][]ir.Ref{}, entries: map[string][]ir.Ref{}}
	for _, e := range p.Entries {
		k := e.Device + "\x00" + e.Code
		x.entries[k] = append(x.entries[k], ir.DeviceRef(e.Device), e.Target)
	}
	for _, u := range p.Users {
		if u.Extension != "" {
			x.numbers[u.Extension] = append(x.numbers[u.Extension], ir.UserRef(u.Name))
		}
	}
	for _, d := range p.DDIs {
		x.numbers[d.Number] = append(x.numbers[d.Number], d.Target, ir.Ref{Kind: ir.RefTrunk, Name: d.Trunk})
	}
	for _, n := range p.Numbers {
		x.numbers[n.Number] = append(x.numbers[n.Number], n.Action.Target)
	}
	for _, t := range p.Trunks {
		for _, n := range t.DDIs {
			// A spare number of the pool goes where the trunk says.
			x.numbers[n] = append(x.numbers[n], ir.Ref{Kind: ir.RefTrunk, Name: t.Name}, t.Unassigned)
		}
	}
	return x
}

func (x *subjectIndex) subjects(c Case) []string {
	s := subjectSet{x: x, p: x.p, set: map[string]bool{}}
	s.origin(c.Origin)
	for _, o := range c.StepOrigins {
		s.origin(o)
	}
	for _, step := range c.Steps {
		if d, ok := step.(Dial); ok {
			s.dial(d)
		}
		s.walk(reflect.ValueOf(step))
	}
	out := make([]string, 0, len(s.set))
	for a := range s.set {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

type subjectSet struct {
	x   *subjectIndex
	p   *ir.Program
	set map[string]bool
}

func (s subjectSet) add(r ir.Ref) {
	if r.IsZero() {
		return
	}
	s.set[r.String()] = true
	if r.Kind == ir.RefResidence {
		// A residence rings its residents and monitors: a change to one
		// of them changes what its calls do.
		if res := s.p.Residence(r.Name); res != nil {
			for _, u := range res.Users {
				s.set[ir.UserRef(u).String()] = true
			}
			for _, m := range res.Monitors {
				s.set[ir.DeviceRef(m).String()] = true
			}
		}
	}
}

// origin adds the object an origin lies in: `user "mary"` → user.mary.
func (s subjectSet) origin(o ir.Origin) {
	kind, rest, ok := strings.Cut(o.Object, " ")
	if !ok {
		return
	}
	name := strings.Trim(rest, `"`)
	switch ir.RefKind(kind) {
	case ir.RefUser, ir.RefResidence, ir.RefDevice, ir.RefTrunk, ir.RefConference:
		s.add(ir.Ref{Kind: ir.RefKind(kind), Name: name})
	}
}

// account adds an account's owner and device; it reports whether name is
// an account.
func (s subjectSet) account(name string) bool {
	a := s.p.Account(name)
	if a == nil {
		return false
	}
	s.add(a.Owner)
	if a.Device != "" {
		s.add(ir.DeviceRef(a.Device))
	}
	return true
}

// dial adds what the number dialled reaches from the caller.
func (s subjectSet) dial(d Dial) {
	if from := s.p.Account(d.From); from != nil && from.Device != "" {
		for _, r := range s.x.entries[from.Device+"\x00"+d.To] {
			s.add(r)
		}
	}
	for _, r := range s.x.numbers[d.To] {
		s.add(r)
	}
}

// walk adds every account, mailbox, trunk and conference number that a
// step's fields name.
func (s subjectSet) walk(v reflect.Value) {
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if !v.IsNil() {
			s.walk(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				s.walk(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			s.walk(v.Index(i))
		}
	case reflect.String:
		s.name(v.String())
	}
}

func (s subjectSet) name(v string) {
	if v == "" || s.account(v) {
		return
	}
	if m := s.p.Mailbox(v); m != nil {
		s.add(m.Owner)
	}
	if t := s.p.Trunk(v); t != nil {
		s.add(ir.Ref{Kind: ir.RefTrunk, Name: t.Name})
	}
	for _, r := range s.x.numbers[v] {
		if r.Kind == ir.RefConference {
			s.add(r)
		}
	}
}

// Change is what changed in a site since a version it is compared with.
type Change struct {
	// All says the change reaches every case: the site block, or
	// anything the comparison cannot attribute to an object.
	All bool
	// Objects are the plan addresses ("user.mary") of the objects added,
	// removed or changed.
	Objects map[string]bool
	// Before are the cases of the earlier version: a case that is new, or
	// whose steps differ from the case of the same name there, runs
	// whatever its subjects (nil: cases are not compared).
	Before []Case
}

// Affected returns the cases a change can affect: all of them when the
// change says so; otherwise those with a changed subject (see Subjects),
// and those that are new or whose steps changed since ch.Before. Order is
// kept.
func Affected(p *ir.Program, cases []Case, ch Change) []Case {
	if ch.All {
		return cases
	}
	var before map[string]*Case
	if ch.Before != nil {
		before = make(map[string]*Case, len(ch.Before))
		for i := range ch.Before {
			before[ch.Before[i].Name] = &ch.Before[i]
		}
	}
	idx := newSubjectIndex(p)
	affected := func(c Case) bool {
		if ch.Before != nil {
			old := before[c.Name]
			if old == nil || old.Skip != c.Skip || !reflect.DeepEqual(old.Steps, c.Steps) {
				return true
			}
		}
		for _, a := range idx.subjects(c) {
			if ch.Objects[a] {
				return true
			}
		}
		return false
	}
	// A large suite is tens of thousands of cases: look at them on every
	// core.
	keep := make([]bool, len(cases))
	parts := min(goruntime.GOMAXPROCS(0), max(1, len(cases)/1024))
	var wg sync.WaitGroup
	for w := range parts {
		wg.Go(func() {
			for i := w; i < len(cases); i += parts {
				keep[i] = affected(cases[i])
			}
		})
	}
	wg.Wait()
	var out []Case
	for i, c := range cases {
		if keep[i] {
			out = append(out, c)
		}
	}
	return out
}

// ChangeBetween is what changed from the site compiled to before to the
// site compiled to after: the objects whose plan (see package plan)
// differs in anything a simulated call can observe, and the cases of
// before, to compare steps with. key is the site key both are planned
// with (any key: the passwords it derives are not compared).
func ChangeBetween(before, after *ir.Program, key credentials.Key) Change {
	// Planning a large site and generating its suite take a while; the
	// three are independent.
	var (
		st       *state.State
		desired  *plan.Desired
		previous []Case
		wg       sync.WaitGroup
	)
	wg.Go(func() {
		st = state.New(before.Site.Name)
		for _, o := range plan.NewDesired(plan.Input{Program: before, Key: key}).Objects {
			st.Put(state.Object{Address: o.Address, Attributes: o.Attributes})
		}
	})
	wg.Go(func() { desired = plan.NewDesired(plan.Input{Program: after, Key: key}) })
	wg.Go(func() { previous = Generate(before) })
	wg.Wait()
	ch := changeFrom(desired, st)
	ch.Before = previous
	return ch
}

// ChangeSinceState is what changed in the site compiled to p since the
// state st was applied (see ChangeBetween); it has no cases to compare
// with, so a case runs when one of its subjects changed.
func ChangeSinceState(p *ir.Program, key credentials.Key, st *state.State) Change {
	return changeFrom(plan.NewDesired(plan.Input{Program: p, Key: key}), st)
}

func changeFrom(desired *plan.Desired, st *state.State) Change {
	ch := Change{Objects: map[string]bool{}}
	for _, c := range plan.Diff(desired, st).Changes {
		if !simulates(c) {
			continue
		}
		if c.Kind == plan.KindSite {
			// The domain, the country's emergency numbers, the digest
			// algorithms: every call.
			return Change{All: true}
		}
		ch.Objects[c.Address] = true
	}
	return ch
}

// simulates reports whether a change can change what a case observes.
// Passwords and the site key: the simulated devices always hold the
// server's current ones; provisioning files: simulated devices read none;
// invitations are e-mail; the site's owner follows from a user's role,
// which the user's own object shows.
func simulates(ch plan.Change) bool {
	if ch.Action != plan.Update || ch.Interrupted {
		return true
	}
	for _, a := range ch.Attributes {
		switch {
		case a.Sensitive, plan.Sensitive(a.Name), a.Name == plan.AttrFiles, a.Name == plan.AttrInvitation, a.Name == plan.AttrSiteKey:
		case ch.Kind == plan.KindSite && (a.Name == plan.AttrOwner || a.Name == plan.AttrOwnerName):
		default:
			return true
		}
	}
	return false
}
