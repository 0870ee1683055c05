package agent

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"vigil/scan"
	"vigil/wire"
	"vigil/yara"
	"vigil/yara/syntax"
)

// Bounds of what one hunt reports.
const (
	// maxBatchBytes bounds the encoded size of one ResultBatch.
	maxBatchBytes = 512 << 10
	// maxMatchBytes bounds one encoded FileMatch; a larger one loses
	// rules or strings (and says so in an error entry).
	maxMatchBytes = 256 << 10
	// maxErrorDetails bounds the FileError entries sent per hunt; the
	// status counts every error.
	maxErrorDetails = 1000
	// maxErrorPath and maxErrorText bound the fields of a FileError.
	maxErrorPath = 4096
	maxErrorText = 512
	// maxStatusError bounds Status.Error (compiler messages can be long).
	maxStatusError = 8 << 10
	// finishedMargin is how long past its expiry a finished hunt is
	// remembered, so that a server whose clock is behind ours cannot make
	// the agent run it twice.
	finishedMargin = time.Hour
)

// Causes of a hunt's or a scan's end.
var (
	errCanceled = errors.New("canceled by the server")
	errExpired  = errors.New("hunt expired")
	errTimeout  = errors.New("hunt timeout passed")
	errMaxFiles = errors.New("max_files reached")
)

// huntRun is one hunt accepted by the agent, from receipt to its terminal
// status.
type huntRun struct {
	a      *Agent
	h      wire.Hunt
	order  int64 // arrival order
	prefix string
	agent  string

	runCtx context.Context // Run's: messages are sent until it ends
	ctx    context.Context // canceled by a Cancel, the hunt's expiry or Run's end
	cancel context.CancelCauseFunc

	// mu guards what follows and serializes the hunt's messages, which
	// are therefore sent in order.
	mu         sync.Mutex
	seq        seqState
	st         wire.Status // counters
	batch      wire.ResultBatch
	batchBytes int
	errDetails int
	topFiles   int64
	stopped    bool // MaxFiles reached: later events are ignored
	scanCtx    context.Context
	stopScan   context.CancelCauseFunc

	hashMu sync.Mutex
	hashes map[*yara.Result]fileHash
}

// fileHash is the digest of scanned bytes that matched.
type fileHash struct{ sha256, md5 string }

var arrivals struct {
	sync.Mutex
	n int64
}

func sortRuns(runs []*huntRun) {
	sort.Slice(runs, func(i, j int) bool { return runs[i].order < runs[j].order })
}

