package provisioning

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"switchboard/atomicfile"
)

// ManifestName is the manifest's file name at the root of a bundle
// directory (OUT/provision/manifest.json). It is never served.
const ManifestName = "manifest.json"

// ManifestVersion is the manifest format this package reads and writes.
const ManifestVersion = 1

// Manifest says which file of a bundle belongs to which device. `switchboard
// build` writes it beside the files; the server reads it to decide who may
// fetch what, and compares two manifests on a reload (Changed).
//
// Its JSON form, shown compact here (Marshal writes it indented by two
// spaces, files sorted by path, with a final newline):
//
//	{
//	  "version": 1,
//	  "files": [
//	    {"path": "0c1105123456.cfg", "device": "front-gate", "vendor": "akuvox", "sha256": "…64 hex…", "secret": true},
//	    {"path": "y000000000000.boot", "vendor": "yealink", "sha256": "…", "secret": false}
//	  ]
//	}
//
// "device" is omitted for a common file (served to any authenticated
// device); "vendor" may be omitted; a secret file must name its device.
type Manifest struct {
	Version int            `json:"version"`
	Files   []ManifestFile `json:"files"`
}

// ManifestFile is one file of a manifest.
type ManifestFile struct {
	// Path is relative to the bundle root, forward slashes, named as the
	// vendor's firmware requests it.
	Path string `json:"path"`
	// Device is the device the file is for (ir.Device.Name); empty for a
	// common file.
	Device string `json:"device,omitempty"`
	// Vendor is the renderer that wrote the file ("akuvox", "yealink", …).
	// Changed uses it to tell which devices a changed common file concerns.
	Vendor string `json:"vendor,omitempty"`
	// SHA256 is the lower-case hex SHA-256 of the file's bytes; the server
	// checks it and serves it as the ETag.
	SHA256 string `json:"sha256"`
	// Secret marks a file holding a password.
	Secret bool `json:"secret"`
}

// Add appends an entry for a file with the given bytes. Paths are not
// checked here; Marshal and ParseManifest check them.
func (m *Manifest) Add(path, device, vendor string, data []byte, secret bool) {
	sum := sha256.Sum256(data)
	m.Files = append(m.Files, ManifestFile{Path: path, Device: device, Vendor: vendor, SHA256: hex.EncodeToString(sum[:]), Secret: secret})
}

// Marshal returns the canonical JSON of m: version set, files sorted by
// path. It fails on a manifest ParseManifest would refuse.
func (m *Manifest) Marshal() ([]byte, error) {
	out := Manifest{Version: ManifestVersion, Files: slices.Clone(m.Files)}
	if out.Files == nil {
		out.Files = []ManifestFile{}
	}
	slices.SortFunc(out.Files, func(a, b ManifestFile) int { return strings.Compare(a.Path, b.Path) })
	if err := out.check(); err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// WriteManifest writes the canonical manifest to dir/manifest.json, through
// a temporary file and a rename so that a server reading it never sees half
// of it. Write it after the files it lists.
func WriteManifest(dir string, m *Manifest) error {
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	// A site without devices has no files to write before the manifest,
	// so nothing has made the directory yet.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, ManifestName), data, 0o644); err != nil {
		return fmt.Errorf("provisioning: writing manifest: %w", err)
	}
	return nil
}

// ReadManifest reads dir/manifest.json. A missing manifest is an error
// satisfying errors.Is(err, fs.ErrNotExist).
func ReadManifest(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("provisioning: %w", err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("provisioning: %s: %w", filepath.Join(dir, ManifestName), err)
	}
	return m, nil
}

