package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"switchboard/atomicfile"
	"switchboard/compiler/credentials"
	"switchboard/lang"
)

var initCommand = &command{
	name:     "init",
	synopsis: "Start a new site directory",
	usage: `Usage: switchboard init [-key] [-template NAME] [DIR]

Creates a site in DIR (default: the current directory; created if missing):

  site.pbx.hcl           a commented starter site that validates as it is
  .gitignore             keeps .switchboard/ out of version control
  .switchboard/site.key  the site key every password is derived from

-template NAME starts from one of these sites (default ` + defaultTemplate + `):

` + templateList() + `

Each validates without a warning, builds and passes "switchboard test" as
it is; replace its people, numbers and MACs with the installation's.

init never overwrites: when any of these files exists, or DIR already holds
*.pbx.hcl files, it stops and writes nothing.

With -key, init creates only the site key, for a site that is already in
version control (a fresh clone, or a bundled example) but has no key on
this machine. It still refuses to replace an existing key: a new key
changes every password of the site.

Exit status: 0 on success, 1 when a file is in the way or cannot be
written, 2 on a usage error.`,
	run:   runInit,
	flags: func() *flagSet { return initFlags(new(bool), new(string)) },
}

func initFlags(keyOnly *bool, tmpl *string) *flagSet {
	f := newFlagSet("init")
	f.fs.BoolVar(keyOnly, "key", false, "create only the site key, for an existing site")
	f.fs.StringVar(tmpl, "template", defaultTemplate, "start from the site template `NAME`: "+templateNames())
	return f
}

// runInitKey creates the site key of an existing site.
func runInitKey(c *cli, dir string) int {
	k, err := credentials.NewKey()
	if err != nil {
		fmt.Fprintf(c.stderr, "switchboard init: %v\n", err)
		return exitFail
	}
	path, err := credentials.WriteKeyFile(dir, k)
	if err != nil {
		fmt.Fprintf(c.stderr, "switchboard init: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(c.stdout, "Created the site key %s. Keep it out of version control and back it up:\nevery password of the site is derived from it.\n", filepath.ToSlash(path))
	return exitOK
}

const starterGitignore = `# The site key: every SIP, app and portal password is derived from it.
# Keep it out of version control; back it up somewhere safe.
.switchboard/
`

// Files init creates, relative to the site directory; the key's location
// is the credentials package's.
const (
	siteFileName  = "site.pbx.hcl"
	gitignoreName = ".gitignore"
)

func runInit(c *cli, args []string) int {
	var keyOnly bool
	var tmplName string
	f := initFlags(&keyOnly, &tmplName)
	positional, status, ok := c.parse(f, args, 1)
	if !ok {
		return status
	}
	tmpl := lookupTemplate(tmplName)
	if tmpl == nil {
		return c.usageError(lookup("init"), "unknown template %q: the templates are %s", tmplName, templateNames())
	}
	templateSet := false
	f.fs.Visit(func(fl *flag.Flag) { templateSet = templateSet || fl.Name == "template" })
	dir := dirArg(positional)
	if keyOnly {
		if templateSet {
			return c.usageError(lookup("init"), "-key creates only the site key; -template belongs to a new site")
		}
		return runInitKey(c, dir)
	}

	name, display := siteNames(dir)
	var site bytes.Buffer
	if err := tmpl.tmpl.Execute(&site, struct{ Name, DisplayName string }{name, display}); err != nil {
		fmt.Fprintf(c.stderr, "switchboard init: %v\n", err)
		return exitFail
	}

	shown := dir
	if dir == "." {
		shown = "the current directory"
	}
	if problems := initConflicts(dir); len(problems) > 0 {
		fmt.Fprintf(c.stderr, "switchboard init: %s already holds a site or part of one; nothing was written:\n", shown)
		for _, p := range problems {
			fmt.Fprintf(c.stderr, "  %s\n", p)
		}
		return exitFail
	}

	// Create everything, undoing what was created when a step fails, so
	// that a failed init leaves the directory as it was.
	var created []string
	undo := func() {
		for i := len(created) - 1; i >= 0; i-- {
			os.Remove(created[i])
		}
	}
	fail := func(err error) int {
		undo()
		fmt.Fprintf(c.stderr, "switchboard init: %v\n", err)
		return exitFail
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fail(err)
		}
		created = append(created, dir)
	}
	keyDir := filepath.Join(dir, credentials.KeyDir)
	if err := os.Mkdir(keyDir, 0o700); err == nil {
		created = append(created, keyDir)
	} else if !errors.Is(err, fs.ErrExist) {
		return fail(err)
	}
	key, err := credentials.NewKey()
	if err != nil {
		return fail(err)
	}
	keyPath, err := credentials.WriteKeyFile(dir, key)
	if err != nil {
		return fail(err)
	}
	created = append(created, keyPath)
	for _, f := range []struct {
		name string
		data []byte
	}{
		{siteFileName, site.Bytes()},
		{gitignoreName, []byte(starterGitignore)},
	} {
		path := filepath.Join(dir, f.name)
		if err := atomicfile.Create(path, f.data, 0o644); err != nil {
			return fail(err)
		}
		created = append(created, path)
	}

	fmt.Fprintf(c.stdout, `Created the site %q in %s:

  %-22s a commented starter site: edit it to describe the installation
  %-22s keeps the site key out of version control
  %-22s the site key; back it up, never commit it

Next steps:
  1. Describe the installation in %s.
  2. Check it:  switchboard validate%s
  3. Commit the *.pbx.hcl files (and switchboard.lock.hcl once it appears).
`, name, shown,
		siteFileName, gitignoreName, credentials.KeyFile,
		filepath.Join(dir, siteFileName), dirSuffix(dir))
	return exitOK
}

// dirSuffix is " DIR" for commands shown to the user, or "" for ".".
func dirSuffix(dir string) string {
	if dir == "." {
		return ""
	}
	if strings.ContainsAny(dir, " \t'\"$") {
		return fmt.Sprintf(" '%s'", dir)
	}
	return " " + dir
}

// initConflicts lists what stands in init's way in dir.
func initConflicts(dir string) []string {
	var problems []string
	for _, name := range []string{siteFileName, gitignoreName, credentials.KeyFile} {
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(name))); err == nil {
			problems = append(problems, name+" exists")
		}
	}
	if info, err := os.Lstat(filepath.Join(dir, credentials.KeyDir)); err == nil && !info.IsDir() {
		problems = append(problems, credentials.KeyDir+" exists and is not a directory")
	}
	entries, err := os.ReadDir(dir)
	if err == nil {
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), lang.FileSuffix) && e.Name() != siteFileName {
				problems = append(problems, e.Name()+" exists (a directory holds one site)")
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		problems = append(problems, err.Error())
	}
	return problems
}

// siteNames derives the site's block name (a lower-case slug) and display
// name from the directory's name: "Harbour View" → "harbour-view",
// "Harbour View".
func siteNames(dir string) (name, display string) {
	base := dir
	if abs, err := filepath.Abs(dir); err == nil {
		base = filepath.Base(abs)
	}
	// Drop accents ("Dún" → "Dun"): decompose, then leave out the marks.
	base = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, norm.NFD.String(base))
	var words []string
	for _, w := range strings.FieldsFunc(base, func(r rune) bool {
		return !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)))
	}) {
		words = append(words, strings.ToLower(w))
	}
	if len(words) == 0 {
		words = []string{"my", "site"}
	}
	name = strings.Join(words, "-")
	titled := make([]string, len(words))
	for i, w := range words {
		titled[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return name, strings.Join(titled, " ")
}
