package difftest

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Features switches parts of the generated language on and off. The
// default (AllFeatures) is everything yara 4.2.3 supports; a switch is
// turned off only while the engine lacks the feature, and every switch
// that is off must be listed in the report of the run.
type Features struct {
	TextModifiers    bool // nocase ascii wide fullword private on text strings
	Xor              bool // xor, xor(n), xor(a-b)
	Base64           bool // base64, base64wide, custom alphabets
	Hex              bool // hex strings
	HexJumps         bool // [n] [n-m] [n-] [-] in hex strings
	HexAlternatives  bool // ( a | b ) in hex strings, nested
	Regex            bool // regular expression strings
	RegexLazy        bool // lazy quantifiers *? +? ?? {n,m}?
	RegexAnchors     bool // ^ $ \b \B
	AnonymousStrings bool // $ = "..."
	ForLoops         bool // for..of and for..in
	Of               bool // N of (...), them, wildcards, percent
	RuleSets         bool // any of (rule, rule*)
	StringOps        bool // contains, iequals, matches, ... on string expressions
	Externals        bool // external variables ei, es, eb
	Floats           bool // float literals and arithmetic
	IntReads         bool // int8 .. uint32be
	Arithmetic       bool // + - * \ % & | ^ << >> ~ and unary minus
	GlobalPrivate    bool // global and private rules
	Meta             bool // meta sections and tags
	Invalid          bool // a fraction of rule sets is deliberately invalid
	ReversedRanges   bool // constant ranges (lo..hi) with lo > hi
	ZeroOf           bool // the quantifier 0 in "0 of ..." and "for 0 ..."
	// DuplicateSetItems allows a string or rule twice in a set, for
	// example ($a, $a*) or (r0, r*): yara 4.2.3 counts it twice.
	DuplicateSetItems bool
	// ForNone generates "for none i in ..." and "for none of ...", which
	// yara 4.2.3 evaluates to true whatever the body.
	ForNone bool
}

// AllFeatures returns Features with every switch on.
func AllFeatures() Features {
	return Features{true, true, true, true, true, true, true, true, true, true,
		true, true, true, true, true, true, true, true, true, true, true, true, true, true, true}
}

// Externals are the external variables every case defines, in both
// engines, with these values.
var Externals = []struct {
	Name  string
	Value any
	Flag  string // the -d argument for yara
}{
	{"ei", int64(7), "ei=7"},
	{"es", "abcAB", "es=abcAB"},
	{"eb", true, "eb=true"},
}

// Limits of the generator, chosen so that yara's own limits (loop
// nesting, string length, regex size) are never reached.
const (
	maxRulesPerCase   = 4
	maxStringsPerRule = 5
	maxTextLen        = 8
	maxCondDepth      = 4
	maxLoopNesting    = 2
	maxInputLen       = 300
	inputsPerCase     = 6
)

// Case is one generated test case: a rule set and the inputs to scan.
type Case struct {
	Seed   uint64
	ID     int
	Source string
	// Invalid names the deliberate defect when the generator meant the
	// rule set to be rejected ("" for a rule set meant to compile).
	Invalid string
	Inputs  [][]byte

	strs []*genString // every string of every rule, for planting
}

// GenerateCase builds case id of the run with the given seed. It depends
// only on (seed, id, f), so a single case can be regenerated.
func GenerateCase(seed uint64, id int, f Features) *Case {
	r := rand.New(rand.NewPCG(seed, uint64(id)*0x9E3779B97F4A7C15+1))
	g := &ruleGen{r: r, f: f, tag: fmt.Sprintf("c%d_", id)}
	c := &Case{Seed: seed, ID: id}
	invalid := f.Invalid && r.IntN(10) == 0
	n := 1 + r.IntN(maxRulesPerCase)
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(g.rule(i))
		b.WriteString("\n")
	}
	c.Source = b.String()
	c.strs = g.allStrs
	if invalid {
		c.Source, c.Invalid = g.invalidate(c.Source)
	}
	c.Inputs = makeInputs(r, c.strs)
	return c
}

// ruleGen holds the state of the generation of one rule set.
type ruleGen struct {
	r       *rand.Rand
	f       Features
	rules   []string // names of the rules generated so far
	allStrs []*genString

	// per rule
	strs       []*genString
	referenced map[string]bool
	anyAnon    bool
	loopVars   []string
	loopDepth  int
	inForOf    bool

	// tag makes rule names unique across the cases of a batch: yara
	// 4.2.3's rule wildcards (r*) also match rules of other namespaces.
	tag          string
	allowPercent bool            // the quantifier being generated may be N%
	wildcards    map[string]bool // rule name prefixes used in rule wildcards
}

