package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/lang"
)

// docs/language.md is `switchboard help language -markdown`, checked in so
// that the reference reads on the web; UPDATE_GOLDEN=1 rewrites it.
func TestLanguageDocIsGenerated(t *testing.T) {
	var buf bytes.Buffer
	if err := writeLanguageMarkdown(&buf, lang.Language()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "docs", "language.md")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("docs/language.md is out of date; run UPDATE_GOLDEN=1 go test ./cmd/switchboard -run TestLanguageDocIsGenerated (-want +got):\n%s", diff)
	}
}

// Every rendering shows every block and attribute of the reference, nested
// ones included, with its type and meaning.
func TestLanguageRenderingsAreComplete(t *testing.T) {
	var text, md, js bytes.Buffer
	if err := writeLanguageText(&text, lang.Language()); err != nil {
		t.Fatal(err)
	}
	if err := writeLanguageMarkdown(&md, lang.Language()); err != nil {
		t.Fatal(err)
	}
	if err := writeLanguageJSON(&js, lang.Language()); err != nil {
		t.Fatal(err)
	}
	var doc struct{ Blocks []jsonBlock }
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	flatText := strings.Join(strings.Fields(text.String()), " ")
	var walk func(path string, bs []*lang.BlockSpec, jbs []jsonBlock)
	walk = func(path string, bs []*lang.BlockSpec, jbs []jsonBlock) {
		if len(bs) != len(jbs) {
			t.Fatalf("%s: JSON has %d blocks, the reference %d", path, len(jbs), len(bs))
		}
		for i, b := range bs {
			p := path + b.Type
			if !strings.Contains(text.String(), blockHeader(b)+" {   # "+b.Count) {
				t.Errorf("text lacks block %s", p)
			}
			if !strings.Contains(md.String(), blockHeader(b)+"`") {
				t.Errorf("markdown lacks block %s", p)
			}
			if len(jbs[i].Attributes) != len(b.Attrs) || jbs[i].Type != b.Type {
				t.Errorf("JSON block %s differs from the reference", p)
			}
			for _, a := range b.Attrs {
				if !strings.Contains(text.String(), a.Name+" = "+attrSummary(a)+"\n") ||
					!strings.Contains(flatText, strings.Join(strings.Fields(a.Doc), " ")) {
					t.Errorf("text lacks attribute %s.%s or its meaning", p, a.Name)
				}
				if !strings.Contains(md.String(), "| `"+a.Name+"` | "+mdCell(a.Type)+" |") {
					t.Errorf("markdown lacks attribute %s.%s", p, a.Name)
				}
			}
			walk(p+".", b.Blocks, jbs[i].Blocks)
		}
	}
	walk("", lang.Language(), doc.Blocks)
}
