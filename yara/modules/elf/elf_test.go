package elf

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"

	"vigil/yara/module"
	"vigil/yara/modules/internal/modtest"
)

// realSamples returns the differential corpus: ELF files from /usr/bin and
// /usr/lib/x86_64-linux-gnu, files built with gcc, and big-endian copies of
// some of them.
func realSamples(t *testing.T) []sample {
	t.Helper()
	var out []sample
	out = append(out, systemELFs(t, "/usr/bin", 20, 4<<20, func(string) bool { return true })...)
	out = append(out, systemELFs(t, "/usr/lib/x86_64-linux-gnu", 20, 4<<20, func(n string) bool {
		return strings.Contains(n, ".so")
	})...)
	gcc := gccSamples(t)
	// Big-endian copies of every third system file and of every gcc file.
	var be []sample
	for i, s := range append(out, gcc...) {
		if i < len(out) && i%3 != 0 {
			continue
		}
		if data, err := toBigEndian(s.data); err == nil {
			be = append(be, sample{name: s.name + ".be", data: data})
		}
	}
	out = append(out, gcc...)
	return append(out, be...)
}

// TestYaraAgreement compares Load+Dump with `yara -D` byte for byte on real
// files.
func TestYaraAgreement(t *testing.T) {
	modtest.Yara(t)
	samples := realSamples(t)
	if len(samples) < 10 {
		t.Fatalf("only %d samples found", len(samples))
	}
	files, lines := compareWithYara(t, samples)
	t.Logf("agreement with yara -D: %d/%d files, %d lines", files, len(samples), lines)
	var kinds []string
	for _, s := range samples {
		kinds = append(kinds, fmt.Sprintf("%s(%s)", s.name, describe(s.data)))
	}
	t.Logf("samples: %s", strings.Join(kinds, " "))
}

// describe names an ELF file's class, byte order and type, as 32le-REL.
func describe(data []byte) string {
	if len(data) < 18 {
		return "?"
	}
	class := map[byte]string{1: "32", 2: "64"}[data[4]]
	order := map[byte]string{1: "le", 2: "be"}[data[5]]
	typ := uint16(data[16]) | uint16(data[17])<<8
	if data[5] == 2 {
		typ = uint16(data[17]) | uint16(data[16])<<8
	}
	name := map[uint16]string{1: "REL", 2: "EXEC", 3: "DYN", 4: "CORE"}[typ]
	return class + order + "-" + name
}

// baseSamples are the files the corruption tests start from: a 64-bit
// executable, a 32-bit object and a big-endian copy, whichever exist.
func baseSamples(t *testing.T) []sample {
	t.Helper()
	var out []sample
	if data, err := os.ReadFile("/usr/bin/true"); err == nil {
		out = append(out, sample{"true", data})
		if be, err := toBigEndian(data); err == nil {
			out = append(out, sample{"true.be", be})
		}
	}
	for _, s := range gccSamples(t) {
		switch s.name {
		case "gcc32.o", "gcc32exec", "gcc64.o":
			out = append(out, s)
		}
	}
	return out
}

