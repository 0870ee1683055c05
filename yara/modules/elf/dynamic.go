package elf

import (
	"slices"

	"vigil/yara/module"
	"vigil/yara/modules/internal/yrval"
)

// dynamic fills dynamic[] and dynamic_section_entries from the PT_DYNAMIC
// segments at offsets, in program header order, with yara's results:
//
// For each segment, yara reads entries from its file offset (not limited by
// its file size) up to and including the first DT_NULL tag, or as long as a
// whole entry fits in the file, writing them to dynamic[0], dynamic[1]...
// A later segment overwrites the entries of an earlier one but leaves
// those past its own count; dynamic_section_entries is the count of the last.
//
// Done literally, this is quadratic for a crafted file with thousands of
// PT_DYNAMIC segments. Instead the counts come from one backward sweep per
// entry alignment (countDynamic), and each final entry is read once, from
// the last segment that wrote it.
func (f *file) dynamic(st *module.Struct, offsets []uint64) {
	counts := f.countDynamic(offsets)
	maxCount := uint64(0)
	for _, n := range counts {
		maxCount = max(maxCount, n)
	}
	// Each entry counted lies inside the file: maxCount <= file size / 8.
	items := make([]module.Value, maxCount)
	filled := uint64(0)
	for i := len(offsets) - 1; i >= 0; i-- {
		n := counts[offsets[i]]
		if n <= filled {
			continue
		}
		for k := filled; k < n; k++ {
			p := offsets[i] + k*f.l.dynSize
			items[k] = module.NewStruct().
				Set("type", yrval.Int(int64(f.word(p)))).
				Set("val", yrval.Int(int64(f.word(p+f.l.dynSize/2))))
		}
		filled = n
	}
	st.Set("dynamic", &module.Array{Items: items})
	st.Set("dynamic_section_entries", int64(counts[offsets[len(offsets)-1]]))
}

// countDynamic returns, for each distinct offset, the number of dynamic
// entries yara reads from it. Offsets are grouped by their remainder modulo
// the entry size; for each group one sweep from the end of the file down to
// the lowest offset computes count(p) = 1 if the entry at p is DT_NULL or
// the last whole entry, else 1 + count(p + entry size).
func (f *file) countDynamic(offsets []uint64) map[uint64]uint64 {
	es := f.l.dynSize
	counts := map[uint64]uint64{}
	groups := map[uint64][]uint64{}
	for _, off := range offsets {
		if _, seen := counts[off]; seen {
			continue
		}
		counts[off] = 0 // stays 0 if not even one entry fits
		if f.in(off, es) {
			groups[off%es] = append(groups[off%es], off)
		}
	}
	for r, offs := range groups {
		slices.Sort(offs)
		// The last position of this remainder holding a whole entry; every
		// offset of the group is at or below it.
		p := r + (f.size-es-r)/es*es
		count, have := uint64(0), false // count is count(p + es) once have
		for q := len(offs) - 1; q >= 0; q-- {
			for {
				if !have || f.word(p) == 0 {
					count = 1
				} else {
					count++
				}
				have = true
				if p <= offs[q] {
					break
				}
				p -= es
			}
			counts[offs[q]] = count
			if q > 0 {
				p -= es // offs[q-1] < offs[q], so this does not wrap
			}
		}
	}
	return counts
}
