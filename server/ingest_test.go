package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"vigil/server/api"
	"vigil/wire"
)

// match is a valid FileMatch for path.
func match(path string) wire.FileMatch {
	return wire.FileMatch{
		Path: path, Size: 10,
		SHA256: strings.Repeat("a", 64), MD5: strings.Repeat("b", 32),
		Rules: []wire.RuleHit{{Rule: "magic", Namespace: "default", Tags: []string{"test"},
			Strings: []wire.StringHit{{ID: "$m", Offsets: []int64{0, 20}, Count: 2}}}},
	}
}

func TestGarbageIsTerminated(t *testing.T) {
	t.Parallel()
	s, log := startServer(t, Options{DataDir: t.TempDir(), NoApprovals: true})
	admin := s.AdminToken()
	f := enrollFake(t, s, newToken(t, s, admin, nil), nil, false)
	var h api.Hunt
	mustCall(t, s, http.StatusCreated, "POST", "/api/v1/hunts", admin, api.HuntRequest{Rules: rulesOK, Paths: []string{"/data"}, Why: "garbage test"}, &h)

	// Sync gives the hunt, unless the agent says it knows it.
	if rep := f.sync(t); len(rep.Hunts) != 1 || rep.Hunts[0].ID != h.ID || rep.Hunts[0].Rules != rulesOK || rep.Hunts[0].RulesSHA256 != h.RulesSHA256 {
		t.Fatalf("sync: %+v", rep)
	}
	if rep := f.sync(t, h.ID); len(rep.Hunts) != 0 {
		t.Fatalf("sync with the hunt known: %+v", rep)
	}

	const secret = "GARBAGE-CONTENT-91c2"
	tooMany := wire.ResultBatch{HuntID: h.ID, Seq: 1}
	for i := range wire.MaxMatchesPerMsg + 1 {
		tooMany.Matches = append(tooMany.Matches, match(fmt.Sprintf("/data/%d-%s", i, secret)))
	}
	tooManyJSON, _ := json.Marshal(tooMany)
	manyOffsets := match("/data/" + secret)
	manyOffsets.Rules[0].Strings[0].Offsets = make([]int64, wire.MaxOffsetsPerHit+1)
	manyOffsets.Rules[0].Strings[0].Count = wire.MaxOffsetsPerHit + 1
	manyOffsetsJSON, _ := json.Marshal(wire.ResultBatch{HuntID: h.ID, Seq: 1, Matches: []wire.FileMatch{manyOffsets}})
	garbage := [][]byte{
		[]byte("not json " + secret),
		[]byte(`{"hunt_id":"` + h.ID + `","seq":1,"matches":[],"` + secret + `":1}`),
		[]byte(`{"hunt_id":"` + h.ID + `","seq":1,"matches":[]} trailing`),
		[]byte(`{"hunt_id":"../../` + secret + `","seq":1,"matches":[]}`),
		tooManyJSON,
		manyOffsetsJSON,
	}
	for i, g := range garbage {
		f.send(t, wire.ResultsSubject(f.prefix, f.id), fmt.Sprintf("garbage-%d", i), g)
	}
	f.send(t, wire.StatusSubject(f.prefix, f.id), "garbage-status", []byte(`{"hunt_id":"`+h.ID+`","seq":1,"state":"exploded"}`))

	// Good messages after the garbage are stored.
	f.status(t, wire.Status{HuntID: h.ID, Seq: 1, State: wire.StateRunning, Time: time.Now()})
	f.batch(t, wire.ResultBatch{HuntID: h.ID, Seq: 1, Matches: []wire.FileMatch{match("/data/one"), match("/data/two")}})
	// A duplicate batch (same seq) is stored once.
	f.batch(t, wire.ResultBatch{HuntID: h.ID, Seq: 1, Matches: []wire.FileMatch{match("/data/one"), match("/data/two")}})
	f.status(t, wire.Status{HuntID: h.ID, Seq: 2, State: wire.StateDone, FilesScanned: 5, FilesMatched: 2, Batches: 1, Time: time.Now()})

	done := huntDone(t, s, admin, h.ID)
	if done.Progress.Results != 2 || done.Progress.FilesScanned != 5 {
		t.Errorf("progress %+v: want 2 results, 5 files scanned", done.Progress)
	}
	wantErrs := int64(len(garbage) + 1)
	eventually(t, "garbage terminated", func() bool {
		ci, err := s.Bus().Consumer().Info(context.Background())
		return err == nil && ci.NumAckPending == 0 && ci.NumPending == 0 && s.ingestErrors.Load() == wantErrs
	})
	ci, _ := s.Bus().Consumer().Info(context.Background())
	if ci.NumRedelivered != 0 {
		t.Errorf("%d messages were redelivered", ci.NumRedelivered)
	}
	if got := s.ingestErrors.Load(); got != wantErrs {
		t.Errorf("ingest errors: %d, want %d", got, wantErrs)
	}
	if strings.Contains(log.all(), secret) {
		t.Errorf("message content in the log:\n%s", log.all())
	}
	if !strings.Contains(log.all(), "201 matches, over the limit") {
		t.Errorf("the oversize batch was not logged as such:\n%s", log.all())
	}
}