// corrupt returns truncations of data at many points (every byte of the
// header, structure boundaries, evenly spaced points) and copies with
// random bytes flipped, mostly in the structures yara reads.
func corrupt(name string, data []byte, rng *rand.Rand) []sample {
	var out []sample
	cuts := map[int]bool{}
	for i := 0; i <= 80 && i < len(data); i++ {
		cuts[i] = true
	}
	for i := 1; i < 40; i++ {
		cuts[len(data)*i/40] = true
	}
	// Around the section and program header tables.
	if len(data) > 64 {
		f := &file{data: data, size: uint64(len(data)), order: binary.LittleEndian, l: layout64}
		if data[4] == 1 {
			f.l = layout32
		}
		if data[5] == 2 {
			f.order = binary.BigEndian
		}
		h := f.header()
		for _, base := range []uint64{h.shoff, h.phoff} {
			for _, d := range []int64{-1, 0, 1, 30, 63, 64, 65, 200} {
				if c := int64(base) + d; c > 0 && c < int64(len(data)) {
					cuts[int(c)] = true
				}
			}
		}
		cuts[int(min(h.shoff+h.shnum*f.l.shdrSize-1, uint64(len(data)-1)))] = true
	}
	for c := range cuts {
		out = append(out, sample{fmt.Sprintf("%s.cut%d", name, c), data[:c]})
	}
	hot := hotRanges(data)
	for i := range 300 {
		d := append([]byte(nil), data...)
		n := 1 + rng.Intn(4)
		for range n {
			var p int
			if r := hot[rng.Intn(len(hot))]; r[1] > r[0] && rng.Intn(5) > 0 {
				p = r[0] + rng.Intn(r[1]-r[0])
			} else {
				p = rng.Intn(len(d))
			}
			if p >= len(d) {
				continue
			}
			switch rng.Intn(4) {
			case 3:
				// An interesting value in a 2, 4 or 8-byte field.
				w := []int{2, 4, 8}[rng.Intn(3)]
				p &^= w - 1
				if p+w > len(d) {
					continue
				}
				vals := []uint64{0, 1, uint64(len(d)) - 1, uint64(len(d)), uint64(len(d)) + 1,
					uint64(len(d)) / 2, 0xff00, 0xffff, 0x7fffffff, 0xffffffff, 1 << 63, ^uint64(0)}
				v := vals[rng.Intn(len(vals))]
				var o binary.ByteOrder = binary.LittleEndian
				if d[5] == 2 {
					o = binary.BigEndian
				}
				switch w {
				case 2:
					o.PutUint16(d[p:], uint16(v))
				case 4:
					o.PutUint32(d[p:], uint32(v))
				default:
					o.PutUint64(d[p:], v)
				}
			case 0:
				d[p] ^= byte(1 << rng.Intn(8))
			case 1:
				d[p] = byte(rng.Intn(256))
			default:
				d[p] = []byte{0, 0xff, 0x80, 0x7f, 1}[rng.Intn(5)]
			}
		}
		out = append(out, sample{fmt.Sprintf("%s.flip%d", name, i), d})
	}
	return out
}

// hotRanges are the byte ranges of data's header and header tables.
func hotRanges(data []byte) [][2]int {
	r := [][2]int{{0, min(64, len(data))}}
	if len(data) <= 64 {
		return r
	}
	f := &file{data: data, size: uint64(len(data)), order: binary.LittleEndian, l: layout64}
	if data[4] == 1 {
		f.l = layout32
	}
	if data[5] == 2 {
		f.order = binary.BigEndian
	}
	h := f.header()
	clip := func(off, n uint64) [2]int {
		lo := min(off, uint64(len(data)))
		hi := min(off+n, uint64(len(data)))
		return [2]int{int(lo), int(hi)}
	}
	r = append(r, clip(h.shoff, h.shnum*f.l.shdrSize), clip(h.phoff, h.phnum*f.l.phdrSize))
	return r
}

// TestCorrupted runs the module on truncated and corrupted files: it must
// never panic, and it must print what yara prints.
func TestCorrupted(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var samples []sample
	for _, b := range baseSamples(t) {
		samples = append(samples, corrupt(b.name, b.data, rng)...)
	}
	if len(samples) == 0 {
		t.Skip("no base samples")
	}
	for _, s := range samples {
		dumpOf(t, s.data) // must not panic
	}
	if _, err := os.Stat("/usr/bin/yara"); err != nil && os.Getenv("VIGIL_YARA") == "" {
		t.Skip("reference yara not available")
	}
	files, lines := compareWithYara(t, samples)
	t.Logf("corrupted files: agreement with yara -D: %d/%d files, %d lines", files, len(samples), lines)
}

// TestDumpEmpty checks the dump of non-ELF data against yara.
func TestNotELF(t *testing.T) {
	samples := []sample{
		{"empty", nil},
		{"text", []byte("hello world\n")},
		{"magic-only", []byte("\x7fELF")},
		{"ident", []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00")},
		{"class3", append([]byte("\x7fELF\x03\x01\x01"), make([]byte, 100)...)},
		{"data3", append([]byte("\x7fELF\x02\x03\x01"), make([]byte, 100)...)},
		{"hdr64-exact", append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 64-7)...)},
		{"hdr64-plus1", append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 65-7)...)},
		{"hdr32-exact", append([]byte("\x7fELF\x01\x01\x01"), make([]byte, 52-7)...)},
		{"hdr32-plus1", append([]byte("\x7fELF\x01\x02\x01"), make([]byte, 53-7)...)},
	}
	for _, s := range samples {
		st := load(s.data)
		if s.name != "hdr64-plus1" && s.name != "hdr32-plus1" && st.Fields["type"] != nil {
			t.Errorf("%s: type = %v, want undefined", s.name, st.Fields["type"])
		}
	}
	modtest.Yara(t)
	compareWithYara(t, samples)
}

