package re

// fcode is the code of the fast matcher, packed: hex strings are most of
// the code of real rule sets, and most of their instructions are plain
// bytes (c&mask == val). Such an instruction is one word, val | mask<<8.
// The final match is the word matchWord. Any other instruction (a jump, a
// negated or class test) is stored once per distinct instruction, as six
// words at the end of the code (ext instruction k ends 6k words before
// the last word, which holds their number), and its word has a val bit
// outside the mask, which no plain byte has: val = 0x80 | k&0x7F, mask =
// k>>7. A code with more distinct other instructions than words can name
// is stored whole as ext instructions, its last word wideCode.
type fcode []uint16

const (
	// maxFastExt is the number of ext instructions a word can name; the
	// last name is the match's.
	maxFastExt = 1<<14 - 1
	matchWord  = 0x80 | 0x7F | 0x7F<<8
	// wideCode in the last word: every instruction is an ext instruction.
	wideCode = 0xFFFF
)

// len returns the number of instructions.
func (c fcode) len() int {
	m := int(c[len(c)-1])
	if m == wideCode {
		return (len(c) - 1) / 6
	}
	return len(c) - 1 - 6*m
}

// wide reports whether every instruction is an ext instruction.
func (c fcode) wide() bool { return c[len(c)-1] == wideCode }

// inst returns instruction i.
func (c fcode) inst(i int) finst {
	if c.wide() {
		return c.ext(i)
	}
	return c.at(i)
}

// at returns instruction i of a code that is not wide.
func (c fcode) at(i int) finst {
	e := c[i]
	val, mask := byte(e), byte(e>>8)
	if val&^mask == 0 {
		return finst{op: yiByte, val: val, mask: mask}
	}
	if e == matchWord {
		return finst{op: yiMatch}
	}
	return c.ext(int(val&0x7F) | int(mask)<<7)
}

// ext returns ext instruction k (instruction k of a wide code).
func (c fcode) ext(k int) finst {
	x := c[len(c)-1-6*(k+1):]
	x = x[:6]
	return finst{
		op:   yiop(x[0]),
		neg:  x[0]>>8 != 0,
		val:  byte(x[1]),
		mask: byte(x[1] >> 8),
		a:    int32(uint32(x[2]) | uint32(x[3])<<16),
		b:    int32(uint32(x[4]) | uint32(x[5])<<16),
	}
}

// putExt stores in as six words in x.
func putExt(x []uint16, in *finst) {
	x = x[:6]
	x[0] = uint16(in.op)
	if in.neg {
		x[0] |= 1 << 8
	}
	x[1] = uint16(in.val) | uint16(in.mask)<<8
	x[2], x[3] = uint16(uint32(in.a)), uint16(uint32(in.a)>>16)
	x[4], x[5] = uint16(uint32(in.b)), uint16(uint32(in.b)>>16)
}

// plainWord returns the word of in when it is a plain byte test.
func plainWord(in *finst) (uint16, bool) {
	if in.op != yiByte || in.a != 0 {
		return 0, false
	}
	val, mask := in.val, in.mask
	if in.neg {
		if mask != 0 || val == 0 {
			return 0, false
		}
		// Every byte: c&0 != val, the same as c&0 == 0.
		val = 0
	} else if val&^mask != 0 {
		return 0, false // no byte
	}
	return uint16(val) | uint16(mask)<<8, true
}

// packFast packs code (a copy: code can be scratch memory).
func packFast(code []finst) fcode {
	special := 0
	for i := range code {
		if _, ok := plainWord(&code[i]); !ok && code[i] != (finst{op: yiMatch}) {
			special++
		}
	}
	var words []uint16
	if special == 0 {
		words = make(fcode, len(code)+1) // the final code
	} else {
		words = make([]uint16, len(code))
	}
	var ext []finst
	var index map[finst]int
	for i := range code {
		in := &code[i]
		if w, ok := plainWord(in); ok {
			words[i] = w
			continue
		}
		if *in == (finst{op: yiMatch}) {
			words[i] = matchWord
			continue
		}
		k, ok := -1, false
		if index != nil {
			k, ok = index[*in]
		} else {
			for j := range ext {
				if ext[j] == *in {
					k, ok = j, true
					break
				}
			}
			if len(ext) >= 8 {
				index = make(map[finst]int, 2*len(ext))
				for j := range ext {
					index[ext[j]] = j
				}
			}
		}
		if !ok {
			k = len(ext)
			if k == maxFastExt {
				return packWide(code)
			}
			ext = append(ext, *in)
			if index != nil {
				index[*in] = k
			}
		}
		words[i] = uint16(0x80|k&0x7F) | uint16(k>>7)<<8
	}
	if special == 0 {
		return words // its last word, 0, says no ext instruction
	}
	c := make(fcode, len(code)+6*len(ext)+1)
	copy(c, words)
	for k := range ext {
		putExt(c[len(c)-1-6*(k+1):], &ext[k])
	}
	c[len(c)-1] = uint16(len(ext))
	return c
}

// packWide packs code as ext instructions only.
func packWide(code []finst) fcode {
	c := make(fcode, 6*len(code)+1)
	for k := range code {
		putExt(c[len(c)-1-6*(k+1):], &code[k])
	}
	c[len(c)-1] = wideCode
	return c
}