func TestCheckBatch(t *testing.T) {
	ok := func() wire.ResultBatch {
		return wire.ResultBatch{HuntID: "h-1", Seq: 1, Matches: []wire.FileMatch{match("/x")}}
	}
	tests := []struct {
		name string
		mod  func(*wire.ResultBatch)
		want string // "" = valid
	}{
		{"valid", func(*wire.ResultBatch) {}, ""},
		{"no matches", func(b *wire.ResultBatch) { b.Matches = nil }, ""},
		{"seq 0", func(b *wire.ResultBatch) { b.Seq = 0 }, "seq 0"},
		{"bad hunt", func(b *wire.ResultBatch) { b.HuntID = "H 1" }, "hunt ID"},
		{"long hunt", func(b *wire.ResultBatch) { b.HuntID = strings.Repeat("h", 65) }, "over 64"},
		{"empty path", func(b *wire.ResultBatch) { b.Matches[0].Path = "" }, "path"},
		{"negative size", func(b *wire.ResultBatch) { b.Matches[0].Size = -1 }, "negative size"},
		{"bad sha", func(b *wire.ResultBatch) { b.Matches[0].SHA256 = "XYZ" }, "sha256"},
		{"no rules", func(b *wire.ResultBatch) { b.Matches[0].Rules = nil }, "0 rules"},
		{"1000 rules", func(b *wire.ResultBatch) {
			b.Matches[0].Rules = make([]wire.RuleHit, maxRulesPerFile)
			for i := range b.Matches[0].Rules {
				b.Matches[0].Rules[i].Rule = "r"
			}
		}, "1000 rules"},
		{"empty rule", func(b *wire.ResultBatch) { b.Matches[0].Rules[0].Rule = "" }, "rule or namespace"},
		{"offsets", func(b *wire.ResultBatch) {
			b.Matches[0].Rules[0].Strings[0].Offsets = make([]int64, wire.MaxOffsetsPerHit+1)
			b.Matches[0].Rules[0].Strings[0].Count = 100
		}, "offsets, over the limit"},
		{"count below offsets", func(b *wire.ResultBatch) { b.Matches[0].Rules[0].Strings[0].Count = 1 }, "count 1 below"},
		{"negative offset", func(b *wire.ResultBatch) { b.Matches[0].Rules[0].Strings[0].Offsets[0] = -5 }, "negative offset"},
		{"errors", func(b *wire.ResultBatch) { b.Errors = make([]wire.FileError, wire.MaxErrorsPerMsg+1) }, "file errors, over"},
		{"empty error path", func(b *wire.ResultBatch) { b.Errors = []wire.FileError{{Error: "x"}} }, "file error 0"},
		{"NUL in path", func(b *wire.ResultBatch) { b.Matches[0].Path = "/a\x00b" }, "NUL"},
		{"bad UTF-8 in rule", func(b *wire.ResultBatch) { b.Matches[0].Rules[0].Rule = "r\xff" }, "NUL or invalid UTF-8"},
		{"NUL in error", func(b *wire.ResultBatch) { b.Errors = []wire.FileError{{Path: "/x", Error: "a\x00"}} }, "NUL"},
	}
	for _, tc := range tests {
		b := ok()
		tc.mod(&b)
		err := checkBatch(&b)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestCheckStatus(t *testing.T) {
	tests := []struct {
		st   wire.Status
		want string
	}{
		{wire.Status{HuntID: "h-1", Seq: 1, State: wire.StateDone}, ""},
		{wire.Status{HuntID: "h-1", Seq: 0, State: wire.StateDone}, "seq 0"},
		{wire.Status{HuntID: "h-1", Seq: 1, State: "bored"}, "unknown state"},
		{wire.Status{HuntID: "h-1", Seq: 1, State: wire.StateDone, Bytes: -1}, "negative"},
		{wire.Status{HuntID: "", Seq: 1, State: wire.StateDone}, "hunt"},
	}
	for _, tc := range tests {
		err := checkStatus(&tc.st)
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.st, err, tc.want)
		}
	}
	st := wire.Status{HuntID: "h-1", Seq: 1, State: wire.StateFailed, Error: strings.Repeat("é", 3*maxStatusError)}
	if err := checkStatus(&st); err != nil || len(st.Error) > maxStatusError+10 || !storable(st.Error) {
		t.Errorf("long error: %v, %d bytes kept, storable %v", err, len(st.Error), storable(st.Error))
	}
	st = wire.Status{HuntID: "h-1", Seq: 1, State: wire.StateFailed, Error: "a\x00b"}
	if err := checkStatus(&st); err != nil || st.Error != "ab" {
		t.Errorf("NUL in error: %v, %q", err, st.Error)
	}
}

// FuzzIngestDecode feeds arbitrary bytes through what ingestion does with
// a results or status message: it must return an error or a batch within
// the limits, never panic.
func FuzzIngestDecode(f *testing.F) {
	good, _ := json.Marshal(wire.ResultBatch{HuntID: "h-1", Seq: 1, Matches: []wire.FileMatch{match("/x")}})
	f.Add(good)
	f.Add([]byte(`{"hunt_id":"h-1","seq":2,"state":"done","batches":1}`))
	f.Add([]byte(`{"hunt_id":"h-1","seq":1,"matches":[{"path":"/x","rules":[{"rule":"r","strings":[{"id":"$a","offsets":[-1],"count":0}]}]}]}`))
	f.Add([]byte("null"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var rb wire.ResultBatch
		if wire.Decode(data, &rb) == nil && checkBatch(&rb) == nil {
			if len(rb.Matches) > wire.MaxMatchesPerMsg || rb.Seq == 0 {
				t.Fatalf("accepted a batch over the limits: %d matches, seq %d", len(rb.Matches), rb.Seq)
			}
		}
		var st wire.Status
		if wire.Decode(data, &st) == nil && checkStatus(&st) == nil {
			if st.Seq == 0 || !agentStates[st.State] || len(st.Error) > maxStatusError+len(" [cut]") {
				t.Fatalf("accepted a bad status: %+v", st)
			}
		}
		if err := logReason(errors.New(string(data))); strings.Contains(err.Error(), string(data)) && len(data) > 20 {
			t.Fatalf("logReason echoes its input")
		}
	})
}
