package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"switchboard/compiler"
	"switchboard/compiler/credentials"
	"switchboard/compiler/state"
	"switchboard/simulate"
	"switchboard/simulate/scenario"
)

// changedSinceState is the -changed-since value that compares the site
// with the state the last apply recorded rather than with a git revision.
const changedSinceState = "state"

// parseShard parses -shard's K/N: part K (1 to N) of N.
func parseShard(v string) (k, n int, err error) {
	ks, ns, ok := strings.Cut(v, "/")
	if !ok {
		return 0, 0, errors.New("want K/N, the part K of N parts, as in 1/4")
	}
	k, kerr := strconv.Atoi(ks)
	n, nerr := strconv.Atoi(ns)
	switch {
	case kerr != nil || nerr != nil:
		return 0, 0, errors.New("want K/N with K and N whole numbers, as in 1/4")
	case n < 1:
		return 0, 0, errors.New("the number of parts (N) must be at least 1")
	case k < 1 || k > n:
		return 0, 0, fmt.Errorf("the part (K) must be between 1 and %d", n)
	}
	return k, n, nil
}

// changedSinceRule checks -changed-since's value before anything is read:
// "state" or something git could take for a revision.
func changedSinceRule(v string) error {
	if v == "" {
		return errors.New("want a git revision (a branch, tag or commit) or \"state\"")
	}
	if strings.HasPrefix(v, "-") || strings.ContainsAny(v, " \t\n") {
		return errors.New("not a git revision")
	}
	return nil
}

// revision is the site as it was at a git revision, compiled: what
// -changed-since REV compares with. It is read and compiled while the
// current site compiles (startRevision): on a large site each takes a
// good part of a second.
type revision struct {
	done      chan struct{}
	site      *loadedSite // nil when err is set
	scenarios []simulate.Case
	err       error
}

// startRevision reads the site in dir at git revision ref into a
// temporary directory and compiles it there, in the background.
func (c *cli) startRevision(dir, ref string, o siteOptions) *revision {
	r := &revision{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		old, err := os.MkdirTemp("", "switchboard-changed-since-")
		if err != nil {
			r.err = err
			return
		}
		defer os.RemoveAll(old)
		if r.err = siteAtRevision(dir, ref, old); r.err != nil {
			return
		}
		r.site = c.loadSite(old, o, compiler.CompileOptions{})
		if r.site.program != nil && !r.site.diags.HasErrors() {
			// The scenarios of then, compared by their steps. (Their
			// origins name the temporary copy, and are not compared.)
			if sc, diags := scenario.Load(old, r.site.program); !diags.HasErrors() {
				r.scenarios = sc.Cases
			}
		}
	}()
	return r
}

// changeSince compares the site in dir, compiled to cs, with an earlier
// version of it: the site at the git revision being read by rev, or, when
// rev is nil, the state the last apply recorded (read from statePath). The
// note, when not empty, says why every case runs.
func (c *cli) changeSince(rev *revision, ref, statePath string, cs *compiledSite, key credentials.Key) (ch simulate.Change, note string, err error) {
	if rev == nil {
		st, exists, err := state.NewStore(statePath).Read(cs.program.Site.Name)
		if err != nil {
			return ch, "", err
		}
		if !exists {
			return simulate.Change{All: true}, "no state has been applied yet", nil
		}
		ch = simulate.ChangeSinceState(cs.program, key, st)
	} else {
		<-rev.done
		if errors.Is(rev.err, errNoSiteAtRevision) {
			return simulate.Change{All: true}, fmt.Sprintf("the site directory did not exist at %s", ref), nil
		}
		if rev.err != nil {
			return ch, "", rev.err
		}
		if rev.site.program == nil || rev.site.diags.HasErrors() {
			return simulate.Change{All: true}, fmt.Sprintf("the site did not compile at %s", ref), nil
		}
		ch = simulate.ChangeBetween(rev.site.program, cs.program, key)
		ch.Before = append(ch.Before, rev.scenarios...)
	}
	if ch.All {
		note = "the site block changed"
	}
	return ch, note, nil
}

// errNoSiteAtRevision says the site directory is newer than the revision:
// every case is new.
var errNoSiteAtRevision = errors.New("the site directory did not exist then")

// siteAtRevision writes the files of the site directory dir as they were
// at git revision ref into out, with `git archive`: the site as committed,
// whatever the work tree holds.
func siteAtRevision(dir, ref, out string) error {
	prefix, err := gitOutput(dir, "rev-parse", "--show-prefix")
	if err != nil {
		return err
	}
	top, err := gitOutput(dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return err
	}
	if _, err := gitOutput(dir, "rev-parse", "--verify", "--quiet", ref+"^{commit}"); err != nil {
		return fmt.Errorf("-changed-since: %q is not a revision of the git repository at %s", ref, dir)
	}
	tree := ref + ":" + strings.TrimSpace(prefix)
	cmd := exec.Command("git", "archive", "--format=tar", tree)
	cmd.Dir = strings.TrimSpace(top) // below it, git archive keeps to the directory's own tracked files
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	data, err := cmd.Output()
	if err != nil {
		if strings.Contains(stderr.String(), "not a valid object name") || strings.Contains(stderr.String(), "not a tree object") {
			return errNoSiteAtRevision
		}
		return fmt.Errorf("git archive %s: %v: %s", tree, err, strings.TrimSpace(stderr.String()))
	}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("git archive %s: %w", tree, err)
		}
		name := path.Clean(h.Name)
		if h.Typeflag != tar.TypeReg || strings.HasPrefix(name, "../") || path.IsAbs(name) {
			continue // directories are made as needed; links are not site files
		}
		dst := filepath.Join(out, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return err
		}
	}
}

// gitOutput runs git in dir and returns its standard output.
func gitOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", errors.New("-changed-since needs git, which is not installed")
		}
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "not a git repository") {
			return "", fmt.Errorf("-changed-since: %s is not in a git repository", dir)
		}
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, msg)
	}
	return string(out), nil
}
