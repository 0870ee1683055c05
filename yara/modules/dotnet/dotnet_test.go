package dotnet

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"vigil/yara/module"
	"vigil/yara/modules/internal/modtest"
)

// realSampleCount is how many installed assemblies TestYaraAgreement reads,
// unless -dotnet.all is given.
const realSampleCount = 150

var allAssemblies = flag.Bool("dotnet.all", false, "compare with yara on every assembly under "+monoDir)

// TestYaraAgreement compares Load+Dump with `yara -D` byte for byte on
// installed assemblies and on assemblies built with mcs.
func TestYaraAgreement(t *testing.T) {
	modtest.Yara(t)
	n, size := realSampleCount, int64(8<<20)
	if *allAssemblies {
		n, size = 1<<30, 1<<30
	}
	samples := append(systemAssemblies(t, monoDir, n, size), mcsSamples(t)...)
	if len(samples) == 0 {
		t.Skip("no .NET assemblies: apt-get install mono-mcs (or mono-devel for more)")
	}
	files, lines := compareWithYara(t, samples)
	t.Logf("agreement with yara -D: %d/%d files, %d lines", files, len(samples), lines)
}

// layout locates the metadata of a .NET file with the module's own reader,
// for the corruption tests to aim at; ok is false if it is not one.
type layout struct {
	pe      *peFile
	comDir  int64 // CLI data directory entry
	cli     int64 // CLI header
	root    int64 // metadata root
	nstream int64 // the stream count field
	tilde   int64 // #~ header
	strs    int64 // #Strings heap
	blob    int64 // #Blob heap
	us      int64 // #US heap
	end     int64 // end of the last stream
}

func locate(data []byte) (l layout, ok bool) {
	p, ok := parsePE(data)
	if !ok {
		return l, false
	}
	d := &dotnet{peFile: p, out: module.NewStruct(), strs: &strPool{data: data}}
	l.pe = p
	l.comDir, _ = p.comDirectory()
	cli, root, ok := d.isDotnet()
	if !ok {
		return l, false
	}
	l.cli, l.root = cli, root
	l.nstream = root + metadataSize + int64(p.u32(root+12)) + 2
	s := d.streamHeaders(l.nstream+2, root, int(data[l.nstream]))
	at := func(hdr int64) int64 {
		if hdr < 0 {
			return -1
		}
		l.end = max(l.end, root+int64(p.u32(hdr))+int64(p.u32(hdr+4)))
		return root + int64(p.u32(hdr))
	}
	l.tilde, l.strs, l.blob, l.us = at(s.tilde), at(s.strings), at(s.blob), at(s.us)
	at(s.guid)
	return l, l.tilde >= 0
}

// baseSamples are the files the corruption tests start from: assemblies
// built with mcs and a few installed ones of moderate size.
func baseSamples(t *testing.T) []sample {
	t.Helper()
	var out []sample
	out = append(out, mcsSamples(t, "res.exe", "res-x64.dll", "culture.dll", "tiny.netmodule")...)
	for _, s := range systemAssemblies(t, monoDir, 400, 200<<10) {
		if len(out) >= 7 {
			break
		}
		if _, ok := locate(s.data); ok && len(s.data) > 20<<10 {
			out = append(out, s)
		}
	}
	return out
}

// put32 returns a copy of data with v written at off, if it fits.
func put32(data []byte, off int64, v uint32) []byte {
	c := append([]byte(nil), data...)
	if off >= 0 && off+4 <= int64(len(c)) {
		binary.LittleEndian.PutUint32(c[off:], v)
	}
	return c
}

func put16(data []byte, off int64, v uint16) []byte {
	c := append([]byte(nil), data...)
	if off >= 0 && off+2 <= int64(len(c)) {
		binary.LittleEndian.PutUint16(c[off:], v)
	}
	return c
}

func put8(data []byte, off int64, v byte) []byte {
	c := append([]byte(nil), data...)
	if off >= 0 && off < int64(len(c)) {
		c[off] = v
	}
	return c
}