// Crafted files for the cases real files do not show.
func TestCrafted(t *testing.T) {
	samples := []sample{
		{"dyn-overwrite64", craftDynamic(false, [][]uint64{{1, 2, 3, 4, 5, 6, 0}, {9, 8, 0}})},
		{"dyn-overwrite32", craftDynamic(true, [][]uint64{{1, 2, 3, 0}, {9, 8, 0}, {6, 0}})},
		{"dyn-nonull", craftDynamic(false, [][]uint64{{1, 2, 3}})},
		{"dyn-many", craftDynamic(false, [][]uint64{{1, 0}, {1, 2, 0}, {1, 2, 3, 4, 0}, {5, 0}, {1, 2, 3, 0}})},
		{"sections-be-256", craftSections(true, 256)},
		{"sections-le-256", craftSections(false, 256)},
		{"sections-be-3", craftSections(true, 3)},
		{"undefined-value", craftUndefined()},
		{"entry32-exec", craftEntry(true, etExec, 0x1800, 0x1000, 0x1000)},
		{"entry32-exec-wrap", craftEntry(true, etExec, 0xfffff800, 0xfffff000, 0x2000)},
		{"entry32-dyn", craftEntry(true, 3, 0x1800, 0x1000, 0x1000)},
		{"entry32-dyn-wrap", craftEntry(true, 3, 0xfffff800, 0xfffff000, 0x2000)},
		{"entry64-exec-wrap", craftEntry(false, etExec, 0xfffffffffffff800, 0xfffffffffffff000, 0x2000)},
		{"entry64-exec-big", craftEntry(false, etExec, 0xfffffffffffff800, 0xfffffffffffff000, 0x800)},
		{"entry64-exec-nowrap", craftEntry(false, etExec, 0xfffffffffffff800, 0xfffffffffffff000, 0x801)},
		{"entry64-rel", craftEntry(false, 1, 0x1234, 0x1000, 0x1000)},
		{"sections32-0xff00", craftCounts(true, 0xff00, 0)},
		{"sections32-0xfeff", craftCounts(true, 0xfeff, 0)},
		{"segments32-0xffff", craftCounts(true, 0, 0xffff)},
		{"segments32-0xfffe", craftCounts(true, 0, 0xfffe)},
	}
	for _, s := range samples {
		dumpOf(t, s.data)
	}
	modtest.Yara(t)
	files, _ := compareWithYara(t, samples)
	t.Logf("crafted: %d/%d agree", files, len(samples))
}

// craftDynamic builds a minimal ELF (64 or 32 bit, little endian) whose
// program headers are PT_DYNAMIC segments, one per list of tags; each tag t
// is stored with the value 100+t. Entries are laid out one list after the
// other; a list without a final 0 runs into the next one or the file end.
func craftDynamic(is32 bool, lists [][]uint64) []byte {
	l := layout64
	if is32 {
		l = layout32
	}
	phoff := l.ehdrSize
	dynStart := phoff + uint64(len(lists))*l.phdrSize
	var dyn []byte
	var offs []uint64
	put := func(b []byte, v uint64) []byte {
		if is32 {
			return binary.LittleEndian.AppendUint32(b, uint32(v))
		}
		return binary.LittleEndian.AppendUint64(b, v)
	}
	for _, tags := range lists {
		offs = append(offs, dynStart+uint64(len(dyn)))
		for _, tg := range tags {
			dyn = put(dyn, tg)
			dyn = put(dyn, 100+tg)
		}
	}
	out := make([]byte, dynStart)
	copy(out, "\x7fELF")
	out[4], out[5], out[6] = 2, 1, 1
	if is32 {
		out[4] = 1
	}
	binary.LittleEndian.PutUint16(out[16:], 3)
	binary.LittleEndian.PutUint16(out[18:], 62)
	w := func(off, v uint64) {
		if is32 {
			binary.LittleEndian.PutUint32(out[off:], uint32(v))
		} else {
			binary.LittleEndian.PutUint64(out[off:], v)
		}
	}
	w(l.ePhoff, phoff)
	binary.LittleEndian.PutUint16(out[l.ePhnum:], uint16(len(lists)))
	for i, off := range offs {
		p := phoff + uint64(i)*l.phdrSize
		binary.LittleEndian.PutUint32(out[p+l.phType:], ptDynamic)
		w(p+l.phOffset, off)
	}
	return append(out, dyn...)
}

