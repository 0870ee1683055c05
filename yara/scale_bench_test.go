package yara

// Rule-count scaling (issue 4): the same input scanned with the first 100
// and 1,000 rules of the shared corpus, the whole corpus, and 10,000 rules
// made from the corpus by perturbing its strings. bench/scale.sh writes the
// same rule sets to disk (TestScaleRuleSets with VIGIL_SCALE_OUT set) and
// times yara and vigil on them.

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"testing"

	"vigil/yara/syntax"
)

// scalePart is one source of a scaling rule set, compiled in its own
// namespace.
type scalePart struct {
	name, ns string
	src      []byte
	rules    int
	file, k  int // corpus file and copy number (0: unchanged)
}

// scaleFile is one parsed corpus file: its source and the byte offsets
// where each rule and each string value starts.
type scaleFile struct {
	name     string
	src      []byte
	ruleOffs []int // start of each rule declaration (at private/global if any)
	strOffs  []int // start of each string definition ($id)
	strKinds []syntax.StringKind
}

// posOffset turns a 1-based line and byte column into an offset in src.
func posOffset(src []byte, p syntax.Pos) int {
	line, off := 1, 0
	for line < p.Line {
		i := bytes.IndexByte(src[off:], '\n')
		if i < 0 {
			return len(src)
		}
		off += i + 1
		line++
	}
	return off + p.Col - 1
}

// loadScaleFiles parses every corpus file. It returns nil without the corpus.
func loadScaleFiles(tb testing.TB) []scaleFile {
	names, srcs := corpusSources(tb)
	var out []scaleFile
	for i, name := range names {
		f, err := syntax.Parse(name, srcs[i])
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		sf := scaleFile{name: name, src: srcs[i]}
		for _, d := range f.Decls {
			r, ok := d.(*syntax.Rule)
			if !ok {
				continue
			}
			sf.ruleOffs = append(sf.ruleOffs, posOffset(srcs[i], r.Pos))
			for _, s := range r.Strings {
				sf.strOffs = append(sf.strOffs, posOffset(srcs[i], s.Pos))
				sf.strKinds = append(sf.strKinds, s.Kind)
			}
		}
		out = append(out, sf)
	}
	return out
}

// cut returns the source of f up to its k-th rule (all of it when k is
// at least the number of rules). Rules only refer to earlier rules, so
// the prefix compiles on its own.
func (f *scaleFile) cut(src []byte, k int) []byte {
	if k >= len(f.ruleOffs) {
		return src
	}
	return src[:f.ruleOffs[k]]
}

// rot shifts letters by k within their case and digits by k.
func rot(c byte, k int) byte {
	switch {
	case c >= 'a' && c <= 'z':
		return 'a' + byte((int(c-'a')+k)%26)
	case c >= 'A' && c <= 'Z':
		return 'A' + byte((int(c-'A')+k)%26)
	case c >= '0' && c <= '9':
		return '0' + byte((int(c-'0')+k)%10)
	}
	return c
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// flipHex rewrites the two hex digits at b[0:2] as their value XOR k,
// leaving 00 and FF (and results that would become 00 or FF) alone so
// the byte's commonness stays about the same.
func flipHex(b []byte, k int) {
	v, err := strconv.ParseUint(string(b[:2]), 16, 8)
	if err != nil || v == 0 || v == 0xFF {
		return
	}
	n := byte(v) ^ byte(k)
	if n == 0 || n == 0xFF {
		return
	}
	const digits = "0123456789ABCDEF"
	b[0], b[1] = digits[n>>4], digits[n&15]
}

// perturb returns a copy of f's source in which every string value is
// changed deterministically by k (1..9) without changing its length or
// its structure: text strings and regex literals have their letters and
// digits rotated by k (escapes, regex classes and repetition counts are
// kept) and \xHH escapes and fixed hex-string bytes are XORed with k.
func (f *scaleFile) perturb(k int) []byte {
	b := append([]byte(nil), f.src...)
	for i, off := range f.strOffs {
		j := off
		for j < len(b) && b[j] != '=' {
			j++
		}
		j++
		for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\r' || b[j] == '\n') {
			j++
		}
		if j >= len(b) {
			continue
		}
		switch f.strKinds[i] {
		case syntax.TextString:
			perturbText(b, j+1, k)
		case syntax.HexPattern:
			perturbHex(b, j+1, k)
		case syntax.RegexString:
			perturbRegex(b, j+1, k)
		}
	}
	return b
}

func perturbText(b []byte, j, k int) {
	for j < len(b) && b[j] != '"' {
		if b[j] == '\\' && j+1 < len(b) {
			if b[j+1] == 'x' && j+3 < len(b) && isHexDigit(b[j+2]) && isHexDigit(b[j+3]) {
				flipHex(b[j+2:], k)
				j += 4
			} else {
				j += 2
			}
			continue
		}
		b[j] = rot(b[j], k)
		j++
	}
}