// startHunt registers hunt h and starts its goroutine. resumed hunts come
// from the local record (with their sequence numbers).
func (a *Agent) startHunt(runCtx context.Context, h wire.Hunt, seq seqState, resumed bool) {
	arrivals.Lock()
	arrivals.n++
	order := arrivals.n
	arrivals.Unlock()
	a.mu.Lock()
	if _, ok := a.hunts[h.ID]; ok {
		a.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancelCause(runCtx)
	r := &huntRun{
		a: a, h: h, order: order, prefix: a.id.Prefix, agent: a.id.AgentID,
		runCtx: runCtx, ctx: ctx, cancel: cancel, seq: seq,
		hashes: map[*yara.Result]fileHash{},
	}
	a.hunts[h.ID] = r
	a.mu.Unlock()
	if !resumed {
		if err := a.store.addActive(&h); err != nil {
			a.logf("hunt %s: %v (it will not be rerun after a restart)", h.ID, err)
		}
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer cancel(nil)
		r.run(runCtx)
		a.mu.Lock()
		delete(a.hunts, h.ID)
		a.mu.Unlock()
	}()
}

// run takes the hunt from receipt to its terminal status. When runCtx ends
// first it returns without a terminal status: the hunt stays in the local
// record and runs again after a restart.
func (r *huntRun) run(runCtx context.Context) {
	a, h := r.a, &r.h
	r.mu.Lock()
	defer r.mu.Unlock()
	if t := r.seq.Terminal; t != nil {
		// Stopped while sending its terminal status: send it again (the
		// same Seq, so the server ignores a copy that arrived).
		if r.publishStatus(runCtx, *t) == nil {
			r.recordFinished()
		}
		return
	}
	if r.seq.Batch > 0 {
		// The last batch number used may not have reached the server:
		// an empty batch with that number fills the gap or is a duplicate.
		if r.publishBatch(runCtx, wire.ResultBatch{HuntID: h.ID, Seq: r.seq.Batch, Matches: []wire.FileMatch{}}) != nil {
			return
		}
	}
	if reason := r.refusal(); reason != "" {
		a.logf("hunt %s: refused: %s", h.ID, reason)
		r.terminal(runCtx, wire.StateRefused, reason)
		return
	}
	if !h.Expires.IsZero() {
		var cancel context.CancelFunc
		r.ctx, cancel = context.WithDeadlineCause(r.ctx, h.Expires, errExpired)
		defer cancel()
	}
	if r.status(runCtx, wire.StateReceived, "") != nil {
		return
	}

	// Wait for the scanning slot without holding mu (nothing is sent).
	r.mu.Unlock()
	err := a.slot.acquire(r.ctx)
	r.mu.Lock()
	if err != nil {
		if runCtx.Err() == nil {
			r.ended(runCtx, err, "before it could run")
		}
		return
	}
	defer a.slot.release()

	rules, err := yara.Compile(h.Rules)
	if err != nil {
		a.logf("hunt %s: rules do not compile", h.ID)
		r.terminal(runCtx, wire.StateFailed, "rules do not compile: "+err.Error())
		return
	}
	r.st.Started = a.now().UTC()
	if r.status(runCtx, wire.StateRunning, "") != nil {
		return
	}
	a.logf("hunt %s: scanning %d paths", h.ID, len(h.Paths))
	cause, serr := r.scan(runCtx, rules)
	if runCtx.Err() != nil {
		return
	}
	if r.flush(runCtx) != nil {
		return
	}
	if serr != nil {
		r.terminal(runCtx, wire.StateFailed, serr.Error())
		return
	}
	if errors.Is(cause, errMaxFiles) {
		r.terminal(runCtx, wire.StateDone, fmt.Sprintf("stopped after max_files (%d) files", h.Limits.MaxFiles))
		return
	}
	if cause != nil {
		r.ended(runCtx, cause, "while running")
		return
	}
	a.logf("hunt %s: done: %d files scanned, %d matched", h.ID, r.st.FilesScanned, r.st.FilesMatched)
	r.terminal(runCtx, wire.StateDone, "")
}

// ended sends the terminal status of a hunt stopped by cause.
func (r *huntRun) ended(runCtx context.Context, cause error, when string) {
	switch {
	case errors.Is(cause, errCanceled):
		r.terminal(runCtx, wire.StateCanceled, "canceled by the server "+when)
	case errors.Is(cause, errExpired):
		r.terminal(runCtx, wire.StateCanceled, fmt.Sprintf("hunt expired (%s) %s", r.h.Expires.UTC().Format(time.RFC3339), when))
	case errors.Is(cause, errTimeout):
		r.terminal(runCtx, wire.StateFailed, fmt.Sprintf("hunt timeout of %v passed: scan incomplete", r.h.Limits.Timeout))
	default:
		r.terminal(runCtx, wire.StateFailed, "stopped: "+cause.Error())
	}
}

// refusal says why the agent will not run the hunt, "" if it will.
func (r *huntRun) refusal() string {
	h := &r.h
	if err := h.Validate(); err != nil {
		return err.Error()
	}
	sum := sha256.Sum256([]byte(h.Rules))
	if hex.EncodeToString(sum[:]) != h.RulesSHA256 {
		return "rules do not match rules_sha256"
	}
	if now := r.a.now(); !now.Before(h.Expires) {
		return fmt.Sprintf("hunt expired at %s (agent time %s)", h.Expires.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if f, err := syntax.Parse("hunt", []byte(h.Rules)); err == nil {
		for _, d := range f.Decls {
			if inc, ok := d.(*syntax.Include); ok {
				return fmt.Sprintf("rules include %q: hunt rules may not include files", truncate(inc.Path, 256))
			}
		}
	}
	var x scan.Excludes
	for _, p := range h.Exclude {
		if err := x.Add(p); err != nil {
			return fmt.Sprintf("exclude pattern %q: %v", truncate(p, 256), err)
		}
	}
	return ""
}

// scan runs the hunt's scan, sending batches and periodic statuses. It
// returns why the scan was stopped (nil if it was not) and the scanning
// layer's error.
func (r *huntRun) scan(runCtx context.Context, rules *yara.Rules) (stopped, err error) {
	h := &r.h
	o := scan.DefaultOptions()
	o.Workers = r.a.o.Workers
	o.Archives = h.Limits.Archives
	o.FollowSymlinks = h.Limits.FollowSymlinks
	if h.Limits.MaxFileSize > 0 {
		o.MaxFileSize = h.Limits.MaxFileSize
	}
	if h.Limits.PerFileTimeout > 0 {
		o.FileTimeout = h.Limits.PerFileTimeout
	}
	if h.Limits.MaxArchiveDepth > 0 {
		o.MaxDepth = h.Limits.MaxArchiveDepth
	}
	if len(h.Exclude) > 0 {
		o.Exclude = &scan.Excludes{}
		for _, p := range h.Exclude {
			o.Exclude.Add(p) // checked by refusal
		}
	}
	ctx := r.ctx
	if h.Limits.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, h.Limits.Timeout, errTimeout)
		defer cancel()
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	r.scanCtx, r.stopScan = ctx, stop

	var roots []string
	for _, p := range h.Paths {
		if !filepath.IsAbs(p) {
			r.st.FileErrors++
			r.addError(runCtx, p, "not an absolute path on this system: not scanned")
			continue
		}
		roots = append(roots, filepath.Clean(p))
	}

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		flushT := time.NewTicker(r.a.flushEvery)
		defer flushT.Stop()
		statusT := time.NewTicker(r.a.statusEvery)
		defer statusT.Stop()
		for {
			select {
			case <-done:
				return
			case <-flushT.C:
				r.mu.Lock()
				r.flush(runCtx)
				r.mu.Unlock()
			case <-statusT.C:
				r.mu.Lock()
				r.status(runCtx, wire.StateRunning, "")
				r.mu.Unlock()
			}
		}
	}()
	// The scanning layer calls emit, which takes mu: release it meanwhile.
	r.mu.Unlock()
	_, err = scan.Run(ctx, o, roots, func() (scan.Scanner, error) {
		return &hashingScanner{s: rules.NewScanner(), r: r}, nil
	}, r.emit)
	if ctx.Err() != nil {
		stopped = context.Cause(ctx)
	}
	close(done)
	wg.Wait()
	r.mu.Lock()
	return stopped, err
}

// hashingScanner scans with yara and hashes the bytes of every input that
// matched, so that archive members get their own digests and no file is
// read twice.
type hashingScanner struct {
	s *yara.Scanner
	r *huntRun
}

func (s *hashingScanner) ScanBytes(ctx context.Context, data []byte) (*yara.Result, error) {
	res, err := s.s.ScanBytes(ctx, data)
	if err != nil || res == nil || len(res.Matching) == 0 {
		return res, err
	}
	sh := sha256.Sum256(data)
	m := md5.Sum(data)
	s.r.hashMu.Lock()
	s.r.hashes[res] = fileHash{sha256: hex.EncodeToString(sh[:]), md5: hex.EncodeToString(m[:])}
	s.r.hashMu.Unlock()
	return res, nil
}

// takeHash returns and forgets the digest recorded for res.
func (r *huntRun) takeHash(res *yara.Result) fileHash {
	r.hashMu.Lock()
	defer r.hashMu.Unlock()
	fh := r.hashes[res]
	delete(r.hashes, res)
	return fh
}

// emit receives the scanning layer's events (never concurrently).
func (r *huntRun) emit(e scan.Event) {
	if hook := r.a.scanHook; hook != nil {
		hook(r.scanCtx, r.h.ID, e)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	runCtx := r.runCtx
	if r.stopped {
		if e.Result != nil {
			r.takeHash(e.Result)
		}
		return
	}
	switch e.Kind {
	case scan.Scanned:
		if e.Depth == 0 {
			r.topFiles++
			if max := r.h.Limits.MaxFiles; max > 0 && r.topFiles > max {
				r.stopped = true
				r.stopScan(errMaxFiles)
				if e.Result != nil {
					r.takeHash(e.Result)
				}
				return
			}
		}
		r.st.FilesScanned++
		r.st.Bytes += e.Size
		if e.Result == nil || len(e.Result.Matching) == 0 {
			return
		}
		r.st.FilesMatched++
		r.addMatch(runCtx, fileMatch(e, r.takeHash(e.Result)))
	case scan.Skipped:
		r.st.FilesSkipped++
	case scan.Failed:
		if r.scanCtx.Err() != nil {
			return // files cut short by the hunt's end are not errors
		}
		r.st.FileErrors++
		r.addError(runCtx, e.Path, e.Err.Error())
	}
}

// fileMatch describes a matching file: where the strings matched, never
// what.
func fileMatch(e scan.Event, fh fileHash) wire.FileMatch {
	fm := wire.FileMatch{Path: e.Path, Size: e.Size, SHA256: fh.sha256, MD5: fh.md5, Rules: []wire.RuleHit{}}
	for _, mr := range e.Result.Matching {
		rh := wire.RuleHit{Rule: mr.Name, Namespace: mr.Namespace}
		if len(mr.Tags) > 0 {
			rh.Tags = append([]string(nil), mr.Tags...)
		}
		for _, ms := range mr.Strings {
			if len(ms.Matches) == 0 {
				continue
			}
			sh := wire.StringHit{ID: ms.ID, Count: len(ms.Matches), Offsets: make([]int64, 0, min(len(ms.Matches), wire.MaxOffsetsPerHit))}
			for _, m := range ms.Matches[:min(len(ms.Matches), wire.MaxOffsetsPerHit)] {
				sh.Offsets = append(sh.Offsets, m.Offset)
			}
			rh.Strings = append(rh.Strings, sh)
		}
		fm.Rules = append(fm.Rules, rh)
	}
	return fm
}

// encodedSize is the size of v in JSON plus a separator.
func encodedSize(v any) int {
	data, err := json.Marshal(v)
	if err != nil {
		return maxBatchBytes
	}
	return len(data) + 1
}

// shrink makes fm fit in maxMatchBytes, dropping rules and then strings
// from the end; it reports what it dropped, and ok=false when even the
// bare path and one rule do not fit.
func shrink(fm *wire.FileMatch) (note string, ok bool) {
	rules, strs := 0, 0
	for len(fm.Rules) > 1 && encodedSize(fm) > maxMatchBytes {
		drop := max(len(fm.Rules)/2, 1)
		rules += drop
		fm.Rules = fm.Rules[:len(fm.Rules)-drop]
	}
	for len(fm.Rules) == 1 && len(fm.Rules[0].Strings) > 0 && encodedSize(fm) > maxMatchBytes {
		s := fm.Rules[0].Strings
		drop := max(len(s)/2, 1)
		strs += drop
		fm.Rules[0].Strings = s[:len(s)-drop]
	}
	if encodedSize(fm) > maxMatchBytes {
		return "match not reported: its path is too long for a message", false
	}
	return fmt.Sprintf("%d more matching rules and %d more strings not reported: too many for one message", rules, strs), true
}

// addMatch adds a match to the batch, sending the batch when it is full.
func (r *huntRun) addMatch(runCtx context.Context, fm wire.FileMatch) {
	n := encodedSize(fm)
	if n > maxMatchBytes {
		note, ok := shrink(&fm)
		r.addError(runCtx, fm.Path, note)
		if !ok {
			return
		}
		n = encodedSize(fm)
	}
	if r.batchBytes+n > maxBatchBytes {
		r.flush(runCtx)
	}
	r.batch.Matches = append(r.batch.Matches, fm)
	r.batchBytes += n
	if len(r.batch.Matches) >= wire.MaxMatchesPerMsg {
		r.flush(runCtx)
	}
}

// addError adds a file error to the batch, within the per-message and
// per-hunt caps.
func (r *huntRun) addError(runCtx context.Context, path, msg string) {
	if r.errDetails >= maxErrorDetails {
		return
	}
	r.errDetails++
	fe := wire.FileError{Path: truncate(path, maxErrorPath), Error: truncate(msg, maxErrorText)}
	n := encodedSize(fe)
	if len(r.batch.Errors) >= wire.MaxErrorsPerMsg || r.batchBytes+n > maxBatchBytes {
		r.flush(runCtx)
	}
	r.batch.Errors = append(r.batch.Errors, fe)
	r.batchBytes += n
}

// flush sends the pending batch, if any. On failure (only when runCtx
// ends) the batch is dropped: the hunt runs again after a restart.
func (r *huntRun) flush(runCtx context.Context) error {
	if len(r.batch.Matches) == 0 && len(r.batch.Errors) == 0 {
		return nil
	}
	b := r.batch
	r.batch, r.batchBytes = wire.ResultBatch{}, 0
	if b.Matches == nil {
		b.Matches = []wire.FileMatch{}
	}
	r.seq.Batch++
	b.HuntID, b.Seq = r.h.ID, r.seq.Batch
	if err := r.a.store.saveSeq(r.h.ID, r.seq); err != nil {
		r.a.logf("hunt %s: %v", r.h.ID, err)
	}
	return r.publishBatch(runCtx, b)
}

func (r *huntRun) publishBatch(runCtx context.Context, b wire.ResultBatch) error {
	data, err := wire.Encode(b)
	if err != nil {
		// Bounded by maxBatchBytes: cannot happen; say so if it does.
		r.a.logf("hunt %s: batch %d: %v", r.h.ID, b.Seq, err)
		return err
	}
	return r.a.publish(runCtx, wire.ResultsSubject(r.prefix, r.agent), data,
		fmt.Sprintf("hunt %s: batch %d", r.h.ID, b.Seq))
}

// status sends a status with the current counters.
func (r *huntRun) status(runCtx context.Context, state, msg string) error {
	st := r.st
	st.HuntID, st.State, st.Error = r.h.ID, state, truncate(msg, maxStatusError)
	st.Time = r.a.now().UTC()
	r.seq.Status++
	st.Seq = r.seq.Status
	if wire.Terminal(state) {
		st.Batches = r.seq.Batch
		r.seq.Terminal = &st
	}
	if err := r.a.store.saveSeq(r.h.ID, r.seq); err != nil {
		r.a.logf("hunt %s: %v", r.h.ID, err)
	}
	return r.publishStatus(runCtx, st)
}

func (r *huntRun) publishStatus(runCtx context.Context, st wire.Status) error {
	data, err := wire.Encode(st)
	if err != nil {
		r.a.logf("hunt %s: status %d: %v", r.h.ID, st.Seq, err)
		return err
	}
	return r.a.publish(runCtx, wire.StatusSubject(r.prefix, r.agent), data,
		fmt.Sprintf("hunt %s: status %s (seq %d)", r.h.ID, st.State, st.Seq))
}

// terminal sends the hunt's terminal status and records it finished.
func (r *huntRun) terminal(runCtx context.Context, state, msg string) {
	if r.status(runCtx, state, msg) != nil {
		return
	}
	r.recordFinished()
}

// recordFinished writes the hunt down as finished.
func (r *huntRun) recordFinished() {
	a := r.a
	now := a.now()
	keep := now.Add(refusedKeep)
	if !r.h.Expires.IsZero() && r.h.Expires.Add(finishedMargin).After(keep) {
		keep = r.h.Expires.Add(finishedMargin)
	}
	a.mu.Lock()
	err := a.store.finish(r.h.ID, keep, now)
	a.mu.Unlock()
	if err != nil {
		a.logf("hunt %s: %v (it may run again after a restart)", r.h.ID, err)
	}
}
