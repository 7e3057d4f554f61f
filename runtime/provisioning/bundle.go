package provisioning

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"switchboard/compiler/ir"
)

const (
	maxPathLen  = 512      // longest request path or bundle path accepted
	maxFileSize = 16 << 20 // largest bundle file loaded
)

// bundle is one loaded configuration: the program's devices, the files
// with their bytes, and the manifest they came from. It is immutable once
// built; Swap replaces it whole.
type bundle struct {
	secrets  Secrets // the devices' passwords of this configuration
	realm    string
	manifest Manifest
	files    map[string]*file   // by foldPath(Path)
	byUser   map[string]*device // by digest user name (ir.Account.AuthName)
	devices  map[string]*device // by ir.Device.Name
	withheld []string           // fallback mode: files matched to no device
	fallback bool               // no manifest.json; files matched by MAC
}

type device struct {
	name    string
	account string // ir.Account.Name, for the Secrets lookup
	user    string // ir.Account.AuthName
	origin  ir.Origin
}

type file struct {
	ManifestFile
	data    []byte
	modTime time.Time
	etag    string
	ctype   string
}

// loadBundle reads the bundle in dir for program p. prev (may be nil) is
// the bundle being replaced: a file with the same path and bytes keeps its
// Last-Modified time, so a rebuild that changed nothing does not look like
// a change to a polling device.
func loadBundle(p *ir.Program, dir, realm string, prev *bundle) (*bundle, error) {
	if p == nil {
		return nil, errors.New("provisioning: no program")
	}
	b := &bundle{
		realm:   realm,
		files:   map[string]*file{},
		byUser:  map[string]*device{},
		devices: map[string]*device{},
	}
	accounts := make(map[string]*ir.Account, len(p.Accounts))
	for i := range p.Accounts {
		accounts[p.Accounts[i].Name] = &p.Accounts[i]
	}
	for i := range p.Devices {
		d := &p.Devices[i]
		a := accounts[d.Account]
		if a == nil || a.AuthName == "" {
			return nil, fmt.Errorf("provisioning: device %q has no account with a digest user name", d.Name)
		}
		dev := &device{name: d.Name, account: a.Name, user: a.AuthName, origin: d.Origin}
		if other, ok := b.byUser[dev.user]; ok {
			return nil, fmt.Errorf("provisioning: devices %q and %q share the digest user name %q", other.name, d.Name, dev.user)
		}
		b.byUser[dev.user] = dev
		b.devices[d.Name] = dev
	}

	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("provisioning: %w", err)
	}
	defer root.Close()

	var m *Manifest
	data, err := root.ReadFile(ManifestName)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		b.fallback = true
		m, b.withheld, err = scanBundle(root, p)
		if err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("provisioning: %w", err)
	default:
		if m, err = ParseManifest(data); err != nil {
			return nil, fmt.Errorf("provisioning: %s: %w", ManifestName, err)
		}
	}
	b.manifest = *m

	for _, mf := range m.Files {
		if mf.Device != "" && b.devices[mf.Device] == nil {
			return nil, fmt.Errorf("provisioning: the manifest gives %s to device %q, which is not in the program; build output and program disagree", mf.Path, mf.Device)
		}
		f, err := readBundleFile(root, mf)
		if err != nil {
			return nil, err
		}
		if prev != nil {
			if old := prev.files[foldPath(mf.Path)]; old != nil && old.SHA256 == mf.SHA256 {
				f.modTime = old.modTime
			}
		}
		b.files[foldPath(mf.Path)] = f
	}
	return b, nil
}

func readBundleFile(root *os.Root, mf ManifestFile) (*file, error) {
	fh, err := root.Open(mf.Path)
	if err != nil {
		return nil, fmt.Errorf("provisioning: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("provisioning: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("provisioning: %s is not a regular file", mf.Path)
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("provisioning: reading %s: %w", mf.Path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("provisioning: %s is larger than %d bytes", mf.Path, maxFileSize)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != mf.SHA256 {
		return nil, fmt.Errorf("provisioning: %s does not match its manifest checksum; was the bundle rewritten after the manifest?", mf.Path)
	}
	return &file{
		ManifestFile: mf,
		data:         data,
		modTime:      fi.ModTime().UTC().Truncate(time.Second),
		etag:         `"` + mf.SHA256 + `"`,
		ctype:        contentType(mf.Path),
	}, nil
}

func contentType(p string) string {
	if strings.EqualFold(path.Ext(p), ".xml") {
		return "application/xml"
	}
	return "text/plain; charset=utf-8"
}

// yealinkCommon matches the Yealink common files (y000000000000.boot,
// y0000000000XX.cfg), whose names look like MACs but are not
// (fusionpbx#2563).
var yealinkCommon = regexp.MustCompile(`^y[0-9]{12}\.(cfg|boot)$`)

// scanBundle builds a manifest for a bundle directory that has none: every
// regular file whose name holds the MAC of exactly one device of p is that
// device's (and treated as secret); a Yealink common file, or a name holding
// nothing that looks like a MAC, is common; a name holding a MAC-like run of
// 12 hex digits that matches no device (a removed device's stale file, most
// likely) is withheld and reported. Hidden files and the manifest name are
// skipped.
func scanBundle(root *os.Root, p *ir.Program) (*Manifest, []string, error) {
	macs := make(map[string]*ir.Device, len(p.Devices))
	for i := range p.Devices {
		macs[strings.ToLower(p.Devices[i].MAC)] = &p.Devices[i]
	}
	m := &Manifest{Version: ManifestVersion}
	var withheld []string
	err := fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name == "." {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() || !validBundlePath(name) {
			return nil
		}
		dev, ok := classify(name, macs)
		if !ok {
			withheld = append(withheld, name)
			return nil
		}
		data, err := fs.ReadFile(root.FS(), name)
		if err != nil {
			return err
		}
		if dev == nil {
			m.Add(name, "", "", data, false)
		} else {
			m.Add(name, dev.Name, dev.Vendor, data, true)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("provisioning: %w", err)
	}
	slices.SortFunc(m.Files, func(a, b ManifestFile) int { return strings.Compare(a.Path, b.Path) })
	if err := m.check(); err != nil {
		return nil, nil, fmt.Errorf("provisioning: %w", err)
	}
	return m, withheld, nil
}

// classify says whose file name is: (dev, true) for one device's file,
// (nil, true) for a common file, (nil, false) for a file to withhold.
func classify(name string, macs map[string]*ir.Device) (*ir.Device, bool) {
	lower := foldPath(name)
	if yealinkCommon.MatchString(path.Base(lower)) {
		return nil, true
	}
	var found *ir.Device
	macLike := false
	run := 0
	for i := 0; i < len(lower); i++ {
		if !isHex(lower[i]) {
			run = 0
			continue
		}
		run++
		if run < 12 {
			continue
		}
		macLike = true
		if d := macs[lower[i-11:i+1]]; d != nil {
			if found != nil && found != d {
				return nil, false // two devices' MACs in one name
			}
			found = d
		}
	}
	switch {
	case found != nil:
		return found, true
	case macLike:
		return nil, false
	}
	return nil, true
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }
