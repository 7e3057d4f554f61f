package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdIsJSON checks that a file (stdout, stderr or a path) is JSON and
// nothing else: one or more JSON values (a document, or JSON lines).
//
//	isjson stdout
//	! isjson stderr
func cmdIsJSON(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: isjson stdout|stderr|FILE")
	}
	data := []byte(ts.ReadFile(args[0]))
	err := jsonValues(data)
	switch {
	case err == nil && neg:
		ts.Fatalf("%s is JSON", args[0])
	case err != nil && !neg:
		ts.Fatalf("%s is not JSON: %v\n%s", args[0], err, data)
	}
}

func jsonValues(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	n := 0
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			if n == 0 {
				return errors.New("empty")
			}
			return nil
		}
		if err != nil {
			return err
		}
		n++
	}
}
