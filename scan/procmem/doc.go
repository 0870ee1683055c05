// Package procmem scans the memory of a running process, as yara does when
// its target is a process ID: on Linux, every readable region listed in
// /proc/PID/maps is read from /proc/PID/mem and scanned, and matches are
// reported at their virtual addresses. Elsewhere Scan returns
// ErrUnsupported.
//
// Like yara, regions are scanned one by one (split into chunks of at most
// Options.MaxChunk bytes); a string spanning two regions is not found.
// Unlike yara, which evaluates the conditions once over the matches of all
// regions, Scan evaluates them per region and merges the results: a rule
// matches the process when it matches some region. Rules whose conditions
// only test strings for presence ("any of them", "$a and $b" in one
// region) behave alike; conditions that count over the whole process
// (#a > 5 across regions), negations ("not $a") and filesize (undefined in
// yara for a process, a region's size here) can differ.
//
// The process is not stopped (yara attaches with ptrace): regions that
// change or disappear while they are read are read as they are, or
// skipped.
//
// # Security
//
// The map file is read with a bounded line length and region count; each
// region is read into a buffer bounded by MaxChunk.
package procmem

import (
	"context"
	"errors"
	"slices"

	"vigil/scan"
	"vigil/yara"
)

// DefaultMaxChunk is yara's default --max-process-memory-chunk: regions
// larger than this are scanned in pieces.
const DefaultMaxChunk = 1 << 30

// maxRegions bounds the regions read from a map file.
const maxRegions = 1 << 20

// ErrUnsupported is returned on systems where Vigil cannot read another
// process's memory.
var ErrUnsupported = errors.New("scanning process memory is only supported on Linux")

// ErrAttach is returned (wrapped) when the process's memory cannot be
// opened: it does not exist, or the caller lacks the permission.
var ErrAttach = errors.New("can not attach to process")

// Options configure a process scan.
type Options struct {
	// MaxChunk is the largest piece of a region scanned at once
	// (0: DefaultMaxChunk).
	MaxChunk int64
}

// Region is one mapping of a process.
type Region struct {
	Start, End uint64 // virtual addresses, End exclusive
	Perms      string // "r-xp" and the like
	Offset     uint64 // offset in the mapped file
	Path       string // mapped file or [heap], [stack]...; empty if anonymous
}

// Readable reports whether the region can be scanned.
func (r Region) Readable() bool {
	return len(r.Perms) > 0 && r.Perms[0] == 'r' && r.Path != "[vvar]" && r.Path != "[vvar_vclock]"
}

// Stats tells what a Scan read.
type Stats struct {
	Regions int   // regions scanned
	Bytes   int64 // bytes scanned
	Skipped int   // readable regions that could not be read
	Chunks  int   // pieces scanned (regions, split at MaxChunk)
}

// Scan scans the memory of process pid with s; see the package comment
// for how the results of the regions are combined.
func Scan(ctx context.Context, pid int, s scan.Scanner, o Options) (*yara.Result, Stats, error) {
	if o.MaxChunk <= 0 {
		o.MaxChunk = DefaultMaxChunk
	}
	return scanProcess(ctx, pid, s, o)
}

// merger combines the per-region results into one.
type merger struct {
	res     yara.Result
	matched map[string]int // rule key → index in res.Matching
	not     map[string]yara.MatchRule
	notKeys []string
	warned  map[string]bool
}

func newMerger() *merger {
	return &merger{matched: map[string]int{}, not: map[string]yara.MatchRule{}, warned: map[string]bool{}}
}

func key(r *yara.MatchRule) string { return r.Namespace + "\x00" + r.Name }

// add merges the result of the chunk at address base.
func (m *merger) add(res *yara.Result, base uint64) {
	for _, r := range res.Matching {
		r.Strings = relocate(r.Strings, base)
		i, ok := m.matched[key(&r)]
		if !ok {
			m.matched[key(&r)] = len(m.res.Matching)
			m.res.Matching = append(m.res.Matching, r)
			continue
		}
		m.res.Matching[i].Strings = mergeStrings(m.res.Matching[i].Strings, r.Strings)
	}
	for _, r := range res.NotMatching {
		r.Strings = relocate(r.Strings, base)
		k := key(&r)
		if old, ok := m.not[k]; ok {
			old.Strings = mergeStrings(old.Strings, r.Strings)
			m.not[k] = old
			continue
		}
		m.not[k] = r
		m.notKeys = append(m.notKeys, k)
	}
	m.res.Console = append(m.res.Console, res.Console...)
	for _, w := range res.Warnings {
		if !m.warned[w] {
			m.warned[w] = true
			m.res.Warnings = append(m.res.Warnings, w)
		}
	}
}

// result returns the merged result: a rule is in NotMatching only when no
// region matched it.
func (m *merger) result() *yara.Result {
	for _, k := range m.notKeys {
		if _, ok := m.matched[k]; !ok {
			m.res.NotMatching = append(m.res.NotMatching, m.not[k])
		}
	}
	return &m.res
}

// relocate returns strs with offsets moved by base, in new slices (the
// scanner may reuse its own).
func relocate(strs []yara.MatchString, base uint64) []yara.MatchString {
	out := make([]yara.MatchString, len(strs))
	for i, s := range strs {
		out[i] = s
		out[i].Matches = make([]yara.Match, len(s.Matches))
		for j, mt := range s.Matches {
			mt.Offset += int64(base)
			mt.Data = slices.Clone(mt.Data)
			out[i].Matches[j] = mt
		}
	}
	return out
}

// mergeStrings appends the matches of b to those of a with the same ID.
func mergeStrings(a, b []yara.MatchString) []yara.MatchString {
	for _, s := range b {
		i := slices.IndexFunc(a, func(x yara.MatchString) bool { return x.ID == s.ID })
		if i < 0 {
			a = append(a, s)
			continue
		}
		a[i].Matches = append(a[i].Matches, s.Matches...)
	}
	return a
}
