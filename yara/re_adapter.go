package yara

import (
	"vigil/yara/internal/re"
	"vigil/yara/syntax"
)

// matchProg is a compiled regular expression or hex string as the matcher
// uses it.
type matchProg interface {
	// Find reports whether the pattern matches anywhere in data.
	Find(data []byte) bool
	// Atoms returns the atoms of the pattern; nil means none (the pattern
	// is verified at every offset, with atom -1).
	Atoms() []atom
	// Verify runs yara's verification of atom number atom found at
	// data[pos]: found is called for every match, in yara's order; wide
	// tells whether it is the wide form. The error fails the scan, as
	// in yara (too many regex fibers). s is the caller's scratch (one
	// per goroutine); with atom -1, calls at increasing offsets of one
	// data slice are cheapest (see re.Prog.YaraVerifyScratch).
	Verify(s *re.YaraScratch, data []byte, atom, pos int, found func(start, n int, wide bool)) error
	// Greedy reports whether a later match at an offset replaces an
	// earlier one (yara's greedy regexes); otherwise the first stays.
	Greedy() bool
}

// chainThreshold is the largest jump kept inside one hex pattern; at
// larger (or unbounded) top-level jumps the string is split into pieces
// matched separately and chained (yara's STRING_CHAINING_THRESHOLD).
const chainThreshold = 200

// hexVariants compiles a hex string. A string with long jumps becomes a
// head variant followed by its piece variants (see variant.chain).
func hexVariants(h *syntax.HexString) ([]*variant, error) {
	pieces, gaps := splitHexChain(h)
	var out []*variant
	for i, toks := range pieces {
		n, err := re.FromHex(&syntax.HexString{Pos: h.Pos, Tokens: toks})
		if err != nil {
			return nil, err
		}
		p, err := compileNode(n, re.CompileOptions{})
		if err != nil {
			return nil, err
		}
		v := &variant{prog: p}
		if i > 0 {
			v.piece = true
		}
		out = append(out, v)
	}
	if len(pieces) > 1 {
		for i := range gaps {
			gaps[i].rel = i + 1
		}
		out[0].chain = gaps
	}
	return out, nil
}

// splitHexChain splits a hex string at its top-level jumps longer than
// chainThreshold (or unbounded), as yara does.
func splitHexChain(h *syntax.HexString) (pieces [][]syntax.HexToken, gaps []chainLink) {
	start := 0
	for i, tk := range h.Tokens {
		j, ok := tk.(*syntax.HexJump)
		if !ok || (j.Max >= 0 && j.Max <= chainThreshold) || i == start || i == len(h.Tokens)-1 {
			continue
		}
		pieces = append(pieces, h.Tokens[start:i])
		gaps = append(gaps, chainLink{min: j.Min, max: j.Max})
		start = i + 1
	}
	return append(pieces, h.Tokens[start:]), gaps
}

// regexVariants compiles a regex string. yara matches `ascii wide` as
// one string (ascii first, then wide, from the same atom hit), so there
// is always one variant; a wide-only one is marked wide.
func regexVariants(r *syntax.Regexp, m syntax.Modifiers) ([]*variant, error) {
	nocase := r.Nocase || m.Nocase
	n, err := re.Parse(r.Source, re.Flags{Nocase: nocase, Dotall: r.Dotall})
	if err != nil {
		return nil, err
	}
	if literalRegex(r.Source) {
		// yara searches a literal regex as a text string (which differs
		// for `ascii wide fullword`: /c/ matches "c\x00" in "cc\x00").
		if lit, ok := n.YaraLiteral(); ok {
			tm := m
			tm.Nocase = nocase
			return textVariants(lit, tm)
		}
	}
	opt := re.CompileOptions{Nocase: nocase, Wide: m.Wide, ASCII: m.ASCII}
	if pieces := re.Chain(n); len(pieces) > 1 {
		// yara splits the regex at long lazy gaps (/a.{1,}?b/) and
		// chains the pieces like a hex string's; the gaps are in bytes
		// even for wide strings, and fullword applies to every piece.
		var out []*variant
		var gaps []chainLink
		for i, pc := range pieces {
			p, err := compileNode(pc.Node, opt)
			if err != nil {
				return nil, err
			}
			out = append(out, &variant{prog: p, piece: i > 0})
			if i < len(pieces)-1 {
				gaps = append(gaps, chainLink{rel: i + 1, min: pc.GapMin, max: pc.GapMax})
			}
		}
		out[0].chain = gaps
		return out, nil
	}
	p, err := compileNode(n, opt)
	if err != nil {
		return nil, err
	}
	return []*variant{{prog: p, wide: m.Wide && !m.ASCII}}, nil
}

// compileRegexp compiles the right operand of `matches`.
func compileRegexp(r *syntax.Regexp) (matchProg, error) {
	n, err := re.Parse(r.Source, re.Flags{Nocase: r.Nocase, Dotall: r.Dotall})
	if err != nil {
		return nil, err
	}
	return compileNode(n, re.CompileOptions{Nocase: r.Nocase})
}

// progRegexp adapts a matchProg to module.Regexp.
type progRegexp struct{ p matchProg }

func (r progRegexp) Match(s []byte) bool { return r.p.Find(s) }

// literalPattern reports whether a hex or regex string is, to yara, a
// literal: a hex string of plain bytes (for a chained hex string, its
// head piece), or a regex made only of ordinary
// characters and single-byte escapes (no class, group, alternation,
// quantifier or anchor). yara turns those into literal strings, which
// matters for the fixed-offset optimisation (see fixedUse).
func literalPattern(s *syntax.StringDef) bool {
	switch s.Kind {
	case syntax.HexPattern:
		// yara splits a hex string at long jumps first and decides for
		// each piece: only the head piece matters (it carries the fixed
		// offset of the string).
		pieces, _ := splitHexChain(s.Hex)
		for _, t := range pieces[0] {
			b, ok := t.(*syntax.HexByte)
			if !ok || b.Mask != 0xFF || b.Not {
				return false
			}
		}
		return true
	case syntax.RegexString:
		return literalRegex(s.Regex.Source)
	}
	// Text strings, except base64 ones (yara searches those as regexes).
	return !s.Modifiers.Base64 && !s.Modifiers.Base64Wide
}

// literalRegex reports whether regex source is made only of ordinary
// characters and single-byte escapes.
func literalRegex(src string) bool {
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '[', ']', '(', ')', '|', '*', '+', '?', '{', '}', '.', '^', '$':
			return false
		case '\\':
			i++
			if i >= len(src) {
				return false
			}
			switch src[i] {
			case 'w', 'W', 's', 'S', 'd', 'D', 'b', 'B':
				return false
			case 'x':
				i += 2
			}
		}
	}
	return true
}
