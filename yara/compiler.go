package yara

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"vigil/yara/internal/ahocorasick"
	"vigil/yara/module"
	"vigil/yara/modules"
	"vigil/yara/syntax"
)

// Limits of the compiler.
const (
	// maxIncludeDepth is how deeply includes may nest (yara: 16).
	maxIncludeDepth = 16
	// maxIncludeSize bounds the size of one included file.
	maxIncludeSize = 64 << 20
	// maxExprDepth bounds the nesting of condition expressions.
	maxExprDepth = 1000
	// maxLoopDepth bounds nested for loops (yara: 4).
	maxLoopDepth = 4
	// maxVariants bounds the concrete patterns one string may expand to.
	maxVariants = 1 << 12
)

// Compiler turns YARA sources into Rules. Add sources with AddSource or
// AddFile, then call Rules. A Compiler is not safe for concurrent use.
type Compiler struct {
	diags  []Diagnostic
	errors int

	mods      map[string]*module.Module // available modules
	modSlot   map[string]int            // imported module name → slot
	modList   []*module.Module
	imports   []string
	nsImports []map[string]bool // per namespace: imported module names

	externals []external
	extIndex  map[string]int

	rules      []*rule
	strings    []*stringDef
	variants   []*variant
	namespaces []string
	nsIndex    map[string]int
	ruleNames  []map[string]int // per namespace: rule name → index
	wildcards  [][]string       // per namespace: prefixes used in rule sets
	maxSlots   int

	sources      []savedSource
	included     map[string][]byte
	includeStack []string
	// readInclude reads an included file; Load replaces it so that a
	// loaded rule set never touches the file system.
	readInclude func(path string) ([]byte, error)
	// recording is false while Load replays saved sources.
	recording bool
	// discard: the sources are not kept (DiscardSources).
	discard bool
}

// NewCompiler returns a compiler with the built-in modules available.
func NewCompiler() *Compiler {
	return newCompiler(modules.Builtin())
}

func newCompiler(mods map[string]*module.Module) *Compiler {
	c := &Compiler{
		mods:      mods,
		modSlot:   map[string]int{},
		extIndex:  map[string]int{},
		nsIndex:   map[string]int{},
		included:  map[string][]byte{},
		recording: true,
	}
	c.readInclude = c.readIncludeFile
	return c
}

// DiscardSources makes the compiler keep no copy of the sources it
// compiles, for a program that scans with the rules and never saves them:
// Save fails on the rules it returns. Call it before adding sources.
func (c *Compiler) DiscardSources() {
	c.discard = true
}

// Compile compiles rules from a single source in the default namespace.
func Compile(src string) (*Rules, error) {
	c := NewCompiler()
	if err := c.AddSource("<source>", []byte(src), ""); err != nil {
		return nil, err
	}
	return c.Rules()
}

// DefineVariable declares an external variable with its default value:
// an int, int64, float64, bool or string. Define variables before adding
// the sources that use them.
func (c *Compiler) DefineVariable(name string, value any) error {
	v, err := externalValue(value)
	if err != nil {
		return fmt.Errorf("external variable %q: %w", name, err)
	}
	if !isIdentifier(name) {
		return fmt.Errorf("external variable %q: invalid identifier", name)
	}
	if i, ok := c.extIndex[name]; ok {
		c.externals[i].val = v
		return nil
	}
	c.extIndex[name] = len(c.externals)
	c.externals = append(c.externals, external{name: name, val: v})
	return nil
}

func externalValue(x any) (value, error) {
	switch v := x.(type) {
	case int:
		return value{k: kInt, i: int64(v)}, nil
	case int64:
		return value{k: kInt, i: v}, nil
	case int32:
		return value{k: kInt, i: int64(v)}, nil
	case uint32:
		return value{k: kInt, i: int64(v)}, nil
	case float64:
		return value{k: kFloat, f: v}, nil
	case float32:
		return value{k: kFloat, f: float64(v)}, nil
	case bool:
		return value{k: kBool, i: b2i(v)}, nil
	case string:
		return value{k: kString, s: v}, nil
	}
	return value{}, fmt.Errorf("unsupported type %T (want int, float64, bool or string)", x)
}

