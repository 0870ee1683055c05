package difftest

import (
	"strings"
)

// maxShrinkSteps bounds the engine runs spent shrinking one mismatch.
const maxShrinkSteps = 400

// shrink makes m's rule source and input smaller while the mismatch (of
// the same kind) persists, and updates m with the final outputs. A scan
// mismatch that only shows when the rule set is compiled together with
// other rule sets of its batch (m.Context) keeps the fewest of them that
// still show it.
func shrink(yara, other Engine, m *Mismatch) {
	steps := 0
	ns := "default"
	var ctx []Source
	still := func(src string, in []byte) bool {
		steps++
		ok, _, _ := reproduces(yara, other, m.Kind, Source{ns, src}, in, ctx)
		return ok
	}
	src, in := m.Source, m.Input
	if m.Kind != "compile" && len(m.Context) > 0 && !still(src, in) {
		// Only in company: find a small set of companions.
		ns, ctx = m.Namespace, m.Context
		if !still(src, in) {
			return
		}
		for i := 0; i < len(ctx) && steps < maxShrinkSteps; {
			saved := ctx
			ctx = append(append([]Source{}, ctx[:i]...), ctx[i+1:]...)
			if !still(src, in) {
				ctx = saved
				i++
			}
		}
	}
	for progress := true; progress && steps < maxShrinkSteps; {
		progress = false
		// Drop whole rules (separated by blank lines), then single
		// lines, then replace a condition by one of its parts.
		cands := append(dropBlocks(src), dropLines(src)...)
		cands = append(cands, condCandidates(src)...)
		for _, cand := range cands {
			if steps >= maxShrinkSteps {
				break
			}
			if still(cand, in) {
				src, progress = cand, true
				break
			}
		}
		if progress || m.Kind == "compile" {
			continue
		}
		// Cut the input.
		for n := len(in) / 2; n >= 1 && !progress; n /= 2 {
			for at := 0; at+n <= len(in) && steps < maxShrinkSteps; at += n {
				cand := append(append([]byte{}, in[:at]...), in[at+n:]...)
				if still(src, cand) {
					in, progress = cand, true
					break
				}
			}
		}
	}
	ok, y, o := reproduces(yara, other, m.Kind, Source{ns, src}, in, ctx)
	if !ok {
		return
	}
	m.Source, m.Input, m.Yara, m.Other, m.Shrunk = src, in, y, o, true
	m.Namespace, m.Context = ns, ctx
}

// reproduces runs both engines on one source (compiled with the sources
// of ctx, for scan mismatches) and one input, and reports whether a
// mismatch of the given kind shows, with both outputs.
func reproduces(yara, other Engine, kind string, s Source, in []byte, ctx []Source) (bool, string, string) {
	yok, ymsg, err := yara.Accepts(s)
	if err != nil {
		return false, "", ""
	}
	ook, omsg, err := other.Accepts(s)
	if err != nil {
		return false, "", ""
	}
	if kind == "compile" {
		return yok != ook, acceptText(yok, ymsg), acceptText(ook, omsg)
	}
	if !yok || !ook {
		return false, "", ""
	}
	all := append([]Source{s}, ctx...)
	yh, err := yara.Scan(all, [][]byte{in})
	if err != nil {
		return false, "", ""
	}
	oh, oerr := other.Scan(all, [][]byte{in})
	if kind == "error" {
		if oerr == nil {
			return false, "", ""
		}
		return true, renderHits(yh[0], nil), oerr.Error()
	}
	if oerr != nil {
		return false, "", ""
	}
	ys := byNamespace(yh[0])[s.Namespace]
	yt := renderHits(ys, nil)
	ot := renderHits(byNamespace(oh[0])[s.Namespace], yaraTexts(ys))
	return yt != ot, yt, ot
}

func dropBlocks(src string) []string {
	blocks := strings.Split(src, "\n\n")
	if len(blocks) < 2 {
		return nil
	}
	var out []string
	for i := range blocks {
		rest := append(append([]string{}, blocks[:i]...), blocks[i+1:]...)
		out = append(out, strings.Join(rest, "\n\n"))
	}
	return out
}

func dropLines(src string) []string {
	lines := strings.Split(src, "\n")
	var out []string
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || t == "{" || t == "}" || strings.HasPrefix(t, "rule ") || t == "condition:" {
			continue
		}
		rest := append(append([]string{}, lines[:i]...), lines[i+1:]...)
		out = append(out, strings.Join(rest, "\n"))
	}
	return out
}

// condCandidates returns src with one condition replaced by true, false
// or a parenthesized part of it, outer parts first (with the strings the
// part no longer uses removed, and without).
func condCandidates(src string) []string {
	const head = "  condition:\n    "
	var out []string
	off := 0
	for {
		i := strings.Index(src[off:], head)
		if i < 0 {
			break
		}
		start := off + i + len(head)
		end := start + strings.Index(src[start:], "\n")
		if end < start {
			break
		}
		cond := src[start:end]
		var parts []string
		if cond != "true" && cond != "false" {
			parts = append(parts, "true", "false")
		}
		var stack []int
		for j := 0; j < len(cond); j++ {
			switch cond[j] {
			case '(':
				stack = append(stack, j)
			case ')':
				if len(stack) > 0 {
					k := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					parts = append(parts, cond[k+1:j])
				}
			}
		}
		// Outer parts keep more of the mismatch: try them first, but
		// only those strictly smaller than the whole condition.
		for n := len(parts) - 1; n >= 0; n-- {
			p := parts[n]
			if len(p) < len(cond) && strings.TrimSpace(p) != "" {
				if pruned, ok := pruneStrings(src[:start], p); ok {
					out = append(out, pruned+p+src[end:])
				}
				out = append(out, src[:start]+p+src[end:])
			}
		}
		off = end
	}
	return out
}

// pruneStrings removes, from the strings section at the end of head (the
// source up to a condition), the definitions cond does not use, so that
// the shrunk rule does not fail with "unreferenced string". It reports
// false when there is nothing to remove.
func pruneStrings(head, cond string) (string, bool) {
	if strings.Contains(cond, "them") || strings.Contains(cond, "*") {
		return "", false
	}
	lines := strings.Split(head, "\n")
	removed := false
	for i := len(lines) - 1; i >= 0; i-- {
		t := strings.TrimSpace(lines[i])
		if strings.HasPrefix(t, "rule ") || strings.Contains(t, " rule ") {
			break
		}
		if !strings.HasPrefix(t, "$") {
			continue
		}
		name, _, _ := strings.Cut(t[1:], " ")
		used := false
		for _, sigil := range []string{"$", "#", "@", "!"} {
			if name != "" && containsWord(cond, sigil+name) {
				used = true
			}
		}
		if !used {
			lines = append(lines[:i], lines[i+1:]...)
			removed = true
		}
	}
	return strings.Join(lines, "\n"), removed
}

// containsWord reports whether w occurs in s not followed by an
// identifier character.
func containsWord(s, w string) bool {
	for off := 0; ; {
		i := strings.Index(s[off:], w)
		if i < 0 {
			return false
		}
		end := off + i + len(w)
		if end >= len(s) || !isWordByte(s[end]) {
			return true
		}
		off = end
	}
}
