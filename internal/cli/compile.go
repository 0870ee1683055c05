package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"vigil/yara"
)

const compileUsage = "Usage: vigil compile [-d VAR=VALUE]... [-w] [--fail-on-warnings] [NAMESPACE:]RULES_FILE... -o OUTPUT"

type compileOptions struct {
	out            string
	defines        []string
	noWarnings     bool
	failOnWarnings bool
	help           bool
}

// compile is `vigil compile`: compile rule files together and save the
// rule set for `vigil scan -C`.
func (e *env) compile(args []string) int {
	o := &compileOptions{}
	fs := pflag.NewFlagSet("vigil compile", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	fs.StringVarP(&o.out, "output", "o", "", "write the compiled rules to `FILE`")
	fs.StringArrayVarP(&o.defines, "define", "d", nil, "define an external variable `VAR=VALUE` (typed as in vigil scan)")
	fs.BoolVarP(&o.noWarnings, "no-warnings", "w", false, "do not print warnings")
	fs.BoolVar(&o.failOnWarnings, "fail-on-warnings", false, "fail when there are warnings")
	fs.BoolVarP(&o.help, "help", "h", false, "show this help and exit")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(e.stderr, "vigil compile: %v\n%s\n", err, compileUsage)
		return exitUsage
	}
	if o.help {
		fmt.Fprintf(e.stdout, "vigil compile: compile rule files for `vigil scan -C`.\n%s\n\n%s", compileUsage, fs.FlagUsages())
		fmt.Fprintf(e.stdout, "\nExit status: 0 when the rules compiled and were saved, 1 otherwise, 2 on usage errors.\n")
		return exitOK
	}
	if fs.NArg() == 0 || o.out == "" {
		fmt.Fprintf(e.stderr, "vigil compile: need rule files and -o OUTPUT\n%s\n", compileUsage)
		return exitUsage
	}
	c := e.eng.newCompiler()
	for _, d := range parseDefines(o.defines, e.stderr) {
		if err := c.DefineVariable(d.name, d.value); err != nil {
			fmt.Fprintf(e.stderr, "error: %v\n", err)
			return exitError
		}
	}
	addErr, ok := e.addRuleFiles(c, fs.Args())
	if !ok {
		return exitError
	}
	diags := c.Diagnostics()
	var rs ruleSet
	if addErr == nil {
		var err error
		if rs, err = c.Rules(); err != nil {
			diags = append(diags, diagnosticsOf(err, diags)...)
		}
	} else if len(diags) == 0 {
		diags = diagnosticsOf(addErr, nil)
	}
	errs, warns := 0, 0
	for _, d := range diags {
		if d.Severity == yara.SeverityWarning {
			if o.noWarnings {
				continue
			}
			warns++
		} else {
			errs++
		}
		fmt.Fprintln(e.stderr, d.String())
	}
	if rs == nil || errs > 0 || (o.failOnWarnings && warns > 0) {
		return exitError
	}
	if err := saveRules(rs, o.out); err != nil {
		fmt.Fprintf(e.stderr, "error: %v\n", err)
		return exitError
	}
	return exitOK
}

// saveRules writes the rule set to path through a temporary file in the
// same directory, so that a failed write leaves no partial file.
func saveRules(rs ruleSet, path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".vigil-compile-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := rs.Save(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("saving rules: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
