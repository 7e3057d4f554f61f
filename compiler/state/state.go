// Package state keeps what `switchboard apply` last applied to a site: one
// record per object of the compiled site (users, residences, devices,
// trunks, conference rooms, the site itself) with the attributes that were
// applied, each device's provisioning digest and push outcome, and each
// user's invitation status. `switchboard plan` diffs the compiled site
// against it.
//
// The state never holds a secret. Attributes are the IR's, which has none;
// credentials appear only as keyed fingerprints (HMAC-SHA-256 under a key
// derived from the site key) that change when a password changes and reveal
// nothing without the site key; provisioning files appear only as keyed
// digests.
//
// The file (by default DIR/.switchboard/state.json) is versioned JSON, its
// attribute values native JSON values ("number": "8101", "port": 5060). A
// version 1 file, which wrote each value as a JSON string holding JSON
// ("number": "\"8101\""), is read and migrated; the next write is version
// 2. Each
// write increments Serial and goes through a temporary file that is synced,
// renamed over the old one, and followed by a sync of the directory, so a
// crash at any moment leaves either the old or the new state, never half of
// one. Apply writes it after every step, so a killed apply loses nothing it
// did.
//
// A lock file beside it (state.json.lock) keeps two applies apart: the
// kernel's exclusive lock on it is held for the whole operation and
// dropped by the kernel when the process ends, however it ends, so a
// killed apply never leaves the state locked. While held, the file names
// its owner (user, host, process) and the time it was taken, for the
// error that another apply gets.
package state

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"switchboard/atomicfile"
)

// FormatVersion is the version of the state file this package writes. It
// reads version 1 as well (see Parse).
const FormatVersion = 2

// formatV1 wrote attribute values as JSON strings holding JSON text.
const formatV1 = 1

// DefaultPath is where a site's state lives, relative to the site
// directory.
const DefaultPath = ".switchboard/state.json"

// State is the applied state of one site.
type State struct {
	FormatVersion int `json:"format_version"`
	// Lineage identifies one state's history: a saved plan made from one
	// lineage is never applied to another.
	Lineage string `json:"lineage"`
	// Serial increases with every write.
	Serial int64 `json:"serial"`
	// Site is the site's name (block label).
	Site string `json:"site,omitempty"`
	// Objects are sorted by Address.
	Objects []Object `json:"objects"`
	// Removed are the people applies removed, oldest first (see
	// RemoveUser): their identities are retired, and the server archives
	// or deletes their data.
	Removed []Removed `json:"removed,omitempty"`
	// Handovers are the changes of the site's owner applies carried out,
	// oldest first.
	Handovers []Handover `json:"handovers,omitempty"`
	// Commissioning is where `switchboard commission` left the live
	// site's checklist; nil before its first run.
	Commissioning *Commissioning `json:"commissioning,omitempty"`
}

// Commissioning is the live checklist's results: the generated cases
// ticked off by real calls on the running server.
type Commissioning struct {
	// Updated is when a run last wrote it.
	Updated time.Time `json:"updated"`
	// Epoch and After are where the server's event journal was read up
	// to: a run resumes after that event while the same server runs.
	Epoch string `json:"epoch,omitempty"`
	After uint64 `json:"after,omitempty"`
	// Cases are every case of the checklist, in the generator's order.
	Cases []CommissionedCase `json:"cases"`
}

// CommissionedCase is one case's result.
type CommissionedCase struct {
	Name string `json:"name"`
	// Origin is the site-file line the case proves ("people.pbx.hcl:12").
	Origin string `json:"origin,omitempty"`
	// Status is "passed", "failed", "open" or "skipped".
	Status string `json:"status"`
	// At is when the call that decided it started; Evidence the IDs of
	// its events in the journal of the server run Epoch.
	At       time.Time `json:"at,omitzero"`
	Evidence []uint64  `json:"evidence,omitempty"`
	Epoch    string    `json:"epoch,omitempty"`
	// Detail is what differed, or why the case is open or skipped.
	Detail string `json:"detail,omitempty"`
}

// Handover is one change of the site's owner, as an apply carried it out.
type Handover struct {
	// From and To are "user.NAME" or "installer"; FromName and ToName the
	// person's name or the installer's company.
	From     string `json:"from"`
	FromName string `json:"from_name"`
	To       string `json:"to"`
	ToName   string `json:"to_name"`
	// At is when the apply recorded it; PlanHash the configuration hash of
	// the plan that carried it out.
	At       time.Time `json:"at"`
	PlanHash string    `json:"plan_hash"`
	// Sheet says what became of the handover sheet mailed to the new
	// owner: "sent to ADDR", or "not sent: why".
	Sheet string `json:"sheet,omitempty"`
}

