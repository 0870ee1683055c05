package pe

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"vigil/yara/modules/internal/modtest"
)

var reAny = regexp.MustCompile(".")

// tinyPE builds a small PE32 file by hand: a Rich header, one section, an
// import directory with a by-name and a by-ordinal import, and an
// overlay. It needs no toolchain.
func tinyPE() []byte {
	b := make([]byte, 0x410)
	le16 := func(off int, v uint16) { binary.LittleEndian.PutUint16(b[off:], v) }
	le32 := func(off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }
	copy(b, "MZ")
	le32(60, 0x80)
	// Rich header: DanS, three padding keys, two entries, Rich, key.
	const key = 0x11223344
	le32(0x40, dansMarker^key)
	le32(0x44, key)
	le32(0x48, key)
	le32(0x4c, key)
	le32(0x50, (0x0104<<16|0x7809)^key)
	le32(0x54, 3^key)
	le32(0x58, (0x0105<<16|0x7809)^key)
	le32(0x5c, 5^key)
	le32(0x60, richMarker)
	le32(0x64, key)
	// NT headers.
	copy(b[0x80:], "PE\x00\x00")
	fh := 0x84
	le16(fh, 0x14c)
	le16(fh+2, 1)
	le32(fh+4, 0x5f000000)
	le16(fh+16, optHeader32Size)
	le16(fh+18, 0x2102)
	o := fh + fileHeaderSize
	le16(o, 0x10b)
	b[o+2], b[o+3] = 14, 29
	le32(o+4, 0x200)
	le32(o+16, 0x1010)
	le32(o+20, 0x1000)
	le32(o+28, 0x400000)
	le32(o+32, 0x1000)
	le32(o+36, 0x200)
	le16(o+40, 6)
	le16(o+48, 6)
	le32(o+56, 0x2000)
	le32(o+60, 0x200)
	le16(o+68, 3)
	le16(o+70, 0x8140)
	le32(o+72, 0x100000)
	le32(o+76, 0x1000)
	le32(o+92, 16)
	le32(o+96+8, 0x1100) // import directory
	le32(o+96+12, 40)
	s := o + optHeader32Size
	copy(b[s:], ".text")
	le32(s+8, 0x1000)
	le32(s+12, 0x1000)
	le32(s+16, 0x200)
	le32(s+20, 0x200)
	le32(s+36, 0x60000020)
	// Section contents at file 0x200 = RVA 0x1000.
	at := func(rva int) int { return rva - 0x1000 + 0x200 }
	le32(at(0x1100), 0x1160)    // OriginalFirstThunk
	le32(at(0x1100)+12, 0x1140) // Name
	le32(at(0x1100)+16, 0x1160) // FirstThunk
	copy(b[at(0x1140):], "KERNEL32.dll\x00")
	le32(at(0x1160), 0x1180)
	le32(at(0x1164), 0x80000005)
	copy(b[at(0x1182):], "GetTickCount\x00")
	copy(b[0x400:], "overlay data....")
	return b
}

