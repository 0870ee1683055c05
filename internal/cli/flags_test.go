package cli

import (
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestParseScanArgs(t *testing.T) {
	tests := []struct {
		args  string
		check func(o *scanOptions) bool
		pos   string
	}{
		{"-rs r.yar dir", func(o *scanOptions) bool { return o.recursive && o.printStrings && !o.printTags }, "r.yar dir"},
		{"-sr r.yar dir", func(o *scanOptions) bool { return o.recursive && o.printStrings }, "r.yar dir"},
		{"-sgmeL r.yar f", func(o *scanOptions) bool {
			return o.printStrings && o.printTags && o.printMeta && o.printNamespace && o.printLength
		}, "r.yar f"},
		{"-p 2 r.yar dir", func(o *scanOptions) bool { return o.threads == 2 }, "r.yar dir"},
		{"-p2 r.yar dir", func(o *scanOptions) bool { return o.threads == 2 }, "r.yar dir"},
		{"--threads=2 r.yar dir", func(o *scanOptions) bool { return o.threads == 2 }, "r.yar dir"},
		{"--threads 2 r.yar dir", func(o *scanOptions) bool { return o.threads == 2 }, "r.yar dir"},
		{"-rp 3 r.yar dir", func(o *scanOptions) bool { return o.recursive && o.threads == 3 }, "r.yar dir"},
		{"r.yar dir", func(o *scanOptions) bool {
			return o.threads == maxThreads && o.timeout == defaultTimeout && o.limit == 0 && !o.recursive
		}, "r.yar dir"},
		{"r.yar -s dir -r", func(o *scanOptions) bool { return o.recursive && o.printStrings }, "r.yar dir"},
		{"-d a=1 -d b=x=y --define=c=z r.yar f", func(o *scanOptions) bool {
			return reflect.DeepEqual(o.defines, []string{"a=1", "b=x=y", "c=z"})
		}, "r.yar f"},
		{"-d a=1,2 r.yar f", func(o *scanOptions) bool { return reflect.DeepEqual(o.defines, []string{"a=1,2"}) }, "r.yar f"},
		{"-t a -t b,c -i R r.yar f", func(o *scanOptions) bool {
			return reflect.DeepEqual(o.tags, []string{"a", "b,c"}) && reflect.DeepEqual(o.identifiers, []string{"R"})
		}, "r.yar f"},
		{"-l 0x10 -a 5 -z 100 r.yar f", func(o *scanOptions) bool {
			return o.limit == 16 && o.timeout == 5 && o.skipLarger == 100
		}, "r.yar f"},
		{"-k 100 --max-strings-per-rule=5 --atom-quality-table=x --max-process-memory-chunk=9 r.yar f", func(o *scanOptions) bool {
			return o.stackSize == 100 && o.maxStrings == 5 && o.atomQualityTable == "x" && o.maxChunk == 9
		}, "r.yar f"},
		{"-C -c -f -n -N -w --fail-on-warnings --scan-list r f", func(o *scanOptions) bool {
			return o.compiled && o.count && o.fast && o.negate && o.noFollow && o.noWarnings && o.failOnWarnings && o.scanList
		}, "r f"},
		{"--json --builtin-rules dir", func(o *scanOptions) bool { return o.json && o.builtin }, "dir"},
		{"-v", func(o *scanOptions) bool { return o.version }, ""},
		{"-h", func(o *scanOptions) bool { return o.help }, ""},
		{"- target", func(o *scanOptions) bool { return true }, "- target"},
		{"ns:r.yar C:\\x.yar f", func(o *scanOptions) bool { return true }, "ns:r.yar C:\\x.yar f"},
	}
	for _, tt := range tests {
		o, pos, ok := parseScanArgs(strings.Fields(tt.args), io.Discard)
		if !ok {
			t.Errorf("%q: parse failed", tt.args)
			continue
		}
		if !tt.check(o) {
			t.Errorf("%q: wrong options %+v", tt.args, *o)
		}
		if got := strings.Join(pos, " "); got != tt.pos {
			t.Errorf("%q: positional %q, want %q", tt.args, got, tt.pos)
		}
	}
}

func TestParseScanArgsErrors(t *testing.T) {
	tooMany := strings.Repeat("-t x ", maxRepeated+1)
	for _, args := range []string{
		"-q r f",
		"--nope r f",
		"-p x r f",
		"-p",
		"-l",
		"-pr 2 r f",
		tooMany + "r f",
		"-s -s r f",
		"-sr -s r f",
		"-p 2 --threads=3 r f",
	} {
		var stderr strings.Builder
		if _, _, ok := parseScanArgs(strings.Fields(args), &stderr); ok {
			t.Errorf("%q: parsed, want an error", args)
		} else if stderr.Len() == 0 {
			t.Errorf("%q: no error message", args)
		}
	}
}

// The expected types and values were checked against yara 4.2.3 (see
// testdata/scan/externals.txt, which compares the same values end to end).
func TestInferValue(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{"5", int64(5)},
		{"-5", int64(-5)},
		{"05", int64(5)},
		{"0", int64(0)},
		{"4294967297", int64(1)},            // atoi keeps the low 32 bits
		{"2147483648", int64(-2147483648)},  // wraps to INT_MIN
		{"99999999999999999999", int64(-1)}, // strtol saturates at LONG_MAX
		{"-99999999999999999999", int64(0)}, // LONG_MIN
		{"1.5", 1.5},
		{"1.", 1.0},
		{"-1.5", -1.5},
		{"0.0", 0.0},
		{"true", true},
		{"false", false},
		{"TRUE", "TRUE"},
		{".5", ".5"},
		{"-.5", "-.5"},
		{"1.5.1", "1.5.1"},
		{"0x10", "0x10"},
		{"+5", "+5"},
		{" 5", " 5"},
		{"-", "-"},
		{"", ""},
		{"1e5", "1e5"},
		{"١", "١"}, // a non-ASCII digit is not a digit for C's isdigit
	}
	for _, tt := range tests {
		if got := inferValue(tt.in); got != tt.want {
			t.Errorf("inferValue(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
	if got := inferValue(strings.Repeat("9", 400) + ".5"); got != math.Inf(1) {
		t.Errorf("huge float = %v, want +Inf (atof)", got)
	}
}

func TestParseDefines(t *testing.T) {
	var stderr strings.Builder
	got := parseDefines([]string{"a=1", "b=x=y", "broken", "c=2"}, &stderr)
	want := []define{{"a", int64(1)}, {"b", "x=y"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseDefines = %#v, want %#v (yara stops at the first bad -d)", got, want)
	}
	if !strings.Contains(stderr.String(), "wrong syntax for `-d` option") {
		t.Errorf("stderr = %q", stderr.String())
	}
}

func TestSplitNamespace(t *testing.T) {
	existing := map[string]bool{"a:b.yar": true}
	exists := func(p string) bool { return existing[p] }
	tests := []struct{ arg, ns, file string }{
		{"r.yar", "", "r.yar"},
		{"ns:r.yar", "ns", "r.yar"},
		{"ns:dir/r.yar", "ns", "dir/r.yar"},
		{"a:b.yar", "", "a:b.yar"}, // an existing file wins
		{"x:y:z.yar", "x", "y:z.yar"},
		{`C:\rules\r.yar`, "", `C:\rules\r.yar`}, // drive letter
		{`ns:C:\r.yar`, "ns", `C:\r.yar`},
		{"ns:-", "ns", "-"},
		{"-", "", "-"},
		{"ns:", "ns", ""},
	}
	for _, tt := range tests {
		ns, file := splitNamespace(tt.arg, exists)
		if ns != tt.ns || file != tt.file {
			t.Errorf("splitNamespace(%q) = %q, %q; want %q, %q", tt.arg, ns, file, tt.ns, tt.file)
		}
	}
}

// FuzzInferValue checks that any -d value gets one of yara's four types,
// integers within a C int, without panicking.
func FuzzInferValue(f *testing.F) {
	for _, s := range []string{"5", "-5", "1.5", "true", "x", "", "-", "99999999999999999999", "1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		switch v := inferValue(s).(type) {
		case int64:
			if v != int64(int32(v)) {
				t.Errorf("%q: %d is outside a C int", s, v)
			}
		case float64, bool:
		case string:
			if v != s {
				t.Errorf("%q: string value %q", s, v)
			}
		default:
			t.Errorf("%q: type %T", s, v)
		}
	})
}
