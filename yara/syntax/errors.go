package syntax

import (
	"fmt"
	"strings"
)

// Error codes. They are stable: tools and tests may match on them. The
// message of an Error may change; the code may not.
const (
	CodeIllegalChar       = "E100" // a byte that cannot start any token
	CodeUnexpected        = "E101" // syntax error: unexpected token
	CodeUnterminatedStr   = "E102" // text string not closed before end of line or file
	CodeBadEscape         = "E103" // illegal escape sequence in a text string
	CodeUnterminatedRegex = "E104" // regular expression not closed before end of line or file
	CodeIdentTooLong      = "E105" // identifier longer than MaxIdentifierLength
	CodeIntOverflow       = "E106" // integer literal does not fit in int64
	CodeHexSyntax         = "E107" // malformed hex string (bad token, leading/trailing jump, empty)
	CodeHexOddDigits      = "E108" // hex string with an odd number of nibbles
	CodeUnterminatedHex   = "E109" // hex string not closed before end of file
	CodeJumpRange         = "E110" // hex jump [n-m] with n > m
	CodeJumpUnbounded     = "E111" // unbounded jump [n-] or [-] inside an alternation
	CodeJumpTooLong       = "E112" // jump over MaxAltJump bytes inside an alternation
	CodeTooDeep           = "E113" // nesting deeper than maxDepth
	CodeXorRange          = "E114" // xor bound outside 0..255
	CodeXorOrder          = "E115" // xor lower bound exceeds upper bound
	CodeBase64Alphabet    = "E116" // base64 alphabet not 64 bytes long
	CodeDupModifier       = "E117" // the same string modifier written twice
	CodeDupTag            = "E118" // the same tag written twice on one rule
	CodeTooManyErrors     = "E119" // error limit reached; the rest of the file is not checked
	CodeBadModifier       = "E120" // modifier not allowed for this kind of string (hex: only private; regex: no xor/base64)
	CodeEmptyString       = "E121" // text string definition "" in a strings section
)

// Error is one problem found in a source file.
type Error struct {
	File string // file name as given to Parse
	Pos  Pos
	Code string
	Msg  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Col, e.Msg)
}

// ErrorList is every error found in one file, in source order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Err returns l as an error, or nil when l is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}
