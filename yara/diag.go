package yara

// Diagnostic codes of the compiler. They are stable: tools and tests may
// match on them. Parser codes (E1xx) come from package syntax unchanged.
const (
	CodeUnknownModule   = "E200" // import of a module Vigil does not have
	CodeInclude         = "E201" // an include cannot be read
	CodeIncludeCycle    = "E202" // a file includes itself, directly or not
	CodeIncludeDepth    = "E203" // includes nested deeper than maxIncludeDepth
	CodeDupRule         = "E204" // two rules with the same name in a namespace
	CodeDupString       = "E205" // two strings with the same identifier in a rule
	CodeUnrefString     = "E206" // a string no condition uses
	CodeUndefString     = "E207" // a condition uses a string the rule lacks
	CodeUndefIdent      = "E208" // unknown identifier
	CodeModifiers       = "E209" // modifier combination yara rejects
	CodeEmptyString     = "E210" // empty text string
	CodeXor             = "E211" // bad xor range
	CodeBase64          = "E212" // bad base64 alphabet
	CodeType            = "E213" // type mismatch or wrong operand type
	CodeDivZero         = "E214" // constant division by zero
	CodeOverflow        = "E215" // constant arithmetic overflows int64
	CodeRegex           = "E216" // invalid regular expression or hex string
	CodeCall            = "E217" // wrong arguments to a function
	CodeField           = "E218" // unknown field, or not a structure/array/dict
	CodeLoopVars        = "E219" // wrong loop variables
	CodeExternal        = "E220" // bad external variable
	CodeShift           = "E221" // constant negative shift count
	CodeRuleSet         = "E222" // a rule set item matches no earlier rule
	CodeAnonString      = "E223" // `$`, `#`, `@`, `!` outside for..of
	CodeNoStrings       = "E224" // `them` in a rule without strings
	CodeDupIdent        = "E225" // rule named like an external or a module
	CodeTooComplex      = "E226" // expression nested too deeply or too many strings
	CodeSlowString      = "W200" // string with a poor atom: slows down scanning
	CodeStringAsBool    = "W201" // literal string used as a boolean
	CodeRegexDotStar    = "W202" // regex with .*, .+ or .{x,}
	CodeUnusedImport    = "W203" // reserved
	CodeDeprecated      = "W204" // deprecated keyword (entrypoint)
	CodeDuplicateImport = "W205" // reserved
)
