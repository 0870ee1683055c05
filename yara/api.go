package yara

import (
	"context"
	"fmt"
	"strings"
	"time"

	"vigil/yara/module"
)

// Severity tells an error from a warning.
type Severity int

const (
	SeverityError Severity = iota
	SeverityWarning
)

func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// Diagnostic is one compile error or warning, with a stable code
// (for example "E012" or "W003"), the position and the rule it is in.
type Diagnostic struct {
	Severity Severity `json:"severity"`
	Code     string   `json:"code"`
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Col      int      `json:"col"`
	Rule     string   `json:"rule,omitempty"`
	Message  string   `json:"message"`
}

// String formats the diagnostic as "file:line:col: error: message [code]".
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s:%d:%d: %s: %s [%s]", d.File, d.Line, d.Col, d.Severity, d.Message, d.Code)
}

// CompileError is returned when rules fail to compile. It holds every
// error (and warning) found, not only the first.
type CompileError struct {
	Diagnostics []Diagnostic
}

func (e *CompileError) Error() string {
	var b strings.Builder
	n := 0
	for _, d := range e.Diagnostics {
		if d.Severity != SeverityError {
			continue
		}
		if n > 0 {
			b.WriteString("\n")
		}
		b.WriteString(d.String())
		n++
	}
	return b.String()
}

// Meta is one meta entry of a rule. Value is a string, an int64 or a bool.
type Meta struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// RuleInfo describes a compiled rule.
type RuleInfo struct {
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Tags      []string `json:"tags,omitempty"`
	Meta      []Meta   `json:"meta,omitempty"`
	Private   bool     `json:"private,omitempty"`
	Global    bool     `json:"global,omitempty"`
}

// Match is one occurrence of a string in the scanned data.
type Match struct {
	Offset int64  `json:"offset"`
	Length int    `json:"length"` // length of the match in the data
	Data   []byte `json:"data"`   // the matched bytes, at most MaxMatchData of them
	XorKey int    `json:"xor_key,omitempty"`
}

// MatchString is a string of a rule with its matches, in offset order.
type MatchString struct {
	ID string `json:"id"`
	// Hex is set for a hex string ({ 4D 5A }); yara -s prints its matches
	// as hex bytes rather than as text.
	Hex     bool    `json:"hex,omitempty"`
	Matches []Match `json:"matches"`
}

// MatchRule is a rule in a scan result. Strings holds every non-private
// string of the rule that matched, in definition order (for rules in
// Result.NotMatching too: a rule may fail although some strings matched).
type MatchRule struct {
	RuleInfo
	Strings []MatchString `json:"strings,omitempty"`
}

// Result is the outcome of scanning one input.
type Result struct {
	// Matching holds the public rules that matched, in declaration order.
	Matching []MatchRule `json:"matching"`
	// NotMatching holds the public rules that did not match (for -n), in
	// declaration order, when ScanOptions.CollectNotMatching is set.
	NotMatching []MatchRule `json:"not_matching,omitempty"`
	// Modules holds the data of every imported module, in import order,
	// when ScanOptions.CollectModuleData is set (yara -D). It is not part
	// of the JSON form.
	Modules []ModuleData `json:"-"`
	// Console holds console module messages in evaluation order.
	Console []string `json:"console,omitempty"`
	// Warnings are non-fatal conditions met during the scan, for example a
	// string that reached the per-string match limit.
	Warnings []string `json:"warnings,omitempty"`
}

// ScanOptions are per-scan limits and switches.
type ScanOptions struct {
	// Timeout aborts the scan after this long (0: no timeout). The scan
	// also stops when its context is cancelled.
	Timeout time.Duration
	// FastMode stops looking for a string after its first match when no
	// rule needs more (yara -f).
	FastMode bool
	// MaxMatchesPerString caps the matches recorded per string
	// (0: yara's default, 1,000,000).
	MaxMatchesPerString int
	// CollectNotMatching fills Result.NotMatching.
	CollectNotMatching bool
	// CollectModuleData loads every imported module, in import order, even
	// those no condition uses, and fills Result.Modules.
	CollectModuleData bool
	// Profile measures what each rule costs; Scanner.Profile returns the
	// sums. It slows the scan down (the clock is read around every check
	// of an atom hit).
	Profile bool
}

// ModuleData is the data an imported module computed for one scan.
// module.Dump(w, d.Name, d.Type, d.Value) prints it as yara -D does.
type ModuleData struct {
	Name  string
	Type  *module.Type   // the module's root struct type
	Value *module.Struct // nil when the module has no data for this input
}

// ErrTimeout is returned (wrapped) when a scan runs past its timeout.
var ErrTimeout = fmt.Errorf("scan timed out")

var _ = context.Background
