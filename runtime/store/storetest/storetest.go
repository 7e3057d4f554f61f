// Package storetest gives tests the real embedded store, cheaply: one
// server per test binary, in a temporary directory, shared by the tests of
// a package, each test keeping its things under a site name of its own.
package storetest

import (
	"os"
	"regexp"
	"sync"
	"testing"

	"switchboard/runtime/store"
)

var (
	once   sync.Once
	shared *store.Store
	dir    string
	err    error
)

// Shared returns the test binary's store (on disk, in a temporary
// directory), opening it at the first call. Run removes it.
func Shared(t testing.TB) *store.Store {
	t.Helper()
	once.Do(func() {
		if dir, err = os.MkdirTemp("", "switchboard-storetest-"); err != nil {
			return
		}
		shared, err = store.Open(store.Options{Dir: dir})
	})
	if err != nil {
		t.Fatalf("opening the shared store: %v", err)
	}
	return shared
}

var unsafe = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// Site returns a site name of t's own, so that tests sharing the store do
// not see each other's things.
func Site(t testing.TB) string {
	return unsafe.ReplaceAllString(t.Name(), "_")
}

// Run runs the tests of m, then closes the shared store and removes its
// directory: func TestMain(m *testing.M) { os.Exit(storetest.Run(m)) }.
func Run(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
	return code
}