// ParseManifest decodes and checks a manifest: a known version, valid and
// unique paths (compared ignoring ASCII case, as the server looks them up),
// well-formed checksums, and no secret common file. Unknown fields are
// ignored.
func ParseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("invalid manifest: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("invalid manifest: data after the JSON object")
	}
	if m.Version == 0 {
		m.Version = ManifestVersion
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Manifest) check() error {
	if m.Version != ManifestVersion {
		return fmt.Errorf("manifest version %d, want %d", m.Version, ManifestVersion)
	}
	seen := make(map[string]string, len(m.Files))
	for _, f := range m.Files {
		if !validBundlePath(f.Path) {
			return fmt.Errorf("invalid file path %q in manifest", f.Path)
		}
		key := foldPath(f.Path)
		if prev, ok := seen[key]; ok {
			return fmt.Errorf("manifest lists %q and %q, which a device cannot tell apart", prev, f.Path)
		}
		seen[key] = f.Path
		if !validSHA256(f.SHA256) {
			return fmt.Errorf("file %q: sha256 %q is not 64 lower-case hex digits", f.Path, f.SHA256)
		}
		if f.Secret && f.Device == "" {
			return fmt.Errorf("file %q holds a secret but names no device; common files are served to every device", f.Path)
		}
	}
	return nil
}

// validBundlePath reports whether p may name a bundle file: an fs.ValidPath
// of printable UTF-8, no backslash, no element starting with "." (temporary
// files of a build in progress), and not the manifest itself.
func validBundlePath(p string) bool {
	if len(p) > maxPathLen || !utf8.ValidString(p) || !fs.ValidPath(p) || p == "." {
		return false
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return false
		}
	}
	for elem := range strings.SplitSeq(p, "/") {
		if strings.HasPrefix(elem, ".") {
			return false
		}
	}
	return foldPath(p) != ManifestName
}

func validSHA256(s string) bool {
	if len(s) != sha256.Size*2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// foldPath lower-cases ASCII letters only: devices differ in the case of
// the MAC they request, and only ASCII is folded so that no Unicode case
// rule can make two names meet.
func foldPath(p string) string {
	for i := 0; i < len(p); i++ {
		if 'A' <= p[i] && p[i] <= 'Z' {
			b := []byte(p)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return p
}

// Changed returns the devices of next whose files differ between prev and
// next, sorted: a device file added, removed or with new bytes, or a common
// file changed for the device's vendor (a common file without a vendor
// concerns every device). Devices absent from next are not listed; they
// have nothing left to fetch.
func Changed(prev, next Manifest) []string {
	type key struct{ path, sha string }
	files := func(m Manifest) (perDevice map[string]map[key]bool, common map[key]string) {
		perDevice, common = map[string]map[key]bool{}, map[key]string{}
		for _, f := range m.Files {
			k := key{foldPath(f.Path), f.SHA256}
			if f.Device == "" {
				common[k] = f.Vendor
				continue
			}
			if perDevice[f.Device] == nil {
				perDevice[f.Device] = map[key]bool{}
			}
			perDevice[f.Device][k] = true
		}
		return perDevice, common
	}
	oldDev, oldCommon := files(prev)
	newDev, newCommon := files(next)

	// Vendors whose common files changed; "" stands for all.
	vendors := map[string]bool{}
	for k, v := range oldCommon {
		if _, ok := newCommon[k]; !ok {
			vendors[v] = true
		}
	}
	for k, v := range newCommon {
		if _, ok := oldCommon[k]; !ok {
			vendors[v] = true
		}
	}
	deviceVendor := map[string]string{}
	for _, f := range next.Files {
		if f.Device != "" && f.Vendor != "" {
			deviceVendor[f.Device] = f.Vendor
		}
	}

	var out []string
	for dev, fs := range newDev {
		changed := vendors[""] || vendors[deviceVendor[dev]] && deviceVendor[dev] != ""
		if !changed {
			old := oldDev[dev]
			changed = len(old) != len(fs)
			for k := range fs {
				if !old[k] {
					changed = true
					break
				}
			}
		}
		if changed {
			out = append(out, dev)
		}
	}
	slices.Sort(out)
	return out
}