// truncations cuts s at every 4 bytes of its metadata headers and tables
// start and at evenly spaced offsets over the whole file.
func truncations(s sample, l layout) []sample {
	var out []sample
	cut := func(n int64) {
		if n >= 0 && n < int64(len(s.data)) {
			out = append(out, sample{fmt.Sprintf("%s.cut%d", s.name, n), s.data[:n]})
		}
	}
	for n := l.root - 8; n < l.tilde+24+4*20; n += 4 {
		cut(n)
	}
	for _, heap := range []int64{l.strs, l.blob, l.us} {
		for n := heap; n < heap+24; n += 3 {
			cut(n)
		}
	}
	for i := int64(0); i < 40; i++ {
		cut(int64(len(s.data)) * i / 40)
	}
	for n := l.end - 40; n < l.end+8; n += 5 {
		cut(n)
	}
	return out
}

// targeted changes the fields yara's checks depend on, one at a time.
func targeted(s sample, l layout) []sample {
	var out []sample
	add := func(what string, data []byte) {
		out = append(out, sample{s.name + "." + what, data})
	}
	d := s.data
	p := l.pe
	add("nocom", put32(put32(d, l.comDir, 0), l.comDir+4, 0))
	add("comdir-rva-ff", put32(d, l.comDir, 0xffffffff))
	add("clisize71", put32(d, l.cli, 71))
	add("md-magic", put32(d, l.root, 0x424a5343))
	for _, n := range []uint32{0, 3, 256, 260, 0xfffffffc} {
		add(fmt.Sprintf("mdlen%d", n), put32(d, l.root+12, n))
	}
	for _, n := range []byte{0, 1, 2, 3, 7, 100, 255} {
		add(fmt.Sprintf("nstreams%d", n), put8(d, l.nstream, n))
	}
	add("nstreams-hi", put8(d, l.nstream+1, 1))
	add("ddcount13", put32(d, p.opt+92+boolInt(p.is64)*16, 13))
	add("ddcount14", put32(d, p.opt+92+boolInt(p.is64)*16, 14))
	add("ddcount0", put32(d, p.opt+92+boolInt(p.is64)*16, 0))
	add("notdll", put16(d, p.nt+22, uint16(p.characteristics()&^fileDLL)))
	add("dll", put16(d, p.nt+22, uint16(p.characteristics()|fileDLL)))
	add("entry0", put32(d, p.opt+16, 0))
	add("nsections0", put16(d, p.nt+6, 0))
	add("nsections200", put16(d, p.nt+6, 200))
	add("optsize-big", put16(d, p.nt+20, 0xfff0))
	for _, a := range []uint32{0, 1, 3, 0x1000, 0xffffffff} {
		add(fmt.Sprintf("align%d", a), put32(d, p.opt+36, a))
	}
	add("lfanew-neg", put32(d, 0x3c, 0x80000000))
	add("cli-resources-ff", put32(d, l.cli+24, 0xffffffff))
	add("cli-resources-0", put32(d, l.cli+24, 0))
	for hs := byte(0); hs < 8; hs++ {
		add(fmt.Sprintf("heapsizes%d", hs), put8(d, l.tilde+6, hs))
	}
	valid := binary.LittleEndian.Uint64(d[l.tilde+8:])
	for bit := 0; bit < 64; bit++ {
		c := append([]byte(nil), d...)
		binary.LittleEndian.PutUint64(c[l.tilde+8:], valid^1<<bit)
		add(fmt.Sprintf("valid%d", bit), c)
	}
	add("valid-all", put32(put32(d, l.tilde+8, 0xffffffff), l.tilde+12, 0xffffffff))
	for i := int64(0); i < 12; i++ {
		for _, n := range []uint32{0, 0x3fff, 0x4000, 10000, 10001, 0x10000, 0xffffffff} {
			add(fmt.Sprintf("rows%d=%d", i, n), put32(d, l.tilde+24+4*i, n))
		}
	}
	// Stream headers: offsets and sizes out of range, names changed.
	for i, h := 0, l.nstream+2; i < int(d[l.nstream]) && h+8 < int64(len(d)); i++ {
		add(fmt.Sprintf("s%d-off-ff", i), put32(d, h, 0xfffffff0))
		add(fmt.Sprintf("s%d-size-ff", i), put32(d, h+4, 0xffffffff))
		add(fmt.Sprintf("s%d-size0", i), put32(d, h+4, 0))
		add(fmt.Sprintf("s%d-name", i), put8(d, h+9, 'X'))
		add(fmt.Sprintf("s%d-nonul", i), put32(put32(d, h+8, 0x41414141), h+12, 0x41414141))
		n := int64(0)
		for h+8+n < int64(len(d)) && d[h+8+n] != 0 && n < 32 {
			n++
		}
		// Other names that fit in the header's padded name field, to
		// check which of several streams of a kind yara uses.
		for _, name := range []string{"#~", "#-", "#~x", "#Strings", "#US", "#USx", "#GUID", "#Blob", "#Blobs", "#X"} {
			if int64(len(name)) < n+4-n%4 && h+8+int64(len(name)) < int64(len(d)) {
				c := append([]byte(nil), d...)
				copy(c[h+8:], name+"\x00")
				add(fmt.Sprintf("s%d-%s", i, name), c)
			}
		}
		h += 8 + n + 4 - n%4
	}
	// The heaps' first bytes.
	for _, heap := range []int64{l.strs, l.blob, l.us} {
		for i := int64(0); i < 6; i++ {
			for _, v := range []byte{0x00, 0x01, 0x7f, 0x80, 0xbf, 0xc0, 0xdf, 0xff} {
				add(fmt.Sprintf("heap%d+%d=%d", heap, i, v), put8(d, heap+i, v))
			}
		}
	}
	return out
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// exhaustive sets every byte of the #~ stream of a small sample, in
// turn, to each of a few values, and cuts and changes the bytes around the
// typelib's blob (found by its text).
func exhaustive(s sample, l layout) []sample {
	var out []sample
	end := min(l.strs, int64(len(s.data)))
	if end < l.tilde || end-l.tilde > 2048 {
		return nil
	}
	for off := l.tilde; off < end; off++ {
		for _, v := range []byte{0x00, 0xff, 0x0e} {
			if s.data[off] != v {
				out = append(out, sample{fmt.Sprintf("%s.t%d=%d", s.name, off, v), put8(s.data, off, v)})
			}
		}
	}
	guid := int64(strings.Index(string(s.data), "0f8fad5b-d9cb"))
	if guid < 0 {
		return out
	}
	for off := guid - 5; off < guid+40; off++ {
		out = append(out, sample{fmt.Sprintf("%s.gcut%d", s.name, off), s.data[:off]})
		for _, v := range []byte{0x00, 0x01, 0x02, 0x24, 0x25, 0x26, 0x80, 0xc0, 0xff} {
			out = append(out, sample{fmt.Sprintf("%s.g%d=%d", s.name, off, v), put8(s.data, off, v)})
			// The same change at the end of the data.
			out = append(out, sample{fmt.Sprintf("%s.g%d=%dcut", s.name, off, v), put8(s.data, off, v)[:guid+38]})
		}
	}
	return out
}

// mutations returns n copies of s with a few random bytes of the metadata
// (and sometimes of the PE headers) changed.
func mutations(s sample, l layout, n int, rng *rand.Rand) []sample {
	var out []sample
	interesting := []byte{0x00, 0x01, 0x02, 0x04, 0x0e, 0x7f, 0x80, 0xc0, 0xe0, 0xff}
	span := max(1, l.end-l.root)
	for i := 0; i < n; i++ {
		c := append([]byte(nil), s.data...)
		for k := 0; k < 1+rng.Intn(4); k++ {
			off := l.root + rng.Int63n(span)
			if rng.Intn(8) == 0 {
				off = rng.Int63n(min(int64(len(c)), 1024))
			}
			if off >= int64(len(c)) {
				continue
			}
			if rng.Intn(2) == 0 {
				c[off] = interesting[rng.Intn(len(interesting))]
			} else {
				c[off] = byte(rng.Intn(256))
			}
		}
		out = append(out, sample{fmt.Sprintf("%s.mut%d", s.name, i), c})
	}
	return out
}

// TestCorruptedAgreement compares with yara on truncated and corrupted
// variants of real assemblies: no panic, and the same partial data.
func TestCorruptedAgreement(t *testing.T) {
	modtest.Yara(t)
	bases := baseSamples(t)
	if len(bases) == 0 {
		t.Skip("no .NET assemblies: apt-get install mono-mcs")
	}
	rng := rand.New(rand.NewSource(1))
	var samples []sample
	for _, b := range bases {
		l, ok := locate(b.data)
		if !ok {
			t.Fatalf("%s: not a .NET file with a #~ stream", b.name)
		}
		samples = append(samples, truncations(b, l)...)
		samples = append(samples, targeted(b, l)...)
		samples = append(samples, mutations(b, l, 150, rng)...)
		samples = append(samples, exhaustive(b, l)...)
	}
	files, lines := compareWithYara(t, samples)
	t.Logf("agreement with yara -D on corrupted files: %d/%d files, %d lines (from %d bases)", files, len(samples), lines, len(bases))
}

// TestNotDotnet checks data that is no .NET file, with yara: all fields
// undefined unless it is a PE file, then is_dotnet 0.
func TestNotDotnet(t *testing.T) {
	modtest.Yara(t)
	mz := make([]byte, 64)
	copy(mz, "MZ")
	pe := make([]byte, 512)
	copy(pe, "MZ")
	binary.LittleEndian.PutUint32(pe[0x3c:], 0x40)
	copy(pe[0x40:], "PE\x00\x00")
	pe64 := append([]byte(nil), pe...)
	binary.LittleEndian.PutUint16(pe64[0x40+24:], optMagic64)
	samples := []sample{
		{"empty", nil},
		{"text", []byte(strings.Repeat("not a PE file\n", 10))},
		{"mz", mz},
		{"mz-short", mz[:63]},
		{"pe32-bare", pe},
		{"pe32-short", pe[:0x40+24+223]},
		{"pe64-bare", pe64},
		{"pe64-short", pe64[:0x40+24+239]},
	}
	files, _ := compareWithYara(t, samples)
	if files != len(samples) {
		t.Fatalf("%d/%d agree", files, len(samples))
	}
}

// TestBlobEntry checks the decoding of compressed blob lengths (ECMA-335
// II.24.2.4) with yara's changes: one less than the encoded length, and a
// fifth byte needed after a 4-byte prefix.
func TestBlobEntry(t *testing.T) {
	tests := []struct {
		data   string
		off    int64
		size   int64
		length uint32
	}{
		{"\x00", 0, 1, 0},
		{"\x01", 0, 1, 0},
		{"\x03abc", 0, 1, 2},
		{"\x7f", 0, 1, 126},
		{"\x80\x80", 0, 2, 127},
		{"\xbf\xff", 0, 2, 0x3ffe},
		{"\x80", 0, 0, 0},                   // truncated 2-byte prefix
		{"\xc0\x00\x40\x00x", 0, 4, 0x3fff}, // 4-byte prefix, fifth byte present
		{"\xdf\xff\xff\xff\x00", 0, 4, 0x1ffffffe},
		{"\xc0\x00\x40\x00", 0, 0, 0}, // no byte after the prefix
		{"\xc0\x00\x40", 0, 0, 0},
		{"\xe0\x00\x00\x00\x00", 0, 0, 0}, // no such prefix
		{"\xff", 0, 0, 0},
		{"ab\x05", 2, 1, 4},
		{"ab", 2, 0, 0}, // at the end
		{"ab", -1, 0, 0},
	}
	for _, tt := range tests {
		d := &dotnet{peFile: &peFile{reader: reader{[]byte(tt.data)}}}
		size, length := d.blobEntry(tt.off)
		if size != tt.size || (size != 0 && length != tt.length) {
			t.Errorf("blobEntry(%q, %d) = %d, %d; want %d, %d", tt.data, tt.off, size, length, tt.size, tt.length)
		}
	}
}

// TestStrPool checks that strings are right and that copies stay within
// one data size however many are asked for.
func TestStrPool(t *testing.T) {
	data := []byte(strings.Repeat("0123456789", 100))
	p := &strPool{data: data}
	for i := 0; i < 1000; i++ {
		off := int64(i % 500)
		got := p.str(off, 500)
		if got != string(data[off:off+500]) {
			t.Fatalf("str(%d, 500) = %.20q...", off, got)
		}
	}
	if p.copied > int64(len(data)) {
		t.Errorf("copied %d bytes of a %d-byte data", p.copied, len(data))
	}
	if !p.shared {
		t.Errorf("pool did not switch to a shared copy")
	}
}

// TestCanceled checks that Load reports a canceled context.
func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Module().Load(&module.Context{Ctx: ctx, Data: []byte("MZ")}); err == nil {
		t.Errorf("Load with a canceled context: no error")
	}
}
