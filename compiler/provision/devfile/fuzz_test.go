package devfile_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/provision/devfile"
)

func FuzzParseXML(f *testing.F) {
	f.Add([]byte(`<?xml version="1.0"?><a x="1"><b>t &amp; u</b><c></c></a>`))
	f.Add([]byte(`<Device><mac>000b82445566</mac><Module_SIP_Basic><P402>h</P402></Module_SIP_Basic></Device>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := devfile.ParseXML(data)
		if err != nil {
			return
		}
		// Anything read writes back to a document that reads the same,
		// once text has gone through OneLine as the writer's T does.
		clean(e)
		out := devfile.XMLDocument(e)
		back, err := devfile.ParseXML(out)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		if d := cmp.Diff(e, back); d != "" {
			t.Fatalf("round trip (-want +got):\n%s", d)
		}
	})
}

func clean(e *devfile.Elem) {
	e.Text = devfile.OneLine(e.Text)
	for i := range e.Attrs {
		e.Attrs[i].Value = devfile.OneLine(e.Attrs[i].Value)
	}
	for _, k := range e.Kids {
		clean(k)
	}
}

func FuzzParseKV(f *testing.F) {
	f.Add([]byte("a = 1\nb=2\n# c\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kvs, err := devfile.ParseKV(data, func(l string) bool { return l[0] == '#' })
		if err != nil {
			return
		}
		for _, kv := range kvs {
			if kv.Key == "" {
				t.Fatal("empty key accepted")
			}
		}
	})
}