// craftSections builds a 64-bit ELF with n sections: a string table, a
// symbol table linked to it, and empty sections. In big-endian files yara
// compares sh_link with the byte-swapped section count, so with 256
// sections (swapped: 1) it reads no symbols.
func craftSections(be bool, n int) []byte {
	var o binary.ByteOrder = binary.LittleEndian
	if be {
		o = binary.BigEndian
	}
	l := layout64
	strtab := []byte("\x00.strtab\x00.symtab\x00sym1\x00")
	syms := make([]byte, 2*l.symSize)
	o.PutUint32(syms[l.symSize+l.stName:], 17) // "sym1"
	syms[l.symSize+l.stInfo] = 0x12
	o.PutUint64(syms[l.symSize+l.stValue:], 0x1234)
	strOff := l.ehdrSize
	symOff := strOff + uint64(len(strtab))
	shoff := symOff + uint64(len(syms))
	out := make([]byte, shoff+uint64(n)*l.shdrSize)
	copy(out, "\x7fELF")
	out[4], out[5], out[6] = 2, 1, 1
	if be {
		out[5] = 2
	}
	o.PutUint16(out[16:], 1)
	o.PutUint16(out[18:], 62)
	o.PutUint64(out[l.eShoff:], shoff)
	o.PutUint16(out[l.eShnum:], uint16(n))
	o.PutUint16(out[l.eShstrndx:], 1)
	copy(out[strOff:], strtab)
	copy(out[symOff:], syms)
	sec := func(i int, name, typ uint32, off, size uint64, link uint32) {
		s := shoff + uint64(i)*l.shdrSize
		o.PutUint32(out[s+l.shName:], name)
		o.PutUint32(out[s+l.shType:], typ)
		o.PutUint64(out[s+l.shOffset:], off)
		o.PutUint64(out[s+l.shSize:], size)
		o.PutUint32(out[s+l.shLink:], link)
	}
	sec(1, 1, shtStrtab, strOff, uint64(len(strtab)), 0)
	sec(2, 9, shtSymtab, symOff, uint64(len(syms)), 1)
	return out
}

// craftUndefined builds an ELF whose section address is yara's undefined
// marker, which yara then prints as undefined.
func craftUndefined() []byte {
	out := craftSections(false, 3)
	l := layout64
	shoff := binary.LittleEndian.Uint64(out[l.eShoff:])
	binary.LittleEndian.PutUint64(out[shoff+2*l.shdrSize+l.shAddr:], 0xFFFABADAFABADAFF)
	binary.LittleEndian.PutUint64(out[l.ePhoff:], 0xFFFABADAFABADAFF)
	return out
}

// craftEntry builds an ELF of type typ (32 or 64 bit, little endian) with
// entry point entry, one PT_LOAD segment and one SHT_PROGBITS section,
// both at file offset 0x100 and covering [vaddr, vaddr+size), where the
// end can wrap around.
func craftEntry(is32 bool, typ uint16, entry, vaddr, size uint64) []byte {
	l := layout64
	if is32 {
		l = layout32
	}
	out := make([]byte, 0x200)
	copy(out, "\x7fELF\x02\x01\x01")
	w := func(off, v uint64) {
		if is32 {
			binary.LittleEndian.PutUint32(out[off:], uint32(v))
		} else {
			binary.LittleEndian.PutUint64(out[off:], v)
		}
	}
	if is32 {
		out[4] = 1
	}
	binary.LittleEndian.PutUint16(out[16:], typ)
	w(l.eEntry, entry)
	phoff := l.ehdrSize
	shoff := phoff + l.phdrSize
	w(l.ePhoff, phoff)
	binary.LittleEndian.PutUint16(out[l.ePhnum:], 1)
	w(l.eShoff, shoff)
	binary.LittleEndian.PutUint16(out[l.eShnum:], 1)
	binary.LittleEndian.PutUint32(out[phoff+l.phType:], 1)
	w(phoff+l.phOffset, 0x100)
	w(phoff+l.phVaddr, vaddr)
	w(phoff+l.phMemsz, size)
	binary.LittleEndian.PutUint32(out[shoff+l.shType:], 1)
	w(shoff+l.shOffset, 0x100)
	w(shoff+l.shAddr, vaddr)
	w(shoff+l.shSize, size)
	return out
}

