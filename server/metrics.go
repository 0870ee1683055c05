package server

import (
	"bufio"
	"context"
	"fmt"
	"net/http"

	"vigil/server/api"
)

// handleMetrics writes the Prometheus text exposition format (version
// 0.0.4) by hand.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, by api.Operator) {
	m, err := s.metrics(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	bw := bufio.NewWriter(w)
	for _, x := range m {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", x.name, x.help, x.name, x.kind)
		if len(x.labels) == 0 {
			fmt.Fprintf(bw, "%s %d\n", x.name, x.value)
			continue
		}
		for _, l := range x.labels {
			fmt.Fprintf(bw, "%s{%s=%q} %d\n", x.name, x.labelName, l.value, l.n)
		}
	}
	bw.Flush()
}

type metric struct {
	name, help, kind string
	value            int64
	labelName        string
	labels           []labelValue
}

type labelValue struct {
	value string
	n     int64
}

// metrics collects the current values.
func (s *Server) metrics(ctx context.Context) ([]metric, error) {
	agents, err := s.store.ListAgents(ctx)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	onlineN := 0
	for _, a := range agents {
		if s.svc.apiAgent(a, now).Online {
			onlineN++
		}
	}
	hunts, err := s.store.ListHunts(ctx)
	if err != nil {
		return nil, err
	}
	byState := map[string]int{"running": 0, "canceled": 0, "expired": 0, "pending": 0}
	for _, h := range hunts {
		byState[huntState(h, now)]++
	}
	var huntLabels []labelValue
	for _, st := range sortedKeys(byState) {
		huntLabels = append(huntLabels, labelValue{st, int64(byState[st])})
	}
	return []metric{
		{name: "vigil_agents_enrolled", help: "Agents enrolled.", kind: "gauge", value: int64(len(agents))},
		{name: "vigil_agents_connected", help: "Agent connections open on the embedded NATS server (-1: unknown, external NATS).", kind: "gauge", value: int64(s.bus.AgentConnections())},
		{name: "vigil_agents_online", help: "Agents heard from within the offline timeout.", kind: "gauge", value: int64(onlineN)},
		{name: "vigil_hunts", help: "Hunts by state.", kind: "gauge", labelName: "state", labels: huntLabels},
		{name: "vigil_results_ingested_total", help: "Result rows (file, rule) stored since the server started.", kind: "counter", value: s.resultsIngested.Load()},
		{name: "vigil_statuses_ingested_total", help: "Agent statuses applied since the server started.", kind: "counter", value: s.statusesIngested.Load()},
		{name: "vigil_ingest_batches_total", help: "Result batches stored since the server started.", kind: "counter", value: s.batchesIngested.Load()},
		{name: "vigil_scan_file_errors_total", help: "Files agents reported they could not scan, since the server started.", kind: "counter", value: s.fileErrors.Load()},
		{name: "vigil_ingest_errors_total", help: "Messages from agents refused as malformed or over a limit, and failed store writes.", kind: "counter", value: s.ingestErrors.Load()},
	}, nil
}
