package yara

import (
	"vigil/yara/internal/re"
	"vigil/yara/syntax"
)

// The "string may slow down scanning" warning (W200) follows yara 4.2.3:
// yara takes the atoms it would put in its automaton for the string, scores
// each with its heuristic (yr_atoms_heuristic_quality) and warns when the
// lowest score is under YR_ATOM_QUALITY_WARNING_THRESHOLD. Scores here are
// yara's without its constant offset, so the threshold is
// atomQualityWarning. The heuristic and yara's atom choice live in one
// place, yara/internal/re (yatoms.go): the atoms scored are the ones the
// matcher verifies with.
//
//   - literal strings (text, and hex strings or regexes made only of plain
//     bytes): the best 4-byte window of the plain text, then that window
//     widened, case-folded and xored as the modifiers say
//     (re.LiteralQuality);
//   - hex strings and regexes: the atoms yara chooses from the pattern's
//     tree (re.PatternQuality); each piece of a chained string is a string
//     of its own to yara, and the lowest score of the pieces counts;
//   - base64 strings: the atoms of each encoded form (an approximation).

const (
	// qualityCeil and qualityFloor are yara's YR_MAX_ATOM_QUALITY and
	// YR_MIN_ATOM_QUALITY on this scale.
	qualityCeil  = re.MaxQuality
	qualityFloor = re.MinQuality
)

// textQuality scores a text string.
func textQuality(s *syntax.StringDef, vs []*variant) int {
	m := s.Modifiers
	if m.Base64 || m.Base64Wide {
		q := qualityCeil
		for _, v := range vs {
			q = min(q, v.quality())
		}
		return q
	}
	return re.LiteralQuality(s.Text, m.ASCII || !m.Wide, m.Wide, m.Nocase, m.Xor, m.XorMin, m.XorMax)
}

// hexQuality scores a hex string from its compiled variants (one per
// piece, see hexVariants): a piece of plain bytes is a literal to yara,
// any other is scored by the atoms its compiled pattern chose.
func hexQuality(h *syntax.HexString, vs []*variant) int {
	pieces, _ := splitHexChain(h)
	q := qualityCeil
	for i, toks := range pieces {
		if lit, ok := hexLiteral(toks); ok {
			q = min(q, re.LiteralQuality(lit, true, false, false, false, 0, 0))
			continue
		}
		if i >= len(vs) {
			return qualityFloor
		}
		pq, ok := progQuality(vs[i].prog)
		if !ok {
			return qualityFloor
		}
		q = min(q, pq)
	}
	return q
}

// hexLiteral returns the bytes of a hex string piece made only of plain
// bytes (yara's yr_re_ast_extract_literal on its tree).
func hexLiteral(toks []syntax.HexToken) ([]byte, bool) {
	if len(toks) == 0 {
		return nil, false
	}
	out := make([]byte, len(toks))
	for i, t := range toks {
		b, ok := t.(*syntax.HexByte)
		if !ok || b.Mask != 0xFF || b.Not {
			return nil, false
		}
		out[i] = b.Value
	}
	return out, true
}

// progQuality is the quality of the atoms a compiled regex or hex
// pattern chose.
func progQuality(p matchProg) (int, bool) {
	if pf, ok := p.(*prefilterProg); ok {
		p = pf.matchProg
	}
	if rp, ok := p.(*reProg); ok {
		return rp.p.YaraQuality(), true
	}
	return 0, false
}

// regexQuality scores a regex string (re.RegexQuality). The regex is
// parsed again without case folding, so that letters stay single bytes as
// in yara's tree.
func regexQuality(r *syntax.Regexp, m syntax.Modifiers) int {
	n, err := re.Parse(r.Source, re.Flags{Dotall: r.Dotall})
	if err != nil {
		return qualityFloor
	}
	return re.RegexQuality(n, m.ASCII || !m.Wide, m.Wide, m.Nocase || r.Nocase)
}

// patternQuality scores a hex string or regex pattern (hex: whether it
// comes from a hex string; the tree's nodes tell yara's node kinds).
func patternQuality(n *re.Node, hex bool) int {
	_ = hex
	return re.PatternQuality(n)
}