// craftCounts builds an ELF (little endian) with nsec empty section
// headers and nseg empty program headers, to test yara's limits on the
// counts (SHN_LORESERVE, PN_XNUM). Its entry point is set, so that the
// entry point conversion runs over the tables as well.
func craftCounts(is32 bool, nsec, nseg uint64) []byte {
	l := layout64
	if is32 {
		l = layout32
	}
	phoff := l.ehdrSize
	shoff := phoff + nseg*l.phdrSize
	out := make([]byte, shoff+nsec*l.shdrSize+1)
	copy(out, "\x7fELF\x02\x01\x01")
	if is32 {
		out[4] = 1
		binary.LittleEndian.PutUint32(out[l.eEntry:], 0x10)
		binary.LittleEndian.PutUint32(out[l.ePhoff:], uint32(phoff))
		binary.LittleEndian.PutUint32(out[l.eShoff:], uint32(shoff))
	} else {
		binary.LittleEndian.PutUint64(out[l.eEntry:], 0x10)
		binary.LittleEndian.PutUint64(out[l.ePhoff:], phoff)
		binary.LittleEndian.PutUint64(out[l.eShoff:], shoff)
	}
	typ := uint16(1)
	if nseg > 0 {
		typ = etExec
	}
	binary.LittleEndian.PutUint16(out[16:], typ)
	binary.LittleEndian.PutUint16(out[l.ePhnum:], uint16(nseg))
	binary.LittleEndian.PutUint16(out[l.eShnum:], uint16(nsec))
	// The last table entry covers the entry point.
	if nseg > 0 {
		p := phoff + (nseg-1)*l.phdrSize
		out[p+l.phMemsz] = 0x20
		out[p+l.phOffset] = 0x7
	}
	if nsec > 0 {
		s := shoff + (nsec-1)*l.shdrSize
		out[s+l.shType] = 1
		out[s+l.shSize] = 0x20
		out[s+l.shOffset] = 0x9
	}
	return out
}

// TestHostileLinear runs crafted files that are quadratic for a literal
// implementation: they must finish (the test timeout is the bound) with
// the counts yara would compute.
func TestHostileLinear(t *testing.T) {
	// 60000 PT_DYNAMIC segments at distinct offsets into 1 MiB without a
	// DT_NULL tag.
	const nseg = 60000
	l := layout64
	size := l.ehdrSize + nseg*l.phdrSize + 1<<20
	data := make([]byte, size)
	copy(data, "\x7fELF\x02\x01\x01")
	binary.LittleEndian.PutUint64(data[l.ePhoff:], l.ehdrSize)
	binary.LittleEndian.PutUint16(data[l.ePhnum:], nseg)
	dynBase := l.ehdrSize + nseg*l.phdrSize
	for i := range uint64(nseg) {
		p := l.ehdrSize + i*l.phdrSize
		binary.LittleEndian.PutUint32(data[p:], ptDynamic)
		binary.LittleEndian.PutUint64(data[p+l.phOffset:], dynBase+i*8)
	}
	for i := dynBase; i < size; i++ {
		data[i] = 0xaa
	}
	st := load(data)
	// The last segment starts at dynBase + (nseg-1)*8; whole 16-byte
	// entries fit until the end of the file.
	last := dynBase + (nseg-1)*8
	want := int64((size - last) / 16)
	if got := st.Fields["dynamic_section_entries"]; got != want {
		t.Errorf("dynamic_section_entries = %v, want %d", got, want)
	}
	if got := len(st.Fields["dynamic"].(*module.Array).Items); got != int((size-dynBase)/16) {
		t.Errorf("len(dynamic) = %d, want %d", got, (size-dynBase)/16)
	}

	// 65000 sections whose names all point into one run without NUL.
	const nsec = 65000
	shoff := uint64(l.ehdrSize + 1<<20)
	data = make([]byte, shoff+nsec*l.shdrSize)
	copy(data, "\x7fELF\x02\x01\x01")
	binary.LittleEndian.PutUint64(data[l.eShoff:], shoff)
	binary.LittleEndian.PutUint16(data[l.eShnum:], nsec)
	for i := l.ehdrSize + 1; i < shoff; i++ {
		data[i] = 'A'
	}
	for i := range uint64(nsec) {
		s := shoff + i*l.shdrSize
		binary.LittleEndian.PutUint32(data[s+l.shName:], uint32(1+i))
		binary.LittleEndian.PutUint64(data[s+l.shOffset:], l.ehdrSize)
		binary.LittleEndian.PutUint32(data[s+l.shType:], 1)
	}
	st = load(data)
	secs := st.Fields["sections"].(*module.Array).Items
	if len(secs) != nsec {
		t.Fatalf("len(sections) = %d, want %d", len(secs), nsec)
	}
	// Names run to the first NUL after the 'A's: the section table's first
	// byte (section 0's name field is 1, little endian: 01 00).
	name := secs[0].(*module.Struct).Fields["name"]
	if s, ok := name.(string); !ok || len(s) != 1<<20-1+1 || s[len(s)-1] != 1 {
		t.Errorf("sections[0].name: %d bytes, want %d", len(fmt.Sprint(name)), 1<<20)
	}
}

