package site

import (
	"runtime"
	"strings"
	"testing"
	"unsafe"
	"weak"

	"switchboard/compiler/ir"
	"switchboard/runtime/b2bua"
)

// The password cache keeps the program's account names, not the strings
// it was asked with: those are parts of requests (the user name of an
// Authorization header), and a key that is one keeps the whole header.
func TestPasswordCacheKeepsNoRequest(t *testing.T) {
	p := &ir.Program{
		Site:     ir.Site{Name: "d", Domain: "d.test"},
		Accounts: []ir.Account{{Name: "app.alice", Kind: ir.AccountApp, Username: "app.alice", AuthName: "app.alice"}},
	}
	s, err := New(Config{Program: p, Secrets: passwordMap{"app.alice": "pw"}}, Options{Services: &b2bua.Services{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A header whose user name is a part of it, as the digest parser
	// hands it out.
	header := strings.Repeat("x", 4096) + "app.alice"
	gone := weak.Make(unsafe.StringData(header))
	if pw, ok := s.gen.Load().secrets.SIPPassword(header[4096:]); pw != "pw" || !ok {
		t.Fatalf("SIPPassword = %q, %v", pw, ok)
	}
	header = ""
	runtime.GC()
	if gone.Value() != nil {
		t.Error("the password cache keeps the string it was asked with, and so the request it is a part of")
	}
	if pw, ok := s.gen.Load().secrets.SIPPassword("app.alice"); pw != "pw" || !ok {
		t.Errorf("SIPPassword after the collection = %q, %v", pw, ok)
	}
}
