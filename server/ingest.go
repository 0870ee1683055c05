package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"vigil/server/store"
	"vigil/wire"
)

// Ingestion: statuses and result batches from the JetStream stream into
// the store. A message is acknowledged only after the store committed what
// it carried; a crash before the ack means redelivery, and the store keeps
// each (hunt, agent, seq) once, so nothing is lost or counted twice.

const (
	// ingestBatch is how many messages one fetch takes at most.
	ingestBatch = 500
	// ingestWait is how long one fetch waits for messages. A fetch that
	// got fewer than ingestBatch returns only when it expires, so this is
	// the latency added to the last messages of a burst; it also bounds
	// how long Shutdown waits for the loop.
	ingestWait = 100 * time.Millisecond
	// ingestStoreTimeout bounds the store work of one fetched batch.
	ingestStoreTimeout = 60 * time.Second
	// ingestRetryDelay is how long messages whose store write failed wait
	// before redelivery, and how long the loop pauses after a fetch error.
	ingestRetryDelay = 5 * time.Second
	// maxRulesPerFile is the number of rules one FileMatch may hold:
	// store.Result.Index is file index * 1000 + rule index.
	maxRulesPerFile = 1000
	// maxStringsPerRule bounds the string hits of one rule hit.
	maxStringsPerRule = 10_000
	// maxTagsPerRule bounds the tags of one rule hit.
	maxTagsPerRule = 64
	// maxResultPath bounds a matched file's path (archive members are
	// "!"-joined, so it may be longer than a file system path).
	maxResultPath = 16 << 10
	// maxIdent bounds rule, namespace, tag and string identifiers.
	maxIdent = 256
	// maxStatusError bounds an agent's error text; longer text is cut.
	maxStatusError = 4096
)

// ingestLoop fetches and stores messages until stop is closed; the batch
// in hand when stop closes is stored and acknowledged first.
func (s *Server) ingestLoop(stop <-chan struct{}) {
	cons := s.bus.Consumer()
	var lastErrLog time.Time
	for {
		select {
		case <-stop:
			return
		default:
		}
		batch, err := cons.Fetch(ingestBatch, jetstream.FetchMaxWait(ingestWait))
		var msgs []jetstream.Msg
		if err == nil {
			for m := range batch.Messages() {
				msgs = append(msgs, m)
			}
			err = batch.Error()
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, jetstream.ErrNoMessages) {
				err = nil
			}
		}
		if len(msgs) > 0 {
			s.ingest(msgs)
		}
		if err != nil {
			if time.Since(lastErrLog) > 30*time.Second {
				s.logf("ingest: fetch: %v", err)
				lastErrLog = time.Now()
			}
			select {
			case <-stop:
				return
			case <-time.After(ingestRetryDelay):
			}
		}
	}
}

// ingestItem is one decoded message: a status or a result batch.
type ingestItem struct {
	msg    jetstream.Msg
	status *store.AgentStatus
	batch  *store.Batch
}

// ingest stores one fetched batch of messages and acknowledges them.
func (s *Server) ingest(msgs []jetstream.Msg) {
	var items []ingestItem
	now := s.clock()
	for _, m := range msgs {
		it, kind, err := s.decode(m, now)
		if err != nil {
			s.refuse(m, kind, err)
			continue
		}
		items = append(items, it)
	}
	if len(items) == 0 {
		return
	}
	results, err := s.storeItems(items)
	if err != nil {
		s.storeOneByOne(items, err)
		return
	}
	if hook := s.testHookStored.Load(); hook != nil && !(*hook)(results) {
		return // a test simulating a crash between commit and ack
	}
	for _, it := range items {
		if err := it.msg.Ack(); err != nil {
			s.logf("ingest: ack: %v", err)
		}
	}
}

// refuse terminates a message that will never be stored, so that it is
// not delivered again, and logs it without its content.
func (s *Server) refuse(m jetstream.Msg, kind string, err error) {
	s.ingestErrors.Add(1)
	s.logf("ingest: refused %s message on %s (%d bytes): %s", kind, m.Subject(), len(m.Data()), err)
	if err := m.Term(); err != nil {
		s.logf("ingest: term: %v", err)
	}
}

// storeItems stores the batches, then the statuses (so that a final status
// never arrives before the results it counts), each in one transaction.
// It returns the number of result rows stored.
func (s *Server) storeItems(items []ingestItem) (int64, error) {
	var statuses []store.AgentStatus
	var batches []store.Batch
	for _, it := range items {
		if it.batch != nil {
			batches = append(batches, *it.batch)
		} else {
			statuses = append(statuses, *it.status)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), ingestStoreTimeout)
	defer cancel()
	var stored, applied []bool
	var err error
	if len(batches) > 0 {
		if stored, err = s.store.AddBatches(ctx, batches); err != nil {
			return 0, err
		}
	}
	if len(statuses) > 0 {
		if applied, err = s.store.ApplyStatuses(ctx, statuses); err != nil {
			s.countIngested(batches, stored, nil)
			return 0, err
		}
	}
	return s.countIngested(batches, stored, applied), nil
}

