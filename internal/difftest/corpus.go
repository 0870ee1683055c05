package difftest

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// maxCorpusFileSize bounds the real files read for a corpus run.
const maxCorpusFileSize = 4 << 20

// CorpusOptions configure RunCorpus.
type CorpusOptions struct {
	RulesDir string   // searched recursively for *.yar and *.yara
	Files    []string // real files to scan besides the generated inputs
	// Generated is how many generated inputs (random bytes with planted
	// text strings of the rules) to scan.
	Generated int
	Seed      uint64
	// SkipImports lists modules whose importers are skipped (modules
	// Vigil does not have yet).
	SkipImports []string
	Logf        func(format string, args ...any)
}

// CorpusReport summarizes RunCorpus.
type CorpusReport struct {
	RuleFiles  int // rule files found
	Skipped    int // skipped for their imports
	Compared   int // files compiled by both and scanned
	Inputs     int
	RuleHits   int // rule matches yara reported
	Mismatches []*Mismatch
}

func (r *CorpusReport) String() string {
	return fmt.Sprintf("%d rule files (%d skipped for imports, %d compared), %d inputs, %d rule matches, %d mismatches",
		r.RuleFiles, r.Skipped, r.Compared, r.Inputs, r.RuleHits, len(r.Mismatches))
}

var importRE = regexp.MustCompile(`(?m)^\s*import\s+"([^"]+)"`)

// textStringRE finds simple text strings of a rule file, to plant them.
var textStringRE = regexp.MustCompile(`\$\w*\s*=\s*"((?:[^"\\]|\\.)*)"`)