// Object is one applied object.
type Object struct {
	// Address is "<kind>.<name>": user.mary, device.front-gate, site.x.
	Address string `json:"address"`
	// Attributes are the applied attribute values, each as its compact JSON
	// text (the plan compares them as text); the file holds them as native
	// JSON values. Sensitive ones are keyed fingerprints.
	Attributes map[string]string `json:"attributes"`
	// AppliedAt is when the object was last applied.
	AppliedAt time.Time `json:"applied_at"`
	// Delivery says how a device got its configuration.
	Delivery *Delivery `json:"delivery,omitempty"`
	// InProgress marks an object an apply started to change and has not
	// finished: its files were published, a push may have reached the
	// device. Attributes are still the last ones known to be applied (none
	// for an object being created). The next plan changes it again even
	// when the site matches those attributes, because the device or the
	// published files may not.
	InProgress bool `json:"in_progress,omitempty"`
	// Identity, for a user, is the stable identity their data belongs to
	// (see State.Identity), recorded when they are first applied.
	Identity string `json:"identity,omitempty"`
}

// Delivery is how a device's configuration reached it.
type Delivery struct {
	// Method is "api" (pushed and read back) or "check-sync" (told to
	// fetch its files through the running server). Version 1 files may say
	// "published" (its files were served and no server told it): such a
	// device was recorded without having been reached, and reads as in
	// progress.
	Method string `json:"method"`
	// Outcome is the verdict: "already set", "set and verified",
	// "check-sync sent".
	Outcome  string `json:"outcome"`
	Firmware string `json:"firmware,omitempty"`
	// Settings are the device's settings as applied, by the vendor's key
	// (Akuvox: Config.Account1.GENERAL.UserName), for `plan -refresh` to
	// compare with what the device reads back. Secret settings (passwords)
	// are left out: a device masks them on read, and the state holds no
	// secret.
	Settings map[string]string `json:"settings,omitempty"`
}

// New returns an empty state with a fresh lineage.
func New(site string) *State {
	b := make([]byte, 16)
	rand.Read(b)
	return &State{FormatVersion: FormatVersion, Lineage: hex.EncodeToString(b), Site: site, Objects: []Object{}}
}

// Object returns the object at address, or nil.
func (s *State) Object(address string) *Object {
	i, ok := slices.BinarySearchFunc(s.Objects, address, func(o Object, a string) int { return strings.Compare(o.Address, a) })
	if !ok {
		return nil
	}
	return &s.Objects[i]
}

// Put records o, replacing an object at the same address.
func (s *State) Put(o Object) {
	i, ok := slices.BinarySearchFunc(s.Objects, o.Address, func(x Object, a string) int { return strings.Compare(x.Address, a) })
	if ok {
		s.Objects[i] = o
		return
	}
	s.Objects = slices.Insert(s.Objects, i, o)
}

// Remove forgets the object at address.
func (s *State) Remove(address string) {
	s.Objects = slices.DeleteFunc(s.Objects, func(o Object) bool { return o.Address == address })
}

// Store is a state file and its lock.
type Store struct {
	Path string
}

// NewStore returns the store of the state file at path.
func NewStore(path string) *Store { return &Store{Path: path} }

// LockPath is the lock file's path.
func (s *Store) LockPath() string { return s.Path + ".lock" }

// Read reads the state. A missing file is an empty state with a fresh
// lineage and Serial 0 (nothing applied yet); exists reports which.
func (s *Store) Read(site string) (st *State, exists bool, err error) {
	data, err := os.ReadFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return New(site), false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading the state: %w", err)
	}
	st, err = Parse(data)
	if err != nil {
		return nil, true, fmt.Errorf("reading the state %s: %w", s.Path, err)
	}
	if site != "" && st.Site != "" && st.Site != site {
		return nil, true, fmt.Errorf("the state %s belongs to site %q, not %q; use -state to name this site's state file", s.Path, st.Site, site)
	}
	return st, true, nil
}

