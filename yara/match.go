package yara

import (
	"fmt"
	mbits "math/bits"
	"sort"

	"vigil/yara/internal/re"
)

// Matching limits.
const (
	// defaultMaxMatches is yara's per-string match limit
	// (YR_MAX_STRING_MATCHES).
	defaultMaxMatches = 1000000
	// MaxMatchData is the most bytes of a match kept in Match.Data
	// (yara's YR_MAX_MATCH_DATA).
	MaxMatchData = 512
	// checkEvery is how many bytes of input are processed between two
	// cancellation checks.
	checkEvery = 1 << 20
)

// matcher holds the per-scan matching state of a Scanner.
type matcher struct {
	st         *scanState
	r          *Rules
	fast       bool
	maxMatches int
	offIdx     map[offKey]int                // yara-verified strings: match index by offset
	found      func(start, n int, wide bool) // m.foundYara
	vData      []byte                        // verifyYara's data and variant
	vVar       *variant
	warned     []bool
	touched    []int // strings with matches in this scan
	// pieces holds the matches of chained hex pieces, by variant.
	pieces       map[*variant][]matchRec
	pieceTouched []*variant
	pieceSeq     int32        // piece matches found so far in this scan
	heads        []int        // head variants with piece matches in this scan
	hitRules     []int        // rules with a matching string in this scan
	full         bool         // a string reached maxMatches in this scan
	prof         *profileData // cost of strings and rules (ScanOptions.Profile)
	profOn       bool         // this scan is profiled
	warnings     []string
	err          error
	rs           re.YaraScratch // yara verification scratch
}

// matchAll finds every string of the rule set in data: one pass of the
// atom automaton, then verification of each candidate.
func (m *matcher) matchAll(data []byte) error {
	r := m.r
	st := m.st
	for _, i := range m.touched {
		st.matches[i] = st.matches[i][:0]
	}
	m.touched = m.touched[:0]
	for _, vi := range m.pieceTouched {
		m.pieces[vi] = m.pieces[vi][:0]
	}
	m.pieceTouched = m.pieceTouched[:0]
	m.pieceSeq = 0
	for _, i := range m.hitRules {
		st.ruleHit[i] = false
	}
	m.hitRules = m.hitRules[:0]
	m.full = false
	m.err = nil
	m.warnings = m.warnings[:0]
	clear(m.offIdx)
	if r.ac != nil && r.ac.NumPatterns() > 0 {
		// Scan in chunks so that cancellation is noticed on big inputs. Atoms
		// are at most maxAtomLenAny bytes, so chunks overlap by that much.
		const overlap = 64
		for base := 0; base < len(data); base += checkEvery {
			if err := st.ctx.Err(); err != nil {
				return err
			}
			end := min(len(data), base+checkEvery+overlap)
			r.ac.Scan(data[base:end], func(p, start int) bool {
				abs := base + start
				// Occurrences starting in the overlap belong to the next chunk.
				if start >= checkEvery {
					return true
				}
				m.candidates(data, p, abs)
				return m.err == nil
			})
			if m.err != nil {
				return m.err
			}
		}
	}
	if m.err != nil {
		return m.err
	}
	for _, vi := range r.noAtom {
		v := r.variants[vi]
		var t0 int64
		if m.profOn {
			t0 = profNow()
		}
		// What the scratch learnt about starts in an earlier pass is stale.
		m.rs.Reset()
		next := 0 // where cancellation is checked next
		for pos := 0; pos < len(data); pos++ {
			if pos >= next {
				if err := st.ctx.Err(); err != nil {
					return err
				}
				next = pos + checkEvery
			}
			if m.skip(v.str) || m.err != nil {
				break
			}
			m.verifyYara(data, v, -1, pos)
			if m.profOn {
				m.prof.strCheck[v.str]++
			}
			// The verification may have found that the next starts find
			// nothing.
			if e := m.rs.TakeSkipEnd(); e > pos+1 {
				pos = e - 1
			}
		}
		if m.profOn {
			m.prof.strNS[v.str] += profNow() - t0
		}
	}
	if m.err != nil {
		return m.err
	}
	m.resolveChains(data)
	for _, i := range m.touched {
		if ms := st.matches[i]; len(ms) > 1 {
			st.matches[i] = sortDedupe(ms)
		}
	}
	return nil
}

// skip reports whether string s needs no more matches.
func (m *matcher) skip(s int) bool {
	n := len(m.st.matches[s])
	if n == 0 {
		return false
	}
	if m.fast && m.r.strings[s].singleMatch {
		return true
	}
	if n >= m.maxMatches {
		m.limitReached(s)
		return true
	}
	return false
}

