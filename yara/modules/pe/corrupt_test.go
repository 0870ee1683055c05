package pe

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Corrupted and truncated variants of the samples: each must load without
// panicking and give the data yara gives.

// variant is a modified copy of a sample.
type variant struct {
	name string
	data []byte
}

// regions returns the file ranges worth corrupting: headers, the section
// table and the areas the data directories point at.
func regions(f *file) [][2]int64 {
	out := [][2]int64{{0, min(f.size(), f.sections+10*sectionHeaderSize)}}
	for _, dir := range []int{directoryExport, directoryImport, directoryResource, directorySecurity, directoryDebug, directoryDelayLoad} {
		d := f.directory(dir)
		if d < 0 || f.u32(d) == 0 {
			continue
		}
		off := int64(f.u32(d))
		if dir != directorySecurity {
			off = f.rvaToOffset(uint64(f.u32(d)))
		}
		if off < 0 || off >= f.size() {
			continue
		}
		size := min(int64(f.u32(d+4)), f.size()-off, 4096)
		if size > 0 {
			out = append(out, [2]int64{off, off + size})
		}
	}
	return out
}

// variants makes n corrupted copies of data (a few bytes changed in one
// region each) and truncated copies at structure boundaries.
func variants(data []byte, n int, seed int64) []variant {
	f := parse(data)
	if !f.isPE {
		return nil
	}
	rng := rand.New(rand.NewSource(seed))
	var out []variant
	cuts := map[int64]bool{f.nt + 10: true, f.opt + 50: true, f.sections: true, f.sections + 20: true, f.size() - 1: true}
	for _, r := range regions(f) {
		cuts[r[0]+1] = true
		cuts[(r[0]+r[1])/2] = true
	}
	for c := range cuts {
		if c > 0 && c < f.size() {
			out = append(out, variant{"cut" + strconv.FormatInt(c, 10), data[:c]})
		}
	}
	rs := regions(f)
	for i := 0; i < n; i++ {
		r := rs[rng.Intn(len(rs))]
		b := append([]byte(nil), data...)
		for k := 0; k < 1+rng.Intn(4); k++ {
			p := r[0] + rng.Int63n(r[1]-r[0])
			switch rng.Intn(3) {
			case 0:
				b[p] ^= byte(1 << rng.Intn(8))
			case 1:
				b[p] = 0xff
			default:
				b[p] = byte(rng.Intn(256))
			}
		}
		out = append(out, variant{fmt.Sprintf("flip%d", i), b})
	}
	return out
}

// TestCorruptedAgainstYara compares our data with yara's on corrupted
// variants of each sample. VIGIL_PE_VARIANTS sets how many corrupted
// copies per sample (default 12).
func TestCorruptedAgainstYara(t *testing.T) {
	n := 12
	if s := os.Getenv("VIGIL_PE_VARIANTS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	total := map[string][2]int{}
	count := 0
	dir := t.TempDir()
	all := samples(t)
	if d := os.Getenv("VIGIL_PE_SAMPLES"); d != "" {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			all = append(all, sample{e.Name(), filepath.Join(d, e.Name())})
		}
	}
	for si, s := range all {
		data, err := os.ReadFile(s.path)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range variants(data, n, int64(si)) {
			path := filepath.Join(dir, "v")
			if err := os.WriteFile(path, v.data, 0o600); err != nil {
				t.Fatal(err)
			}
			label := s.name + "/" + v.name
			for g, c := range compareDumps(t, label, yaraDump(t, path), ourDump(t, v.data)) {
				x := total[g]
				total[g] = [2]int{x[0] + c[0], x[1] + c[1]}
			}
			count++
		}
	}
	t.Logf("%d variants", count)
	logGroups(t, total)
}

// TestSignatureFlipsAgainstYara changes one or two bytes of the
// Authenticode signature of each signed sample: yara keeps or drops a
// signature as OpenSSL decodes it or not, and we must agree.
// VIGIL_PE_SIG_VARIANTS sets the number of copies per sample (default 40).
func TestSignatureFlipsAgainstYara(t *testing.T) {
	n := 40
	if s := os.Getenv("VIGIL_PE_SIG_VARIANTS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	dir := t.TempDir()
	total := map[string][2]int{}
	count := 0
	for si, s := range samples(t) {
		data, err := os.ReadFile(s.path)
		if err != nil {
			t.Fatal(err)
		}
		f := parse(data)
		d := f.directory(directorySecurity)
		if !f.isPE || d < 0 || f.u32(d) == 0 || f.u32(d+4) <= 8 {
			continue
		}
		off, size := int64(f.u32(d)), int64(f.u32(d+4))
		rng := rand.New(rand.NewSource(int64(si) + 100))
		for i := 0; i < n; i++ {
			b := append([]byte(nil), data...)
			for k := 0; k < 1+rng.Intn(2); k++ {
				p := off + 8 + rng.Int63n(size-8)
				switch rng.Intn(3) {
				case 0:
					b[p] ^= byte(1 << rng.Intn(8))
				case 1:
					b[p]++
				default:
					b[p] = byte(rng.Intn(256))
				}
			}
			path := filepath.Join(dir, "v")
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			label := fmt.Sprintf("%s/sig%d", s.name, i)
			for g, c := range compareDumps(t, label, yaraDump(t, path), ourDump(t, b)) {
				x := total[g]
				total[g] = [2]int{x[0] + c[0], x[1] + c[1]}
			}
			count++
		}
	}
	t.Logf("%d variants: signatures agree %d, differ %d", count, total["signatures"][0], total["signatures"][1])
}