// Parse decodes a state file of this version or of version 1, whose
// attribute values it migrates (see migrateV1).
func Parse(data []byte) (*State, error) {
	var probe struct {
		FormatVersion int `json:"format_version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("not a state file: %w", err)
	}
	var st *State
	var err error
	switch probe.FormatVersion {
	case FormatVersion:
		st, err = parseV2(data)
	case formatV1:
		st, err = parseV1(data)
	default:
		return nil, fmt.Errorf("state format version %d is not supported (this switchboard reads versions %d and %d)", probe.FormatVersion, formatV1, FormatVersion)
	}
	if err != nil {
		return nil, fmt.Errorf("malformed state file: %w", err)
	}
	if st.Lineage == "" {
		return nil, errors.New("malformed state file: no lineage")
	}
	if st.Objects == nil {
		st.Objects = []Object{}
	}
	st.FormatVersion = FormatVersion
	slices.SortFunc(st.Objects, func(a, b Object) int { return strings.Compare(a.Address, b.Address) })
	return st, nil
}

// fileV2 is the file's layout: State with native attribute values.
type fileV2 struct {
	FormatVersion int            `json:"format_version"`
	Lineage       string         `json:"lineage"`
	Serial        int64          `json:"serial"`
	Site          string         `json:"site,omitempty"`
	Objects       []objectV2File `json:"objects"`
	Handovers     []Handover     `json:"handovers,omitempty"`
	Removed       []Removed      `json:"removed,omitempty"`
	Commissioning *Commissioning `json:"commissioning,omitempty"`
}

type objectV2File struct {
	Address    string                     `json:"address"`
	Attributes map[string]json.RawMessage `json:"attributes"`
	AppliedAt  time.Time                  `json:"applied_at"`
	Delivery   *Delivery                  `json:"delivery,omitempty"`
	InProgress bool                       `json:"in_progress,omitempty"`
	Identity   string                     `json:"identity,omitempty"`
}

func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func parseV2(data []byte) (*State, error) {
	var f fileV2
	if err := strictDecode(data, &f); err != nil {
		return nil, err
	}
	st := &State{FormatVersion: f.FormatVersion, Lineage: f.Lineage, Serial: f.Serial, Site: f.Site, Handovers: f.Handovers, Removed: f.Removed, Commissioning: f.Commissioning}
	for _, o := range f.Objects {
		obj := Object{Address: o.Address, Attributes: make(map[string]string, len(o.Attributes)), AppliedAt: o.AppliedAt, Delivery: o.Delivery, InProgress: o.InProgress, Identity: o.Identity}
		for k, raw := range o.Attributes {
			v, err := canonical(raw)
			if err != nil {
				return nil, fmt.Errorf("%s: attribute %s: %w", o.Address, k, err)
			}
			obj.Attributes[k] = v
		}
		st.Objects = append(st.Objects, obj)
	}
	return st, nil
}

// parseV1 reads a version 1 file: the in-memory layout, attribute values
// as JSON strings holding JSON text.
func parseV1(data []byte) (*State, error) {
	var st State
	if err := strictDecode(data, &st); err != nil {
		return nil, err
	}
	for i := range st.Objects {
		o := &st.Objects[i]
		if o.Delivery != nil && o.Delivery.Method == "published" {
			// Version 1 recorded a device as applied when its files were
			// only published, with no server to tell it: it was never
			// reached, so the next plan applies it again.
			o.InProgress = true
		}
		for k, text := range o.Attributes {
			v, err := canonical(json.RawMessage(text))
			if err != nil {
				return nil, fmt.Errorf("%s: attribute %s: %w", o.Address, k, err)
			}
			o.Attributes[k] = migrateV1(o.Address, k, v)
		}
	}
	return &st, nil
}

// migrateV1 turns what version 1 recorded for a reference into a
// reference: a trunk's username and password were the names of the
// variables they come from, as text ("var.trunk_user"); they are now
// {"from": "var.trunk_user"}, so a plan shows them as references rather
// than as a literal username.
func migrateV1(address, name, value string) string {
	if !strings.HasPrefix(address, "trunk.") || (name != "username" && name != "password") {
		return value
	}
	var s string
	if json.Unmarshal([]byte(value), &s) != nil || !strings.HasPrefix(s, "var.") {
		return value
	}
	data, _ := json.Marshal(map[string]string{"from": s})
	return string(data)
}

// canonical is raw's compact JSON text as encoding/json writes it (the
// form the plan makes its values in), numbers kept as written.
func canonical(raw json.RawMessage) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	if dec.More() {
		return "", errors.New("more than one JSON value")
	}
	data, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(data), nil
}

// Marshal encodes st as the state file: indented JSON, objects sorted,
// attribute keys sorted (encoding/json sorts map keys), attribute values
// native JSON. The same state gives the same bytes.
func Marshal(st *State) ([]byte, error) {
	f := fileV2{FormatVersion: FormatVersion, Lineage: st.Lineage, Serial: st.Serial, Site: st.Site, Objects: []objectV2File{}, Handovers: st.Handovers, Removed: st.Removed, Commissioning: st.Commissioning}
	objects := slices.Clone(st.Objects)
	slices.SortFunc(objects, func(a, b Object) int { return strings.Compare(a.Address, b.Address) })
	for _, o := range objects {
		of := objectV2File{Address: o.Address, Attributes: make(map[string]json.RawMessage, len(o.Attributes)), AppliedAt: o.AppliedAt, Delivery: o.Delivery, InProgress: o.InProgress, Identity: o.Identity}
		for k, v := range o.Attributes {
			if !json.Valid([]byte(v)) {
				return nil, fmt.Errorf("state: %s: attribute %s is not JSON", o.Address, k)
			}
			of.Attributes[k] = json.RawMessage(v)
		}
		f.Objects = append(f.Objects, of)
	}
	data, err := json.MarshalIndent(&f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// Write increments st.Serial and writes st atomically: a temporary file in
// the same directory, synced, renamed over the state file, then the
// directory synced. The caller should hold the lock.
func (s *Store) Write(st *State) error {
	st.Serial++
	data, err := Marshal(st)
	if err != nil {
		st.Serial--
		return err
	}
	if err := writeAtomic(s.Path, data, 0o644); err != nil {
		st.Serial--
		return fmt.Errorf("writing the state: %w", err)
	}
	return nil
}

// writeAtomic writes data to path through atomicfile, creating path's
// directory first.
func writeAtomic(path string, data []byte, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, data, mode)
}
