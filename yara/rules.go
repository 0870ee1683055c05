package yara

import (
	"vigil/yara/internal/ahocorasick"
	"vigil/yara/module"
)

// Rules is a compiled rule set. It is immutable and safe for concurrent use
// by several goroutines; each goroutine scans with its own Scanner.
type Rules struct {
	rules      []*rule
	strings    []*stringDef // every string of every rule, global index
	variants   []*variant   // every concrete pattern to look for
	atomIndex  [][]atomRef  // per automaton pattern: what to verify
	hitChecks  [][]hitCheck // quick checks, parallel to atomIndex
	hitWords   []hitWord    // the words of hitChecks
	hitSieves  []*hitSieve  // per automaton pattern, nil if none
	noAtom     []int        // variants without atoms: try every offset
	numRefs    int          // atomRefs with a window (maxOff > minOff)
	ac         *ahocorasick.Matcher
	externals  []external
	extIndex   map[string]int
	modules    []*module.Module // imported modules, by slot
	imports    []string         // module names in import order
	namespaces []string
	maxSlots   int // loop variable slots needed by the deepest condition

	// For Save: everything needed to compile the same rules again.
	sources  []savedSource
	included map[string][]byte
	unsaved  bool // compiled with DiscardSources: Save fails
}

// rule is one compiled rule.
type rule struct {
	info     RuleInfo
	ns       int // namespace index
	strings  []int
	cond     intFn // boolean condition
	global   bool
	private  bool
	maxSlots int
	// needsMatch: the condition is false unless one of the rule's strings
	// matched, so it need not be evaluated then.
	needsMatch bool
}

// stringDef is one string of a rule, with its matching variants.
type stringDef struct {
	id          string
	rule        int
	private     bool
	singleMatch bool // fast mode may stop after the first match
	literal     bool // yara treats it as a literal string
	hex         bool // a hex string
	hasFixed    bool // only a match at fixedOff counts (yara's fixed offset)
	fixedOff    int64
	variants    []int
}

// variant is one concrete form of a string: a literal (ASCII, wide, one xor
// key, one base64 alignment) or a compiled regular expression.
type variant struct {
	str      int
	idx      int // index in Rules.variants
	order    int // priority among the variants of the same string
	lit      []byte
	nocase   bool
	prog     matchProg // nil for literals
	wide     bool
	fullword bool
	xorKey   int
	// chain is set on the head piece of a hex string split at long jumps:
	// the following pieces are the variants at index head+rel, each
	// starting min..max bytes (max -1: any) after the previous one ends.
	chain []chainLink
	piece bool // a non-head piece of a chain: its matches are not results
}

type chainLink struct {
	rel      int
	min, max int
}

// atomRef says how to verify one occurrence of an atom: for a literal, the
// variant starts off bytes before the atom; for a regex, at any offset in
// [pos-maxOff, pos-minOff].
type atomRef struct {
	v              int
	minOff, maxOff int
	id             int // index of the per-scan watermark (regex windows)
}

// external is an external variable with its default value.
type external struct {
	name string
	val  value
}

type savedSource struct {
	Name      string
	Src       []byte
	Namespace string
	File      bool // added with AddFile (includes resolve from Name)
}

// Info returns every rule, public and private, in declaration order.
func (r *Rules) Info() []RuleInfo {
	out := make([]RuleInfo, len(r.rules))
	for i, ru := range r.rules {
		out[i] = ru.info
		out[i].Tags = append([]string(nil), ru.info.Tags...)
		out[i].Meta = append([]Meta(nil), ru.info.Meta...)
	}
	return out
}

// Imports returns the names of the modules the rules import.
func (r *Rules) Imports() []string {
	return append([]string(nil), r.imports...)
}
