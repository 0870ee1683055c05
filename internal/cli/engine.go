package cli

import (
	"context"
	"io"

	"vigil/yara"
)

// The CLI reaches the engine only through these interfaces, so that the
// commands can be written and tested while the engine grows. engineAPI is
// the single place that binds them to package yara.

type compiler interface {
	DefineVariable(name string, value any) error
	AddFile(path, namespace string) error
	AddSource(name string, src []byte, namespace string) error
	Diagnostics() []yara.Diagnostic
	Rules() (ruleSet, error)
}

type ruleSet interface {
	Info() []yara.RuleInfo
	Save(w io.Writer) error
	NewScanner() scanner
}

type scanner interface {
	SetVariable(name string, value any) error
	SetOptions(opts yara.ScanOptions)
	ScanFile(ctx context.Context, path string) (*yara.Result, error)
	ScanReader(ctx context.Context, r io.Reader) (*yara.Result, error)
	Profile() []yara.RuleProfile
}

// engine creates compilers and loads saved rule sets.
type engine struct {
	newCompiler func() compiler
	// newScanCompiler makes a compiler for rules that are only scanned
	// with, never saved: it keeps no copy of the sources.
	newScanCompiler func() compiler
	load            func(r io.Reader) (ruleSet, error)
}

// yaraEngine is the engine of package yara.
func yaraEngine() engine {
	return engine{
		newCompiler: func() compiler { return yaraCompiler{yara.NewCompiler()} },
		newScanCompiler: func() compiler {
			c := yara.NewCompiler()
			c.DiscardSources()
			return yaraCompiler{c}
		},
		load: func(r io.Reader) (ruleSet, error) {
			rs, err := yara.LoadDiscard(r) // scan -C: never saved again
			if err != nil {
				return nil, err
			}
			return yaraRules{rs}, nil
		},
	}
}

type yaraCompiler struct{ *yara.Compiler }

func (c yaraCompiler) Rules() (ruleSet, error) {
	rs, err := c.Compiler.Rules()
	if err != nil {
		return nil, err
	}
	return yaraRules{rs}, nil
}

type yaraRules struct{ *yara.Rules }

func (r yaraRules) NewScanner() scanner { return r.Rules.NewScanner() }
