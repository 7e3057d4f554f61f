package lang

import (
	"github.com/hashicorp/hcl/v2"
)

var siteSchema = siteBlock.Schema()

var installerSchema = installerBlock.Schema()

var featuresSchema = featuresBlock.Schema()

// DefaultVoicemailCode is the feature code for voicemail access.
const DefaultVoicemailCode = "*97"

func decodeSiteBlock(b *hcl.Block, ev *evaluator) (*Site, hcl.Diagnostics) {
	s := &Site{Name: b.Labels[0], NameRange: b.LabelRanges[0], DeclRange: b.DefRange}
	content, diags := b.Body.Content(siteSchema)
	a := &attrs{m: content.Attributes, decl: b.DefRange, ev: ev, spec: siteBlock}
	s.DisplayName = a.str("name", s.Name)
	s.Country = a.str("country", "")
	s.Timezone = a.str("timezone", "")
	s.Domain = a.str("domain", "")
	s.AutoExtensionsFrom = a.number("auto_extensions_from", "100")
	s.Digest, s.DigestRange = a.strList("digest", `["md5"]`, "a list of digest algorithms in quotes, such as [\"sha-256\", \"md5\"]")
	s.Nodes, s.NodesRange = a.strList("nodes", "the domain", "a list of SIP server addresses in quotes, such as [\"sip1.example.net\", \"sip2.example.net:5080\"]")
	s.RemovedData = a.str("removed_data", OffboardArchive)
	a.oneOf("removed_data", s.RemovedData, OffboardArchive, OffboardDelete)
	s.ArchiveDays = a.integer("archive_days", DefaultArchiveDays)
	s.QuarantineDays = a.integer("quarantine_days", DefaultQuarantineDays)

	if ib := singleBlock(content.Blocks, "installer", &diags); ib != nil {
		s.Installer = decodeInstallerBlock(ib, ev, &diags)
	} else {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing installer block",
			Detail:   "Every site names its installer in an installer block (company and email). That account binds devices and never answers calls; it is kept apart from the residents' own logins.",
			Subject:  b.DefRange.Ptr(),
		})
	}
	s.Features = Features{Voicemail: Number{Value: DefaultVoicemailCode, Range: b.DefRange}, DeclRange: b.DefRange}
	if fb := singleBlock(content.Blocks, "features", &diags); fb != nil {
		fc, d := fb.Body.Content(featuresSchema)
		diags = append(diags, d...)
		fa := &attrs{m: fc.Attributes, decl: fb.DefRange, outer: []hcl.Range{b.DefRange}, ev: ev, spec: featuresBlock}
		s.Features = Features{Voicemail: fa.number("voicemail", DefaultVoicemailCode), DeclRange: fb.DefRange}
		diags = append(diags, fa.diags...)
	}
	return s, append(diags, a.diags...)
}

func decodeInstallerBlock(b *hcl.Block, ev *evaluator, diags *hcl.Diagnostics) *Installer {
	content, d := b.Body.Content(installerSchema)
	*diags = append(*diags, d...)
	a := &attrs{m: content.Attributes, decl: b.DefRange, ev: ev, spec: installerBlock}
	in := &Installer{
		Company:   a.str("company", ""),
		Email:     a.str("email", ""),
		Phone:     a.str("phone", ""),
		OwnsSite:  a.boolean("owns_site", false),
		DeclRange: b.DefRange,
	}
	*diags = append(*diags, a.diags...)
	return in
}
