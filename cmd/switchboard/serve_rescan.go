package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"switchboard/atomicfile"
	"switchboard/runtime/sites"
)

// servedDir is the site serve runs from one directory of several: its
// name (its domain when added) and what stops its -events writer.
type servedDir struct {
	name       string
	stopEvents func()
}

// serveParent is the directory of sites serve's arguments name — one
// argument that is neither a site nor a build directory and holds at
// least one, as serveDirs reads it — and "" otherwise (the sites are
// listed one by one, and the list is the operator's: SIGHUP only reloads
// them; or the one argument holds no site, and serve says what is wrong
// with it as for a site).
//
// A directory of sites is served as such even while it holds one site,
// so that SIGHUP adds the second an installer puts beside it (before, one
// site alone was served as a single site and a second directory was
// never seen, silently). See parentAsSites for the one case it is not.
func serveParent(positional []string) string {
	if len(positional) != 1 || isServable(positional[0]) {
		return ""
	}
	if dirs, err := servableSubdirs(positional[0]); err != nil || len(dirs) == 0 {
		return ""
	}
	return positional[0]
}

// parentAsSites says whether a directory of sites holding dirs is served
// as several sites (runtime/sites): always with two or more, and with one
// when its data can be where several sites keep theirs — under -data
// (DIR/DOMAIN, the store in DIR), or -keep-in-memory without -data (no
// store; the site's data in its own directory either way). One site
// without -data keeps its store in its own data directory, where serve
// has always kept it, and several sites without -data keep none (their
// data directories differ): serving it as several would leave its stored
// registrations, events and voicemail behind, unread. It stays a single
// site, and SIGHUP says so of any site directory added beside it
// (reportUnservedSiblings).
func parentAsSites(dirs []string, o serveOptions) bool {
	return len(dirs) > 1 || o.dataDir != "" || o.store.memory
}

// reportUnservedSiblings is SIGHUP's word, for a directory of sites
// served as its one site (parentAsSites), on the site directories beside
// it that it does not serve: the operator added them expecting them
// served.
func reportUnservedSiblings(log *slog.Logger, parent, served string) {
	now, _ := servableSubdirs(parent)
	for _, d := range now {
		if d != served {
			log.Error("site directory not served: serve runs the one site it found at the start alone, its store in its own directory; restart serve with -data DIR to serve every site of the directory (the site's data: see README, \"Serving\")",
				"dir", d, "parent", parent, "served", served)
		}
	}
}

// singleSiteData are the entries a site served alone keeps directly
// under -data: what serve of one site, or of a directory holding one,
// wrote there before a directory of sites kept each site's under
// -data/DOMAIN. The store (jetstream/) is -data's in both layouts, and
// what it holds is named by the site's domain, so it stays.
var singleSiteData = []string{"voicemail", "voicemail.imported", "portal"}

// oldSiteData lists which of singleSiteData are at the top of dataDir.
func oldSiteData(dataDir string) []string {
	var found []string
	for _, name := range singleSiteData {
		if _, err := os.Lstat(filepath.Join(dataDir, name)); err == nil {
			found = append(found, name)
		}
	}
	return found
}

// moveSiteData moves what a site served alone kept at the top of dataDir
// (names, from oldSiteData) into dataDir/domain, where the directory of
// sites keeps that site's data, once, each entry by one rename (same file
// system: nothing copied, nothing half there), the directories synced,
// each move logged. A move cut short by a crash is finished at the next
// start: the entries not yet moved are still at the top. An entry that is
// in both places is not touched and is the error: which one holds the
// site's data is the operator's call, not serve's.
func moveSiteData(log *slog.Logger, dataDir, domain string, names []string) error {
	to := filepath.Join(dataDir, domain)
	for _, name := range names {
		if _, err := os.Lstat(filepath.Join(to, name)); err == nil {
			return fmt.Errorf("%s and %s both exist: the site's data was kept directly under -data when it was served alone, and under -data/%s since; move the one to keep into %s and the other aside, then start again",
				filepath.Join(dataDir, name), filepath.Join(to, name), domain, to)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.MkdirAll(to, 0o750); err != nil {
		return err
	}
	for _, name := range names {
		from := filepath.Join(dataDir, name)
		if err := os.Rename(from, filepath.Join(to, name)); err != nil {
			return fmt.Errorf("moving the site's data: %w", err)
		}
		if err := atomicfile.SyncDir(to); err != nil {
			return err
		}
		if err := atomicfile.SyncDir(dataDir); err != nil {
			return err
		}
		log.Info("site data moved", "site", domain, "from", from, "to", filepath.Join(to, name), "why", "a directory of sites keeps each site's data under -data/DOMAIN")
	}
	return nil
}

// rescanSites reads parent again (SIGHUP) and stops the sites whose
// directories are gone or hold no site any more, as at shutdown: their
// calls are hung up, and what they stored (the store's stream and bucket,
// their -data directory) is kept, never deleted, so a site put back
// finds it. forget is called for each removed directory. It returns the
// directories that hold a site not served yet — new ones, and ones that
// failed before — sorted, for the caller to add.
//
// A parent that cannot be read, or holds no site at all, changes
// nothing: an unmounted or half-copied directory must not take every
// site down (the log says so).
func rescanSites(log *slog.Logger, parent string, srv *sites.Server, served map[string]servedDir, forget func(dir string)) []string {
	now, err := servableSubdirs(parent)
	if err != nil || len(now) == 0 {
		log.Error("the directory of sites holds none now: the running sites are kept", "dir", parent, "error", err)
		return nil
	}
	present := make(map[string]bool, len(now))
	for _, d := range now {
		present[d] = true
	}
	var gone []string
	for dir := range served {
		if !present[dir] {
			gone = append(gone, dir)
		}
	}
	sort.Strings(gone)
	// Each closes as at shutdown, which may take a few seconds (hang-ups,
	// carriers' un-registration): together, not one after another.
	errs := make([]error, len(gone))
	var wg sync.WaitGroup
	for i, dir := range gone {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = srv.Remove(served[dir].name)
		}()
	}
	wg.Wait()
	for i, dir := range gone {
		name := served[dir].name
		forget(dir)
		if errs[i] != nil {
			log.Warn("site removed; closing it failed", "site", name, "dir", dir, "error", errs[i])
			continue
		}
		log.Info("site removed", "site", name, "dir", dir, "sites", len(srv.Names()), "stored data", "kept")
	}
	var fresh []string
	for _, d := range now {
		if _, ok := served[d]; !ok {
			fresh = append(fresh, d)
		}
	}
	return fresh
}
