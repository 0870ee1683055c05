package magic

import (
	"fmt"
	"strings"
)

// peMachines names PE machine types as libmagic does.
var peMachines = map[uint16]string{
	0x14c: "Intel 80386", 0x166: "MIPS R4000", 0x168: "MIPS R10000",
	0x184: "Alpha", 0x1a2: "Hitachi SH3", 0x1a6: "Hitachi SH4",
	0x1c0: "ARM", 0x1c2: "ARM Thumb", 0x1c4: "ARMv7 Thumb",
	0x1f0: "PowerPC", 0x200: "Intel Itanium", 0xebc: "EFI byte code",
	0x5032: "RISC-V 32-bit", 0x5064: "RISC-V 64-bit", 0x8664: "x86-64",
	0xaa64: "Aarch64",
}

// peSubsystems names PE subsystems.
var peSubsystems = map[uint16]string{
	1: "(native)", 2: "(GUI)", 3: "(console)", 5: "(OS/2)", 7: "(POSIX)",
	8: "(Win9x)", 9: "(Windows CE)", 10: "(EFI application)",
	11: "(EFI boot service driver)", 12: "(EFI runtime driver)",
	13: "(EFI ROM)", 14: "(XBOX)", 16: "(Windows boot application)",
}

// detectMZ describes an MZ executable: PE32, PE32+ or plain MS-DOS.
func detectMZ(b []byte) (result, bool) {
	const dosMime = "application/x-dosexec"
	if len(b) < 0x40 {
		return result{"MS-DOS executable", dosMime}, true
	}
	pe := int(le32(b, 0x3c))
	if pe <= 0 || pe > len(b)-24 || !at(b, pe, "PE\x00\x00") {
		if pe > 0 && pe < len(b)-2 && (at(b, pe, "NE") || at(b, pe, "LE") || at(b, pe, "LX")) {
			return result{"MS-DOS executable, " + string(b[pe:pe+2]), dosMime}, true
		}
		return result{"MS-DOS executable, MZ for MS-DOS", dosMime}, true
	}
	opt := pe + 24
	var sb strings.Builder
	var dirs int
	switch le16(b, opt) {
	case 0x10b:
		sb.WriteString("PE32 executable")
		dirs = opt + 96
	case 0x20b:
		sb.WriteString("PE32+ executable")
		dirs = opt + 112
	default:
		return result{"MS-DOS executable", dosMime}, true
	}
	chars := le16(b, pe+22)
	if chars&0x2000 != 0 {
		sb.WriteString(" (DLL)")
	}
	sub := le16(b, opt+68)
	if s, ok := peSubsystems[sub]; ok {
		sb.WriteString(" " + s)
	} else {
		fmt.Fprintf(&sb, " (Unknown subsystem %#x)", sub)
	}
	mach := le16(b, pe+4)
	if m, ok := peMachines[mach]; ok {
		sb.WriteString(" " + m)
	} else {
		fmt.Fprintf(&sb, " Unknown processor type %#x", mach)
	}
	// A CLR runtime header (data directory 14) marks a .NET assembly.
	if le32(b, dirs-4) > 14 && le32(b, dirs+14*8+4) != 0 {
		sb.WriteString(" Mono/.Net assembly")
	}
	sb.WriteString(", for MS Windows")
	fmt.Fprintf(&sb, ", %d sections", le16(b, pe+6))
	return result{sb.String(), "application/vnd.microsoft.portable-executable"}, true
}

// machOCPU names Mach-O CPU types.
func machOCPU(cpu, sub uint32) string {
	switch cpu {
	case 7:
		return "i386"
	case 0x01000007:
		if sub&0xff == 8 {
			return "x86_64h"
		}
		return "x86_64"
	case 12:
		switch sub & 0xff {
		case 9:
			return "armv7"
		case 11:
			return "armv7s"
		case 12:
			return "armv7k"
		case 6:
			return "armv6"
		}
		return "arm"
	case 0x0100000c:
		if sub&0xff == 2 {
			return "arm64e"
		}
		return "arm64"
	case 18:
		return "ppc"
	case 0x01000012:
		return "ppc64"
	}
	return fmt.Sprintf("architecture=%d", cpu)
}

var machOTypes = []string{"", "object", "executable", "fixed virtual memory shared library",
	"core", "preload executable", "dynamically linked shared library", "dynamic linker",
	"bundle", "dynamically linked shared library stub", "dSYM companion file", "kext bundle"}

var machOFlags = []string{"NOUNDEFS", "INCRLINK", "DYLDLINK", "BINDATLOAD", "PREBOUND",
	"SPLIT_SEGS", "LAZY_INIT", "TWOLEVEL", "FORCE_FLAT", "NOMULTIDEFS", "NOFIXPREBINDING",
	"PREBINDABLE", "ALLMODSBOUND", "SUBSECTIONS_VIA_SYMBOLS", "CANONICAL", "WEAK_DEFINES",
	"BINDS_TO_WEAK", "ALLOW_STACK_EXECUTION", "ROOT_SAFE", "SETUID_SAFE",
	"NO_REEXPORTED_DYLIBS", "PIE", "DEAD_STRIPPABLE_DYLIB", "HAS_TLV_DESCRIPTORS",
	"NO_HEAP_EXECUTION", "APP_EXTENSION_SAFE", "NLIST_OUTOFSYNC_WITH_DYLDINFO",
	"SIM_SUPPORT"}

// detectMachO describes a thin Mach-O header.
func detectMachO(b []byte) (result, bool) {
	u32 := func(off int) uint32 { return le32(b, off) }
	if be32(b, 0) == 0xfeedface || be32(b, 0) == 0xfeedfacf {
		u32 = func(off int) uint32 { return be32(b, off) }
	}
	var sb strings.Builder
	sb.WriteString("Mach-O ")
	if u32(0) == 0xfeedfacf {
		sb.WriteString("64-bit ")
	}
	sb.WriteString(machOCPU(u32(4), u32(8)))
	if ft := u32(12); ft > 0 && int(ft) < len(machOTypes) {
		sb.WriteString(" " + machOTypes[ft])
	} else {
		fmt.Fprintf(&sb, " filetype=%d", ft)
	}
	sb.WriteString(", flags:<")
	flags := u32(24)
	for i, name := range machOFlags {
		if flags&(1<<i) != 0 {
			if i > 0 {
				sb.WriteString("|")
			}
			sb.WriteString(name)
		}
	}
	sb.WriteString(">")
	return result{sb.String(), "application/x-mach-binary"}, true
}

// detectCafebabe tells a Java class file from a Mach-O universal binary.
func detectCafebabe(b []byte) (result, bool) {
	n := be32(b, 4)
	if n > 0 && n < 20 {
		s := "Mach-O universal binary with 1 architecture:"
		if n != 1 {
			s = fmt.Sprintf("Mach-O universal binary with %d architectures:", n)
		}
		return result{s, "application/x-mach-binary"}, true
	}
	major, minor := be16(b, 6), be16(b, 4)
	if major < 45 || len(b) < 8 {
		return result{}, false
	}
	s := fmt.Sprintf("compiled Java class data, version %d.%d", major, minor)
	if major >= 46 && major <= 52 {
		s += fmt.Sprintf(" (Java 1.%d)", major-44)
	} else if major >= 53 && major <= 64 {
		s += fmt.Sprintf(" (Java SE %d)", major-44)
	}
	return result{s, "application/x-java-applet"}, true
}
