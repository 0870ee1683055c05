package syntax

// This file defines the abstract syntax tree produced by the parser.
// Every node carries the position where it starts. The tree is plain data:
// the compiler (yara/internal/compiler) gives it meaning.

// Pos is a position in a source file. Line and Col are 1-based; Col counts
// bytes. The zero Pos means "unknown".
type Pos struct {
	Line int
	Col  int
}

// File is one parsed source file. Decls keeps imports, includes and rules in
// source order: rule order is observable (yara reports rules in declaration
// order) and includes are expanded in place by the compiler.
type File struct {
	Name  string // as given to the parser; used in error messages
	Decls []Decl
	hex   *hexSlab
}

// Release lets later parses reuse the memory of the file's hex strings
// (their bytes and token slices). Call it only when nothing refers to
// them any more; the rest of the tree stays valid.
func (f *File) Release() {
	if f.hex != nil {
		f.hex.recycle()
		f.hex = nil
	}
}

// Decl is an *Import, an *Include or a *Rule.
type Decl interface {
	declNode()
	Position() Pos
}

// Import is `import "name"`.
type Import struct {
	Pos    Pos
	Module string
}

// Include is `include "path"`. The parser does not read the file: the
// compiler resolves it relative to the including file.
type Include struct {
	Pos  Pos
	Path string
}

// Rule is one rule declaration.
type Rule struct {
	Pos       Pos
	Private   bool
	Global    bool
	Name      string
	NamePos   Pos
	Tags      []string
	Meta      []*Meta
	Strings   []*StringDef
	Condition Expr
}

func (*Import) declNode()  {}
func (*Include) declNode() {}
func (*Rule) declNode()    {}

func (d *Import) Position() Pos  { return d.Pos }
func (d *Include) Position() Pos { return d.Pos }
func (d *Rule) Position() Pos    { return d.Pos }

// Meta is one `key = value` line of a rule's meta section. Value is a
// string (raw bytes after escape processing), an int64 or a bool.
type Meta struct {
	Pos   Pos
	Key   string
	Value any
}

// StringKind tells which of the three forms a string definition has.
type StringKind int

const (
	TextString  StringKind = iota // "..."
	HexPattern                    // { ... }
	RegexString                   // /.../
)

// StringDef is one entry of a rule's strings section.
type StringDef struct {
	Pos       Pos
	ID        string // with the '$'; "$" alone for an anonymous string
	Kind      StringKind
	Text      []byte     // TextString: bytes after escape processing
	Hex       *HexString // HexPattern
	Regex     *Regexp    // RegexString
	Modifiers Modifiers
}

// Modifiers are the keywords after a string definition. The parser records
// what was written; the compiler rejects combinations yara rejects.
type Modifiers struct {
	Nocase   bool
	ASCII    bool
	Wide     bool
	Fullword bool
	Private  bool

	Xor            bool
	XorMin, XorMax int // both 0..255; `xor` alone means 0-255, `xor(n)` means n-n

	Base64             bool
	Base64Wide         bool
	Base64Alphabet     string // "" means the standard alphabet
	Base64WideAlphabet string

	// Pos of each modifier keyword as written, for error messages, keyed by
	// the keyword ("nocase", "xor", ...).
	Positions map[string]Pos
}

// Regexp is a regular expression as written between slashes, with its
// trailing flags. Source is the raw text between the slashes with `\/`
// already turned into `/`; everything else (escapes, classes) is left for
// the regex parser in yara/internal/re.
type Regexp struct {
	Pos    Pos
	Source string
	Nocase bool // /i
	Dotall bool // /s
}

// HexString is the body of a hex string `{ ... }`.
type HexString struct {
	Pos    Pos
	Tokens []HexToken
}

// HexToken is a *HexByte, a *HexJump or a *HexAlt.
type HexToken interface{ hexToken() }

// HexByte is one byte position: `4D`, `??`, `4?`, `?D`, or negated with
// `~` (yara 4.3 syntax: any byte except those matching Value/Mask).
// A byte b matches when b&Mask == Value&Mask (inverted when Not).
type HexByte struct {
	Pos   Pos
	Value byte
	Mask  byte // 0xFF exact, 0xF0 low nibble wild, 0x0F high nibble wild, 0x00 `??`
	Not   bool
}

// HexJump is `[n]`, `[n-m]`, `[n-]` or `[-]`. Max is -1 when unbounded.
// Range tells `[1-1]` from `[1]`: yara compiles `[1]` as a wildcard byte
// and `[1-1]` as a jump, which can change its choice of atoms.
type HexJump struct {
	Pos      Pos
	Min, Max int
	Range    bool // written with a dash
}