func isIdentifier(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '_', ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z':
		case ch >= '0' && ch <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Diagnostics returns every error and warning reported so far.
func (c *Compiler) Diagnostics() []Diagnostic {
	return append([]Diagnostic(nil), c.diags...)
}

// AddFile compiles the file at path into namespace ("" means "default").
// Includes are resolved relative to the including file.
func (c *Compiler) AddFile(path, namespace string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		c.diag(SeverityError, CodeInclude, path, syntax.Pos{}, "", fmt.Sprintf("cannot read %s: %v", path, err))
		return err
	}
	return c.add(path, src, namespace, true)
}

// AddSource compiles src, named name in messages, into namespace ("" means
// "default"). Relative includes are resolved from the directory of name
// (the current directory when name has none).
func (c *Compiler) AddSource(name string, src []byte, namespace string) error {
	return c.add(name, src, namespace, false)
}

// add compiles src. A file's src (isFile) was read by AddFile and is
// saved as it is; any other is copied.
func (c *Compiler) add(name string, src []byte, namespace string, isFile bool) error {
	if namespace == "" {
		namespace = "default"
	}
	if c.recording && !c.discard {
		saved := src
		if !isFile || len(src) == 0 {
			saved = append([]byte(nil), src...) // an empty one is saved as null
		}
		c.sources = append(c.sources, savedSource{Name: name, Src: saved, Namespace: namespace, File: isFile})
	}
	before := c.errors
	abs := name
	if a, err := filepath.Abs(name); err == nil {
		abs = a
	}
	c.includeStack = append(c.includeStack[:0], abs)
	c.compileSource(name, src, c.namespace(namespace))
	c.includeStack = c.includeStack[:0]
	if c.errors > before {
		return &CompileError{Diagnostics: c.Diagnostics()}
	}
	return nil
}

func (c *Compiler) namespace(name string) int {
	if i, ok := c.nsIndex[name]; ok {
		return i
	}
	i := len(c.namespaces)
	c.nsIndex[name] = i
	c.namespaces = append(c.namespaces, name)
	c.ruleNames = append(c.ruleNames, map[string]int{})
	c.wildcards = append(c.wildcards, nil)
	c.nsImports = append(c.nsImports, map[string]bool{})
	return i
}

func (c *Compiler) diag(sev Severity, code, file string, pos syntax.Pos, ruleName, msg string) {
	if sev == SeverityError {
		c.errors++
	}
	c.diags = append(c.diags, Diagnostic{Severity: sev, Code: code, File: file, Line: pos.Line, Col: pos.Col, Rule: ruleName, Message: msg})
}

// compileSource parses and compiles one file, expanding includes in place.
func (c *Compiler) compileSource(name string, src []byte, ns int) {
	f, err := syntax.Parse(name, src)
	if err != nil {
		var list syntax.ErrorList
		if errors.As(err, &list) {
			for _, e := range list {
				file := e.File
				if file == "" {
					file = name
				}
				c.diag(SeverityError, e.Code, file, e.Pos, "", e.Msg)
			}
		} else {
			c.diag(SeverityError, "E101", name, syntax.Pos{}, "", err.Error())
		}
		return
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *syntax.Import:
			c.compileImport(name, d, ns)
		case *syntax.Include:
			c.compileInclude(name, d, ns)
		case *syntax.Rule:
			c.compileRule(name, d, ns)
		}
	}
	// The compiled rules keep nothing of the hex strings' tokens.
	f.Release()
}

func (c *Compiler) compileImport(file string, d *syntax.Import, ns int) {
	m, ok := c.mods[d.Module]
	if !ok {
		c.diag(SeverityError, CodeUnknownModule, file, d.Pos, "", fmt.Sprintf("unknown module %q", d.Module))
		return
	}
	c.nsImports[ns][d.Module] = true
	if _, ok := c.modSlot[d.Module]; !ok {
		c.modSlot[d.Module] = len(c.modList)
		c.modList = append(c.modList, m)
		c.imports = append(c.imports, d.Module)
	}
}

