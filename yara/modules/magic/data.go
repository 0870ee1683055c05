package magic

import (
	"bytes"
	"fmt"
	"strings"
)

// plural formats a count as libmagic's timezone entry does: "no X",
// "1 X", "N Xs".
func plural(n uint32, what string) string {
	switch n {
	case 0:
		return "no " + what + "s"
	case 1:
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// detectTZif describes compiled timezone data.
func detectTZif(b []byte) result {
	v := byteAt(b, 4)
	version := "1"
	if v >= '2' && v <= '9' {
		version = string(rune(v))
	}
	s := "timezone data"
	typecnt := be32(b, 36)
	if typecnt > 0 {
		s += " (fat)"
	} else {
		s += " (slim)"
	}
	s += ", version " + version
	s += ", " + plural(be32(b, 20), "gmt time flag")
	s += ", " + plural(be32(b, 24), "std time flag")
	s += ", " + plural(be32(b, 28), "leap second")
	s += ", " + plural(be32(b, 32), "transition time")
	s += ", " + plural(typecnt, "local time type")
	s += ", " + plural(be32(b, 40), "abbreviation char")
	return result{s, "application/octet-stream"}
}

// detectTerminfo describes a compiled terminfo entry; the first name
// starts after the 12-byte header.
func detectTerminfo(b []byte, wide bool) result {
	name := cstring(b, 12, 256)
	if i := strings.IndexByte(name, '|'); i >= 0 {
		name = name[:i]
	}
	if wide {
		return result{fmt.Sprintf("Compiled 32-bit terminfo entry %q", name), "application/x-terminfo2"}
	}
	return result{fmt.Sprintf("Compiled terminfo entry %q", name), "application/x-terminfo"}
}

// maxString is libmagic's MAXstring: the most bytes a string test reads.
const maxString = 128

// printable escapes a string as libmagic does when output is not raw:
// non-printable bytes become \ooo.
func printable(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "\\%03o", c)
		}
	}
	return sb.String()
}

// detectGettext describes a GNU .mo catalog: revision, message counts, the
// first line of the header entry and the first translation.
func detectGettext(b []byte, bigEndian bool) result {
	u32 := func(off int) uint32 { return le32(b, off) }
	order := "little endian"
	if bigEndian {
		u32 = func(off int) uint32 { return be32(b, off) }
		order = "big endian"
	}
	rev := u32(4)
	n := u32(8)
	s := fmt.Sprintf("GNU message catalog (%s), revision %d.%d, %s", order, rev>>16, rev&0xffff, plural(n, "message"))
	if rev&0xffff > 0 {
		if sys := u32(36); sys > 0 {
			s += ", " + plural(sys, "sysdep message")
		}
	}
	trans := int(u32(16))
	str := func(i int) string {
		off := int(u32(trans + 8*i + 4))
		l := int(u32(trans + 8*i))
		if trans <= 0 || off <= 0 || l < 0 || off >= len(b) {
			return ""
		}
		// libmagic skips leading line ends, reads less than maxString
		// bytes and prints up to the first line end.
		for off < len(b) && b[off] == '\n' {
			off++
		}
		t := b[off:min(len(b), off+maxString-1)]
		if j := bytes.IndexAny(t, "\x00\n"); j >= 0 {
			t = t[:j]
		}
		return printable(string(t))
	}
	if n > 0 {
		s += ", " + str(0)
	}
	if n > 1 {
		if t := str(1); t != "" && t != "'" {
			s += " '" + t + "'"
		}
	}
	return result{s, "application/x-gettext-translation"}
}
