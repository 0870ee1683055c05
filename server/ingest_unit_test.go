package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"vigil/server/store"
	"vigil/wire"
)

// fakeMsg is a fetched message that records what was done with it.
type fakeMsg struct {
	jetstream.Msg // nil: only the methods below are used
	subject       string
	data          []byte
	mu            sync.Mutex
	done          string // "ack", "term", "nak" or ""
}

func (m *fakeMsg) Subject() string { return m.subject }
func (m *fakeMsg) Data() []byte    { return m.data }
func (m *fakeMsg) set(s string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done != "" {
		return errors.New("already " + m.done)
	}
	m.done = s
	return nil
}
func (m *fakeMsg) Ack() error                       { return m.set("ack") }
func (m *fakeMsg) Term() error                      { return m.set("term") }
func (m *fakeMsg) NakWithDelay(time.Duration) error { return m.set("nak") }

// flakyStore fails writes holding a poisoned path, or all writes when down.
type flakyStore struct {
	store.Store // nil: only the methods below are used
	down        bool
	batches     map[string]bool // "agent/hunt/seq" stored
	statuses    int
}

func (f *flakyStore) AddBatches(_ context.Context, bs []store.Batch) ([]bool, error) {
	if f.down {
		return nil, errors.New("database is down")
	}
	for _, b := range bs {
		for _, m := range b.Batch.Matches {
			if m.Path == "/poison" {
				return nil, errors.New("invalid byte sequence")
			}
		}
	}
	out := make([]bool, len(bs))
	for i, b := range bs {
		k := fmt.Sprintf("%s/%s/%d", b.AgentID, b.Batch.HuntID, b.Batch.Seq)
		out[i] = !f.batches[k]
		f.batches[k] = true
	}
	return out, nil
}

func (f *flakyStore) ApplyStatuses(_ context.Context, ss []store.AgentStatus) ([]bool, error) {
	if f.down {
		return nil, errors.New("database is down")
	}
	f.statuses += len(ss)
	out := make([]bool, len(ss))
	for i := range out {
		out[i] = true
	}
	return out, nil
}

func TestIngestDispositions(t *testing.T) {
	const agent = "a-1"
	batch := func(seq uint64, path string) *fakeMsg {
		data, _ := wire.Encode(wire.ResultBatch{HuntID: "h-1", Seq: seq, Matches: []wire.FileMatch{match(path)}})
		return &fakeMsg{subject: wire.ResultsSubject(wire.Prefix, agent), data: data}
	}
	status := func(seq uint64) *fakeMsg {
		data, _ := wire.Encode(wire.Status{HuntID: "h-1", Seq: seq, State: wire.StateRunning})
		return &fakeMsg{subject: wire.StatusSubject(wire.Prefix, agent), data: data}
	}
	garbage := &fakeMsg{subject: wire.ResultsSubject(wire.Prefix, agent), data: []byte("{")}
	wrongSubject := &fakeMsg{subject: "vigil.from.a-1.other", data: []byte("{}")}

	tests := []struct {
		name string
		down bool
		msgs []*fakeMsg
		want []string
	}{
		{"all good", false, []*fakeMsg{batch(1, "/a"), status(1), batch(2, "/b")}, []string{"ack", "ack", "ack"}},
		{"duplicate", false, []*fakeMsg{batch(1, "/a"), batch(1, "/a")}, []string{"ack", "ack"}},
		{"garbage", false, []*fakeMsg{garbage, batch(1, "/a"), wrongSubject}, []string{"term", "ack", "term"}},
		{"poison", false, []*fakeMsg{batch(1, "/a"), batch(2, "/poison"), status(1)}, []string{"ack", "term", "ack"}},
		{"poison alone", false, []*fakeMsg{batch(2, "/poison")}, []string{"nak"}},
		{"store down", true, []*fakeMsg{batch(1, "/a"), status(1)}, []string{"nak", "nak"}},
	}
	for _, tc := range tests {
		fs := &flakyStore{down: tc.down, batches: map[string]bool{}}
		s := &Server{prefix: wire.Prefix, store: fs, now: time.Now, logf: func(string, ...any) {}}
		msgs := make([]jetstream.Msg, len(tc.msgs))
		for i, m := range tc.msgs {
			msgs[i] = m
		}
		s.ingest(msgs)
		for i, m := range tc.msgs {
			if m.done != tc.want[i] {
				t.Errorf("%s: message %d was %q, want %q", tc.name, i, m.done, tc.want[i])
			}
		}
		if tc.name == "duplicate" && s.resultsIngested.Load() != 1 {
			t.Errorf("duplicate: %d results counted, want 1", s.resultsIngested.Load())
		}
	}
}
