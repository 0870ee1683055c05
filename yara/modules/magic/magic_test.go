package magic

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"vigil/yara/module"
	"vigil/yara/modules/internal/modtest"
)

func TestUndefinedOnEmpty(t *testing.T) {
	// yara: both functions are undefined for an empty file (checked with
	// `not defined magic.type()`).
	_, c := modtest.Load(t, Module(), nil)
	for _, fn := range []string{"type", "mime_type"} {
		if got := modtest.Call(t, Module(), c, fn); got != nil {
			t.Errorf("%s() on empty data = %#v, want undefined", fn, got)
		}
	}
}

func TestCached(t *testing.T) {
	_, c := modtest.Load(t, Module(), []byte("hello\n"))
	if got := modtest.Call(t, Module(), c, "type"); got != "ASCII text" {
		t.Fatalf("type() = %#v", got)
	}
	// The second call must use the cached detection, not recompute.
	c.Cache[cacheKey{}] = result{"cached", "cached/mime"}
	if got := modtest.Call(t, Module(), c, "mime_type"); got != "cached/mime" {
		t.Errorf("mime_type() = %#v, want the cached value", got)
	}
	// A fresh context (a new scan) recomputes.
	c2 := &module.Context{Data: []byte("hello\n"), Cache: map[any]any{}}
	if got := modtest.Call(t, Module(), c2, "mime_type"); got != "text/plain" {
		t.Errorf("mime_type() = %#v", got)
	}
}

// TestBounded checks that nothing past maxRead influences the result.
func TestBounded(t *testing.T) {
	big := bytes.Repeat([]byte("abc\n"), maxRead/4+10)
	copy(big[maxRead:], "\x00\x01\x02")
	if got, want := detect(big), detect(big[:maxRead]); got != want {
		t.Errorf("detect(big) = %v, want %v", got, want)
	}
}

// elfHeader builds a minimal ELF header.
func elfHeader(class, order, osabi byte, typ, mach uint16, flags uint32) []byte {
	b := make([]byte, 64)
	copy(b, "\x7fELF")
	b[4], b[5], b[6], b[7] = class, order, 1, osabi
	var bo binary.ByteOrder = binary.LittleEndian
	if order == 2 {
		bo = binary.BigEndian
	}
	bo.PutUint16(b[16:], typ)
	bo.PutUint16(b[18:], mach)
	bo.PutUint32(b[20:], 1)
	if class == 2 {
		bo.PutUint32(b[48:], flags)
	} else {
		bo.PutUint32(b[36:], flags)
	}
	return b
}

// peFile builds a minimal PE file.
func peFile(plus bool, machine, chars, subsystem uint16, sections uint16, clr bool) []byte {
	b := make([]byte, 1024)
	copy(b, "MZ")
	binary.LittleEndian.PutUint16(b[0x18:], 0x40)
	binary.LittleEndian.PutUint32(b[0x3c:], 0x80)
	pe := 0x80
	copy(b[pe:], "PE\x00\x00")
	binary.LittleEndian.PutUint16(b[pe+4:], machine)
	binary.LittleEndian.PutUint16(b[pe+6:], sections)
	binary.LittleEndian.PutUint16(b[pe+22:], chars)
	opt := pe + 24
	dirs := opt + 96
	if plus {
		binary.LittleEndian.PutUint16(b[opt:], 0x20b)
		binary.LittleEndian.PutUint16(b[pe+20:], 240)
		dirs = opt + 112
	} else {
		binary.LittleEndian.PutUint16(b[opt:], 0x10b)
		binary.LittleEndian.PutUint16(b[pe+20:], 224)
	}
	binary.LittleEndian.PutUint16(b[opt+68:], subsystem)
	binary.LittleEndian.PutUint32(b[dirs-4:], 16)
	if clr {
		binary.LittleEndian.PutUint32(b[dirs+14*8:], 0x2008)
		binary.LittleEndian.PutUint32(b[dirs+14*8+4:], 0x48)
	}
	return b
}

func machO(magic, cpu, sub, ftype, flags uint32) []byte {
	b := make([]byte, 64)
	for i, v := range []uint32{magic, cpu, sub, ftype, 0, 0, flags} {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	return b
}

func gz(name string, mtime time.Time, level int) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, level)
	w.Name, w.ModTime = name, mtime
	w.Write([]byte("hello\n"))
	w.Close()
	return buf.Bytes()
}

func zipFile(name string, method uint16) []byte {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	f, _ := w.CreateHeader(&zip.FileHeader{Name: name, Method: method})
	f.Write([]byte("hello"))
	w.Close()
	return buf.Bytes()
}

