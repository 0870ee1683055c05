package procmem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"

	"vigil/scan"
	"vigil/yara"
)

func scanProcess(ctx context.Context, pid int, s scan.Scanner, o Options) (*yara.Result, Stats, error) {
	var st Stats
	dir := "/proc/" + strconv.Itoa(pid)
	mem, err := os.Open(dir + "/mem")
	if err != nil {
		return nil, st, fmt.Errorf("%w %d: %w", ErrAttach, pid, err)
	}
	defer mem.Close()
	mf, err := os.Open(dir + "/maps")
	if err != nil {
		return nil, st, fmt.Errorf("%w %d: %w", ErrAttach, pid, err)
	}
	regions, err := ParseMaps(mf)
	mf.Close()
	if err != nil {
		return nil, st, err
	}
	m := newMerger()
	var buf []byte
	for _, r := range regions {
		if !r.Readable() || r.Start > math.MaxInt64 || r.End > math.MaxInt64 {
			continue
		}
		scanned := false
		for start := r.Start; start < r.End; {
			if err := ctx.Err(); err != nil {
				return nil, st, err
			}
			n := min(r.End-start, uint64(o.MaxChunk))
			if uint64(cap(buf)) < n {
				buf = make([]byte, n)
			}
			data := buf[:n]
			got, err := mem.ReadAt(data, int64(start))
			if got == 0 && err != nil && !errors.Is(err, io.EOF) {
				break // unreadable (guard pages, unmapped meanwhile)
			}
			data = data[:got]
			res, err := s.ScanBytes(ctx, data)
			if err != nil {
				return nil, st, err
			}
			m.add(res, start)
			st.Chunks++
			st.Bytes += int64(got)
			scanned = true
			start += uint64(n)
		}
		if scanned {
			st.Regions++
		} else {
			st.Skipped++
		}
	}
	if st.Chunks == 0 {
		// Nothing readable: evaluate the conditions once, on nothing.
		res, err := s.ScanBytes(ctx, nil)
		if err != nil {
			return nil, st, err
		}
		m.add(res, 0)
	}
	return m.result(), st, nil
}