func (c *Compiler) compileInclude(file string, d *syntax.Include, ns int) {
	path := d.Path
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(file), path)
	}
	abs := path
	if a, err := filepath.Abs(path); err == nil {
		abs = a
	}
	for _, p := range c.includeStack {
		if p == abs {
			c.diag(SeverityError, CodeIncludeCycle, file, d.Pos, "", fmt.Sprintf("include cycle: %q includes itself", d.Path))
			return
		}
	}
	if len(c.includeStack) > maxIncludeDepth {
		c.diag(SeverityError, CodeIncludeDepth, file, d.Pos, "", fmt.Sprintf("includes nested deeper than %d", maxIncludeDepth))
		return
	}
	src, err := c.readInclude(abs)
	if err != nil {
		c.diag(SeverityError, CodeInclude, file, d.Pos, "", fmt.Sprintf("can't open include file: %s", d.Path))
		return
	}
	if c.recording && !c.discard {
		c.included[abs] = src
	}
	c.includeStack = append(c.includeStack, abs)
	c.compileSource(path, src, ns)
	c.includeStack = c.includeStack[:len(c.includeStack)-1]
}

func (c *Compiler) readIncludeFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxIncludeSize {
		return nil, fmt.Errorf("%s: not a regular file or too large", path)
	}
	return os.ReadFile(path)
}

// Rules returns the compiled rules, or a *CompileError if any source had an
// error. The compiler can keep being used afterwards.
func (c *Compiler) Rules() (*Rules, error) {
	if c.errors > 0 {
		return nil, &CompileError{Diagnostics: c.Diagnostics()}
	}
	r := &Rules{
		rules:      append([]*rule(nil), c.rules...),
		strings:    c.strings,
		variants:   c.variants,
		externals:  append([]external(nil), c.externals...),
		extIndex:   map[string]int{},
		modules:    append([]*module.Module(nil), c.modList...),
		imports:    append([]string(nil), c.imports...),
		namespaces: append([]string(nil), c.namespaces...),
		maxSlots:   c.maxSlots,
		sources:    append([]savedSource(nil), c.sources...),
		included:   map[string][]byte{},
		unsaved:    c.discard,
	}
	for k, v := range c.extIndex {
		r.extIndex[k] = v
	}
	for k, v := range c.included {
		r.included[k] = v
	}
	if _, ok := c.modSlot["console"]; ok {
		// Skipping a condition would also skip console output that yara
		// prints before the condition turns out false.
		for i, ru := range r.rules {
			if ru.needsMatch {
				cp := *ru
				cp.needsMatch = false
				r.rules[i] = &cp
			}
		}
	}
	if err := r.buildMatcher(); err != nil {
		return nil, err
	}
	// Later additions must not change this Rules: copy the slices.
	c.rules = append([]*rule(nil), c.rules...)
	c.strings = append([]*stringDef(nil), c.strings...)
	c.variants = append([]*variant(nil), c.variants...)
	return r, nil
}

// buildMatcher collects the atoms of every variant into one automaton.
func (r *Rules) buildMatcher() error {
	index := map[string]int{}
	var pats [][]byte
	add := func(atom []byte, ref atomRef) {
		k := string(atom)
		i, ok := index[k]
		if !ok {
			i = len(pats)
			index[k] = i
			pats = append(pats, []byte(k))
			r.atomIndex = append(r.atomIndex, nil)
		}
		r.atomIndex[i] = append(r.atomIndex[i], ref)
	}
	for vi, v := range r.variants {
		atoms := v.atoms()
		if atoms == nil {
			r.noAtom = append(r.noAtom, vi)
			continue
		}
		for _, a := range atoms {
			ref := atomRef{v: vi, minOff: a.minOff, maxOff: a.maxOff, id: -1}
			if a.maxOff > a.minOff {
				ref.id = r.numRefs
				r.numRefs++
			}
			add(a.bytes, ref)
		}
	}
	// Deterministic verification order: by variant.
	for _, refs := range r.atomIndex {
		sort.SliceStable(refs, func(i, j int) bool { return refs[i].v < refs[j].v })
	}
	ac, err := ahocorasick.Build(pats)
	if err != nil {
		return fmt.Errorf("building the atom automaton: %w", err)
	}
	r.ac = ac
	r.buildHitChecks()
	return nil
}
