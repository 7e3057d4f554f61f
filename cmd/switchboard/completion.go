package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

var completionCommand = &command{
	name:     "completion",
	synopsis: "Print a shell completion script (bash, zsh or fish)",
	usage: `Usage: switchboard completion bash|zsh|fish

Prints a script that completes switchboard's commands, their flags and
their arguments in the given shell. Load it in the shell's start-up file:

  bash:  source <(switchboard completion bash)          (in ~/.bashrc)
  zsh:   source <(switchboard completion zsh)           (in ~/.zshrc, after compinit)
  fish:  switchboard completion fish > ~/.config/fish/completions/switchboard.fish

The script is made from the commands' own flag definitions, so it matches
the switchboard that printed it.

Exit status: 0 printed, 2 usage error.`,
	run: runCompletion,
}

// shells are the shells completion writes for, with their writers.
var shells = []struct {
	name  string
	write func(io.Writer, []completionEntry)
}{
	{"bash", writeBashCompletion},
	{"zsh", writeZshCompletion},
	{"fish", writeFishCompletion},
}

func runCompletion(c *cli, args []string) int {
	cmd := lookup("completion")
	if len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		c.commandHelp(c.stdout, cmd)
		return exitOK
	}
	if len(args) != 1 {
		return c.usageError(cmd, "want one shell: bash, zsh or fish")
	}
	for _, sh := range shells {
		if sh.name == args[0] {
			sh.write(c.stdout, completionEntries())
			return exitOK
		}
	}
	return c.usageError(cmd, "unknown shell %q: want bash, zsh or fish", args[0])
}

// completionEntry is what a script knows of one command.
type completionEntry struct {
	name, synopsis string
	flags          []completionFlag
	words          []string // words its first argument can be
}

type completionFlag struct {
	name, help  string
	takesValue  bool
	repeatable  bool
	placeholder string
}

// globalCompletion are the flags before the command.
var globalCompletion = []completionFlag{
	{name: "chdir", help: "switch to DIR before anything else", takesValue: true, placeholder: "DIR"},
	{name: "no-color", help: "no colour in the output"},
	{name: "help", help: "show the list of commands"},
	{name: "version", help: "print the switchboard version"},
}

// completionEntries reads the command table: every command, its flags
// from its own flag set, and the words of commands that take one.
func completionEntries() []completionEntry {
	var out []completionEntry
	for _, cmd := range commands {
		e := completionEntry{name: cmd.name, synopsis: cmd.synopsis}
		if cmd.flags != nil {
			cmd.flags().fs.VisitAll(func(fl *flag.Flag) {
				placeholder, help := flag.UnquoteUsage(fl)
				e.flags = append(e.flags, completionFlag{
					name: fl.Name, help: firstClause(help), takesValue: !isBoolFlag(fl),
					repeatable: strings.Contains(help, "repeatable"), placeholder: placeholder,
				})
			})
		}
		switch cmd.name {
		case "help":
			for _, c := range commands {
				e.words = append(e.words, c.name)
			}
		case "completion":
			for _, sh := range shells {
				e.words = append(e.words, sh.name)
			}
		case "state":
			e.words = []string{"show", "force-unlock"}
		}
		out = append(out, e)
	}
	return out
}

// firstClause shortens a flag's help to what fits a completion menu.
func firstClause(s string) string {
	if i := strings.IndexAny(s, ";("); i > 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	if len(s) > 70 {
		if i := strings.LastIndex(s[:70], " "); i > 0 {
			s = s[:i] + "…"
		}
	}
	return s
}

func commandNames(entries []completionEntry) string {
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.name
	}
	return strings.Join(names, " ")
}

func flagWords(flags []completionFlag, withValue bool) string {
	var w []string
	for _, f := range flags {
		if !withValue || f.takesValue {
			w = append(w, "-"+f.name)
		}
	}
	return strings.Join(w, " ")
}