// RunCorpus compiles every rule file of opt.RulesDir (except those
// importing a skipped module) in both engines and scans generated inputs
// and opt.Files with the ones both compile, comparing the results.
func RunCorpus(yara, other Engine, opt CorpusOptions) (*CorpusReport, error) {
	rep := &CorpusReport{}
	var paths []string
	err := filepath.WalkDir(opt.RulesDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yar") || strings.HasSuffix(p, ".yara")) {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var srcs []Source
	var plants [][][]byte // per compared rule file
	for i, p := range paths {
		rep.RuleFiles++
		text, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if skipFor(text, opt.SkipImports) {
			rep.Skipped++
			continue
		}
		src := Source{Namespace: fmt.Sprintf("f%d", i), Text: string(text)}
		yok, ymsg, err := yara.Accepts(src)
		if err != nil {
			return nil, err
		}
		ook, omsg, err := other.Accepts(src)
		if err != nil {
			return nil, err
		}
		if yok != ook {
			rep.Mismatches = append(rep.Mismatches, &Mismatch{Kind: "compile", CaseID: -1,
				Source: "// " + p + "\n" + src.Text, Yara: acceptText(yok, ymsg), Other: acceptText(ook, omsg)})
			continue
		}
		if !yok {
			continue
		}
		rep.Compared++
		srcs = append(srcs, src)
		var ps [][]byte
		for _, m := range textStringRE.FindAllStringSubmatch(src.Text, -1) {
			if b, ok := unquoteYara(m[1]); ok && len(b) > 0 {
				ps = append(ps, b)
			}
		}
		for _, m := range hexStringRE.FindAllStringSubmatch(src.Text, -1) {
			if b, ok := sampleHexText(rand.New(rand.NewPCG(opt.Seed, uint64(len(ps)))), m[1]); ok && len(b) > 0 {
				ps = append(ps, b)
			}
		}
		plants = append(plants, ps)
	}
	inputs, names := corpusInputs(opt, plants)
	rep.Inputs = len(inputs)
	if len(srcs) == 0 {
		return rep, nil
	}
	yh, err := yara.Scan(srcs, inputs)
	if err != nil {
		return rep, fmt.Errorf("yara scan of the corpus: %w", err)
	}
	oh, err := other.Scan(srcs, inputs)
	if err != nil {
		rep.Mismatches = append(rep.Mismatches, &Mismatch{Kind: "error", CaseID: -1, Yara: "(scanned)", Other: err.Error()})
		return rep, nil
	}
	text := map[string]string{}
	for _, s := range srcs {
		text[s.Namespace] = s.Text
	}
	for i := range inputs {
		if len(yh[i]) == 1 && yh[i][0].Rule == ScanErrorRule {
			continue
		}
		ys, os := byNamespace(yh[i]), byNamespace(oh[i])
		for _, s := range srcs {
			rep.RuleHits += len(ys[s.Namespace])
			yt := renderHits(ys[s.Namespace], nil)
			ot := renderHits(os[s.Namespace], yaraTexts(ys[s.Namespace]))
			if yt != ot {
				in := inputs[i]
				if len(in) > 4096 {
					in = nil // a real file: named instead
				}
				rep.Mismatches = append(rep.Mismatches, &Mismatch{Kind: "scan", CaseID: -1,
					Source: "// input " + names[i] + "\n" + s.Text, Input: in, Yara: yt, Other: ot})
			}
		}
	}
	return rep, nil
}

func skipFor(text []byte, skip []string) bool {
	for _, m := range importRE.FindAllSubmatch(text, -1) {
		for _, s := range skip {
			if string(m[1]) == s {
				return true
			}
		}
	}
	return false
}

// corpusInputs returns the real files and generated inputs, with a name
// for each. A generated input holds the text strings of one rule file
// (plants[i]), some wide or case-flipped, often after an "MZ" or ELF
// magic.
func corpusInputs(opt CorpusOptions, plants [][][]byte) ([][]byte, []string) {
	var inputs [][]byte
	var names []string
	for _, f := range opt.Files {
		st, err := os.Stat(f)
		if err != nil || st.Size() > maxCorpusFileSize {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		inputs = append(inputs, b)
		names = append(names, f)
	}
	r := rand.New(rand.NewPCG(opt.Seed, 0xC0))
	for k := 0; k < opt.Generated; k++ {
		data := make([]byte, r.IntN(2048))
		for i := range data {
			data[i] = randByte(r)
		}
		exact := r.IntN(2) == 0
		if len(plants) > 0 {
			for _, p := range plants[r.IntN(len(plants))] {
				if !exact && r.IntN(5) == 0 {
					continue
				}
				p = bytes.Clone(p)
				k := r.IntN(6)
				if exact {
					k = -1
				}
				switch k {
				case 0:
					p = widen(p)
				case 1:
					p = flipCase(r, p)
				}
				at := r.IntN(len(data) + 1)
				data = append(data[:at], append(p, data[at:]...)...)
			}
		}
		switch r.IntN(4) {
		case 0, 1:
			data = append([]byte("MZ"), data...)
		case 2:
			data = append([]byte("\x7fELF"), data...)
		}
		inputs = append(inputs, data)
		names = append(names, fmt.Sprintf("generated #%d", k))
	}
	return inputs, names
}

var hexStringRE = regexp.MustCompile(`\$\w*\s*=\s*\{([^}]*)\}`)

// sampleHexText returns bytes matching the hex string body s: wildcards
// and nibbles filled at random, jumps at their minimum length, the first
// alternative of each alternation. It gives up (false) on what it does
// not understand.
func sampleHexText(r *rand.Rand, s string) ([]byte, bool) {
	for _, sep := range []string{"(", ")", "|", "[", "]"} {
		s = strings.ReplaceAll(s, sep, " "+sep+" ")
	}
	var out []byte
	skip := 0 // depth of alternatives being skipped
	depth := 0
	toks := strings.Fields(s)
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t == "(":
			depth++
			if skip > 0 {
				skip++
			}
		case t == ")":
			depth--
			if skip > 0 {
				skip--
			}
		case t == "|":
			if skip == 0 {
				skip = 1 // skip the rest of this alternation
			}
		case skip > 0:
		case t == "[":
			if i+2 >= len(toks) || toks[i+2] != "]" {
				return nil, false
			}
			lo, _, _ := strings.Cut(toks[i+1], "-")
			n, err := strconv.Atoi(lo)
			if lo == "" {
				n, err = 0, nil
			}
			if err != nil || n > 4096 {
				return nil, false
			}
			for ; n > 0; n-- {
				out = append(out, byte(r.IntN(256)))
			}
			i += 2
		case len(t) == 2:
			hi, lo := t[0], t[1]
			v := 0
			for k, c := range []byte{hi, lo} {
				var d int
				switch {
				case c == '?':
					d = r.IntN(16)
				case c >= '0' && c <= '9':
					d = int(c - '0')
				case c >= 'a' && c <= 'f':
					d = int(c-'a') + 10
				case c >= 'A' && c <= 'F':
					d = int(c-'A') + 10
				default:
					return nil, false
				}
				if k == 0 {
					v = d << 4
				} else {
					v |= d
				}
			}
			out = append(out, byte(v))
		default:
			return nil, false
		}
	}
	return out, depth == 0
}

// unquoteYara decodes the body of a YARA text string (escapes \n \t \r
// \\ \" \xNN).
func unquoteYara(s string) ([]byte, bool) {
	var out []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(s) {
			return nil, false
		}
		switch s[i] {
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'r':
			out = append(out, '\r')
		case '\\', '"':
			out = append(out, s[i])
		case 'x':
			if i+3 > len(s) {
				return nil, false
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, false
			}
			out = append(out, byte(v))
			i += 2
		default:
			return nil, false
		}
	}
	return out, true
}