func (m *matcher) limitReached(s int) {
	if m.warned[s] {
		return
	}
	m.warned[s] = true
	sd := m.r.strings[s]
	m.warnings = append(m.warnings, fmt.Sprintf("rule %q: too many matches for %s, results for this rule may be incorrect",
		m.r.rules[sd.rule].info.Name, sd.id))
}

// candidates verifies every pattern an atom occurrence may belong to.
// Regex and hex atoms are verified the way yara does (see verifyYara);
// when one variant has several atoms with these bytes, yara verifies
// the one it listed last first, so a run of refs of one variant is
// walked backwards.
func (m *matcher) candidates(data []byte, p, pos int) {
	refs := m.r.atomIndex[p]
	checks := m.r.hitChecks[p][:len(refs)]
	k := 0
	if m.r.hitSieves != nil && !m.full {
		if s := m.r.hitSieves[p]; s != nil && s.covers(pos, len(data)) {
			if k = m.sieved(s, data, refs, checks, pos); k < 0 {
				return
			}
		}
	}
	for ; k < len(refs); k++ {
		// Until a string reaches the match limit, skip has no side
		// effect, and a ref its check rejects would find nothing.
		if !m.full && checks[k].reject(m.r.hitWords, data, pos) {
			continue
		}
		if m.profOn {
			k = m.candidateProf(data, refs, k, pos)
		} else {
			k = m.candidate(data, refs, k, pos)
		}
	}
}

// sieved verifies the refs the sieve and the checks let through, in
// order. If a string reaches the match limit meanwhile, it returns the
// first ref left for candidates to go on with; otherwise -1.
func (m *matcher) sieved(s *hitSieve, data []byte, refs []atomRef, checks []hitCheck, pos int) int {
	last := -1
	for w, bits := range s.row(data, pos) {
		for ; bits != 0; bits &= bits - 1 {
			k := w*64 + mbits.TrailingZeros64(bits)
			if k <= last || checks[k].reject(m.r.hitWords, data, pos) {
				continue
			}
			if m.profOn {
				last = m.candidateProf(data, refs, k, pos)
			} else {
				last = m.candidate(data, refs, k, pos)
			}
			if m.full {
				return last + 1
			}
		}
	}
	return -1
}

// candidate verifies ref k of an atom found at data[pos] and returns the
// last ref it took care of: a run of refs of one yara-verified variant is
// verified at once.
func (m *matcher) candidate(data []byte, refs []atomRef, k, pos int) int {
	ref := refs[k]
	v := m.r.variants[ref.v]
	if v.prog != nil {
		e := k + 1
		for e < len(refs) && refs[e].v == ref.v {
			e++
		}
		for j := e - 1; j >= k && m.err == nil; j-- {
			if m.skip(v.str) {
				break
			}
			// For yara-verified variants minOff is the atom's index.
			m.verifyYara(data, v, refs[j].minOff, pos)
		}
		return e - 1
	}
	if m.skip(v.str) {
		return k
	}
	start := pos - ref.minOff
	if start < 0 || start+len(v.lit) > len(data) {
		return k
	}
	if !equalLit(data[start:start+len(v.lit)], v.lit, v.nocase) {
		return k
	}
	if v.fullword && !fullwordOK(data, start, len(v.lit), v.wide) {
		return k
	}
	m.add(v, start, len(v.lit))
	return k
}

// candidateProf is candidate timed for ScanOptions.Profile.
func (m *matcher) candidateProf(data []byte, refs []atomRef, k, pos int) int {
	t0 := profNow()
	e := m.candidate(data, refs, k, pos)
	s := m.r.variants[refs[k].v].str
	m.prof.strNS[s] += profNow() - t0
	m.prof.strCheck[s]++
	return e
}

// verifyYara verifies atom number atom (-1: the pattern has no atom) of
// a regex or hex variant found at data[pos], as yara does: every match
// the pattern's code finds around the atom is checked for fullword and
// recorded, a match at an offset already matched replacing the old one
// only for greedy regexes. yara fails the scan when a pattern needs too
// many regex fibers; so does the matcher (m.err).
func (m *matcher) verifyYara(data []byte, v *variant, atom, pos int) {
	if m.found == nil {
		m.found = m.foundYara // bound once: no allocation per call
	}
	m.vData, m.vVar = data, v
	err := v.prog.Verify(&m.rs, data, atom, pos, m.found)
	m.vData, m.vVar = nil, nil
	if err != nil && m.err == nil {
		sd := m.r.strings[v.str]
		m.err = fmt.Errorf("rule %q, string %s: %w", m.r.rules[sd.rule].info.Name, sd.id, err)
	}
}

