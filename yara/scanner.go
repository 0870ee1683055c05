package yara

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"vigil/yara/module"
)

// maxReaderSize bounds what ScanReader reads into memory.
const maxReaderSize = 1 << 32

// Scanner scans data with a rule set. It is for one goroutine at a time and
// may be reused for many scans; it keeps its buffers between scans.
type Scanner struct {
	rules *Rules
	opts  ScanOptions
	ext   []value
	st    scanState
	m     matcher
	buf   []byte // small files are read into it (ScanFile)
}

// NewScanner returns a scanner for the rules with the external variables
// at their compile-time values.
func (r *Rules) NewScanner() *Scanner {
	s := &Scanner{rules: r}
	s.ext = make([]value, len(r.externals))
	for i, e := range r.externals {
		s.ext[i] = e.val
	}
	st := &s.st
	st.rules = r
	st.matches = make([][]matchRec, len(r.strings))
	st.capped = make([]bool, len(r.strings))
	st.ruleRes = make([]bool, len(r.rules))
	st.ruleHit = make([]bool, len(r.rules))
	st.vars = make([]value, r.maxSlots+1)
	st.modData = make([]*module.Struct, len(r.modules))
	st.modLoaded = make([]bool, len(r.modules))
	st.cache = map[any]any{}
	st.logFn = func(msg string) { st.console = append(st.console, msg) }
	s.m = matcher{st: st, r: r, warned: make([]bool, len(r.strings))}
	return s
}

// SetVariable changes the value of an external variable for the following
// scans. The value must have the type the variable was defined with
// (integers and floats convert to each other's kind only as defined).
func (s *Scanner) SetVariable(name string, v any) error {
	i, ok := s.rules.extIndex[name]
	if !ok {
		return fmt.Errorf("undefined external variable %q", name)
	}
	nv, err := externalValue(v)
	if err != nil {
		return fmt.Errorf("external variable %q: %w", name, err)
	}
	want := s.rules.externals[i].val.k
	if nv.k != want {
		if want == kFloat && nv.k == kInt {
			nv = value{k: kFloat, f: float64(nv.i)}
		} else {
			return fmt.Errorf("external variable %q: wrong type %T", name, v)
		}
	}
	s.ext[i] = nv
	return nil
}

// SetOptions sets the options of the following scans.
func (s *Scanner) SetOptions(o ScanOptions) { s.opts = o }

// ErrMappedFault is returned by ScanFile when reading the
// memory-mapped file faulted, as happens when the file is truncated while
// it is being scanned.
var ErrMappedFault = errors.New("memory fault reading the mapped file (truncated during the scan?)")

// readMax is the largest file ScanFile reads into the scanner's buffer
// rather than maps: for small files, mapping and unmapping (page faults,
// TLB shootdowns across threads) costs more than a copy.
const readMax = 256 << 10

// ScanFile scans the file at path. A regular file of up to 256 KiB is read
// into a buffer the Scanner keeps; on Linux, macOS and the BSDs a larger
// one is mapped into memory read-only rather than read, and unmapped
// before ScanFile returns (the result holds copies of what it needs);
// other files, and files that cannot be mapped, are read.
func (s *Scanner) ScanFile(ctx context.Context, path string) (*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 && fi.Size() <= readMax {
		return s.scanSmall(ctx, f, int(fi.Size()))
	}
	data, unmap, err := mapFile(f)
	if err != nil {
		return nil, err
	}
	if data != nil {
		defer unmap()
		return s.scanMapped(ctx, data)
	}
	data, err = readAll(f)
	if err != nil {
		return nil, err
	}
	return s.ScanBytes(ctx, data)
}

// scanSmall scans a regular file of size bytes (at most readMax) read
// into the scanner's buffer. A file that shrank is scanned as read; one
// that grew, up to the size it had (as a mapping would be).
func (s *Scanner) scanSmall(ctx context.Context, f *os.File, size int) (*Result, error) {
	if cap(s.buf) < size {
		s.buf = make([]byte, max(size, 64<<10))
	}
	buf := s.buf[:size]
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.ErrUnexpectedEOF {
		return nil, err
	}
	return s.ScanBytes(ctx, buf[:n])
}

// readAll reads f to the end, sized by its length when it has one.
func readAll(f *os.File) ([]byte, error) {
	n := 512
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 && int64(int(fi.Size())) == fi.Size() {
		n = int(fi.Size()) + 1 // one more byte to see the end in one read
	}
	buf := bytes.NewBuffer(make([]byte, 0, n))
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// scanMapped scans data mapped from a file. A memory fault (the file shrank
// under the mapping: SIGBUS) becomes ErrMappedFault instead of crashing the
// program; the Scanner stays usable.
func (s *Scanner) scanMapped(ctx context.Context, data []byte) (res *Result, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if e := recover(); e != nil {
			if _, fault := e.(interface{ Addr() uintptr }); !fault {
				panic(e)
			}
			s.st.data, s.st.mctx.Data = nil, nil
			res, err = nil, ErrMappedFault
		}
	}()
	return s.ScanBytes(ctx, data)
}

// ScanReader reads r to the end (at most 4 GiB) and scans what it read.
func (s *Scanner) ScanReader(ctx context.Context, r io.Reader) (*Result, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxReaderSize+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > maxReaderSize {
		return nil, fmt.Errorf("input larger than %d bytes", int64(maxReaderSize))
	}
	return s.ScanBytes(ctx, data)
}

