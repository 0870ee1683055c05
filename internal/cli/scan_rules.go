package cli

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"vigil/yara"
)

// builtinRules is the example rule set of `vigil scan --builtin-rules`.
//
//go:embed rules/examples.yar
var builtinRules []byte

// builtinRulesName names the built-in rule set in diagnostics.
const builtinRulesName = "builtin:examples.yar"

// compiledRules loads the rules of `vigil scan -C` and checks the -d
// definitions against them (they are set on every scanner).
func (e *env) compiledRules(o *scanOptions, files []string, defs []define) (ruleSet, bool) {
	if len(files) != 1 || o.builtin {
		fmt.Fprintf(e.stderr, "error: can't accept multiple rules files if one of them is in compiled form.\n")
		return nil, false
	}
	f, err := os.Open(files[0])
	if err != nil {
		fmt.Fprintf(e.stderr, "could not open file\n")
		return nil, false
	}
	defer f.Close()
	rs, err := e.eng.load(f)
	if err != nil {
		fmt.Fprintf(e.stderr, "error: %s: %v\n", files[0], err)
		return nil, false
	}
	s := rs.NewScanner()
	for _, d := range defs {
		if err := s.SetVariable(d.name, d.value); err != nil {
			fmt.Fprintf(e.stderr, "error: %v\n", err)
			return nil, false
		}
	}
	return rs, true
}

// scanRules compiles (or, with -C, loads) the rules of a scan. On failure
// it has printed the reason and returns ok=false.
func (e *env) scanRules(o *scanOptions, files []string, defs []define) (ruleSet, bool) {
	if o.compiled {
		return e.compiledRules(o, files, defs)
	}
	c := e.eng.newScanCompiler()
	for _, d := range defs {
		if err := c.DefineVariable(d.name, d.value); err != nil {
			fmt.Fprintf(e.stderr, "error: %v\n", err)
			return nil, false
		}
	}
	var addErr error
	if o.builtin {
		addErr = c.AddSource(builtinRulesName, builtinRules, "")
	}
	if addErr == nil {
		var ok bool
		if addErr, ok = e.addRuleFiles(c, files); !ok {
			return nil, false
		}
	}
	diags := c.Diagnostics()
	errs, warns := printCompileDiagnostics(e.stderr, diags, o.noWarnings)
	if addErr != nil && errs == 0 {
		var ce *yara.CompileError
		if !errors.As(addErr, &ce) {
			fmt.Fprintf(e.stderr, "error: %v\n", addErr)
		}
		return nil, false
	}
	if errs > 0 || (o.failOnWarnings && warns > 0) {
		return nil, false
	}
	rs, err := c.Rules()
	if err != nil {
		var ce *yara.CompileError
		if errors.As(err, &ce) {
			// Errors found only when linking the whole set.
			_, _ = printCompileDiagnostics(e.stderr, newDiagnostics(ce.Diagnostics, diags), true)
		} else {
			fmt.Fprintf(e.stderr, "error: %v\n", err)
		}
		return nil, false
	}
	return rs, true
}

// addRuleFiles adds rule-file arguments to c: "NS:FILE" puts a file in a
// namespace, "-" reads standard input. Like yara it stops after the first
// file with errors and returns the compiler's error for it. ok is false
// when a file could not be read (the message is printed).
func (e *env) addRuleFiles(c compiler, files []string) (addErr error, ok bool) {
	for _, arg := range files {
		ns, name := splitNamespace(arg, fileExists)
		if name == "-" {
			src, err := io.ReadAll(e.stdin)
			if err != nil {
				fmt.Fprintf(e.stderr, "error: could not read rules from standard input: %v\n", err)
				return nil, false
			}
			addErr = c.AddSource("-", src, ns)
		} else {
			f, err := os.Open(name)
			if err != nil {
				fmt.Fprintf(e.stderr, "error: could not open file: %s\n", name)
				return nil, false
			}
			f.Close()
			addErr = c.AddFile(name, ns)
		}
		if addErr != nil {
			return addErr, true
		}
	}
	return nil, true
}

// newDiagnostics returns the diagnostics of all that are not in seen.
func newDiagnostics(all, seen []yara.Diagnostic) []yara.Diagnostic {
	known := map[yara.Diagnostic]bool{}
	for _, d := range seen {
		known[d] = true
	}
	var out []yara.Diagnostic
	for _, d := range all {
		if !known[d] {
			out = append(out, d)
		}
	}
	return out
}

// printCompileDiagnostics prints diagnostics the way yara's command line
// does and counts the errors and the warnings that were not suppressed.
func printCompileDiagnostics(w io.Writer, diags []yara.Diagnostic, noWarnings bool) (errs, warns int) {
	for _, d := range diags {
		if d.Severity == yara.SeverityError {
			errs++
		} else if noWarnings {
			continue
		} else {
			warns++
		}
		if d.Rule != "" {
			fmt.Fprintf(w, "%s: rule \"%s\" in %s(%d): %s\n", d.Severity, d.Rule, d.File, d.Line, d.Message)
		} else {
			fmt.Fprintf(w, "%s(%d): %s: %s\n", d.File, d.Line, d.Severity, d.Message)
		}
	}
	return errs, warns
}

// define is one parsed -d VAR=VALUE.
type define struct {
	name  string
	value any // bool, int64, float64 or string
}

// parseDefines parses -d arguments. Like yara, an argument without '='
// prints an error and ends the processing of -d arguments without failing
// the command.
func parseDefines(args []string, stderr io.Writer) []define {
	var out []define
	for _, a := range args {
		name, value, ok := cutDefine(a)
		if !ok {
			fmt.Fprintf(stderr, "error: wrong syntax for `-d` option.\n")
			break
		}
		out = append(out, define{name, inferValue(value)})
	}
	return out
}

func cutDefine(s string) (name, value string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '=' {
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}

// inferValue gives a -d value the type yara's command line gives it
// (cli/common.c): a float when it is digits with one dot (optionally after
// a minus sign, not starting with the dot), else an integer when it is
// digits (read with C's atoi, so it wraps to 32 bits), else a boolean for
// exactly "true" or "false", else a string.
func inferValue(s string) any {
	switch {
	case isFloatText(s):
		f, _ := strconv.ParseFloat(s, 64) // ±Inf on overflow, as atof
		return f
	case isIntegerText(s):
		return atoi(s)
	case s == "true":
		return true
	case s == "false":
		return false
	}
	return s
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIntegerText(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func isFloatText(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if len(s) > 0 && s[0] == '.' {
		return false
	}
	dot := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '.' && dot:
			return false
		case s[i] == '.':
			dot = true
		case !isDigit(s[i]):
			return false
		}
	}
	return dot
}

// atoi is glibc's atoi on a string of digits with an optional minus sign:
// strtol, which saturates at the int64 range, truncated to a C int.
func atoi(s string) int64 {
	neg := false
	if s != "" && s[0] == '-' {
		neg, s = true, s[1:]
	}
	var v uint64
	const limit = 1 << 63
	for i := 0; i < len(s); i++ {
		d := uint64(s[i] - '0')
		if v > (limit-d)/10 {
			v = limit
			break
		}
		v = v*10 + d
	}
	var n int64
	switch {
	case neg && v >= limit:
		n = -1 << 63
	case neg:
		n = -int64(v)
	case v >= limit:
		n = 1<<63 - 1
	default:
		n = int64(v)
	}
	return int64(int32(n))
}
