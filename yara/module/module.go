// Package module defines how a YARA module describes its data and functions
// to the compiler, and how it computes that data for one scan.
//
// A module is a plain value (Module) added to the engine through an explicit
// registry (package yara/modules); nothing registers itself in init.
// The engine calls Module.Load at most once per scanned file, and only when a
// compiled rule set imports the module, so a module nobody uses costs nothing.
package module

import "context"

// Kind is the kind of a value in a module's data tree.
type Kind uint8

const (
	KindInt    Kind = iota + 1 // int64; booleans are ints, as in yara
	KindFloat                  // float64
	KindString                 // string holding arbitrary bytes
	KindStruct                 // *Struct
	KindArray                  // *Array
	KindDict                   // *Dict (string keys)
	KindFunc                   // a function field; see Type.Overloads
)

// Type describes a value statically. The compiler type-checks rules with it
// and `vigil scan -D` prints data in the order of Fields.
type Type struct {
	Kind      Kind
	Fields    []*Field // KindStruct, in declaration order
	Elem      *Type    // KindArray and KindDict: the element type
	Overloads []*Func  // KindFunc: one entry per accepted signature
}

// Field is a named member of a struct type.
type Field struct {
	Name string
	Type *Type
}

// Func is one signature of a module function.
//
// Args uses yara's letters, one per argument: 'i' integer, 'f' float,
// 's' string, 'r' regular expression, 'b' boolean (passed as int64 0 or 1).
// As in yara, an integer is not accepted where a float is declared. Result is KindInt, KindFloat or
// KindString. Impl returns nil for an undefined result.
type Func struct {
	Args   string
	Result Kind
	Impl   func(c *Context, args []Value) Value
}

// Value is a runtime value: nil (undefined), int64, float64, string, *Struct,
// *Array, *Dict, or Regexp (only as a function argument).
type Value = any

// Struct is a runtime struct value. Fields absent from the map are undefined.
type Struct struct {
	Fields map[string]Value
}

// Array is a runtime array value; nil items are undefined.
type Array struct {
	Items []Value
}

// Dict is a runtime dictionary value. Keys keeps insertion order for output.
type Dict struct {
	Keys  []string
	Items map[string]Value
}

// Regexp is a compiled regular expression passed to a function whose
// signature has an 'r'. Match reports whether it matches anywhere in s,
// with yara's semantics.
type Regexp interface {
	Match(s []byte) bool
}

// Context is what a module sees of one scan.
type Context struct {
	Ctx  context.Context
	Data []byte // the whole scanned data

	// Log receives console module output; nil discards it.
	Log func(msg string)

	// Cache lets functions memoize results within one scan (for example a
	// hash of the whole file). It is reset for every scan.
	Cache map[any]any

	// Parent is the struct a function was reached through, set for each
	// call: for pe.signatures[0].valid_on(t) it is pe.signatures[0]. It is
	// nil when that struct is undefined.
	Parent *Struct
}

// Module is one YARA module.
type Module struct {
	Name string
	Type *Type // the root struct type

	// Load computes the module's data for one scan. It must not panic on
	// hostile data: malformed input yields a partial struct (undefined
	// fields), not an error. An error is for failures such as cancellation.
	Load func(c *Context) (*Struct, error)
}

// NewStruct returns an empty struct value.
func NewStruct() *Struct { return &Struct{Fields: map[string]Value{}} }

// Set sets a field and returns s, for chaining.
func (s *Struct) Set(name string, v Value) *Struct {
	s.Fields[name] = v
	return s
}

// Helpers for declaring types compactly.

// Int, Float and String are the scalar types.
var (
	Int    = &Type{Kind: KindInt}
	Float  = &Type{Kind: KindFloat}
	String = &Type{Kind: KindString}
)

// StructOf returns a struct type with the given fields in order.
func StructOf(fields ...*Field) *Type { return &Type{Kind: KindStruct, Fields: fields} }

// ArrayOf returns an array type.
func ArrayOf(elem *Type) *Type { return &Type{Kind: KindArray, Elem: elem} }

// DictOf returns a dictionary type.
func DictOf(elem *Type) *Type { return &Type{Kind: KindDict, Elem: elem} }

// FuncOf returns a function type with the given overloads.
func FuncOf(overloads ...*Func) *Type { return &Type{Kind: KindFunc, Overloads: overloads} }

// F declares a field.
func F(name string, t *Type) *Field { return &Field{Name: name, Type: t} }

// Lookup returns the field of a struct type by name, or nil.
func (t *Type) Lookup(name string) *Field {
	for _, f := range t.Fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}