func tarFile(format tar.Format) []byte {
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	w.WriteHeader(&tar.Header{Name: "h.txt", Mode: 0o644, Size: 2, Format: format, ModTime: time.Unix(1e9, 0)})
	w.Write([]byte("a\n"))
	w.Close()
	return buf.Bytes()
}

func pyc(magic uint16, ts, size uint32) []byte {
	b := make([]byte, 32)
	binary.LittleEndian.PutUint16(b, magic)
	copy(b[2:], "\r\n")
	binary.LittleEndian.PutUint32(b[8:], ts)
	binary.LittleEndian.PutUint32(b[12:], size)
	return b
}

func png(w, h uint32, depth, color, interlace byte) []byte {
	b := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")
	b = binary.BigEndian.AppendUint32(b, w)
	b = binary.BigEndian.AppendUint32(b, h)
	return append(b, depth, color, 0, 0, interlace, 0, 0, 0, 0)
}

// differentialInputs are compared with yara one by one. The expected
// values are whatever yara (libmagic) says at test time.
var differentialInputs = []struct {
	name string
	data []byte
}{
	{"one byte", []byte("a")},
	{"two NULs", []byte("\x00\x00")},
	{"ascii", []byte("hello\n")},
	{"no newline", []byte("hello")},
	{"crlf", []byte("a\r\nb\r\n")},
	{"cr", []byte("a\rb\r")},
	{"mixed", []byte("a\r\nb\nc\rd\n")},
	{"long line", []byte(strings.Repeat("x", 500) + "\n")},
	{"escape", []byte("a\x1b[1mb\n")},
	{"overstrike", []byte("a\bb\n")},
	{"utf8", []byte("caf\xc3\xa9\n")},
	{"utf8 bom", []byte("\xef\xbb\xbfhi\n")},
	{"latin1", []byte("caf\xe9\n")},
	{"extended nel", []byte("a\x85b\x90\n")},
	{"utf16le", []byte("\xff\xfeh\x00i\x00\n\x00")},
	{"trailing nul", []byte("a\nb\n\x00")},
	{"binary", []byte("\x00\x01\x02\x03abc")},
	{"sh", []byte("#!/bin/sh\necho hi\n")},
	{"sh space", []byte("#! /bin/sh -e\necho hi\n")},
	{"bash env", []byte("#!/usr/bin/env bash\necho\n")},
	{"python", []byte("#!/usr/bin/python3\nprint(1)\n")},
	{"python env utf8", []byte("#!/usr/bin/env python3\nprint('\xc3\xa9')\n")},
	{"perl", []byte("#!/usr/bin/perl -w\nprint 1;\n")},
	{"ruby", []byte("#!/usr/bin/ruby\nputs 1\n")},
	{"node", []byte("#!/usr/bin/env node\nconsole.log(1)\n")},
	{"unknown interp", []byte("#!/usr/bin/foo -x\nbar\n")},
	{"env sh", []byte("#!/usr/bin/env sh\necho\n")},
	{"sh with nul", []byte("#!/bin/sh\necho\x00\n")},
	{"json", []byte(`{"a": [1, 2, {"b": null}]}` + "\n")},
	{"json array", []byte("[1, 2]")},
	{"json string", []byte(`"x"` + "\n")},
	{"html", []byte("<!DOCTYPE html>\n<html><body></body></html>\n")},
	{"html tag", []byte("some text\n<title>x</title>\n")},
	{"xml", []byte("<?xml version=\"1.0\"?>\n<a/>\n")},
	{"svg", []byte("<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>\n")},
	{"pem", []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")},
	{"c", []byte("#include <stdio.h>\nint main(void) { return 0; }\n")},
	{"c++", []byte("#include <iostream>\nusing namespace std;\n")},
	{"python source", []byte("import os\nfrom os import path\n\ndef f(a, b):\n    return a\n")},
	{"python docstring", []byte("\"\"\"Doc.\"\"\"\nx = 1\n")},
	{"perl module", []byte("package Foo::Bar;\nuse strict;\n1;\n")},
	{"makefile", []byte("CFLAGS = -O2\nall: x\n")},
	{"batch", []byte("@echo off\r\nrem x\r\n")},
	{"troff", []byte(".TH LS 1\n.SH NAME\n")},
	{"elf x86-64 so", elfHeader(2, 1, 0, 3, 62, 0)},
	{"elf x86-64 exec linux", elfHeader(2, 1, 3, 2, 62, 0)},
	{"elf i386 rel", elfHeader(1, 1, 0, 1, 3, 0)},
	{"elf aarch64 core", elfHeader(2, 1, 0, 4, 183, 0)},
	{"elf arm eabi5", elfHeader(1, 1, 0, 2, 40, 0x05000000)},
	{"elf mips msb", elfHeader(1, 2, 0, 2, 8, 0x50001000)},
	{"elf ppc64 v2", elfHeader(2, 1, 0, 3, 21, 2)},
	{"elf riscv rvc", elfHeader(2, 1, 0, 2, 243, 5)},
	{"elf s390x", elfHeader(2, 2, 0, 2, 22, 0)},
	{"elf freebsd", elfHeader(2, 1, 9, 2, 62, 0)},
	{"elf sparc", elfHeader(1, 2, 0, 2, 2, 0)},
	{"pe32 gui", peFile(false, 0x14c, 0x102, 2, 4, false)},
	{"pe32 dll console", peFile(false, 0x14c, 0x2102, 3, 5, false)},
	{"pe32 .net", peFile(false, 0x14c, 0x102, 3, 3, true)},
	{"pe32+ console", peFile(true, 0x8664, 0x22, 3, 6, false)},
	{"pe32+ dll gui", peFile(true, 0x8664, 0x2022, 2, 7, false)},
	{"pe32+ arm64", peFile(true, 0xaa64, 0x22, 3, 6, false)},
	{"pe32+ efi", peFile(true, 0x8664, 0x22, 10, 6, false)},
	{"macho arm64", machO(0xfeedfacf, 0x0100000c, 0, 2, 0x00200085)},
	{"macho x86_64 dylib", machO(0xfeedfacf, 0x01000007, 3, 6, 0x00100085)},
	{"macho i386", machO(0xfeedface, 7, 3, 2, 0x85)},
	{"gzip plain", gz("", time.Time{}, gzip.DefaultCompression)},
	{"gzip named", gz("h.txt", time.Unix(1700000000, 0), gzip.BestCompression)},
	{"gzip fast", gz("", time.Time{}, gzip.BestSpeed)},
	{"bzip2", []byte("BZh91AY&SY\x00\x00\x00\x00")},
	{"xz", []byte("\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4\x46\x00\x00")},
	{"zstd", []byte("\x28\xb5\x2f\xfd\x24\x06\x31\x00\x00")},
	{"zip store", zipFile("h.txt", zip.Store)},
	{"zip deflate", zipFile("h.txt", zip.Deflate)},
	{"tar gnu", tarFile(tar.FormatGNU)},
	{"tar ustar", tarFile(tar.FormatUSTAR)},
	{"ar", []byte("!<arch>\nh.txt/          0           0     0     644     6         `\nhello\n")},
	{"png rgba", png(48, 48, 8, 6, 0)},
	{"png gray interlaced", png(1, 2, 16, 0, 1)},
	{"png palette", png(24, 24, 8, 3, 0)},
	{"gif", []byte("GIF89a\x0a\x00\x14\x00\x00\x00\x00")},
	{"pdf", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")},
	{"pyc 3.11", pyc(3495, 1669314048, 1234)},
	{"pyc 3.12", pyc(3531, 315561600+28800, 5)},
	{"java class", []byte("\xca\xfe\xba\xbe\x00\x00\x00\x34\x00\x10\x00\x00\x00\x00\x00\x00")},
	{"7z", []byte("7z\xbc\xaf\x27\x1c\x00\x04" + strings.Repeat("\x00", 24))},
	{"tzif", append([]byte("TZif2"+strings.Repeat("\x00", 15)+"\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00\x04"), make([]byte, 40)...)},
	{"terminfo", append([]byte("\x1a\x01\x0a\x00\x01\x00\x01\x00\x01\x00\x01\x00xterm|X\x00"), make([]byte, 20)...)},
}

func TestDifferential(t *testing.T) {
	if testing.Short() {
		t.Skip("runs yara")
	}
	modtest.Yara(t)
	rules := `import "magic"
import "console"
rule m { condition: console.log(magic.type()) and console.log(magic.mime_type()) }
`
	for _, in := range differentialInputs {
		_, console := modtest.RunYara(t, rules, in.data)
		if len(console) != 2 {
			t.Errorf("%s: yara printed %q", in.name, console)
			continue
		}
		got := detect(in.data)
		if got.typ != console[0] {
			t.Errorf("%s: type\n got  %q\n want %q", in.name, got.typ, console[0])
		}
		if got.mime != console[1] {
			t.Errorf("%s: mime_type\n got  %q\n want %q", in.name, got.mime, console[1])
		}
	}
}

func FuzzMagic(f *testing.F) {
	for _, in := range differentialInputs {
		f.Add(in.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		r := detect(data)
		if r.typ == "" || r.mime == "" {
			t.Errorf("empty result %+v", r)
		}
	})
}
