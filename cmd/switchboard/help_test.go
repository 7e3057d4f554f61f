package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every flag a command defines is in its usage lines (the first paragraph
// of its help), so that the synopsis a usage error prints never hides one.
func TestUsageNamesEveryFlag(t *testing.T) {
	for _, cmd := range commands {
		if cmd.flags == nil {
			continue
		}
		usage, _, _ := strings.Cut(cmd.usage, "\n\n")
		cmd.flags().fs.VisitAll(func(fl *flag.Flag) {
			named := regexp.MustCompile(`\[-` + regexp.QuoteMeta(fl.Name) + `[\s\]=]`)
			if !named.MatchString(usage) {
				t.Errorf("switchboard %s: [-%s] is not in its usage lines:\n%s", cmd.name, fl.Name, usage)
			}
		})
	}
}

// readmeCitation is how help texts cite the README: README, "Section".
var readmeCitation = regexp.MustCompile(`README,\s+"([^"]+)"`)

// Every README section a help text cites exists, as a heading.
func TestHelpCitesREADMESectionsThatExist(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	headings := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") {
			headings[strings.TrimSpace(strings.TrimLeft(line, "#"))] = true
		}
	}
	texts := map[string]string{"switchboard": usageText()}
	for _, cmd := range commands {
		texts[cmd.name] = cmd.usage
	}
	for name, text := range texts {
		// Help texts wrap: a title may run over a line break.
		flat := strings.Join(strings.Fields(text), " ")
		for _, m := range readmeCitation.FindAllStringSubmatch(flat, -1) {
			if !headings[m[1]] {
				t.Errorf("help of %s cites the README section %q, which README.md does not have", name, m[1])
			}
		}
	}
	if !strings.Contains(strings.Join(strings.Fields(serveCommand.usage), " "), `README, "`) {
		t.Error("serve's help no longer cites the README: this test would check nothing there")
	}
}

func usageText() string {
	var b strings.Builder
	(&cli{}).usage(&b)
	return b.String()
}
