package difftest

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
)

// makeInputs builds the inputs of a case: random bytes over a small
// alphabet with planted instances of the case's strings.
func makeInputs(r *rand.Rand, strs []*genString) [][]byte {
	inputs := make([][]byte, 0, inputsPerCase)
	for k := 0; k < inputsPerCase; k++ {
		var size int
		switch {
		case k == 0 && r.IntN(3) == 0:
			size = 0
		case k == 1 && r.IntN(3) == 0:
			size = 1
		case r.IntN(4) == 0:
			size = r.IntN(maxInputLen)
		default:
			size = r.IntN(64)
		}
		data := make([]byte, size)
		for i := range data {
			data[i] = randByte(r)
		}
		if len(strs) > 0 {
			for n := r.IntN(5); n > 0; n-- {
				s := strs[r.IntN(len(strs))]
				data = plant(r, data, instance(r, s))
			}
		}
		if len(data) > maxInputLen {
			data = data[:maxInputLen]
		}
		inputs = append(inputs, data)
	}
	return inputs
}

// plant writes p into data: at offset 0, at the very end, overlapping a
// previous plant, inserted, or at a random place.
func plant(r *rand.Rand, data, p []byte) []byte {
	if len(p) == 0 {
		return data
	}
	switch r.IntN(6) {
	case 0: // at offset 0
		if len(data) < len(p) {
			data = append(data, make([]byte, len(p)-len(data))...)
		}
		copy(data, p)
	case 1: // at the very end
		if len(data) < len(p) {
			return append([]byte{}, p...)
		}
		copy(data[len(data)-len(p):], p)
	case 2: // twice, overlapping
		data = append(data, p...)
		at := len(data) - len(p) + r.IntN(len(p))
		data = append(data[:at], append(append([]byte{}, p...), data[min(at+len(p), len(data)):]...)...)
	case 3: // inserted
		at := r.IntN(len(data) + 1)
		data = append(data[:at], append(append([]byte{}, p...), data[at:]...)...)
	default:
		if len(data) < len(p) {
			return append(data, p...)
		}
		at := r.IntN(len(data) - len(p) + 1)
		copy(data[at:], p)
	}
	return data
}

// instance returns bytes that are (or nearly are) a match of s: exact,
// mutated, case-flipped, wide, xor-ed, base64-encoded at each alignment,
// between word or non-word bytes.
func instance(r *rand.Rand, s *genString) []byte {
	var p []byte
	switch s.kind {
	case kindText:
		p = append([]byte{}, s.text...)
	case kindHex:
		p = sampleHex(r, s.hex)
	case kindRegex:
		p = sampleRe(r, s.re, s.reDot)
	}
	m := s.mods
	if (m.nocase || s.reI || r.IntN(6) == 0) && r.IntN(2) == 0 {
		p = flipCase(r, p)
	}
	if r.IntN(8) == 0 && len(p) > 0 {
		// mutated: one byte changed or the tail cut
		if r.IntN(2) == 0 {
			p[r.IntN(len(p))] ^= byte(1 << r.IntN(8))
		} else {
			p = p[:r.IntN(len(p))]
		}
	}
	if m.base64 || m.base64wide {
		enc := base64.StdEncoding
		if m.alphabet != "" {
			enc = base64.NewEncoding(m.alphabet)
		}
		enc = enc.WithPadding(base64.NoPadding)
		pre := make([]byte, r.IntN(3))
		for i := range pre {
			pre[i] = randByte(r)
		}
		post := make([]byte, r.IntN(3))
		for i := range post {
			post[i] = randByte(r)
		}
		p = []byte(enc.EncodeToString(append(append(pre, p...), post...)))
		if m.base64wide && (!m.base64 || r.IntN(2) == 0) {
			p = widen(p)
		}
		return p
	}
	if m.wide && (!m.ascii || r.IntN(2) == 0) || r.IntN(10) == 0 {
		p = widen(p)
	}
	if m.xor || r.IntN(20) == 0 {
		lo, hi := m.xorLo, m.xorHi
		if !m.xor {
			lo, hi = 0, 255
		}
		key := byte(lo + r.IntN(hi-lo+1))
		for i := range p {
			p[i] ^= key
		}
	}
	if m.fullword || r.IntN(6) == 0 {
		around := []byte("a_1 .\x00")
		p = append(append([]byte{around[r.IntN(len(around))]}, p...), around[r.IntN(len(around))])
	}
	return p
}

func widen(p []byte) []byte {
	w := make([]byte, 0, 2*len(p))
	for _, c := range p {
		w = append(w, c, 0)
	}
	return w
}

func flipCase(r *rand.Rand, p []byte) []byte {
	p = bytes.Clone(p)
	for i, c := range p {
		if r.IntN(2) == 0 {
			switch {
			case c >= 'a' && c <= 'z':
				p[i] = c - 32
			case c >= 'A' && c <= 'Z':
				p[i] = c + 32
			}
		}
	}
	return p
}
