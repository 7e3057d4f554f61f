package voicemail

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"switchboard/runtime/store"
)

// A cluster node does not import an older version's files: the import
// mark is the site's, shared by every node, while each node's directory
// is its own (one node's import would make the others move theirs aside
// as "imported", and boxes numbered alike would overwrite each other).
// The files are kept aside, named for what happened, and the store is
// left as it was.
func TestClusterNodeLeavesOldFilesAside(t *testing.T) {
	e := newEnv(t)
	oldLayout(t, e)
	before := localFiles(t, e.dir)
	e.s.Close()

	st, err := store.Open(store.Options{Dir: t.TempDir(), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kept := keptIn(t, st, "harbour")
	kept.Shared = true
	cfg := e.s.cfg
	cfg.Store = kept
	e.open(cfg)
	defer e.s.Close()

	if ms := e.messages("mary"); len(ms) != 0 {
		t.Errorf("a cluster node imported %d of Mary's messages", len(ms))
	}
	if _, ok, err := kept.Keys.Get(context.Background(), importedKey); err != nil || ok {
		t.Errorf("import mark set (%v, %v): other nodes would move their files aside as imported", ok, err)
	}
	aside := localFiles(t, e.dir+".not-imported")
	for _, f := range before {
		if !slices.Contains(aside, f) {
			t.Errorf("%s is not in the directory kept aside", f)
		}
	}
	if _, err := os.Stat(filepath.Join(e.dir + ".imported")); err == nil {
		t.Error("the files were moved aside as imported")
	}
}
