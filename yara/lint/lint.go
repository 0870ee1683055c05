package lint

import (
	"fmt"
	"sort"
	"strings"

	"vigil/yara/syntax"
)

// Class is the kind of search a rule or rule set does: Code or Document.
type Class string

const (
	// Code is code or binary search: what malware hunting does.
	Code Class = "code"
	// Document is keyword or document search: plain words or phrases that
	// can match with no binary pattern and no executable structure, or
	// rules that target document files (PDF, Office, mail).
	Document Class = "document"
)

// DefaultNamespace is the namespace every rule is reported in: Classify
// treats all its files as one namespace, as `vigil check` and hunts
// compile them.
const DefaultNamespace = "default"

// RuleVerdict is the verdict on one rule and why.
type RuleVerdict struct {
	Rule      string   `json:"rule"`
	Namespace string   `json:"namespace"`
	File      string   `json:"file,omitempty"`
	Line      int      `json:"line"`
	Private   bool     `json:"private,omitempty"`
	Global    bool     `json:"global,omitempty"`
	Class     Class    `json:"class"`
	Reasons   []string `json:"reasons"`
}

// Report is the verdict on a whole rule set: Class is Document when any
// non-private rule is Document. Rules lists every rule in source order
// (private ones too, marked as such); Reasons explains the overall class.
type Report struct {
	Class   Class         `json:"class"`
	Rules   []RuleVerdict `json:"rules"`
	Reasons []string      `json:"reasons"`
}

// Documents returns the verdicts of the rules classified Document.
func (r Report) Documents() []RuleVerdict {
	var out []RuleVerdict
	for _, v := range r.Rules {
		if v.Class == Document {
			out = append(out, v)
		}
	}
	return out
}

// ClassifySource parses one rule file and classifies it. Parse errors are
// returned as they come from the parser (a syntax.ErrorList); the linter
// never classifies a file it could not fully parse. Included files are not
// read: use Classify with every file.
func ClassifySource(name string, src []byte) (Report, error) {
	f, err := syntax.Parse(name, src)
	if err != nil {
		return Report{}, err
	}
	return Classify(f), nil
}

// analyzer is the state of one Classify call.
type analyzer struct {
	imports map[string]bool
	done    map[string]*ruleResult // rules analysed so far, by name
	order   []string               // their names in source order
}

func (a *analyzer) imported(mod string) bool { return a.imports[mod] }

// ruleResult is the analysis of one rule.
type ruleResult struct {
	rule    *syntax.Rule
	file    string
	own     paths // paths of the rule's own condition
	ctx     *ruleCtx
	verdict RuleVerdict
}

// Classify classifies the rules of files, taken together as one rule set
// in one namespace (rule references and global rules work across them, in
// the order given). Nil files are skipped.
func Classify(files ...*syntax.File) Report {
	a := &analyzer{imports: map[string]bool{}, done: map[string]*ruleResult{}}
	for _, f := range files {
		if f == nil {
			continue
		}
		for _, d := range f.Decls {
			if imp, ok := d.(*syntax.Import); ok {
				a.imports[imp.Module] = true
			}
		}
	}
	var results []*ruleResult
	for _, f := range files {
		if f == nil {
			continue
		}
		for _, d := range f.Decls {
			r, ok := d.(*syntax.Rule)
			if !ok || r == nil {
				continue
			}
			res := a.analyse(r, f.Name)
			results = append(results, res)
			if _, dup := a.done[r.Name]; !dup {
				a.done[r.Name] = res
				a.order = append(a.order, r.Name)
			}
		}
	}
	// Global rules constrain every rule of the namespace.
	var globals []*ruleResult
	for _, r := range results {
		if r.rule.Global {
			globals = append(globals, r)
		}
	}
	rep := Report{Class: Code}
	var docs, public []string
	for _, r := range results {
		final := r.own
		for _, g := range globals {
			if g == r {
				continue
			}
			ev := r.ctx.evidence(fmt.Sprintf("global rule %s (classified %s)", g.rule.Name, g.verdict.Class))
			var gp paths
			for m := 0; m < numMasks; m++ {
				if g.own.has[m] {
					gp.has[m] = true
					gp.w[m] = []int{ev}
				}
			}
			final = and(final, gp)
		}
		v := r.ctx.verdict(final)
		rep.Rules = append(rep.Rules, v)
		if r.rule.Private {
			continue
		}
		public = append(public, r.rule.Name)
		if v.Class == Document {
			docs = append(docs, r.rule.Name)
		}
	}
	switch {
	case len(docs) > 0:
		rep.Class = Document
		sort.Strings(docs)
		rep.Reasons = append(rep.Reasons, fmt.Sprintf("%d of %d public rules search for words or documents: %s.", len(docs), len(public), listNames(docs)))
		rep.Reasons = append(rep.Reasons, "One document-search rule is enough to make the rule set a document search.")
	case len(public) == 0:
		rep.Reasons = append(rep.Reasons, "The rule set has no public rule, so it cannot report a match.")
	default:
		rep.Reasons = append(rep.Reasons, fmt.Sprintf("None of the %d public rules can match on plain words or a document type alone.", len(public)))
	}
	return rep
}