func (g *ruleGen) chance(n int) bool { return g.r.IntN(n) == 0 }

func (g *ruleGen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g *ruleGen) rule(i int) string {
	name := g.ruleName(i)
	g.strs = nil
	g.referenced = map[string]bool{}
	g.anyAnon = false
	g.loopVars = nil
	g.loopDepth = 0
	g.inForOf = false

	var b strings.Builder
	if g.f.GlobalPrivate {
		if g.chance(12) {
			b.WriteString("global ")
		}
		if g.chance(6) {
			b.WriteString("private ")
		}
	}
	b.WriteString("rule " + name)
	if g.f.Meta && g.chance(3) {
		b.WriteString(" :")
		used := map[string]bool{}
		for k := 1 + g.r.IntN(3); k > 0; k-- {
			t := g.pick("t1", "t2", "tag_x", "Foo")
			if !used[t] {
				used[t] = true
				b.WriteString(" " + t)
			}
		}
	}
	b.WriteString("\n{\n")
	if g.f.Meta && g.chance(3) {
		b.WriteString("  meta:\n")
		for k := 1 + g.r.IntN(3); k > 0; k-- {
			key := g.pick("author", "n", "flag", "desc")
			var v string
			switch g.r.IntN(4) {
			case 0:
				v = fmt.Sprint(g.r.IntN(1000))
			case 1:
				v = fmt.Sprint(-g.r.IntN(50))
			case 2:
				v = g.pick("true", "false")
			default:
				v = quoteText(g.textBytes(6))
			}
			fmt.Fprintf(&b, "    %s = %s\n", key, v)
		}
	}
	ns := g.r.IntN(maxStringsPerRule + 1)
	if g.r.IntN(4) == 0 {
		ns = 0
	}
	if ns > 0 {
		b.WriteString("  strings:\n")
		ids := map[string]bool{}
		for k := 0; k < ns; k++ {
			s := g.genString()
			if s.id != "$" {
				for ids[s.id] {
					s.id += "x"
				}
				ids[s.id] = true
			} else {
				g.anyAnon = true
			}
			g.strs = append(g.strs, s)
			g.allStrs = append(g.allStrs, s)
			fmt.Fprintf(&b, "    %s = %s\n", s.id, s.src)
		}
	}
	cond := g.boolExpr(0)
	cond = g.referenceAll(cond)
	b.WriteString("  condition:\n    " + cond + "\n}\n")
	g.rules = append(g.rules, name)
	return b.String()
}

// ruleName names rule i with a prefix that no earlier rule wildcard
// matches.
func (g *ruleGen) ruleName(i int) string {
	if g.wildcards == nil {
		g.wildcards = map[string]bool{}
	}
	for _, p := range []string{"r", "q", "w", "z", "y"} {
		if !g.wildcards[p] {
			return fmt.Sprintf("%s%s%d", p, g.tag, i)
		}
	}
	return fmt.Sprintf("v%d", i)
}

// referenceAll extends cond so that every string of the rule is used:
// yara rejects rules with unreferenced strings.
func (g *ruleGen) referenceAll(cond string) string {
	if g.anyAnon && !g.referenced["them"] {
		cond = fmt.Sprintf("(%s) %s %s of them", cond, g.pick("and", "or"), g.pick("any", "all", "1", "none"))
		g.referenced["them"] = true
		return cond
	}
	if g.referenced["them"] {
		return cond
	}
	for _, s := range g.strs {
		if g.isReferenced(s.id) {
			continue
		}
		id := s.id[1:]
		switch g.r.IntN(5) {
		case 0:
			cond = fmt.Sprintf("(%s) or $%s", cond, id)
		case 1:
			cond = fmt.Sprintf("$%s and (%s)", id, cond)
		case 2:
			cond = fmt.Sprintf("(%s) and #%s >= 0", cond, id)
		case 3:
			cond = fmt.Sprintf("(%s) and not $%s", cond, id)
		default:
			cond = fmt.Sprintf("%s or %s", cond, "$"+id)
		}
		g.referenced[s.id] = true
	}
	return cond
}

func (g *ruleGen) isReferenced(id string) bool {
	if g.referenced[id] || g.referenced["them"] {
		return true
	}
	for k := range g.referenced {
		if strings.HasSuffix(k, "*") && strings.HasPrefix(id, strings.TrimSuffix(k, "*")) {
			return true
		}
	}
	return false
}
