package dotnet

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"vigil/yara/module"
)

// synth describes a small .NET DLL for tests to build: a PE32 file with one
// section holding the CLI header, the metadata and the resources.
type synth struct {
	heapSizes byte
	rows      map[int]uint32 // row counts by table number
	tables    []byte         // the rows of all tables, in table order
	strings   []byte         // #Strings heap
	blob      []byte         // #Blob heap
	us        []byte         // #US heap
	resources []byte         // CLI resources
}

const (
	synthSectionRVA = 0x2000
	synthFileOffset = 0x200
)

// build returns the file.
func (s *synth) build() []byte {
	le := binary.LittleEndian
	var tilde bytes.Buffer
	var hdr [24]byte
	hdr[4], hdr[6], hdr[7] = 2, s.heapSizes, 1
	var valid uint64
	for tab := range s.rows {
		valid |= 1 << tab
	}
	le.PutUint64(hdr[8:], valid)
	tilde.Write(hdr[:])
	for tab := range numTables {
		if valid>>tab&1 != 0 {
			tilde.Write(le.AppendUint32(nil, s.rows[tab]))
		}
	}
	tilde.Write(s.tables)
	streams := []struct {
		name string
		data []byte
	}{
		{"#~", tilde.Bytes()}, {"#Strings", s.strings}, {"#US", s.us},
		{"#GUID", bytes.Repeat([]byte{0xab}, 16)}, {"#Blob", s.blob},
	}
	var md bytes.Buffer
	md.Write(le.AppendUint32(nil, metadataMagic))
	md.Write([]byte{1, 0, 1, 0, 0, 0, 0, 0})
	md.Write(le.AppendUint32(nil, 12))
	md.WriteString("v4.0.30319\x00\x00")
	md.Write([]byte{0, 0, byte(len(streams)), 0})
	hdrLen := md.Len()
	for _, st := range streams {
		hdrLen += 8 + len(st.name) + 4 - len(st.name)%4
	}
	off := align4(hdrLen)
	for _, st := range streams {
		md.Write(le.AppendUint32(nil, uint32(off)))
		md.Write(le.AppendUint32(nil, uint32(len(st.data))))
		md.WriteString(st.name)
		md.Write(make([]byte, 4-len(st.name)%4))
		off += align4(len(st.data))
	}
	for _, st := range streams {
		for md.Len()%4 != 0 {
			md.WriteByte(0)
		}
		md.Write(st.data)
	}
	for md.Len()%4 != 0 {
		md.WriteByte(0)
	}

	// The section: CLI header, metadata, resources.
	var sec bytes.Buffer
	cli := make([]byte, cliHeaderSize)
	le.PutUint32(cli, cliHeaderSize)
	le.PutUint32(cli[8:], synthSectionRVA+cliHeaderSize) // MetaData.VirtualAddress
	le.PutUint32(cli[12:], uint32(md.Len()))
	le.PutUint32(cli[24:], uint32(synthSectionRVA+cliHeaderSize+md.Len()))
	le.PutUint32(cli[28:], uint32(len(s.resources)))
	sec.Write(cli)
	sec.Write(md.Bytes())
	sec.Write(s.resources)

	f := make([]byte, synthFileOffset, synthFileOffset+sec.Len())
	copy(f, "MZ")
	le.PutUint32(f[0x3c:], 0x40)
	copy(f[0x40:], "PE\x00\x00")
	fh := f[0x44:]
	le.PutUint16(fh[0:], 0x14c)   // Machine
	le.PutUint16(fh[2:], 1)       // NumberOfSections
	le.PutUint16(fh[16:], 224)    // SizeOfOptionalHeader
	le.PutUint16(fh[18:], 0x2102) // DLL
	oh := f[0x58:]
	le.PutUint16(oh[0:], 0x10b)
	le.PutUint32(oh[36:], 0x200) // FileAlignment
	le.PutUint32(oh[92:], 16)    // NumberOfRvaAndSizes
	le.PutUint32(oh[96+comDescriptor*8:], synthSectionRVA)
	le.PutUint32(oh[96+comDescriptor*8+4:], cliHeaderSize)
	sh := f[0x58+224:]
	copy(sh, ".text")
	le.PutUint32(sh[8:], uint32(sec.Len()))  // VirtualSize
	le.PutUint32(sh[12:], synthSectionRVA)   // VirtualAddress
	le.PutUint32(sh[16:], uint32(sec.Len())) // SizeOfRawData
	le.PutUint32(sh[20:], synthFileOffset)   // PointerToRawData
	return append(f, sec.Bytes()...)
}