func TestStrtab(t *testing.T) {
	long := "\x00" + strings.Repeat("x", 1000) + "\x00tail"
	tests := []struct {
		buf   string
		index uint64
		want  string
		ok    bool
	}{
		{"", 0, "", false},
		{"a\x00", 1, "", false},             // does not start with NUL
		{"\x00abc\x00", 0, "", true},        // the empty name
		{"\x00abc\x00", 1, "abc", true},     // a name
		{"\x00abc\x00", 2, "bc", true},      // a suffix
		{"\x00abc\x00", 5, "", false},       // index at the end
		{"\x00abc", 1, "", false},           // not terminated
		{"\x00abc\x00", 1 << 31, "", false}, // negative as a C int
		{long, 1, strings.Repeat("x", 1000), true},
		{long, 700, strings.Repeat("x", 301), true},
		{long, 1003, "", false}, // "tail" is not terminated
	}
	for _, tt := range tests {
		got, ok := newStrtab([]byte(tt.buf)).entry(tt.index)
		if got != tt.want || ok != tt.ok {
			t.Errorf("entry(%.20q, %d) = %q, %v; want %q, %v", tt.buf, tt.index, got, ok, tt.want, tt.ok)
		}
	}
	// The indexed lookups agree with a plain scan at every position.
	buf := []byte(strings.Repeat("\x00"+strings.Repeat("y", 700), 3) + "\x00zz")
	tab := newStrtab(buf)
	for i := range buf {
		want := strings.IndexByte(string(buf[i:]), 0)
		if want >= 0 {
			want += i
		}
		if got := tab.nul(i); got != want {
			t.Fatalf("nul(%d) = %d, want %d", i, got, want)
		}
	}
}

func FuzzELF(f *testing.F) {
	for _, s := range []string{"/usr/bin/true"} {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
			if be, err := toBigEndian(data); err == nil {
				f.Add(be)
			}
		}
	}
	f.Add(craftDynamic(true, [][]uint64{{1, 2, 0}, {3}}))
	f.Add(craftSections(true, 4))
	f.Add(craftSections(false, 4))
	mod := Module()
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := mod.Load(&module.Context{Data: data})
		if err != nil {
			t.Fatal(err)
		}
		modtest.CheckValue(t, "elf", mod.Type, st)
		if err := module.Dump(discard{}, mod.Name, mod.Type, st); err != nil {
			t.Fatal(err)
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestYaraAgreementAll compares with yara on every ELF file of at most 16
// MiB in /usr/bin and /usr/lib/x86_64-linux-gnu, and big-endian copies of
// them. It is slow, so it runs only when VIGIL_ELF_ALL is set.
func TestYaraAgreementAll(t *testing.T) {
	if os.Getenv("VIGIL_ELF_ALL") == "" {
		t.Skip("set VIGIL_ELF_ALL=1 to compare every system ELF file with yara")
	}
	modtest.Yara(t)
	all := func(string) bool { return true }
	var files, lines, total int
	for _, dir := range []string{"/usr/bin", "/usr/lib/x86_64-linux-gnu"} {
		samples := systemELFs(t, dir, 1<<30, 16<<20, all)
		for len(samples) > 0 {
			batch := append([]sample(nil), samples[:min(50, len(samples))]...)
			samples = samples[len(batch):]
			for _, s := range batch { // the range is evaluated once
				if be, err := toBigEndian(s.data); err == nil {
					batch = append(batch, sample{name: s.name + ".be", data: be})
				}
			}
			f, l := compareWithYara(t, batch)
			files, lines, total = files+f, lines+l, total+len(batch)
		}
	}
	t.Logf("agreement with yara -D: %d/%d files, %d lines", files, total, lines)
}
