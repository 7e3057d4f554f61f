package lang

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"switchboard/atomicfile"
)

var lockSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "user", LabelNames: []string{"name"}},
		{Type: "quarantine", LabelNames: []string{"extension"}},
	},
}

var lockQuarantineSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "user", Required: true}, {Name: "until", Required: true}},
}

var lockUserSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "extension", Required: true}},
}

const lockHeader = `# Numbers handed out by extension = "auto". Maintained by switchboard:
# commit this file with the site so that allocations are reviewed and stay
# put when other users are added. Delete an entry to free its number.
`

// readLock reads LockFileName in dir; a missing file is an empty lock.
func readLock(dir string) (*Lock, hcl.Diagnostics) {
	l := &Lock{Extensions: map[string]string{}}
	src, err := os.ReadFile(filepath.Join(dir, LockFileName))
	if os.IsNotExist(err) {
		return l, nil
	}
	if err != nil {
		return l, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read lock file",
			Detail:   fmt.Sprintf("Reading %s failed: %s.", LockFileName, errText(err)),
		}}
	}
	return ParseLock(src, LockFileName)
}

// ParseLock decodes the content of a lock file.
func ParseLock(src []byte, filename string) (*Lock, hcl.Diagnostics) {
	l := &Lock{Extensions: map[string]string{}}
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return l, diags
	}
	content, d := f.Body.Content(lockSchema)
	diags = append(diags, d...)
	for _, b := range content.Blocks {
		if b.Type == "quarantine" {
			if q, d := parseQuarantine(b); d.HasErrors() {
				diags = append(diags, d...)
			} else {
				l.Quarantine = append(l.Quarantine, q)
			}
			continue
		}
		c, d := b.Body.Content(lockUserSchema)
		diags = append(diags, d...)
		a := c.Attributes["extension"]
		if a == nil {
			continue
		}
		v, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		s, ok := toDialString(v)
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid lock file entry",
				Detail:   fmt.Sprintf("The extension recorded for user %q must be a number.", b.Labels[0]),
				Subject:  a.Expr.Range().Ptr(),
			})
			continue
		}
		l.Extensions[b.Labels[0]] = s
	}
	return l, diags
}

// parseQuarantine decodes a quarantine block: its label the extension,
// the removed user's name and the date it may be reused.
func parseQuarantine(b *hcl.Block) (Quarantine, hcl.Diagnostics) {
	q := Quarantine{Extension: b.Labels[0], Range: b.DefRange}
	c, diags := b.Body.Content(lockQuarantineSchema)
	if diags.HasErrors() {
		return q, diags
	}
	str := func(name string) string {
		v, d := c.Attributes[name].Expr.Value(nil)
		diags = append(diags, d...)
		if d.HasErrors() || v.Type() != cty.String || v.IsNull() {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid lock file entry",
				Detail: fmt.Sprintf("The %s of the quarantine of extension %q must be a string.", name, q.Extension), Subject: c.Attributes[name].Expr.Range().Ptr()})
			return ""
		}
		return v.AsString()
	}
	q.User = str("user")
	until := str("until")
	if diags.HasErrors() {
		return q, diags
	}
	t, err := time.Parse(DateLayout, until)
	if err != nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid lock file entry",
			Detail: fmt.Sprintf("The until date of the quarantine of extension %q must be written YYYY-MM-DD, not %q.", q.Extension, until), Subject: c.Attributes["until"].Expr.Range().Ptr()})
	}
	q.Until = t
	return q, diags
}

// Bytes renders the lock canonically: users sorted by name, then
// quarantines by extension.
func (l *Lock) Bytes() []byte {
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	names := keys(l.Extensions)
	for i, name := range names {
		if i > 0 {
			body.AppendNewline()
		}
		b := body.AppendNewBlock("user", []string{name})
		ext := l.Extensions[name]
		if n, err := strconv.ParseInt(ext, 10, 64); err == nil && strconv.FormatInt(n, 10) == ext {
			b.Body().SetAttributeValue("extension", cty.NumberIntVal(n))
		} else {
			b.Body().SetAttributeValue("extension", cty.StringVal(ext))
		}
	}
	for i, q := range l.Quarantine {
		if i > 0 || len(names) > 0 {
			body.AppendNewline()
		}
		b := body.AppendNewBlock("quarantine", []string{q.Extension})
		b.Body().SetAttributeValue("user", cty.StringVal(q.User))
		b.Body().SetAttributeValue("until", cty.StringVal(q.Until.Format(DateLayout)))
	}
	return append([]byte(lockHeader+"\n"), hclwrite.Format(f.Bytes())...)
}

// Equal reports whether two locks record the same allocations.
func (l *Lock) Equal(o *Lock) bool {
	if len(l.Extensions) != len(o.Extensions) {
		return false
	}
	for k, v := range l.Extensions {
		if o.Extensions[k] != v {
			return false
		}
	}
	if len(l.Quarantine) != len(o.Quarantine) {
		return false
	}
	for i, q := range l.Quarantine {
		p := o.Quarantine[i]
		if q.Extension != p.Extension || q.User != p.User || !q.Until.Equal(p.Until) {
			return false
		}
	}
	return true
}

// WriteLock writes l to dir's lock file when it differs from what is there,
// atomically, and reports whether it wrote. An empty lock removes the file.
func WriteLock(dir string, l *Lock) (bool, error) {
	path := filepath.Join(dir, LockFileName)
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return false, err
	}
	if len(l.Extensions) == 0 && len(l.Quarantine) == 0 {
		if os.IsNotExist(err) {
			return false, nil
		}
		return true, os.Remove(path)
	}
	data := l.Bytes()
	if bytes.Equal(old, data) {
		return false, nil
	}
	return true, atomicfile.Write(path, data, 0o644)
}