// HexAlt is `( a | b | ... )`; each alternative is a token sequence.
type HexAlt struct {
	Pos  Pos
	Alts [][]HexToken
}

func (*HexByte) hexToken() {}
func (*HexJump) hexToken() {}
func (*HexAlt) hexToken()  {}

// Expr is a condition expression node.
type Expr interface {
	Position() Pos
	exprNode()
}

// Op is an operator of a Unary or Binary expression.
type Op int

const (
	OpInvalid Op = iota

	// Unary.
	OpNot     // not
	OpDefined // defined
	OpNeg     // -
	OpBitNot  // ~

	// Binary, boolean.
	OpAnd
	OpOr

	// Binary, comparison.
	OpEq
	OpNe
	OpLt
	OpLe
	OpGt
	OpGe

	// Binary, string.
	OpContains
	OpIContains
	OpStartsWith
	OpIStartsWith
	OpEndsWith
	OpIEndsWith
	OpIEquals
	OpMatches // right operand is a *RegexpLit

	// Binary, arithmetic and bitwise.
	OpAdd
	OpSub
	OpMul
	OpDiv // written `\`
	OpMod
	OpBitAnd
	OpBitOr
	OpBitXor
	OpShl
	OpShr
)

var opNames = [...]string{
	OpInvalid: "?", OpNot: "not", OpDefined: "defined", OpNeg: "-", OpBitNot: "~",
	OpAnd: "and", OpOr: "or",
	OpEq: "==", OpNe: "!=", OpLt: "<", OpLe: "<=", OpGt: ">", OpGe: ">=",
	OpContains: "contains", OpIContains: "icontains", OpStartsWith: "startswith",
	OpIStartsWith: "istartswith", OpEndsWith: "endswith", OpIEndsWith: "iendswith",
	OpIEquals: "iequals", OpMatches: "matches",
	OpAdd: "+", OpSub: "-", OpMul: "*", OpDiv: "\\", OpMod: "%",
	OpBitAnd: "&", OpBitOr: "|", OpBitXor: "^", OpShl: "<<", OpShr: ">>",
}

// String returns the operator as written in YARA source.
func (op Op) String() string {
	if op < 0 || int(op) >= len(opNames) {
		return "?"
	}
	return opNames[op]
}

type (
	// BoolLit is `true` or `false`.
	BoolLit struct {
		Pos   Pos
		Value bool
	}
	// IntLit is an integer literal, with KB/MB multipliers applied.
	IntLit struct {
		Pos   Pos
		Value int64
	}
	// FloatLit is a floating point literal.
	FloatLit struct {
		Pos   Pos
		Value float64
	}
	// StringLit is a text string in a condition, after escape processing.
	StringLit struct {
		Pos   Pos
		Value []byte
	}
	// RegexpLit is a regular expression in a condition: right of `matches`,
	// or an argument of a module function such as pe.exports(/x/).
	RegexpLit struct {
		Pos   Pos
		Regex *Regexp
	}
	// Keyword is `filesize` or `entrypoint`.
	Keyword struct {
		Pos  Pos
		Name string
	}
	// StringRef is `$a`, optionally `$a at X` or `$a in (A..B)`. ID is "$"
	// for the anonymous reference inside `for ... of`.
	StringRef struct {
		Pos Pos
		ID  string
		At  Expr   // nil unless `at`
		In  *Range // nil unless `in`
	}
	// StringCount is `#a`, optionally `#a in (A..B)`.
	StringCount struct {
		Pos Pos
		ID  string // with '#' replaced by '$': "$a", or "$"
		In  *Range
	}
	// StringOffset is `@a` or `@a[i]`. Index is nil when absent (means 1).
	StringOffset struct {
		Pos   Pos
		ID    string // "$a" or "$"
		Index Expr
	}
	// StringLength is `!a` or `!a[i]`. Index is nil when absent (means 1).
	StringLength struct {
		Pos   Pos
		ID    string // "$a" or "$"
		Index Expr
	}
	// Ident is a bare identifier: a rule name, an external variable, a
	// module name, or a loop variable.
	Ident struct {
		Pos  Pos
		Name string
	}
	// Member is `X.Name`.
	Member struct {
		Pos  Pos
		X    Expr
		Name string
	}
	// Index is `X[Index]`.
	Index struct {
		Pos   Pos
		X     Expr
		Index Expr
	}
	// Call is `Fun(Args...)`; also used for uint8(..) and friends, with
	// Fun an *Ident.
	Call struct {
		Pos  Pos
		Fun  Expr
		Args []Expr
	}
	// Unary is `not X`, `defined X`, `-X` or `~X`.
	Unary struct {
		Pos Pos
		Op  Op
		X   Expr
	}
	// Binary is `X op Y`.
	Binary struct {
		Pos  Pos
		Op   Op
		X, Y Expr
	}
	// Paren is `(X)`. Kept so that dumps and error positions match source.
	Paren struct {
		Pos Pos
		X   Expr
	}
	// Of is `Q of (strings)` or `Q of (rules)`, optionally `in (A..B)`.
	// Exactly one of Strings and Rules is set.
	Of struct {
		Pos     Pos
		Q       *Quantifier
		Strings *StringSet
		Rules   *RuleSet
		In      *Range
	}
	// ForOf is `for Q of (strings) : (Body)`.
	ForOf struct {
		Pos     Pos
		Q       *Quantifier
		Strings *StringSet
		Body    Expr
	}
	// ForIn is `for Q v1, v2 in Iter : (Body)`.
	ForIn struct {
		Pos  Pos
		Q    *Quantifier
		Vars []string
		Iter Iterator
		Body Expr
	}
)