// storeOneByOne handles a fetched batch the store refused (with err): it
// stores the messages one at a time. If some succeed, the ones that fail
// are to blame (say, text the database will not take) and are terminated;
// if none does, the store itself is failing and every message is
// delivered again later.
func (s *Server) storeOneByOne(items []ingestItem, err error) {
	var good, bad []ingestItem
	if len(items) > 1 {
		for _, it := range items {
			if _, e := s.storeItems([]ingestItem{it}); e != nil {
				bad = append(bad, it)
				err = e
			} else {
				good = append(good, it)
			}
		}
	}
	if len(good) == 0 {
		s.ingestErrors.Add(1)
		s.logf("ingest: storing %d messages: %v (they will be delivered again)", len(items), err)
		for _, it := range items {
			_ = it.msg.NakWithDelay(ingestRetryDelay)
		}
		return
	}
	for _, it := range bad {
		kind := "status"
		if it.batch != nil {
			kind = "results"
		}
		s.refuse(it.msg, kind, fmt.Errorf("the store refused it: %v", err))
	}
	for _, it := range good {
		if err := it.msg.Ack(); err != nil {
			s.logf("ingest: ack: %v", err)
		}
	}
}

// countIngested updates the ingestion counters and returns the number of
// result rows stored.
func (s *Server) countIngested(batches []store.Batch, stored, applied []bool) int64 {
	var total int64
	for i, b := range batches {
		if i >= len(stored) || !stored[i] {
			continue
		}
		s.batchesIngested.Add(1)
		n := 0
		for _, fm := range b.Batch.Matches {
			n += len(fm.Rules)
		}
		s.resultsIngested.Add(int64(n))
		total += int64(n)
		s.fileErrors.Add(int64(len(b.Batch.Errors)))
	}
	for _, ok := range applied {
		if ok {
			s.statusesIngested.Add(1)
		}
	}
	return total
}

// decode checks one message. kind ("status", "results" or "unknown")
// names it in log lines.
func (s *Server) decode(m jetstream.Msg, now time.Time) (it ingestItem, kind string, err error) {
	it.msg = m
	subj := m.Subject()
	id, err := wire.AgentFromSubject(s.prefix, subj)
	if err != nil {
		return it, "unknown", errors.New("no agent ID in the subject")
	}
	switch subj {
	case wire.StatusSubject(s.prefix, id):
		var st wire.Status
		if err := wire.Decode(m.Data(), &st); err != nil {
			return it, "status", logReason(err)
		}
		if err := checkStatus(&st); err != nil {
			return it, "status", err
		}
		it.status = &store.AgentStatus{AgentID: id, Status: st}
		return it, "status", nil
	case wire.ResultsSubject(s.prefix, id):
		var rb wire.ResultBatch
		if err := wire.Decode(m.Data(), &rb); err != nil {
			return it, "results", logReason(err)
		}
		if err := checkBatch(&rb); err != nil {
			return it, "results", err
		}
		it.batch = &store.Batch{AgentID: id, Batch: rb, Received: now}
		return it, "results", nil
	}
	return it, "unknown", errors.New("not a status or results subject")
}

// logReason describes a decode error for the log without quoting the
// message: encoding/json's texts may hold a field name or a character of it.
func logReason(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	msg := err.Error()
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("not valid JSON (syntax error at byte %d)", syn.Offset)
	case errors.As(err, &typ):
		// Field is a path of our own field names, never the sender's.
		return fmt.Errorf("field %s has the wrong type (%s)", typ.Field, typ.Value)
	case strings.Contains(msg, "unknown field"):
		return errors.New("unknown field")
	case strings.Contains(msg, "trailing data"):
		return errors.New("trailing data after the JSON value")
	case strings.HasPrefix(msg, "message of ") && strings.HasSuffix(msg, "-byte limit"), msg == "empty message":
		return err // wire.Decode's own: sizes only
	}
	return errors.New("malformed JSON")
}

var agentStates = map[string]bool{
	wire.StateReceived: true, wire.StateRunning: true, wire.StateDone: true,
	wire.StateFailed: true, wire.StateRefused: true, wire.StateCanceled: true,
}

// checkStatus validates a status; an over-long error text is cut.
func checkStatus(st *wire.Status) error {
	if err := checkHuntID(st.HuntID); err != nil {
		return err
	}
	if st.Seq == 0 {
		return errors.New("seq 0 (statuses count from 1)")
	}
	if !agentStates[st.State] {
		return errors.New("unknown state")
	}
	if st.FilesScanned < 0 || st.FilesMatched < 0 || st.FilesSkipped < 0 || st.FileErrors < 0 || st.Bytes < 0 {
		return errors.New("negative counter")
	}
	if len(st.Error) > maxStatusError {
		n := maxStatusError
		for n > 0 && !utf8.RuneStart(st.Error[n]) {
			n-- // cut between characters
		}
		st.Error = st.Error[:n] + " [cut]"
	}
	// A human message: made storable rather than refused.
	st.Error = strings.ToValidUTF8(strings.ReplaceAll(st.Error, "\x00", ""), "\uFFFD")
	return nil
}