func perturbHex(b []byte, j, k int) {
	for j < len(b) && b[j] != '}' {
		switch {
		case b[j] == '/' && j+1 < len(b) && b[j+1] == '/':
			for j < len(b) && b[j] != '\n' {
				j++
			}
		case b[j] == '/' && j+1 < len(b) && b[j+1] == '*':
			if e := bytes.Index(b[j+2:], []byte("*/")); e >= 0 {
				j += e + 4
			} else {
				j = len(b)
			}
		case b[j] == '[':
			for j < len(b) && b[j] != ']' {
				j++
			}
		case j+1 < len(b) && isHexDigit(b[j]) && isHexDigit(b[j+1]):
			flipHex(b[j:], k)
			j += 2
		default:
			j++
		}
	}
}

func perturbRegex(b []byte, j, k int) {
	for j < len(b) && b[j] != '/' {
		switch {
		case b[j] == '\\' && j+1 < len(b):
			if b[j+1] == 'x' && j+3 < len(b) && isHexDigit(b[j+2]) && isHexDigit(b[j+3]) {
				flipHex(b[j+2:], k)
				j += 4
			} else {
				j += 2
			}
		case b[j] == '[':
			j++
			if j < len(b) && b[j] == '^' {
				j++
			}
			if j < len(b) && b[j] == ']' {
				j++
			}
			for j < len(b) && b[j] != ']' && b[j] != '/' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			if j < len(b) && b[j] == ']' {
				j++
			}
		case b[j] == '{' && j+1 < len(b) && (b[j+1] >= '0' && b[j+1] <= '9' || b[j+1] == ','):
			for j < len(b) && b[j] != '}' && b[j] != '/' {
				j++
			}
		default:
			b[j] = rot(b[j], k)
			j++
		}
	}
}

// scaleSet builds a rule set of exactly n rules (n <= 0: the whole corpus).
// It takes the corpus files in order, cutting the last one; past the end of
// the corpus it adds perturbed copies of it, each file of copy k in its own
// namespace. It returns nil if the corpus is absent.
func scaleSet(files []scaleFile, n int) []scalePart {
	var parts []scalePart
	left := n
	for k := 0; ; k++ {
		for i := range files {
			f := &files[i]
			if n > 0 && left == 0 {
				return parts
			}
			src := f.src
			if k > 0 {
				src = f.perturb(k)
			}
			take := len(f.ruleOffs)
			if n > 0 {
				take = min(take, left)
				left -= take
			}
			parts = append(parts, scalePart{
				name:  fmt.Sprintf("c%d_%s", k, filepath.Base(f.name)),
				ns:    fmt.Sprintf("c%dn%d", k, i),
				src:   f.cut(src, take),
				rules: take,
				file:  i,
				k:     k,
			})
		}
		if n <= 0 || k >= 9 {
			return parts
		}
	}
}

