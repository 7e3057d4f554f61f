package portal

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"switchboard/atomicfile"
	"switchboard/compiler/ir"
)

// A change request is a change to the site files asked in the portal: a
// person to add to a residence, a name to correct, someone who moved out
// to remove. The site files stay the truth: the portal only records the
// request under Config.Dir/requests, and `switchboard requests` shows
// each as a diff of the site files for the installer to apply, commit
// and review with plan.
type ChangeRequest struct {
	ID   int       `json:"id"`
	Time time.Time `json:"time"`
	// By is who asked: their e-mail, and their role.
	By     string  `json:"by"`
	ByRole ir.Role `json:"by_role"`
	Kind   string  `json:"kind"` // RequestAdd, RequestRename, RequestRemove
	// User is the block name concerned: the person to rename or remove,
	// or the name proposed for the person to add.
	User string `json:"user"`
	// Residence is the residence (block name) a person is added to.
	Residence string `json:"residence,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Email     string `json:"email,omitempty"`
	Note      string `json:"note,omitempty"`
}

// The kinds of change request.
const (
	RequestAdd    = "add"
	RequestRename = "rename"
	RequestRemove = "remove"
)

// Bounds on the requests kept: a portal login cannot fill the disk.
const (
	// MaxRequests is how many requests wait at once; more are refused
	// until the installer clears some (switchboard requests -clear).
	MaxRequests = 200
	// maxRequestField is the longest text field of a request.
	maxRequestField = 200
)

// RequestsDir is where the requests of the portal whose data directory
// is dir are kept.
func RequestsDir(dir string) string { return filepath.Join(dir, "requests") }

// ReadRequests reads the requests kept in dir (RequestsDir), oldest
// first.
func ReadRequests(dir string) ([]ChangeRequest, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []ChangeRequest
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") || atomicfile.IsTemp(e.Name()) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		var cr ChangeRequest
		if err := json.Unmarshal(data, &cr); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		out = append(out, cr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// requestStore writes requests, one file each, numbered.
type requestStore struct {
	mu  sync.Mutex
	dir string
}

// add records cr under the next number.
func (s *requestStore) add(cr ChangeRequest) (ChangeRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	have, err := ReadRequests(s.dir)
	if err != nil {
		return cr, err
	}
	if len(have) >= MaxRequests {
		return cr, errTooManyRequests
	}
	cr.ID = 1
	if len(have) > 0 {
		cr.ID = have[len(have)-1].ID + 1
	}
	data, err := json.MarshalIndent(cr, "", "  ")
	if err != nil {
		return cr, err
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return cr, err
	}
	return cr, atomicfile.Create(filepath.Join(s.dir, fmt.Sprintf("%06d.json", cr.ID)), append(data, '\n'), 0o600)
}

var errTooManyRequests = errors.New("too many requests are waiting")

// requestForm reads a request from the form of r; scope is the residence
// the asker may ask about ("" any).
func requestForm(r *http.Request, prog *ir.Program, scope string) (ChangeRequest, string) {
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	cr := ChangeRequest{Kind: f("kind"), User: f("user"), Residence: f("residence"), FirstName: f("first_name"), LastName: f("last_name"), Email: f("email"), Note: f("note")}
	for _, s := range []string{cr.User, cr.Residence, cr.FirstName, cr.LastName, cr.Email, cr.Note} {
		if len(s) > maxRequestField || strings.ContainsAny(s, "\r\n\x00") {
			return cr, fmt.Sprintf("Each field takes at most %d characters on one line.", maxRequestField)
		}
	}
	switch cr.Kind {
	case RequestAdd:
		if cr.Residence == "" {
			cr.Residence = scope
		}
		if prog.Residence(cr.Residence) == nil {
			return cr, "Choose a residence of this site."
		}
		if scope != "" && cr.Residence != scope {
			return cr, "You may ask only about your own residence."
		}
		if cr.FirstName == "" || cr.LastName == "" {
			return cr, "Give the new person's first and last name."
		}
		if cr.Email != "" && (!strings.Contains(cr.Email, "@") || strings.ContainsAny(cr.Email, " <>\"")) {
			return cr, "That e-mail address does not look right."
		}
		cr.User = proposedName(prog, cr.FirstName)
	case RequestRename, RequestRemove:
		u := prog.User(cr.User)
		if u == nil {
			return cr, "Choose a person of this site."
		}
		if scope != "" && u.Residence != scope {
			return cr, "You may ask only about the people of your own residence."
		}
		cr.Residence = u.Residence
		if cr.Kind == RequestRename && (cr.FirstName == "" || cr.LastName == "") {
			return cr, "Give the corrected first and last name."
		}
		if cr.Kind == RequestRemove {
			cr.FirstName, cr.LastName, cr.Email = "", "", ""
		}
	default:
		return cr, "Choose what to change."
	}
	return cr, ""
}

// proposedName is a block name for a person to add: their first name in
// lower case, numbered when taken.
func proposedName(prog *ir.Program, first string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(first) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		}
	}
	base := b.String()
	if base == "" || base[0] < 'a' {
		base = "person" + base
	}
	name := base
	for i := 2; prog.User(name) != nil; i++ {
		name = fmt.Sprintf("%s%d", base, i)
	}
	return name
}

// requestsPage lists the waiting requests and the form: a resident's
// about their residence (own), an admin's about any (site).
func (p *Portal) requestsPage(w http.ResponseWriter, r *http.Request, v *visit) {
	p.renderRequests(w, r, v, http.StatusOK, nil)
}

func (p *Portal) renderRequests(w http.ResponseWriter, r *http.Request, v *visit, status int, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	site := v.User == nil || r.URL.Path == "/portal/site/requests"
	scope := ""
	if !site {
		scope = v.User.Residence
	}
	all, err := ReadRequests(p.requests.dir)
	if err != nil {
		p.log.Error("portal: reading change requests", "error", err)
	}
	var mine []ChangeRequest
	for _, cr := range all {
		if site || cr.By == v.Person.Email {
			mine = append(mine, cr)
		}
	}
	var people []*ir.User
	for i := range v.Program.Users {
		u := &v.Program.Users[i]
		if scope == "" || u.Residence == scope {
			people = append(people, u)
		}
	}
	data["Requests"], data["People"] = mine, people
	if scope == "" {
		data["Residences"] = v.Program.Residences
	}
	data["CanAsk"] = site && ir.Can(v.Person.Role, ir.RightManagePeople) || !site && scope != ""
	data["Action"] = r.URL.Path
	if site {
		data["Page"] = pageSiteRequests
	}
	p.render(w, r, v, status, pageRequests, data)
}

// askChange records a change request: nothing here edits the site files.
func (p *Portal) askChange(w http.ResponseWriter, r *http.Request, v *visit) {
	scope := ""
	if r.PathValue("user") != "" {
		if v.User.Residence == "" {
			p.fail(w, r, v, http.StatusForbidden, "You live in no residence of this site: ask its admin.")
			return
		}
		scope = v.User.Residence
	}
	cr, msg := requestForm(r, v.Program, scope)
	if msg != "" {
		p.renderRequests(w, r, v, http.StatusUnprocessableEntity, map[string]any{"Error": msg})
		return
	}
	cr.Time, cr.By, cr.ByRole = p.clk.Now().UTC(), v.Person.Email, v.Person.Role
	cr, err := p.requests.add(cr)
	if errors.Is(err, errTooManyRequests) {
		p.renderRequests(w, r, v, http.StatusServiceUnavailable, map[string]any{"Error": "Too many requests are waiting for the installer; try again once they are dealt with."})
		return
	}
	if err != nil {
		p.log.Error("portal: recording a change request", "error", err)
		p.fail(w, r, v, http.StatusInternalServerError, "The request could not be recorded.")
		return
	}
	p.log.Info("portal: change requested", "request", cr.ID, "kind", cr.Kind, "user", cr.User, "by", v.Person.ID)
	p.renderRequests(w, r, v, http.StatusOK, map[string]any{"Done": fmt.Sprintf("Request %d is recorded: the installer applies it to the site files.", cr.ID)})
}