// checkHuntID validates a hunt ID without echoing a long one.
func checkHuntID(id string) error {
	if len(id) > 64 {
		return errors.New("hunt ID over 64 characters")
	}
	if wire.ValidID(id) != nil {
		return errors.New("hunt ID is not 1-64 characters of [a-z0-9_-]")
	}
	return nil
}

// checkBatch enforces the limits on a result batch; a batch over a limit
// is refused whole, never truncated.
func checkBatch(rb *wire.ResultBatch) error {
	if err := checkHuntID(rb.HuntID); err != nil {
		return err
	}
	if rb.Seq == 0 {
		return errors.New("seq 0 (batches count from 1)")
	}
	if len(rb.Matches) > wire.MaxMatchesPerMsg {
		return fmt.Errorf("%d matches, over the limit of %d", len(rb.Matches), wire.MaxMatchesPerMsg)
	}
	if len(rb.Errors) > wire.MaxErrorsPerMsg {
		return fmt.Errorf("%d file errors, over the limit of %d", len(rb.Errors), wire.MaxErrorsPerMsg)
	}
	for i, fm := range rb.Matches {
		if err := checkMatch(&fm); err != nil {
			return fmt.Errorf("match %d: %w", i, err)
		}
	}
	for i, fe := range rb.Errors {
		if fe.Path == "" || len(fe.Path) > maxResultPath || len(fe.Error) > maxStatusError {
			return fmt.Errorf("file error %d: path or text empty or too long", i)
		}
		if !storable(fe.Path) || !storable(fe.Error) {
			return fmt.Errorf("file error %d: %s", i, errNotStorable)
		}
	}
	return nil
}

func checkMatch(fm *wire.FileMatch) error {
	if fm.Path == "" || len(fm.Path) > maxResultPath {
		return fmt.Errorf("path of %d bytes (want 1-%d)", len(fm.Path), maxResultPath)
	}
	if !storable(fm.Path) {
		return fmt.Errorf("path: %s", errNotStorable)
	}
	if fm.Size < 0 {
		return errors.New("negative size")
	}
	if !isHexLen(fm.SHA256, 64) || !isHexLen(fm.MD5, 32) {
		return errors.New("sha256 or md5 is not lowercase hex of the right length")
	}
	if len(fm.Rules) == 0 || len(fm.Rules) >= maxRulesPerFile {
		return fmt.Errorf("%d rules (want 1-%d)", len(fm.Rules), maxRulesPerFile-1)
	}
	for i, r := range fm.Rules {
		if r.Rule == "" || len(r.Rule) > maxIdent || len(r.Namespace) > maxIdent {
			return errors.New("rule or namespace name empty or too long")
		}
		if !storable(r.Rule) || !storable(r.Namespace) {
			return fmt.Errorf("rule %d: %s", i, errNotStorable)
		}
		if len(r.Tags) > maxTagsPerRule {
			return fmt.Errorf("rule %d: %d tags, over the limit of %d", i, len(r.Tags), maxTagsPerRule)
		}
		for _, t := range r.Tags {
			if t == "" || len(t) > maxIdent || !storable(t) {
				return fmt.Errorf("rule %d: empty, too long or unstorable tag", i)
			}
		}
		if len(r.Strings) > maxStringsPerRule {
			return fmt.Errorf("rule %d: %d strings, over the limit of %d", i, len(r.Strings), maxStringsPerRule)
		}
		for j, h := range r.Strings {
			if h.ID == "" || len(h.ID) > maxIdent || !storable(h.ID) {
				return fmt.Errorf("rule %d string %d: empty, too long or unstorable ID", i, j)
			}
			if len(h.Offsets) > wire.MaxOffsetsPerHit {
				return fmt.Errorf("rule %d string %d: %d offsets, over the limit of %d", i, j, len(h.Offsets), wire.MaxOffsetsPerHit)
			}
			if h.Count < len(h.Offsets) {
				return fmt.Errorf("rule %d string %d: count %d below its %d offsets", i, j, h.Count, len(h.Offsets))
			}
			for _, off := range h.Offsets {
				if off < 0 {
					return fmt.Errorf("rule %d string %d: negative offset", i, j)
				}
			}
		}
	}
	return nil
}

// errNotStorable says why text with NUL or invalid UTF-8 is refused.
const errNotStorable = "text with NUL or invalid UTF-8 (databases refuse it)"

// storable reports whether s can be stored as text by every store.
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// isHexLen reports whether s is empty or n lowercase hex digits.
func isHexLen(s string, n int) bool {
	if s == "" {
		return true
	}
	if len(s) != n {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}
