package ahocorasick

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const benchDataLen = 16 << 20

var (
	benchOnce   sync.Once
	benchRandom []byte // uniformly random bytes
	benchText   []byte // English-like words, spaces and punctuation
)

var benchWords = []string{"the", "of", "and", "to", "in", "is", "that", "for", "it", "as",
	"was", "with", "be", "by", "on", "not", "he", "this", "are", "or", "his",
	"from", "at", "which", "but", "have", "an", "had", "they", "you", "were",
	"their", "one", "all", "we", "can", "her", "has", "there", "been", "if",
	"more", "when", "will", "would", "who", "so", "no", "scanner", "malware",
	"process", "network", "system", "evidence", "between", "however", "Windows"}

// wordPatterns returns n 4-byte pieces of text: pieces of the words in
// the text data (many hits) and of other words (few).
func wordPatterns(n int) [][]byte {
	r := rand.New(rand.NewPCG(uint64(n), 10))
	other := []string{"kernel32.dll", "VirtualAlloc", "GetProcAddress", "http://",
		"powershell -enc", "cmd.exe /c", "CreateRemoteThread", "LoadLibraryA"}
	patterns := make([][]byte, n)
	for i := range patterns {
		w := other[r.IntN(len(other))]
		if r.IntN(4) == 0 {
			w = benchWords[r.IntN(len(benchWords))] + " " + benchWords[r.IntN(len(benchWords))]
		}
		j := r.IntN(len(w) - 3)
		patterns[i] = []byte(w[j : j+4])
	}
	return patterns
}

func benchData() {
	r := rand.New(rand.NewPCG(7, 8))
	benchRandom = make([]byte, benchDataLen)
	for i := range benchRandom {
		benchRandom[i] = byte(r.Uint32())
	}
	words := benchWords
	var buf bytes.Buffer
	buf.Grow(benchDataLen + 64)
	for buf.Len() < benchDataLen {
		buf.WriteString(words[r.IntN(len(words))])
		switch r.IntN(12) {
		case 0:
			buf.WriteString(", ")
		case 1:
			buf.WriteString(".\n")
		default:
			buf.WriteByte(' ')
		}
	}
	benchText = buf.Bytes()[:benchDataLen]
}

// benchPatterns returns n random 4-byte patterns.
func benchPatterns(n int) [][]byte {
	r := rand.New(rand.NewPCG(uint64(n), 9))
	patterns := make([][]byte, n)
	for i := range patterns {
		p := make([]byte, 4)
		for j := range p {
			p[j] = byte(r.Uint32())
		}
		patterns[i] = p
	}
	return patterns
}

func BenchmarkScan(b *testing.B) {
	benchScan(b, autoSkip)
}

func BenchmarkScanMode(b *testing.B) {
	for mode := range autoSkip {
		b.Run(fmt.Sprint("mode", mode), func(b *testing.B) { benchScan(b, mode) })
	}
}

func benchScan(b *testing.B, mode skipMode) {
	benchOnce.Do(benchData)
	for _, input := range []struct {
		name string
		data []byte
	}{{"random", benchRandom}, {"text", benchText}} {
		for _, n := range []int{1, 10, 1000, 20000, -1000} {
			name := fmt.Sprintf("%s/%d", input.name, n)
			var patterns [][]byte
			if n > 0 {
				patterns = benchPatterns(n)
			} else {
				name = fmt.Sprintf("%s/words%d", input.name, -n)
				patterns = wordPatterns(-n)
			}
			b.Run(name, func(b *testing.B) {
				m, err := build(patterns, denseBudget, mode)
				if err != nil {
					b.Fatal(err)
				}
				hits := 0
				fn := func(int, int) bool { hits++; return true }
				b.SetBytes(int64(len(input.data)))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					m.Scan(input.data, fn)
				}
				b.ReportMetric(float64(hits)/float64(b.N), "hits/op")
				b.ReportMetric(float64(m.MemoryBytes())/(1<<20), "MiB")
			})
		}
	}
}

// BenchmarkIndex is the baseline: bytes.Index for one 4-byte pattern
// (absent from the data), the same work as Scan with one pattern.
func BenchmarkIndex(b *testing.B) {
	benchOnce.Do(benchData)
	pat := benchPatterns(1)[0]
	for _, input := range []struct {
		name string
		data []byte
	}{{"random", benchRandom}, {"text", benchText}} {
		b.Run(input.name, func(b *testing.B) {
			b.SetBytes(int64(len(input.data)))
			b.ReportAllocs()
			for b.Loop() {
				data := input.data
				for {
					j := bytes.Index(data, pat)
					if j < 0 {
						break
					}
					data = data[j+1:]
				}
			}
		})
	}
}

func BenchmarkBuild(b *testing.B) {
	for _, n := range []int{1000, 20000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			patterns := benchPatterns(n)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Build(patterns); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var (
	throughput     = flag.Bool("throughput", false, "print a table of Scan throughput measured in thread CPU time")
	throughputOnly = flag.String("throughput.only", "", "with -throughput: only rows whose name contains this")
)

// TestThroughput prints Scan throughput (MB/s of thread CPU time, best of
// several runs) for every skip mode, next to bytes.Index. It checks nothing
// and runs only with -throughput.
func TestThroughput(t *testing.T) {
	if !*throughput {
		t.Skip("run with -throughput")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	benchOnce.Do(benchData)
	best := func(f func()) float64 {
		d := time.Duration(math.MaxInt64)
		for range 7 {
			start := threadCPU()
			f()
			d = min(d, threadCPU()-start)
		}
		return float64(benchDataLen) / d.Seconds() / 1e6
	}
	pat := benchPatterns(1)[0]
	for _, input := range []struct {
		name string
		data []byte
	}{{"random", benchRandom}, {"text", benchText}} {
		idx := best(func() { bytes.Index(input.data, pat) })
		t.Logf("%-6s bytes.Index: %8.0f MB/s", input.name, idx)
		for _, n := range []int{1, 10, 1000, 20000, -10, -1000} {
			line := fmt.Sprintf("%-6s %5d:", input.name, n)
			var patterns [][]byte
			if n > 0 {
				patterns = benchPatterns(n)
			} else {
				line = fmt.Sprintf("%-6s %5d words:", input.name, -n)
				patterns = wordPatterns(-n)
			}
			if !strings.Contains(line, *throughputOnly) {
				continue
			}
			for mode := range autoSkip + 1 {
				m, err := build(patterns, denseBudget, mode)
				if err != nil {
					t.Fatal(err)
				}
				if mode != autoSkip && m.skip != mode {
					line += fmt.Sprintf(" %14s", "-")
					continue
				}
				mbs := best(func() { m.Scan(input.data, func(int, int) bool { return true }) })
				line += fmt.Sprintf(" m%d %6.0f(%.2f)", m.skip, mbs, mbs/idx)
			}
			t.Log(line)
		}
	}
}