// listNames lists up to 10 names.
func listNames(names []string) string {
	if len(names) > 10 {
		return strings.Join(names[:10], ", ") + fmt.Sprintf(" and %d more", len(names)-10)
	}
	return strings.Join(names, ", ")
}

// analyse computes the rule's own paths and its verdict without global
// rules (used when other rules reference it).
func (a *analyzer) analyse(r *syntax.Rule, file string) *ruleResult {
	c := &ruleCtx{a: a, rule: r, strIdx: map[string]int{}, evIdx: map[string]int{}}
	c.strPath = make([]paths, len(r.Strings))
	for i, s := range r.Strings {
		if s == nil {
			c.strPath[i] = always()
			continue
		}
		if _, dup := c.strIdx[s.ID]; !dup {
			c.strIdx[s.ID] = i
		}
		info := classifyString(s)
		c.strPath[i] = single(info.mask, c.evidence(s.ID+": "+info.desc))
	}
	res := &ruleResult{rule: r, file: file, ctx: c}
	res.own = c.cond(r.Condition, false)
	res.verdict = c.verdict(res.own)
	return res
}

// verdict turns the final paths of the rule into a verdict with reasons.
func (c *ruleCtx) verdict(p paths) RuleVerdict {
	r := c.rule
	v := RuleVerdict{Rule: r.Name, Namespace: DefaultNamespace, Line: r.Pos.Line, Private: r.Private, Global: r.Global, Class: Code}
	if res, ok := c.a.done[r.Name]; ok && res.rule == r {
		v.File = res.file
	}
	names := func(w []int) []string {
		var out []string
		for _, i := range w {
			out = append(out, c.ev[i])
		}
		return out
	}
	// A document path needs words or a document type and no code evidence.
	for _, m := range []uint8{needWord, needDoc, needWord | needDoc} {
		if !p.has[m] {
			continue
		}
		v.Class = Document
		w := names(p.w[m])
		switch m {
		case needWord:
			v.Reasons = append(v.Reasons, "It can match on plain words alone, with no binary pattern and no executable-structure check.")
		case needDoc:
			v.Reasons = append(v.Reasons, "It targets document files (PDF, Office, mail) and can match with no binary pattern or executable structure.")
		default:
			v.Reasons = append(v.Reasons, "It looks for plain words in document files (PDF, Office, mail), with no binary pattern or executable structure.")
		}
		for _, s := range w {
			v.Reasons = append(v.Reasons, "Matches with: "+s+".")
		}
		if p.has[needCode] || p.has[needCode|needWord] || p.has[needCode|needDoc] || p.has[needCode|needWord|needDoc] {
			v.Reasons = append(v.Reasons, "Its binary or structure evidence is optional: the condition can be true without it.")
		}
		if c.usesFS {
			v.Reasons = append(v.Reasons, "A filesize limit does not restrict the file type, so it does not count as structure.")
		}
		return v
	}
	if p.empty() {
		v.Reasons = append(v.Reasons, "Its condition can never be true.")
		return v
	}
	for _, m := range []uint8{needCode | needWord, needCode | needWord | needDoc, needCode | needDoc} {
		if p.has[m] {
			v.Reasons = append(v.Reasons, "Its words or document markers only count together with binary or executable evidence:")
			for _, s := range names(p.w[m]) {
				v.Reasons = append(v.Reasons, "Needs: "+s+".")
			}
			return v
		}
	}
	if p.has[needCode] {
		v.Reasons = append(v.Reasons, "It has no path to a match through plain words or a document type; it matches on binary or code evidence:")
		for _, s := range names(p.w[needCode]) {
			v.Reasons = append(v.Reasons, "Needs: "+s+".")
		}
		return v
	}
	v.Reasons = append(v.Reasons, "It needs no words and no document type (its strings, if any, are too short or generic to count, or the condition does not need them), so it is not a keyword search.")
	return v
}