// QuantKind is the kind of a quantifier in `of` and `for` expressions.
type QuantKind int

const (
	QuantAll     QuantKind = iota // all
	QuantAny                      // any
	QuantNone                     // none
	QuantExpr                     // an expression: `2 of`, `n of`
	QuantPercent                  // an expression followed by %: `50% of`
)

// Quantifier is what precedes `of`, or follows `for`.
type Quantifier struct {
	Pos  Pos
	Kind QuantKind
	Expr Expr // for QuantExpr and QuantPercent
}

// StringSet is `them` or `($a, $b*, $*)`. Each item keeps its '$' and an
// optional trailing '*' wildcard.
type StringSet struct {
	Pos   Pos
	Them  bool
	Items []SetItem
}

// RuleSet is `(rule1, rule2*)`.
type RuleSet struct {
	Pos   Pos
	Items []SetItem
}

// SetItem is one element of a string or rule set.
type SetItem struct {
	Pos      Pos
	Name     string // without the trailing '*'
	Wildcard bool
}

// Range is `(Lo..Hi)`.
type Range struct {
	Pos    Pos
	Lo, Hi Expr
}

// Iterator is what a `for ... in` iterates over: a *Range, an *Enum or any
// other Expr (an array or dictionary from a module).
type Iterator interface{ Position() Pos }

// Enum is `(e1, e2, ...)` after `in`.
type Enum struct {
	Pos   Pos
	Items []Expr
}

func (r *Range) Position() Pos { return r.Pos }
func (e *Enum) Position() Pos  { return e.Pos }

func (e *BoolLit) Position() Pos      { return e.Pos }
func (e *IntLit) Position() Pos       { return e.Pos }
func (e *FloatLit) Position() Pos     { return e.Pos }
func (e *StringLit) Position() Pos    { return e.Pos }
func (e *RegexpLit) Position() Pos    { return e.Pos }
func (e *Keyword) Position() Pos      { return e.Pos }
func (e *StringRef) Position() Pos    { return e.Pos }
func (e *StringCount) Position() Pos  { return e.Pos }
func (e *StringOffset) Position() Pos { return e.Pos }
func (e *StringLength) Position() Pos { return e.Pos }
func (e *Ident) Position() Pos        { return e.Pos }
func (e *Member) Position() Pos       { return e.Pos }
func (e *Index) Position() Pos        { return e.Pos }
func (e *Call) Position() Pos         { return e.Pos }
func (e *Unary) Position() Pos        { return e.Pos }
func (e *Binary) Position() Pos       { return e.Pos }
func (e *Paren) Position() Pos        { return e.Pos }
func (e *Of) Position() Pos           { return e.Pos }
func (e *ForOf) Position() Pos        { return e.Pos }
func (e *ForIn) Position() Pos        { return e.Pos }

func (*BoolLit) exprNode()      {}
func (*IntLit) exprNode()       {}
func (*FloatLit) exprNode()     {}
func (*StringLit) exprNode()    {}
func (*RegexpLit) exprNode()    {}
func (*Keyword) exprNode()      {}
func (*StringRef) exprNode()    {}
func (*StringCount) exprNode()  {}
func (*StringOffset) exprNode() {}
func (*StringLength) exprNode() {}
func (*Ident) exprNode()        {}
func (*Member) exprNode()       {}
func (*Index) exprNode()        {}
func (*Call) exprNode()         {}
func (*Unary) exprNode()        {}
func (*Binary) exprNode()       {}
func (*Paren) exprNode()        {}
func (*Of) exprNode()           {}
func (*ForOf) exprNode()        {}
func (*ForIn) exprNode()        {}
