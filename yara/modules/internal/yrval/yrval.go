// Package yrval holds the small pieces of yara's value semantics that the
// built-in modules share: how a function result becomes undefined and how a
// function taking (offset, size) selects bytes of the scanned data.
package yrval

import "math"

// Undefined is yara's in-band marker for an undefined integer
// (YR_UNDEFINED). yara cannot tell it from the integer of the same value, so
// a function returning this integer yields an undefined result, and a
// function returning this float (converted) yields NaN, which is undefined.
const Undefined int64 = -0x0005452505452501 // 0xFFFABADAFABADAFF

// Int returns v as a module value, or nil where yara would see an
// undefined integer.
func Int(v int64) any {
	if v == Undefined {
		return nil
	}
	return v
}

// Float returns f as a module value, or nil where yara would see an
// undefined float: NaN, or the float value of Undefined.
func Float(f float64) any {
	if math.IsNaN(f) || f == float64(Undefined) {
		return nil
	}
	return f
}

// Range returns the bytes yara's data functions use for f(offset, size) on
// data: undefined (ok false) when offset or size is negative or offset is not
// inside the data (so always for empty data), otherwise data[offset:] cut to
// at most size bytes. A size reaching past the end is clamped, not an error.
func Range(data []byte, offset, size int64) (b []byte, ok bool) {
	if offset < 0 || size < 0 || offset >= int64(len(data)) {
		return nil, false
	}
	b = data[offset:]
	if size < int64(len(b)) {
		b = b[:size]
	}
	return b, true
}

// IntArg returns args[i] as an integer. It reports false if there is no
// such argument or it is not an int64, which a correct caller never does;
// functions then return undefined rather than panic.
func IntArg(args []any, i int) (int64, bool) {
	if i >= len(args) {
		return 0, false
	}
	v, ok := args[i].(int64)
	return v, ok
}

// FloatArg is IntArg for a float64 argument.
func FloatArg(args []any, i int) (float64, bool) {
	if i >= len(args) {
		return 0, false
	}
	v, ok := args[i].(float64)
	return v, ok
}

// StringArg is IntArg for a string argument.
func StringArg(args []any, i int) (string, bool) {
	if i >= len(args) {
		return "", false
	}
	v, ok := args[i].(string)
	return v, ok
}