// foundYara receives the matches of the variant verifyYara verifies.
func (m *matcher) foundYara(start, n int, wide bool) {
	data, v := m.vData, m.vVar
	if v.fullword && !fullwordOK(data, start, n, wide) {
		return
	}
	if v.piece || v.chain != nil {
		// yara checks a fixed offset on the head piece of a chain.
		if sd := m.r.strings[v.str]; v.chain != nil && sd.hasFixed && int64(start) != sd.fixedOff {
			return
		}
		m.addPiece(v, start, n)
		return
	}
	m.addYara(v, start, n)
}

// addYara records a match of a yara-verified string: one per offset.
func (m *matcher) addYara(v *variant, start, n int) {
	s := v.str
	if sd := m.r.strings[s]; sd.hasFixed && int64(start) != sd.fixedOff {
		return
	}
	key := offKey{int32(s), int64(start)}
	if i, ok := m.offIdx[key]; ok {
		if v.prog.Greedy() {
			m.st.matches[s][i].length = int32(n)
		}
		return
	}
	before := len(m.st.matches[s])
	m.addResult(v, start, n)
	if len(m.st.matches[s]) > before {
		if m.offIdx == nil {
			m.offIdx = map[offKey]int{}
		}
		m.offIdx[key] = before
	}
}

// offKey identifies a match offset of a string.
type offKey struct {
	s   int32
	off int64
}

func (m *matcher) add(v *variant, start, n int) {
	if v.piece || v.chain != nil {
		m.addPiece(v, start, n)
		return
	}
	m.addResult(v, start, n)
}

// addResult records a match of a string.
func (m *matcher) addResult(v *variant, start, n int) {
	s := v.str
	if sd := m.r.strings[s]; sd.hasFixed && int64(start) != sd.fixedOff {
		return
	}
	ms := m.st.matches[s]
	// Overlapping atoms of one pattern find the same match again.
	for i := len(ms) - 1; i >= 0 && i >= len(ms)-4; i-- {
		if ms[i].off == int64(start) && ms[i].order == int32(v.order) {
			return
		}
	}
	if len(ms) >= m.maxMatches {
		m.limitReached(s)
		return
	}
	if len(ms) == 0 {
		m.touched = append(m.touched, s)
		if ri := m.r.strings[s].rule; !m.st.ruleHit[ri] {
			m.st.ruleHit[ri] = true
			m.hitRules = append(m.hitRules, ri)
		}
	}
	m.st.matches[s] = append(ms, matchRec{off: int64(start), length: int32(n), order: int32(v.order), xorKey: int32(v.xorKey)})
	if len(ms)+1 >= m.maxMatches {
		m.full = true
	}
}

func equalLit(d, lit []byte, nocase bool) bool {
	if !nocase {
		return string(d) == string(lit)
	}
	for i := range lit {
		if lower(d[i]) != lower(lit[i]) {
			return false
		}
	}
	return true
}

// fullwordOK applies yara's fullword test: the match must not be preceded
// or followed by an alphanumeric byte (for wide strings: an alphanumeric
// byte followed by a zero byte).
func fullwordOK(data []byte, start, n int, wide bool) bool {
	end := start + n
	if wide {
		if start >= 2 && data[start-1] == 0 && isAlnum(data[start-2]) {
			return false
		}
		if end+1 < len(data) && isAlnum(data[end]) && data[end+1] == 0 {
			return false
		}
		return true
	}
	if start >= 1 && isAlnum(data[start-1]) {
		return false
	}
	if end < len(data) && isAlnum(data[end]) {
		return false
	}
	return true
}

// sortDedupe sorts matches by offset and keeps, for each offset, the match
// of the variant with the highest priority (lowest order).
func sortDedupe(ms []matchRec) []matchRec {
	sorted := true
	for i := 1; i < len(ms); i++ {
		if ms[i].off < ms[i-1].off || (ms[i].off == ms[i-1].off) {
			sorted = false
			break
		}
	}
	if sorted {
		return ms
	}
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].off != ms[j].off {
			return ms[i].off < ms[j].off
		}
		return ms[i].order < ms[j].order
	})
	out := ms[:1]
	for _, x := range ms[1:] {
		if x.off != out[len(out)-1].off {
			out = append(out, x)
		}
	}
	return out
}