func align4(n int) int { return (n + 3) &^ 3 }

// blobOf encodes b as a #Blob or #US entry with a compressed length.
func blobOf(b []byte) []byte {
	n := len(b)
	var p []byte
	switch {
	case n < 0x80:
		p = []byte{byte(n)}
	case n < 0x4000:
		p = []byte{0x80 | byte(n>>8), byte(n)}
	default:
		p = []byte{0xc0 | byte(n>>24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	return append(p, b...)
}

// idx appends an index of size 2 or 4.
func idx(b []byte, v uint32, size int) []byte {
	if size == 4 {
		return binary.LittleEndian.AppendUint32(b, v)
	}
	return binary.LittleEndian.AppendUint16(b, uint16(v))
}

// constantBomb returns a file whose Constant table has rows rows, all
// string constants pointing at one blob of size bytes.
func constantBomb(rows, size int) []byte {
	s := &synth{
		rows:    map[int]uint32{tModule: 1, tConstant: uint32(rows)},
		strings: []byte("\x00bomb.dll\x00"),
		blob:    append([]byte{0}, blobOf(bytes.Repeat([]byte("A"), size+1))...),
		us:      []byte{0},
	}
	s.heapSizes = 0x04 // 4-byte blob indexes
	t := []byte{0, 0}
	t = idx(t, 1, 2)                // Module.Name
	t = append(t, 0, 0, 0, 0, 0, 0) // Mvid, EncId, EncBaseId
	for i := 0; i < rows; i++ {
		t = append(t, elementString, 0)
		t = idx(t, uint32(i)<<2, 2) // Parent
		t = idx(t, 1, 4)            // Value
	}
	s.tables = t
	return s.build()
}

// fullSynth returns a file with a row in every table the module reads,
// with the given HeapSizes flags.
func fullSynth(heapSizes byte) []byte {
	sh, gh, bh := 2, 2, 2
	if heapSizes&1 != 0 {
		sh = 4
	}
	if heapSizes&2 != 0 {
		gh = 4
	}
	if heapSizes&4 != 0 {
		bh = 4
	}
	var strs bytes.Buffer
	str := func(v string) uint32 {
		if strs.Len() == 0 {
			strs.WriteByte(0)
		}
		at := strs.Len()
		strs.WriteString(v + "\x00")
		return uint32(at)
	}
	blob := []byte{0}
	blb := func(v []byte) uint32 {
		at := len(blob)
		blob = append(blob, blobOf(v)...)
		return uint32(at)
	}
	s := &synth{heapSizes: heapSizes, rows: map[int]uint32{
		tModule: 1, tTypeRef: 1, tMemberRef: 1, tCustomAttribute: 1, tModuleRef: 2,
		tFieldRVA: 1, tAssembly: 1, tAssemblyRef: 2, tManifestResource: 2,
	}}
	var t []byte
	// Module
	t = append(t, 0, 0)
	t = idx(t, str("full.dll"), sh)
	t = idx(idx(idx(t, 1, gh), 0, gh), 0, gh)
	// TypeRef: GuidAttribute
	t = idx(idx(idx(t, 6, 2), str("GuidAttribute"), sh), str("System.Runtime.InteropServices"), sh)
	// MemberRef: .ctor of TypeRef 1
	t = idx(idx(idx(t, 1<<3|1, 2), str(".ctor"), sh), blb([]byte{0x20, 1, 1, 0x0e}), bh)
	// CustomAttribute on the assembly, of MemberRef 1
	t = idx(idx(idx(t, 1<<5|0x0e, 2), 1<<3|3, 2), blb([]byte("\x01\x00\x24d3b8c1a2-0000-4000-8000-123456789abc\x00\x00")), bh)
	// ModuleRef
	t = idx(t, str("kernel32.dll"), sh)
	t = idx(t, str("user32"), sh)
	// FieldRVA: the resources' RVA
	t = idx(binary.LittleEndian.AppendUint32(t, 0), 1, 2)
	fieldRVA := len(t) - 2 - 4
	// Assembly
	t = binary.LittleEndian.AppendUint32(t, 0x8004)
	t = append(t, 1, 0, 2, 0, 3, 0, 4, 0, 0, 0, 0, 0)
	t = idx(idx(idx(t, 0, bh), str("full"), sh), str("de-DE"), sh)
	// AssemblyRef x2
	for i, name := range []string{"mscorlib", "System"} {
		t = append(t, 4, 0, 0, 0, byte(i), 0, 0, 0, 0, 0, 0, 0)
		t = idx(t, blb([]byte{0xb7, 0x7a, 0x5c, 0x56, 0x19, 0x34, 0xe0, 0x89}), bh)
		t = idx(idx(idx(t, str(name), sh), 0, sh), 0, bh)
	}
	// ManifestResource x2: one here, one in another assembly.
	for i, name := range []string{"here.txt", "elsewhere.txt"} {
		t = binary.LittleEndian.AppendUint32(t, 0)
		t = binary.LittleEndian.AppendUint32(t, 1)
		t = idx(idx(t, str(name), sh), uint32(i)<<2|uint32(i), 2)
	}
	s.tables = t
	s.strings = strs.Bytes()
	s.blob = blob
	s.us = append([]byte{0}, blobOf([]byte("h\x00i\x00\x00"))...)
	s.resources = append(binary.LittleEndian.AppendUint32(nil, 5), "hello"...)
	data := s.build()
	// Point the FieldRVA row at the resources, now that the layout is known.
	l, ok := locate(data)
	if ok {
		res := l.pe.u32(l.cli + 24)
		binary.LittleEndian.PutUint32(data[l.tilde+24+4*int64(len(s.rows))+int64(fieldRVA):], res)
	}
	return data
}

// TestSyntheticAgreement compares with yara on built files that real
// assemblies do not have: 4-byte heap indexes, many rows, the row limit.
func TestSyntheticAgreement(t *testing.T) {
	var samples []sample
	for _, rows := range []int{1, 100, maxTableRows, maxTableRows + 1} {
		samples = append(samples, sample{fmt.Sprintf("bomb%d", rows), constantBomb(rows, 40)})
	}
	samples = append(samples, sample{"bomb-big", constantBomb(300, 70000)})
	for hs := byte(0); hs < 8; hs++ {
		full := fullSynth(hs)
		samples = append(samples, sample{fmt.Sprintf("full%d", hs), full})
		for _, n := range []int{len(full) - 1, len(full) - 5, len(full) - 9} {
			samples = append(samples, sample{fmt.Sprintf("full%d.cut%d", hs, n), full[:n]})
		}
	}
	files, lines := compareWithYara(t, samples)
	if files != len(samples) {
		t.Fatalf("%d/%d agree", files, len(samples))
	}
	t.Logf("agreement with yara -D on synthetic files: %d/%d files, %d lines", files, len(samples), lines)
}

// TestConstantBombMemory checks that many constants sharing one large
// blob cost no more than a copy of the data.
func TestConstantBombMemory(t *testing.T) {
	const size = 256 << 10
	data := constantBomb(1000, size)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	st := load(data)
	runtime.ReadMemStats(&after)
	n, _ := st.Fields["number_of_constants"].(int64)
	if n != 1000 {
		t.Fatalf("number_of_constants = %v, want 1000", st.Fields["number_of_constants"])
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 4*uint64(len(data)) {
		t.Errorf("allocated %d bytes for %d bytes of data", got, len(data))
	}
	if s, _ := st.Fields["constants"].(*module.Array).Items[999].(string); s != strings.Repeat("A", size) {
		t.Errorf("constants[999] is %d bytes", len(s))
	}
}

// BenchmarkLoad measures Load on mscorlib, if installed, else on a built
// file with a full Constant table.
func BenchmarkLoad(b *testing.B) {
	data, err := os.ReadFile(monoDir + "/4.5/mscorlib.dll")
	if err != nil {
		data = constantBomb(maxTableRows, 64)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		load(data)
	}
}