func compileParts(tb testing.TB, parts []scalePart) *Rules {
	c := NewCompiler()
	for _, p := range parts {
		if err := c.AddSource(p.name, p.src, p.ns); err != nil {
			tb.Fatal(err)
		}
	}
	r, err := c.Rules()
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// scaleSizes are the rule counts measured; 0 means the whole corpus.
var scaleSizes = []int{100, 1000, 0, 10000}

func scaleName(n int) string {
	if n == 0 {
		return "corpus"
	}
	return strconv.Itoa(n)
}

// inputSet is the first total bytes of regular files under a directory
// in name order (files over 16 MiB skipped), read once.
type inputSet struct {
	once  sync.Once
	dir   string
	total int64
	files [][]byte
	size  int64
}

func (in *inputSet) load() ([][]byte, int64) {
	in.once.Do(func() {
		const maxFile = 16 << 20
		filepath.WalkDir(in.dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() || in.size >= in.total {
				return nil
			}
			info, err := d.Info()
			if err != nil || info.Size() == 0 || info.Size() > maxFile {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			in.files = append(in.files, data)
			in.size += int64(len(data))
			return nil
		})
	})
	return in.files, in.size
}

var (
	binInput = &inputSet{dir: "/usr/bin", total: 64 << 20}
	docInput = &inputSet{dir: "/usr/share/doc", total: 16 << 20}
)

// scanInput scans every file of input b.N times and reports allocations
// per file, the number of files and the matches per op.
func scanInput(b *testing.B, r *Rules, input [][]byte, size int64) {
	s := r.NewScanner()
	ctx := context.Background()
	for _, data := range input { // warm up buffers and module state
		if _, err := s.ScanBytes(ctx, data); err != nil {
			b.Fatal(err)
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	matches := 0
	for i := 0; i < b.N; i++ {
		for _, data := range input {
			res, err := s.ScanBytes(ctx, data)
			if err != nil {
				b.Fatal(err)
			}
			matches += len(res.Matching)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*len(input)), "allocs/file")
	b.ReportMetric(float64(len(input)), "files")
	b.ReportMetric(float64(matches)/float64(b.N), "matches")
}

// BenchmarkScaleRules scans the same 64 MB of /usr/bin files (in memory,
// one ScanBytes per file) with 100, 1,000, the corpus's and 10,000 rules.
// One op is the whole input set; allocs/file is allocations per scanned
// file (a scan allocates its Result).
func BenchmarkScaleRules(b *testing.B) {
	files := loadScaleFiles(b)
	if files == nil {
		b.Skip("../shared/corpus not present")
	}
	input, size := binInput.load()
	if len(input) == 0 {
		b.Skip("no files under /usr/bin")
	}
	for _, n := range scaleSizes {
		b.Run("rules="+scaleName(n), func(b *testing.B) {
			r := compileParts(b, scaleSet(files, n))
			scanInput(b, r, input, size)
			b.ReportMetric(float64(len(r.Info())), "rules")
		})
	}
}

// BenchmarkRegexRules scans 16 MB of /usr/share/doc and the 64 MB of
// /usr/bin files with bench/regex_rules.yar (generic regexes: URLs,
// addresses, encoded blobs).
func BenchmarkRegexRules(b *testing.B) {
	src, err := os.ReadFile(filepath.Join("..", "bench", "regex_rules.yar"))
	if err != nil {
		b.Skip(err)
	}
	r, err := Compile(string(src))
	if err != nil {
		b.Fatal(err)
	}
	for _, in := range []*inputSet{docInput, binInput} {
		b.Run("input="+filepath.Base(in.dir), func(b *testing.B) {
			input, size := in.load()
			if len(input) == 0 {
				b.Skip("no files under " + in.dir)
			}
			scanInput(b, r, input, size)
		})
	}
}

// BenchmarkScaleCompile compiles each scaling rule set.
func BenchmarkScaleCompile(b *testing.B) {
	files := loadScaleFiles(b)
	if files == nil {
		b.Skip("../shared/corpus not present")
	}
	for _, n := range scaleSizes {
		b.Run("rules="+scaleName(n), func(b *testing.B) {
			parts := scaleSet(files, n)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				compileParts(b, parts)
			}
		})
	}
}

// TestScaleRuleSets checks that the scaling rule sets compile with the
// intended number of rules and that the perturbed copies differ from the
// corpus. With VIGIL_SCALE_OUT=DIR it also writes each set to DIR/NAME/
// with a list DIR/NAME.txt of NAMESPACE:FILE lines for yara and vigil scan
// (bench/scale.sh).
func TestScaleRuleSets(t *testing.T) {
	files := loadScaleFiles(t)
	if files == nil {
		t.Skip("../shared/corpus not present")
	}
	total := 0
	for _, f := range files {
		total += len(f.ruleOffs)
	}
	out := os.Getenv("VIGIL_SCALE_OUT")
	for _, n := range scaleSizes {
		parts := scaleSet(files, n)
		r := compileParts(t, parts)
		want := n
		if n == 0 {
			want = total
		}
		if got := len(r.Info()); got != want {
			t.Errorf("set %s: %d rules compiled, want %d", scaleName(n), got, want)
		}
		if n > total {
			changed := 0
			for _, p := range parts[len(files):] {
				f := &files[p.file]
				if p.k == 0 || !bytes.Equal(f.cut(f.src, p.rules), p.src) {
					changed++
				}
			}
			if changed < (len(parts)-len(files))*9/10 {
				t.Errorf("set %s: only %d of %d copied files were perturbed", scaleName(n), changed, len(parts)-len(files))
			}
		}
		if out == "" {
			continue
		}
		dir := filepath.Join(out, scaleName(n))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var list bytes.Buffer
		for i, p := range parts {
			path := filepath.Join(dir, fmt.Sprintf("%05d_%s", i, p.name))
			if err := os.WriteFile(path, p.src, 0o644); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&list, "%s:%s\n", p.ns, path)
		}
		if err := os.WriteFile(dir+".txt", list.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out != "" {
		names := make([]string, 0, len(scaleSizes))
		for _, n := range scaleSizes {
			names = append(names, scaleName(n))
		}
		sort.Strings(names)
		t.Logf("wrote rule sets %v under %s", names, out)
	}
}

// BenchmarkRegexRuleEach scans the 16 MB of /usr/share/doc with each rule
// of bench/regex_rules.yar alone, to show which generic regexes are slow.
func BenchmarkRegexRuleEach(b *testing.B) {
	path := filepath.Join("..", "bench", "regex_rules.yar")
	src, err := os.ReadFile(path)
	if err != nil {
		b.Skip(err)
	}
	f, err := syntax.Parse(path, src)
	if err != nil {
		b.Fatal(err)
	}
	input, size := docInput.load()
	if len(input) == 0 {
		b.Skip("no files under /usr/share/doc")
	}
	var offs []int
	var names []string
	for _, d := range f.Decls {
		if r, ok := d.(*syntax.Rule); ok {
			offs = append(offs, posOffset(src, r.Pos))
			names = append(names, r.Name)
		}
	}
	offs = append(offs, len(src))
	for i, name := range names {
		b.Run(name, func(b *testing.B) {
			r, err := Compile(string(src[offs[i]:offs[i+1]]))
			if err != nil {
				b.Fatal(err)
			}
			scanInput(b, r, input, size)
		})
	}
}
