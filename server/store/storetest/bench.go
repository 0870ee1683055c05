package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"vigil/server/store"
	"vigil/wire"
)

// BenchmarkAddBatches measures result ingestion: each operation is one
// AddBatches call of nBatches batches of wire.MaxMatchesPerMsg one-rule
// matches, spread over 10 agents of one hunt. It reports rows/s. open
// must return a new empty store, which the benchmark closes.
func BenchmarkAddBatches(b *testing.B, open func(b *testing.B) store.Store) {
	for _, nBatches := range []int{50, 500} {
		b.Run(fmt.Sprintf("batches=%d", nBatches), func(b *testing.B) {
			s := open(b)
			defer s.Close()
			ctx := context.Background()
			const agents = 10
			tk := store.EnrollToken{ID: "tok-bench", SecretHash: "bench", Expires: time.Now().Add(time.Hour)}
			if err := s.CreateEnrollToken(ctx, tk); err != nil {
				b.Fatal(err)
			}
			var ids []string
			for i := range agents {
				id := fmt.Sprintf("agent-%d", i)
				ids = append(ids, id)
				if _, err := s.Enroll(ctx, tk.SecretHash, store.Agent{ID: id, PublicKey: "U" + id}, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
			h := store.Hunt{Hunt: wire.Hunt{ID: "hunt-bench", Rules: "rule a { condition: true }", Paths: []string{"/"},
				Created: time.Now(), Expires: time.Now().Add(time.Hour)}, State: store.HuntRunning}
			if err := s.CreateHunt(ctx, h, ids); err != nil {
				b.Fatal(err)
			}
			var rows int64
			seq := uint64(0)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				bs := make([]store.Batch, nBatches)
				for j := range bs {
					ag := ids[j%agents]
					if j%agents == 0 {
						seq++
					}
					bs[j] = benchBatch(ag, h.ID, seq)
				}
				b.StartTimer()
				stored, err := s.AddBatches(ctx, bs)
				if err != nil {
					b.Fatal(err)
				}
				for j, ok := range stored {
					if !ok {
						b.Fatalf("batch %d not stored", j)
					}
				}
				rows += int64(nBatches * wire.MaxMatchesPerMsg)
			}
			b.StopTimer()
			if sec := b.Elapsed().Seconds(); sec > 0 {
				b.ReportMetric(float64(rows)/sec, "rows/s")
			}
			p, err := s.Progress(ctx, h.ID)
			if err != nil || p.Results != rows {
				b.Fatalf("Progress = %+v, %v; want %d results", p, err, rows)
			}
		})
	}
}

// benchBatch is a full batch of plausible matches.
func benchBatch(agentID, huntID string, seq uint64) store.Batch {
	ms := make([]wire.FileMatch, wire.MaxMatchesPerMsg)
	for i := range ms {
		ms[i] = wire.FileMatch{
			Path:   fmt.Sprintf("/home/user%d/projects/src/module_%d/file_%06d.bin", i%7, seq, i),
			Size:   int64(4096 + i),
			SHA256: strings.Repeat(fmt.Sprintf("%02x", i%256), 32),
			MD5:    strings.Repeat(fmt.Sprintf("%02x", seq%256), 16),
			Rules: []wire.RuleHit{{Rule: "Suspicious_Loader_v2", Namespace: "default", Tags: []string{"apt", "loader"},
				Strings: []wire.StringHit{{ID: "$mz", Offsets: []int64{0}, Count: 1},
					{ID: "$s1", Offsets: []int64{1024, 2048, 4096}, Count: 3}}}},
		}
	}
	return store.Batch{AgentID: agentID, Received: time.Now(),
		Batch: wire.ResultBatch{HuntID: huntID, Seq: seq, Matches: ms}}
}
