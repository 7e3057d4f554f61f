package main

import (
	"log/slog"
	"os"
	"sort"
	"sync"

	"switchboard/runtime/sites"
)

// servedDir is the site serve runs from one directory of several: its
// name (its domain when added) and what stops its -events writer.
type servedDir struct {
	name       string
	stopEvents func()
}

// serveParent is the directory of sites serve's arguments name — one
// argument that is neither a site nor a build directory, as serveDirs
// reads it — and "" otherwise (the sites are listed one by one, and the
// list is the operator's: SIGHUP only reloads them).
func serveParent(positional []string) string {
	if len(positional) != 1 || isServable(positional[0]) {
		return ""
	}
	if fi, err := os.Stat(positional[0]); err != nil || !fi.IsDir() {
		return ""
	}
	return positional[0]
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
