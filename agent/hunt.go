package agent

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"vigil/agent/policy"
	"vigil/journal"
	"vigil/scan"
	"vigil/translog"
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

	resumed  bool
	verdict  verdict          // the log verification's
	pol      *policy.Policy   // the policy the hunt was decided under
	decision *policy.Decision // set when the policy allowed the hunt
	counted  bool             // counts toward today's hunts until journaled (a.mu)
	scanned  bool             // the scan started
	// roots maps each root as written to its resolved form, for the
	// forbidden-path check of walked paths.
	roots      map[string]string
	topBlocked bool // the current top-level file is forbidden
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
func (a *Agent) startHunt(runCtx context.Context, h wire.Hunt, seq seqState, resumed bool, v verdict) {
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
		hashes:  map[*yara.Result]fileHash{},
		resumed: resumed, verdict: v,
	}
	a.hunts[h.ID] = r
	a.mu.Unlock()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer cancel(nil)
		r.run(runCtx)
		a.mu.Lock()
		delete(a.hunts, h.ID)
		r.counted = false
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
	reason := r.refusal()
	if reason == "" {
		reason = r.verdict.refuse
	}
	if reason == "" {
		reason = r.decide()
	}
	if reason != "" {
		a.logf("hunt %s: refused: %s", h.ID, reason)
		r.terminal(runCtx, wire.StateRefused, reason)
		return
	}
	if !r.resumed {
		if err := a.store.addActive(h); err != nil {
			a.logf("hunt %s: %v (it will not be rerun after a restart)", h.ID, err)
		}
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
	r.scanned = true
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
	o.Exclude = &scan.Excludes{}
	for _, p := range h.Exclude {
		o.Exclude.Add(p) // checked by refusal
	}
	// The places the local policy forbids inside the roots are not
	// walked; emit also drops any walked path Forbidden judges forbidden.
	for _, p := range r.decision.Exclude {
		if err := o.Exclude.Add(p); err != nil {
			r.a.logf("hunt %s: policy exclusion %q: %v (paths there are still dropped when walked)", h.ID, p, err)
		}
	}
	// And the walk asks before it opens or enters anything.
	o.Skip = r.forbidden
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
	thr := newThrottle(r.pol, o.Workers)
	_, err = scan.Run(ctx, o, roots, func() (scan.Scanner, error) {
		t := thr // each worker keeps its own rest debt
		return &hashingScanner{s: rules.NewScanner(), r: r, thr: &t}, nil
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
	s   *yara.Scanner
	r   *huntRun
	thr *throttle
}

func (s *hashingScanner) ScanBytes(ctx context.Context, data []byte) (*yara.Result, error) {
	start := time.Now()
	res, err := s.s.ScanBytes(ctx, data)
	s.thr.rest(ctx, time.Since(start))
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
	if e.Depth == 0 {
		r.topBlocked = r.forbidden(e.Path)
	}
	if r.topBlocked {
		// A place the local policy forbids: nothing about it is reported.
		if e.Result != nil {
			r.takeHash(e.Result)
		}
		if e.Kind == scan.Scanned && e.Depth == 0 {
			r.st.FilesSkipped++
		}
		return
	}
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

// terminal journals the hunt's end, sends its terminal status and records
// it finished.
func (r *huntRun) terminal(runCtx context.Context, state, msg string) {
	r.journalEnd(state, msg)
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

// decide applies the local policy to the hunt (whose log proofs hold) and
// returns why it is refused, "" when it may run. A fork seen since the hunt
// was accepted refuses it too (hunts resumed after a restart).
func (r *huntRun) decide() string {
	a, h := r.a, &r.h
	a.logMu.Lock()
	fork := a.logState.Fork
	a.logMu.Unlock()
	if fork != nil {
		return fork.summary(a.o.StateDir)
	}
	if h.Log == nil {
		return "the hunt is not in the server's transparency log: it came without its log entry, and this agent runs only logged hunts"
	}
	approvals := make([][]byte, len(h.Log.Approvals))
	for i, ap := range h.Log.Approvals {
		approvals[i] = ap.Entry
	}
	pol := a.policy()
	a.decideMu.Lock()
	defer a.decideMu.Unlock()
	today := a.huntsToday(r)
	d := pol.Check(h, h.Log.Hunt.Entry, approvals, today)
	if !d.Allowed {
		return strings.Join(d.Reasons, " ")
	}
	// Check judged the roots as written: judge them resolved too.
	roots := map[string]string{}
	for _, p := range h.Paths {
		if !filepath.IsAbs(p) {
			continue
		}
		res, err := filepath.EvalSymlinks(p)
		if err != nil {
			continue // the scan reports it; walked paths are still judged
		}
		if pol.Forbidden(res) {
			return fmt.Sprintf("Hunt path %q resolves to %q, which the local policy forbids.", p, res)
		}
		roots[filepath.Clean(p)] = res
	}
	r.pol, r.decision, r.roots = pol, &d, roots
	a.mu.Lock()
	r.counted = true
	a.mu.Unlock()
	for _, why := range d.Reasons {
		a.logf("hunt %s: %s", h.ID, why)
	}
	return ""
}

// huntsToday counts the hunts run in the last 24 hours (the journal) and
// those accepted and not yet journaled, other than r.
func (a *Agent) huntsToday(r *huntRun) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	since := a.now().Add(-24 * time.Hour)
	keep := a.ranTimes[:0]
	for _, t := range a.ranTimes {
		if t.After(since) {
			keep = append(keep, t)
		}
	}
	a.ranTimes = keep
	n := len(keep)
	for _, o := range a.hunts {
		if o != r && o.counted {
			n++
		}
	}
	return n
}

// forbidden reports whether a walked path lies in a place the local policy
// forbids: as walked, as resolved through the hunt's resolved root, and
// (when symbolic links are followed) as resolved on disk.
func (r *huntRun) forbidden(p string) bool {
	pol := r.pol
	if pol == nil {
		return true
	}
	if pol.Forbidden(p) {
		return true
	}
	for w, res := range r.roots {
		rest, ok := strings.CutPrefix(p, w)
		if ok && (rest == "" || os.IsPathSeparator(rest[0])) && res != w {
			if pol.Forbidden(res + rest) {
				return true
			}
		}
	}
	if r.h.Limits.FollowSymlinks {
		if res, err := filepath.EvalSymlinks(p); err == nil && pol.Forbidden(res) {
			return true
		}
	}
	return false
}

// journalEnd writes the hunt's journal record for its terminal state.
func (r *huntRun) journalEnd(state, msg string) {
	h := &r.h
	rec := journal.Record{
		HuntID:       h.ID,
		LogIndex:     -1,
		TreeSize:     r.verdict.treeSize,
		Reason:       truncate(msg, maxStatusError),
		RulesSHA256:  h.RulesSHA256,
		Requester:    h.CreatedBy,
		Paths:        h.Paths,
		FilesScanned: r.st.FilesScanned,
		Matches:      r.st.FilesMatched,
	}
	if h.Log != nil {
		rec.LogIndex = h.Log.Hunt.Index
		if e, err := translog.DecodeHunt(h.Log.Hunt.Entry); err == nil {
			rec.RulesSHA256, rec.Requester = e.RulesSHA256, e.Requester
		}
	}
	if r.decision != nil {
		rec.Approvers = r.decision.Approvers
		// What the policy said of the hunt (approvers, places skipped),
		// then how it ended.
		notes := strings.Join(r.decision.Reasons, " ")
		if msg != "" && notes != "" {
			notes += " "
		}
		rec.Reason = truncate(notes+msg, maxStatusError)
	}
	switch {
	case state == wire.StateRefused:
		rec.Action = journal.ActionRefused
	case r.scanned:
		rec.Action = journal.ActionRan
	default:
		rec.Action = journal.ActionFailed
	}
	rec.Paths = nil
	for _, p := range h.Paths[:min(len(h.Paths), wire.MaxPaths)] {
		rec.Paths = append(rec.Paths, truncate(p, maxErrorPath))
	}
	r.a.journal(rec)
	r.a.mu.Lock()
	r.counted = false
	r.a.mu.Unlock()
}

// throttle keeps scanning within the policy's cpu-share (percent of one
// core): after scans a worker rests in proportion to the time it spent, so
// that w workers together stay near share% of one core. Reading files is
// not counted; the engine's matching is what costs CPU. Rest is owed until
// it is worth a timer, so many small files are throttled too.
type throttle struct {
	factor float64       // rest = busy * factor
	debt   time.Duration // rest owed
}

func newThrottle(pol *policy.Policy, workers int) throttle {
	if workers < 1 {
		workers = 1
	}
	if pol == nil || pol.CPUShare <= 0 {
		return throttle{}
	}
	f := 100*float64(workers)/float64(pol.CPUShare) - 1
	if f < 0 {
		f = 0
	}
	return throttle{factor: f}
}

// minRest is the shortest rest taken: below it rest is owed.
const minRest = 5 * time.Millisecond

// rest records a scan that took busy and sleeps once the rest owed is worth
// it, until ctx is done.
func (t *throttle) rest(ctx context.Context, busy time.Duration) {
	if t.factor == 0 || busy <= 0 {
		return
	}
	t.debt += time.Duration(float64(busy) * t.factor)
	if t.debt < minRest {
		return
	}
	tm := time.NewTimer(t.debt)
	t.debt = 0
	defer tm.Stop()
	select {
	case <-ctx.Done():
	case <-tm.C:
	}
}
