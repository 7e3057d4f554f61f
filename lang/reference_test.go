package lang

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// everyBlock is a site with every block type that has attributes the
// decoders read, nested ones included. Every block is named NAME, so that
// a default taken from the block's name shows as "NAME".
const everyBlock = `
site "NAME" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "t.example"
  installer {
    company = "A"
    email   = "a@a.example"
  }
  features {}
}
residence "NAME" {}
user "NAME" {
  email = "u@x.example"
}
device "NAME" {
  model = "akuvox-r29c"
  mac   = "0C:11:05:12:34:56"
  button "NAME" { calls = residence.NAME }
  relay "NAME" { dtmf = "#" }
}
trunk "NAME" {
  host = "sip.example"
}
variable "NAME" {}
locals {
  NAME = 1
}
`

// The reference (Language) is the one list of attributes: the schemas are
// made from it. This checks the rest of what it says against the decoders:
// every attribute a decoder reads is documented with the type and default
// the decoder uses, every documented attribute is read, and every block and
// attribute has a meaning.
func TestReferenceMatchesDecoder(t *testing.T) {
	type read struct{ Type, Default string }
	got := map[string]read{} // "block.attr"
	var unknown []string
	path := map[*BlockSpec]string{}
	var walk func(prefix string, bs []*BlockSpec)
	walk = func(prefix string, bs []*BlockSpec) {
		for _, b := range bs {
			path[b] = prefix + b.Type
			walk(prefix+b.Type+".", b.Blocks)
		}
	}
	walk("", Language())
	trace := func(b *BlockSpec, attr, typ, def string) {
		p, ok := path[b]
		if !ok {
			unknown = append(unknown, attr)
			return
		}
		if def == `"NAME"` {
			def = "the block's name"
		}
		got[p+"."+attr] = read{typ, def}
	}
	_, diags := loadSources(t.TempDir(), map[string][]byte{"site.pbx.hcl": []byte(everyBlock)}, Options{Vars: map[string]string{"NAME": "x"}}, trace)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(unknown) > 0 {
		t.Errorf("decoders read attributes %v of blocks missing from Language()", unknown)
	}

	want := map[string]read{}
	var check func(prefix string, bs []*BlockSpec)
	check = func(prefix string, bs []*BlockSpec) {
		for _, b := range bs {
			p := prefix + b.Type
			if b.Doc == "" || b.Count == "" {
				t.Errorf("block %s has no meaning or count", p)
			}
			for _, a := range b.Attrs {
				if a.Doc == "" || a.Type == "" {
					t.Errorf("attribute %s.%s has no meaning or type", p, a.Name)
				}
				if a.Required && a.Default != "" {
					t.Errorf("attribute %s.%s is required and has a default", p, a.Name)
				}
				// variable is read by its own decoder, before evaluation;
				// its schema is still made from the reference.
				if b != variableBlock {
					want[p+"."+a.Name] = read{a.Type, a.Default}
				}
			}
			check(p+".", b.Blocks)
		}
	}
	check("", Language())
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reference against the decoders (-want reference +got decoders):\n%s", diff)
	}
}
