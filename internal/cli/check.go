package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	"vigil/yara"
)

// checkOptions are the flags of `vigil check`.
type checkOptions struct {
	json           bool
	defines        []string
	noWarnings     bool
	failOnWarnings bool
	lint           bool
	help           bool
}

const checkUsage = "Usage: vigil check [--json] [--lint] [-d VAR=VALUE]... [-w] [--fail-on-warnings] RULES_FILE..."

func newCheckFlags(o *checkOptions) *pflag.FlagSet {
	fs := pflag.NewFlagSet("vigil check", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	fs.BoolVar(&o.json, "json", false, "print diagnostics as JSON lines")
	fs.StringArrayVarP(&o.defines, "define", "d", nil, "define an external variable `VAR=VALUE` (typed as in vigil scan)")
	fs.BoolVarP(&o.noWarnings, "no-warnings", "w", false, "do not print warnings")
	fs.BoolVar(&o.failOnWarnings, "fail-on-warnings", false, "exit 1 when there are warnings")
	fs.BoolVar(&o.lint, "lint", false, "also classify the files as one rule set: code/binary search or keyword/document search")
	fs.BoolVarP(&o.help, "help", "h", false, "show this help and exit")
	return fs
}

// check is `vigil check`: compile each file on its own and print every
// diagnostic. It exits 0 only when every file compiles (and, with
// --fail-on-warnings, has no warning).
func (e *env) check(args []string) int {
	o := &checkOptions{}
	fs := newCheckFlags(o)
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(e.stderr, "vigil check: %v\n%s\n", err, checkUsage)
		return exitUsage
	}
	if o.help {
		fmt.Fprintf(e.stdout, "vigil check: compile rule files and report every error and warning.\n%s\n\n%s", checkUsage, fs.FlagUsages())
		fmt.Fprintf(e.stdout, "\nExit status: 0 when every file compiles, 1 otherwise, 2 on usage errors.\n")
		return exitOK
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(e.stderr, "vigil check: no rule files\n%s\n", checkUsage)
		return exitUsage
	}
	defs := parseDefines(o.defines, e.stderr)
	failed := false
	for _, file := range fs.Args() {
		diags, err := e.checkFile(file, defs)
		if err != nil {
			fmt.Fprintf(e.stderr, "vigil check: %v\n", err)
			failed = true
			continue
		}
		for _, d := range diags {
			if d.Severity == yara.SeverityWarning {
				if o.noWarnings {
					continue
				}
				if o.failOnWarnings {
					failed = true
				}
			} else {
				failed = true
			}
			if o.json {
				writeJSONLine(e.stdout, toJSONDiagnostic(d))
			} else {
				fmt.Fprintln(e.stdout, d.String())
			}
		}
	}
	if o.lint && !failed {
		for _, f := range fs.Args() {
			if f == "-" {
				fmt.Fprintf(e.stderr, "vigil check: --lint needs rule files, not standard input\n")
				return exitUsage
			}
		}
		if _, err := lintReport(e.stdout, fs.Args(), o.json); err != nil {
			fmt.Fprintf(e.stderr, "vigil check: %v\n", err)
			return exitError
		}
	}
	if failed {
		return exitError
	}
	return exitOK
}

// checkFile compiles one file with its own compiler and returns all its
// diagnostics. The error is for failures that are not about the rules.
func (e *env) checkFile(file string, defs []define) ([]yara.Diagnostic, error) {
	c := e.eng.newCompiler()
	for _, d := range defs {
		if err := c.DefineVariable(d.name, d.value); err != nil {
			return nil, err
		}
	}
	var err error
	if file == "-" {
		src, rerr := io.ReadAll(e.stdin)
		if rerr != nil {
			return nil, fmt.Errorf("reading standard input: %w", rerr)
		}
		err = c.AddSource("-", src, "")
	} else {
		if _, serr := os.Stat(file); serr != nil {
			return nil, fmt.Errorf("could not open file: %s", file)
		}
		err = c.AddFile(file, "")
	}
	diags := c.Diagnostics()
	if err == nil {
		if _, rerr := c.Rules(); rerr != nil {
			diags = append(diags, diagnosticsOf(rerr, diags)...)
		}
	} else if len(diags) == 0 {
		return nil, err
	}
	return diags, nil
}

// diagnosticsOf returns the diagnostics carried by err that are not in
// seen, or err itself as a diagnostic when it carries none.
func diagnosticsOf(err error, seen []yara.Diagnostic) []yara.Diagnostic {
	if ce, ok := err.(*yara.CompileError); ok {
		return newDiagnostics(ce.Diagnostics, seen)
	}
	return []yara.Diagnostic{{Severity: yara.SeverityError, Message: err.Error()}}
}

// jsonDiagnostic is one line of `vigil check --json`.
type jsonDiagnostic struct {
	Severity string `json:"severity"`
	Code     string `json:"code"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	Rule     string `json:"rule,omitempty"`
	Message  string `json:"message"`
}

func toJSONDiagnostic(d yara.Diagnostic) jsonDiagnostic {
	return jsonDiagnostic{d.Severity.String(), d.Code, d.File, d.Line, d.Col, d.Rule, d.Message}
}
