package lint

// This file holds the small algebra the condition analysis works in.
//
// A rule's condition is reduced to the set of ways it can become true. Each
// way ("path") is summarised by the kinds of evidence it needs: a bit mask of
// needCode (binary patterns, code-like text, executable structure), needWord
// (plain words or phrases) and needDoc (a document file type). `a and b`
// combines every path of a with every path of b; `a or b` keeps the paths of
// both. There are only eight masks, so a set of paths is eight slots, each
// holding one example ("witness") of the evidence that produces it, for the
// reasons shown to reviewers.

const (
	needCode uint8 = 1 << iota // binary pattern, code-like text or executable structure
	needWord                   // plain words or phrases
	needDoc                    // a document file type (PDF, Office, mail...)
	numMasks = 8
)

// maxWitness bounds the evidence kept per path, so that huge conditions
// stay cheap and reasons stay short.
const maxWitness = 8

// paths is a set of ways a condition can be true. has[m] tells whether a
// path with mask m exists; w[m] is the evidence (indices into the rule's
// evidence table) of the first such path found.
type paths struct {
	has [numMasks]bool
	w   [numMasks][]int
}

// always is the set holding one path that needs nothing (e.g. `true`,
// `filesize < 10MB`, `not $a`).
func always() paths {
	var p paths
	p.has[0] = true
	return p
}

// never is the empty set: the expression can never be true.
func never() paths { return paths{} }

// single is one path with mask m and the evidence ev (-1 for none).
func single(m uint8, ev int) paths {
	var p paths
	p.has[m] = true
	if ev >= 0 {
		p.w[m] = []int{ev}
	}
	return p
}

func (p paths) empty() bool {
	for _, h := range p.has {
		if h {
			return false
		}
	}
	return true
}

// mergeWitness joins two evidence lists without duplicates, bounded.
func mergeWitness(a, b []int) []int {
	out := make([]int, 0, len(a)+len(b))
	seen := make(map[int]bool, len(a)+len(b))
	for _, l := range [][]int{a, b} {
		for _, x := range l {
			if !seen[x] && len(out) < maxWitness {
				seen[x] = true
				out = append(out, x)
			}
		}
	}
	return out
}

// and is the set of paths needing the evidence of one path of a and one of b.
func and(a, b paths) paths {
	var out paths
	for ma := 0; ma < numMasks; ma++ {
		if !a.has[ma] {
			continue
		}
		for mb := 0; mb < numMasks; mb++ {
			if !b.has[mb] {
				continue
			}
			m := ma | mb
			if !out.has[m] {
				out.has[m] = true
				out.w[m] = mergeWitness(a.w[ma], b.w[mb])
			}
		}
	}
	return out
}

// or is the union of a and b (a's witnesses win).
func or(a, b paths) paths {
	out := a
	for m := 0; m < numMasks; m++ {
		if b.has[m] && !out.has[m] {
			out.has[m] = true
			out.w[m] = b.w[m]
		}
	}
	return out
}

// maxOfWork bounds the work of atLeast (items × n); above it, `n of` is
// treated as `any of`, which can only make a rule look more like a
// document search, never less.
const maxOfWork = 1 << 20

// atLeast is the set of paths of "at least n of items are true".
func atLeast(n int, items []paths) paths {
	switch {
	case n <= 0:
		return always()
	case n > len(items):
		return never()
	case n == 1 || n*len(items) > maxOfWork:
		out := never()
		for _, it := range items {
			out = or(out, it)
		}
		return out
	case n == len(items):
		out := always()
		for _, it := range items {
			out = and(out, it)
		}
		return out
	}
	// reach[c] is the set of paths choosing exactly c of the items seen so far.
	reach := make([]paths, n+1)
	reach[0] = always()
	for _, it := range items {
		for c := n - 1; c >= 0; c-- {
			if !reach[c].empty() {
				reach[c+1] = or(reach[c+1], and(reach[c], it))
			}
		}
	}
	return reach[n]
}