func writeBashCompletion(w io.Writer, entries []completionEntry) {
	fmt.Fprintf(w, `# bash completion for switchboard, printed by "switchboard completion bash".
_switchboard() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local cmd="" at=0 i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            -chdir) ((i++)); [[ ${COMP_WORDS[i]} == = ]] && ((i++)) ;;
            -*) ;;
            *) cmd=${COMP_WORDS[i]}; at=$i; break ;;
        esac
    done
    local flags="" valued="" words=""
    case $cmd in
        "") flags=%s; valued=%s; words=%s ;;
`, shQuote(flagWords(globalCompletion, false)), shQuote(" "+flagWords(globalCompletion, true)+" "), shQuote(commandNames(entries)))
	for _, e := range entries {
		fmt.Fprintf(w, "        %s) flags=%s; valued=%s; words=%s ;;\n", e.name, shQuote(flagWords(e.flags, false)), shQuote(" "+flagWords(e.flags, true)+" "), shQuote(strings.Join(e.words, " ")))
	}
	fmt.Fprint(w, `    esac
    # A flag's value: the shell's own completion (files).
    if [[ $prev == -* && $valued == *" ${prev%%=*} "* ]]; then
        return
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    elif [[ -z $cmd || $at -eq $((COMP_CWORD - 1)) ]]; then
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
    fi
}
complete -o default -F _switchboard switchboard
`)
}

// shQuote quotes s in single quotes for bash.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// zshQuote quotes s for a single-quoted _arguments spec or _describe item.
func zshQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`, `:`, `\:`, `'`, `'\''`)
	return r.Replace(s)
}

func zshFlagSpec(f completionFlag) string {
	spec := "-" + f.name + "[" + zshQuote(f.help) + "]"
	if f.repeatable {
		spec = "*" + spec
	}
	if f.takesValue {
		spec += ":" + zshQuote(f.placeholder) + ":_files"
	}
	return "'" + spec + "'"
}

func writeZshCompletion(w io.Writer, entries []completionEntry) {
	fmt.Fprint(w, `#compdef switchboard
# zsh completion for switchboard, printed by "switchboard completion zsh".
_switchboard() {
    local -a commands specs
    local state line
    commands=(
`)
	for _, e := range entries {
		fmt.Fprintf(w, "        '%s:%s'\n", e.name, zshQuote(e.synopsis))
	}
	fmt.Fprint(w, `    )
    local i=2 cmd=""
    while (( i < CURRENT )); do
        case $words[i] in
            -chdir) (( i++ )) ;;
            -*) ;;
            *) cmd=$words[i]; break ;;
        esac
        (( i++ ))
    done
    if [[ -z $cmd ]]; then
        specs=(`)
	for _, f := range globalCompletion {
		fmt.Fprintf(w, " %s", zshFlagSpec(f))
	}
	fmt.Fprint(w, `)
        _arguments $specs '1: :->command'
        [[ $state == command ]] && _describe -t commands 'switchboard command' commands
        return
    fi
    shift $(( i - 1 )) words
    (( CURRENT -= i - 1 ))
    case $cmd in
`)
	for _, e := range entries {
		fmt.Fprintf(w, "        %s) specs=(", e.name)
		for _, f := range e.flags {
			fmt.Fprintf(w, " %s", zshFlagSpec(f))
		}
		if len(e.words) > 0 {
			fmt.Fprintf(w, " '1:argument:(%s)'", strings.Join(e.words, " "))
		}
		fmt.Fprint(w, " '*:file:_files') ;;\n")
	}
	fmt.Fprint(w, `    esac
    # Not -s: that would read -json as -j -s -o -n.
    _arguments $specs
}
if [[ $funcstack[1] == _switchboard ]]; then
    _switchboard "$@"
else
    compdef _switchboard switchboard
fi
`)
}

// fishQuote quotes s for fish, in single quotes.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func writeFishCompletion(w io.Writer, entries []completionEntry) {
	fmt.Fprintln(w, `# fish completion for switchboard, printed by "switchboard completion fish".`)
	fishFlag := func(cond string, f completionFlag) {
		fmt.Fprintf(w, "complete -c switchboard -n %s -o %s", fishQuote(cond), f.name)
		if f.takesValue {
			fmt.Fprint(w, " -r -F")
		}
		fmt.Fprintf(w, " -d %s\n", fishQuote(f.help))
	}
	for _, f := range globalCompletion {
		fishFlag("__fish_use_subcommand", f)
	}
	for _, e := range entries {
		fmt.Fprintf(w, "complete -c switchboard -n __fish_use_subcommand -f -a %s -d %s\n", e.name, fishQuote(e.synopsis))
	}
	for _, e := range entries {
		cond := "__fish_seen_subcommand_from " + e.name
		for _, f := range e.flags {
			fishFlag(cond, f)
		}
		if len(e.words) > 0 {
			fmt.Fprintf(w, "complete -c switchboard -n %s -f -a %s\n", fishQuote(cond), fishQuote(strings.Join(slices.Clone(e.words), " ")))
		}
	}
}
