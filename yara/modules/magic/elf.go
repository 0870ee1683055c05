package magic

import (
	"fmt"
	"strings"
)

// elfMachines names the common ELF e_machine values as libmagic does.
var elfMachines = map[uint16]string{
	2: "SPARC", 3: "Intel 80386", 4: "Motorola m68k", 5: "Motorola m88k",
	6: "Intel 80486", 7: "Intel 80860", 8: "MIPS", 10: "MIPS (deprecated)",
	15: "PA-RISC", 18: "SPARC32PLUS", 20: "PowerPC or cisco 4500",
	21: "64-bit PowerPC or cisco 7500", 22: "IBM S/390", 40: "ARM",
	41: "Alpha", 42: "Renesas SH", 43: "SPARC V9", 50: "IA-64",
	62: "x86-64", 83: "Atmel AVR 8-bit", 105: "TI msp430",
	183: "ARM aarch64", 243: "UCB RISC-V", 247: "eBPF", 258: "LoongArch",
}

// elfOSABI names EI_OSABI values.
var elfOSABI = map[byte]string{
	0: "SYSV", 1: "HP-UX", 2: "NetBSD", 3: "GNU/Linux", 4: "GNU/Hurd",
	5: "86Open", 6: "Solaris", 7: "Monterey", 8: "IRIX", 9: "FreeBSD",
	10: "Tru64", 11: "Novell Modesto", 12: "OpenBSD", 13: "OpenVMS",
	14: "HP NonStop Kernel", 15: "AROS", 16: "FenixOS", 17: "Nuxi CloudABI",
	97: "ARM", 255: "embedded",
}

// mipsISA names the MIPS architecture level in e_flags bits 28-31.
var mipsISA = []string{"MIPS-I", "MIPS-II", "MIPS-III", "MIPS-IV", "MIPS-V",
	"MIPS32", "MIPS64", "MIPS32 rel2", "MIPS64 rel2", "MIPS32 rel6", "MIPS64 rel6"}

// detectELF describes an ELF header the way libmagic's magic_buffer does:
// without the program-header details that need a file descriptor.
func detectELF(b []byte) (result, bool) {
	if len(b) < 20 {
		return result{}, false
	}
	var sb strings.Builder
	sb.WriteString("ELF")
	class := b[4]
	switch class {
	case 1:
		sb.WriteString(" 32-bit")
	case 2:
		sb.WriteString(" 64-bit")
	default:
		fmt.Fprintf(&sb, " invalid class")
	}
	msb := false
	switch b[5] {
	case 1:
		sb.WriteString(" LSB")
	case 2:
		sb.WriteString(" MSB")
		msb = true
	default:
		sb.WriteString(" invalid byte order")
		return result{sb.String(), "application/octet-stream"}, true
	}
	u16 := func(off int) uint16 {
		if msb {
			return be16(b, off)
		}
		return le16(b, off)
	}
	u32 := func(off int) uint32 {
		if msb {
			return be32(b, off)
		}
		return le32(b, off)
	}
	mime := "application/octet-stream"
	switch t := u16(16); {
	case t == 0:
		sb.WriteString(" no file type")
	case t == 1:
		sb.WriteString(" relocatable")
		mime = "application/x-object"
	case t == 2:
		sb.WriteString(" executable")
		mime = "application/x-executable"
	case t == 3:
		sb.WriteString(" shared object")
		mime = "application/x-sharedlib"
	case t == 4:
		sb.WriteString(" core file")
		mime = "application/x-coredump"
	case t >= 0xff00:
		sb.WriteString(" processor-specific")
	default:
		fmt.Fprintf(&sb, " *unknown* type")
	}
	mach := u16(18)
	flagsOff := 36
	if class == 2 {
		flagsOff = 48
	}
	flags := u32(flagsOff)
	name, ok := elfMachines[mach]
	if !ok {
		name = fmt.Sprintf("*unknown arch %#x*", mach)
	}
	sb.WriteString(", " + name)
	sep := ", " // before "version"
	switch mach {
	case 40: // ARM: EABI version in the top byte of e_flags
		if v := flags >> 24; v >= 1 && v <= 5 {
			fmt.Fprintf(&sb, ", EABI%d", v)
			sep = " "
		}
	case 8, 10:
		if isa := flags >> 28; int(isa) < len(mipsISA) {
			sb.WriteString(", ")
			if flags&0x20 != 0 {
				sb.WriteString("N32 ")
			}
			sb.WriteString(mipsISA[isa])
			sep = " "
		}
	case 21:
		switch flags & 3 {
		case 0:
			sb.WriteString(", Unspecified or Power ELF V1 ABI")
		case 1:
			sb.WriteString(", Power ELF V1 ABI")
		case 2:
			sb.WriteString(", OpenPOWER ELF V2 ABI")
		}
	case 243:
		if flags&1 != 0 {
			sb.WriteString(", RVC")
		}
		sb.WriteString([]string{", soft-float ABI", ", single-float ABI", ", double-float ABI", ", quad-float ABI"}[flags>>1&3])
	}
	fmt.Fprintf(&sb, "%sversion %d", sep, b[6])
	if abi, ok := elfOSABI[b[7]]; ok {
		fmt.Fprintf(&sb, " (%s)", abi)
	} else {
		fmt.Fprintf(&sb, " (unknown)")
	}
	return result{sb.String(), mime}, true
}
