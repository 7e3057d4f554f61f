package devfile

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Attr is an XML attribute; attributes keep the order they were added in.
type Attr struct {
	Name  string
	Value string
}

// Elem is an XML element with either text or child elements.
type Elem struct {
	Name  string
	Attrs []Attr
	Text  string
	Kids  []*Elem
}

// E makes an element with children.
func E(name string, kids ...*Elem) *Elem { return &Elem{Name: name, Kids: kids} }

// T makes a text element; the text passes through OneLine.
func T(name, text string) *Elem { return &Elem{Name: name, Text: OneLine(text)} }

// WithAttr adds an attribute and returns e.
func (e *Elem) WithAttr(name, value string) *Elem {
	e.Attrs = append(e.Attrs, Attr{Name: name, Value: value})
	return e
}

// Add appends children.
func (e *Elem) Add(kids ...*Elem) { e.Kids = append(e.Kids, kids...) }

// Find returns the first child named name, or nil.
func (e *Elem) Find(name string) *Elem {
	for _, k := range e.Kids {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// XMLDocument renders root as a UTF-8 XML document: a declaration, two-space
// indentation, text escaped, one element per line, a final newline.
// Elements with neither text nor children are written <name></name>, the
// way provisioning templates write an empty value.
func XMLDocument(root *Elem) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	writeElem(&b, root, 0)
	return b.Bytes()
}

func writeElem(b *bytes.Buffer, e *Elem, depth int) {
	indent := strings.Repeat("  ", depth)
	b.WriteString(indent)
	b.WriteByte('<')
	b.WriteString(e.Name)
	for _, a := range e.Attrs {
		b.WriteByte(' ')
		b.WriteString(a.Name)
		b.WriteString(`="`)
		xml.EscapeText(b, []byte(a.Value))
		b.WriteByte('"')
	}
	b.WriteByte('>')
	if len(e.Kids) == 0 {
		xml.EscapeText(b, []byte(e.Text))
	} else {
		b.WriteByte('\n')
		for _, k := range e.Kids {
			writeElem(b, k, depth+1)
		}
		b.WriteString(indent)
	}
	b.WriteString("</")
	b.WriteString(e.Name)
	b.WriteString(">\n")
}

// ParseXML reads a document written by XMLDocument (or any plain XML without
// mixed content) back into elements. Whitespace between elements is
// dropped; text is kept as is. Comments, processing instructions and
// directives are skipped. Non-space text beside child elements is an error.
func ParseXML(data []byte) (*Elem, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var stack []*Elem
	var root *Elem
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, errors.New("xml: more than one root element")
			}
			if len(stack) > 0 && strings.TrimSpace(text.String()) != "" {
				return nil, fmt.Errorf("xml: text beside child elements in <%s>", stack[len(stack)-1].Name)
			}
			text.Reset()
			e := &Elem{Name: qname(t.Name)}
			for _, a := range t.Attr {
				e.Attrs = append(e.Attrs, Attr{Name: qname(a.Name), Value: a.Value})
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.Kids = append(p.Kids, e)
			} else {
				root = e
			}
			stack = append(stack, e)
		case xml.EndElement:
			e := stack[len(stack)-1]
			if len(e.Kids) == 0 {
				e.Text = text.String()
			} else if strings.TrimSpace(text.String()) != "" {
				return nil, fmt.Errorf("xml: text beside child elements in <%s>", e.Name)
			}
			text.Reset()
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if strings.TrimSpace(string(t)) != "" {
					return nil, errors.New("xml: text outside the root element")
				}
				continue
			}
			text.Write(t)
		}
	}
	if root == nil {
		return nil, errors.New("xml: no root element")
	}
	return root, nil
}

func qname(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}