// TestTinyPE compares the hand-made PE, and every truncation of its
// headers, with yara.
func TestTinyPE(t *testing.T) {
	data := tinyPE()
	dir := t.TempDir()
	path := filepath.Join(dir, "tiny")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	groups := checkAgainstYara(t, "tiny", path)
	if groups["import_details"][0] == 0 || groups["rich_signature"][0] == 0 {
		t.Errorf("tiny PE lacks the imports or Rich header it was built with: %v", groups)
	}
	checkFunctions(t, "tiny", data)
	for n := 0; n < 0x200; n += 7 {
		if err := os.WriteFile(path, data[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		compareDumps(t, "tiny-cut", yaraDump(t, path), ourDump(t, data[:n]))
	}
}

// craftPE builds a PE32 file with one section holding body at RVA 0x1000
// (file offset 0x400) and the given data directories (RVA, size).
func craftPE(body []byte, dirs map[int][2]uint32) []byte {
	size := 0x400 + len(body)
	b := make([]byte, size)
	le16 := func(off int, v uint16) { binary.LittleEndian.PutUint16(b[off:], v) }
	le32 := func(off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }
	copy(b, "MZ")
	le32(60, 0x80)
	copy(b[0x80:], "PE\x00\x00")
	fh := 0x84
	le16(fh, 0x14c)
	le16(fh+2, 1)
	le16(fh+16, optHeader32Size)
	le16(fh+18, 0x0102)
	o := fh + fileHeaderSize
	le16(o, 0x10b)
	le32(o+16, 0x1000)
	le32(o+28, 0x400000)
	le32(o+32, 0x1000)
	le32(o+36, 0x200)
	le32(o+56, uint32(0x1000+len(body)+0xfff)&^0xfff)
	le32(o+60, 0x400)
	le32(o+92, 16)
	for i, d := range dirs {
		le32(o+96+8*i, d[0])
		le32(o+96+8*i+4, d[1])
	}
	s := o + optHeader32Size
	copy(b[s:], ".data")
	le32(s+8, uint32(len(body)))
	le32(s+12, 0x1000)
	le32(s+16, uint32(len(body)))
	le32(s+20, 0x400)
	le32(s+36, 0xc0000040)
	copy(b[0x400:], body)
	return b
}

// hostileFiles are inputs on which a naive reading of yara's algorithms
// takes quadratic time or more. Each is checked against yara at a size
// yara handles, and loaded at a larger size where only termination is
// checked (a hang fails by the test timeout).
func hostileFiles(scale int) map[string][]byte {
	out := map[string][]byte{}
	le32 := func(b []byte, off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }

	// Import descriptors whose names all run into one long unterminated
	// string (invalid, so yara neither counts nor stops at them).
	{
		n := 1000 * scale
		body := make([]byte, 20*n+20+64*scale)
		run := 20*n + 20
		for i := run; i < len(body)-1; i++ {
			body[i] = 'A'
		}
		body[len(body)-1] = '*'
		for i := 0; i < n; i++ {
			le32(body, 20*i+12, uint32(0x1000+run+i%50))
		}
		out["imports-long-names"] = craftPE(body, map[int][2]uint32{1: {0x1000, uint32(20 * n)}})
	}
	// A resource directory whose entries all lead back to itself: every
	// path through the three levels is a resource.
	{
		n := 41 * scale
		body := make([]byte, 16+8*n+16)
		binary.LittleEndian.PutUint16(body[14:], uint16(n))
		for i := 0; i < n; i++ {
			le32(body, 16+8*i, uint32(i+1))
			le32(body, 16+8*i+4, 0x80000000)
		}
		out["resources-loop"] = craftPE(body, map[int][2]uint32{2: {0x1000, uint32(len(body))}})
	}
	// Delay-import descriptors that all share one long table of names.
	{
		n, m := 50*scale, 400*scale
		body := make([]byte, 32*(n+1)+4*(m+1)+64)
		table := 32 * (n + 1)
		name := table + 4*(m+1)
		copy(body[name:], "x.dll\x00")
		for i := 0; i < n; i++ {
			d := 32 * i
			le32(body, d, 1)
			le32(body, d+4, uint32(0x1000+name))
			le32(body, d+12, uint32(0x1000+table))
			le32(body, d+16, uint32(0x1000+table))
		}
		for j := 0; j < m; j++ {
			le32(body, table+4*j, 0x80000000|uint32(j+1))
		}
		out["delayed-shared-table"] = craftPE(body, map[int][2]uint32{13: {0x1000, uint32(32 * n)}})
	}
	return out
}

func TestHostileAgainstYara(t *testing.T) {
	dir := t.TempDir()
	for name, data := range hostileFiles(1) {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		checkAgainstYara(t, name, path)
	}
}

func TestHostileLarge(t *testing.T) {
	for name, data := range hostileFiles(40) {
		st, _ := modtest.Load(t, Module(), data)
		t.Logf("%s: %d bytes, %d resources", name, len(data), getInt(st, "number_of_resources"))
	}
}

// craftedFiles are small hand-made PEs for structures the toolchains do
// not produce: old-style (VA-based) delay imports, an export table with an
// ordinal base above 1 and shuffled name ordinals, and CodeView debug
// entries.
func craftedFiles() map[string][]byte {
	out := map[string][]byte{}
	le32 := func(b []byte, off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }
	le16 := func(b []byte, off int, v uint16) { binary.LittleEndian.PutUint16(b[off:], v) }
	const rva, va = 0x1000, 0x401000
	{
		body := make([]byte, 0x200)
		// Two descriptors (Attributes 0: every field a VA), then zeros.
		for i, dll := range []string{"OLEAUT32.dll", "Other.DLL"} {
			d := 32 * i
			le32(body, d+4, uint32(va+0x100+0x20*i))  // name
			le32(body, d+12, uint32(va+0x140+0x20*i)) // IAT
			le32(body, d+16, uint32(va+0x180+0x20*i)) // INT
			copy(body[0x100+0x20*i:], dll+"\x00")
			le32(body, 0x140+0x20*i, 1) // IAT entries: non-zero
			le32(body, 0x144+0x20*i, 1)
			le32(body, 0x180+0x20*i, uint32(va+0x1c0+0x10*i)) // by name (VA)
			le32(body, 0x184+0x20*i, 0x80000002)              // by ordinal
			copy(body[0x1c2+0x10*i:], "Func"+string(rune('A'+i))+"\x00")
		}
		// A third function of Other.DLL whose name is not in the file:
		// yara names it "".
		le32(body, 0x148+0x20, 1)
		le32(body, 0x188+0x20, 0x7fff0000)
		out["delayed-vc6"] = craftPE(body, map[int][2]uint32{13: {rva, 96}})
	}
	{
		body := make([]byte, 0x200)
		le32(body, 12, rva+0x100) // Name
		le32(body, 16, 10)        // Base
		le32(body, 20, 4)         // NumberOfFunctions
		le32(body, 24, 3)         // NumberOfNames
		le32(body, 28, rva+0x40)  // AddressOfFunctions
		le32(body, 32, rva+0x60)  // AddressOfNames
		le32(body, 36, rva+0x80)  // AddressOfNameOrdinals
		le32(body, 0x40, rva+0x1a0)
		le32(body, 0x44, rva+0x120) // inside the directory: a forwarder
		le32(body, 0x48, rva+0x1b0)
		le32(body, 0x4c, 0xdeadbeef)
		for i, n := range []uint32{0x140, 0x150, 0x160} {
			le32(body, 0x60+4*i, rva+n)
		}
		for i, o := range []uint16{2, 0, 2} {
			le16(body, 0x80+2*i, o)
		}
		copy(body[0x100:], "exp.dll\x00")
		copy(body[0x120:], "OTHER.Fn\x00")
		copy(body[0x140:], "Zeta\x00")
		copy(body[0x150:], "alpha\x00")
		copy(body[0x160:], "Dup\x00")
		out["exports-base10"] = craftPE(body, map[int][2]uint32{0: {rva, 0x130}})
	}
	{
		body := make([]byte, 0x200)
		// Three debug entries: not CodeView, an empty RSDS name, a NB10
		// reached through PointerToRawData.
		le32(body, 12, 1)
		le32(body, 28+12, 2)
		le32(body, 28+20, rva+0x100)
		le32(body, 56+12, 2)
		le32(body, 56+24, 0x400+0x140)
		copy(body[0x100:], "RSDS")
		copy(body[0x140:], "NB10")
		copy(body[0x140+16:], "C:\\build\\x.pdb\x00")
		out["debug-pdb"] = craftPE(body, map[int][2]uint32{6: {rva, 84}})
	}
	{
		// More section headers than yara reads (96), and a
		// NumberOfRvaAndSizes with the top bit set.
		b := craftPE(make([]byte, 0x200), map[int][2]uint32{2: {0x1000, 16}})
		big := make([]byte, 0x80+24+optHeader32Size+100*sectionHeaderSize)
		copy(big, b[:0x400])
		nt := 0x84
		binary.LittleEndian.PutUint16(big[nt+2:], 100)
		for i := 1; i < 100; i++ {
			copy(big[nt+20+optHeader32Size+40*i:], b[nt+20+optHeader32Size:nt+20+optHeader32Size+40])
			big[nt+20+optHeader32Size+40*i+5] = byte('0' + i%10)
		}
		big = append(big, make([]byte, 0x1000)...)
		out["sections-100"] = big
		c := append([]byte(nil), b...)
		binary.LittleEndian.PutUint32(c[nt+20+92:], 0x80000010)
		out["rva-sizes-negative"] = c
	}
	return out
}

func TestCraftedAgainstYara(t *testing.T) {
	dir := t.TempDir()
	for name, data := range craftedFiles() {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		checkAgainstYara(t, name, path)
		checkFunctions(t, name, data)
	}
}
