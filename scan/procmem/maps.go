package procmem

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxMapsLine bounds a line of a maps file (paths are at most PATH_MAX).
const maxMapsLine = 8192

// ParseMaps parses the text of /proc/PID/maps.
func ParseMaps(r io.Reader) ([]Region, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxMapsLine)
	var regions []Region
	for n := 1; sc.Scan(); n++ {
		if len(regions) == maxRegions {
			return regions, fmt.Errorf("maps: more than %d regions", maxRegions)
		}
		reg, err := parseMapsLine(sc.Text())
		if err != nil {
			return regions, fmt.Errorf("maps line %d: %w", n, err)
		}
		regions = append(regions, reg)
	}
	return regions, sc.Err()
}

// parseMapsLine parses "START-END PERMS OFFSET DEV INODE [PATH]".
func parseMapsLine(line string) (Region, error) {
	var r Region
	f := strings.Fields(line)
	if len(f) < 5 {
		return r, fmt.Errorf("%q: too few fields", line)
	}
	lo, hi, ok := strings.Cut(f[0], "-")
	if !ok {
		return r, fmt.Errorf("%q: bad address range", f[0])
	}
	var err error
	if r.Start, err = strconv.ParseUint(lo, 16, 64); err != nil {
		return r, err
	}
	if r.End, err = strconv.ParseUint(hi, 16, 64); err != nil {
		return r, err
	}
	if r.End < r.Start {
		return r, fmt.Errorf("%q: end before start", f[0])
	}
	r.Perms = f[1]
	if r.Offset, err = strconv.ParseUint(f[2], 16, 64); err != nil {
		return r, err
	}
	if len(f) > 5 {
		// The path is the rest of the line after the inode field; it may
		// hold spaces.
		rest := line
		for range 5 {
			rest = strings.TrimLeft(rest, " \t")
			i := strings.IndexAny(rest, " \t")
			if i < 0 {
				rest = ""
				break
			}
			rest = rest[i:]
		}
		r.Path = strings.TrimLeft(rest, " \t")
	}
	return r, nil
}