// ScanBytes scans data. The error is non-nil only when the scan could not
// complete (cancellation, timeout); it wraps ErrTimeout or ctx.Err().
func (s *Scanner) ScanBytes(ctx context.Context, data []byte) (*Result, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	var cancel context.CancelFunc
	if s.opts.Timeout > 0 {
		ctx, cancel = context.WithTimeoutCause(ctx, s.opts.Timeout, ErrTimeout)
		defer cancel()
	}
	st := &s.st
	st.data = data
	// Nothing of data may outlive the scan: ScanFile unmaps it.
	defer func() {
		st.data, st.mctx.Data, st.mctx.Cache = nil, nil, nil
		clear(st.cache)
	}()
	st.ctx = ctx
	st.err = nil
	st.ticks = 0
	st.ext = s.ext
	st.console = nil
	for i := range st.modLoaded {
		st.modLoaded[i] = false
		st.modData[i] = nil
	}
	// The cache map and the log function are the scanner's, made once:
	// a scan that needs no module allocates nothing for them.
	st.mctx = module.Context{Ctx: ctx, Data: data, Cache: st.cache, Log: st.logFn}

	m := &s.m
	m.fast = s.opts.FastMode
	m.maxMatches = s.opts.MaxMatchesPerString
	if m.maxMatches <= 0 {
		m.maxMatches = defaultMaxMatches
	}
	clear(m.warned)
	if s.opts.Profile {
		if m.prof == nil {
			m.prof = newProfileData(s.rules)
		}
		m.profOn = true
	} else {
		m.profOn = false
	}
	if err := m.matchAll(data); err != nil {
		return nil, scanErr(ctx, err)
	}
	res := &Result{}
	if len(m.warnings) > 0 {
		res.Warnings = append(res.Warnings, m.warnings...)
	}
	if s.opts.CollectModuleData {
		// yara loads every imported module before evaluating any rule.
		for slot := range s.rules.modules {
			st.module(slot)
			if st.err != nil {
				return nil, scanErr(ctx, st.err)
			}
		}
	}
	if err := s.evaluate(res); err != nil {
		return nil, scanErr(ctx, err)
	}
	res.Console = st.console
	if s.opts.CollectModuleData {
		res.Modules = make([]ModuleData, len(s.rules.modules))
		for slot, mod := range s.rules.modules {
			res.Modules[slot] = ModuleData{Name: s.rules.imports[slot], Type: mod.Type, Value: st.modData[slot]}
		}
	}
	return res, nil
}

func scanErr(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), ErrTimeout) {
		return fmt.Errorf("%w", ErrTimeout)
	}
	return fmt.Errorf("scan aborted: %w", err)
}

// evaluate runs every rule condition in order and fills res.
func (s *Scanner) evaluate(res *Result) error {
	r := s.rules
	st := &s.st
	if len(st.nsFailed) != len(r.namespaces) {
		st.nsFailed = make([]bool, len(r.namespaces))
	}
	nsFailed := st.nsFailed
	clear(nsFailed)
	clear(st.ruleRes) // a rule referring to itself sees false
	for i, ru := range r.rules {
		if ru.needsMatch && !st.ruleHit[i] {
			// The condition is false when none of the rule's strings matched.
			if ru.global {
				nsFailed[ru.ns] = true
			}
			continue
		}
		var t0 int64
		if s.m.profOn {
			t0 = profNow()
		}
		v, ok := ru.cond(st)
		if s.m.profOn {
			s.m.prof.condNS[i] += profNow() - t0
			s.m.prof.condN[i]++
		}
		if st.err != nil {
			return st.err
		}
		st.ruleRes[i] = ok && v != 0
		if ru.global && !st.ruleRes[i] {
			nsFailed[ru.ns] = true
		}
	}
	for i, ru := range r.rules {
		if ru.private {
			continue
		}
		matched := st.ruleRes[i] && !nsFailed[ru.ns]
		if matched {
			res.Matching = append(res.Matching, s.matchRule(ru))
		} else if s.opts.CollectNotMatching {
			res.NotMatching = append(res.NotMatching, s.matchRule(ru))
		}
	}
	return nil
}

// matchRule builds the result entry of a rule, with the strings that
// matched (yara -n -s prints them for rules that did not match too).
func (s *Scanner) matchRule(ru *rule) MatchRule {
	st := &s.st
	mr := MatchRule{RuleInfo: ru.info}
	for _, si := range ru.strings {
		sd := s.rules.strings[si]
		ms := st.matches[si]
		if sd.private || len(ms) == 0 {
			continue
		}
		if s.opts.FastMode && sd.singleMatch {
			ms = ms[:1]
		}
		out := MatchString{ID: sd.id, Hex: sd.hex, Matches: make([]Match, len(ms))}
		// One allocation holds the data of every match of the string.
		total := 0
		for _, x := range ms {
			total += min(int(x.length), MaxMatchData)
		}
		buf := make([]byte, 0, total)
		for j, x := range ms {
			n := min(int(x.length), MaxMatchData)
			start := len(buf)
			buf = append(buf, st.data[x.off:x.off+int64(n)]...)
			out.Matches[j] = Match{
				Offset: x.off,
				Length: int(x.length),
				Data:   buf[start:len(buf):len(buf)],
				XorKey: int(x.xorKey),
			}
		}
		mr.Strings = append(mr.Strings, out)
	}
	return mr
}
