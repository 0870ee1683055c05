package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/pflag"

	"vigil/internal/fleetbench"
)

const benchUsage = `Usage: vigil bench fleet [--agents N] [--results N] [--db DSN]
Starts a vigil server (this binary) on loopback, enrolls N simulated agents,
connects each to NATS with its own credentials, creates a hunt, and reports the
time until every agent acknowledged it, the time until every result was stored,
the ingest rate and the server's peak memory.`

// benchCmd is `vigil bench fleet`.
func (e *env) benchCmd(args []string) int {
	if len(args) == 0 || args[0] != "fleet" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(e.stdout, benchUsage)
			return exitOK
		}
		fmt.Fprintf(e.stderr, "vigil bench: want a benchmark name\n%s\n", benchUsage)
		return exitUsage
	}
	fs := pflag.NewFlagSet("vigil bench fleet", pflag.ContinueOnError)
	fs.SetOutput(discard{})
	var o fleetbench.Options
	fs.IntVar(&o.Agents, "agents", 1000, "simulated agents")
	fs.IntVar(&o.ResultsPerAgent, "results", 20, "results each agent sends")
	fs.IntVar(&o.BatchSize, "batch", 0, "files per result message (default the protocol's maximum)")
	fs.DurationVar(&o.ScanTime, "scan-time", 2*time.Second, "how long each agent scans between acknowledging and sending results")
	fs.StringVar(&o.DB, "db", "", "server database (default SQLite; or a postgres:// DSN)")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	verbose := fs.BoolP("verbose", "v", false, "print progress and the server's log")
	help := fs.BoolP("help", "h", false, "show this help and exit")
	if err := fs.Parse(args[1:]); err != nil {
		fmt.Fprintf(e.stderr, "vigil bench fleet: %v\n%s\n", err, benchUsage)
		return exitUsage
	}
	if *help {
		fmt.Fprintf(e.stdout, "%s\n\n%s", benchUsage, fs.FlagUsages())
		return exitOK
	}
	if *verbose {
		o.Log = e.stderr
	}
	if n, err := fleetbench.RaiseFileLimit(); err == nil && n > 0 && uint64(o.Agents)+1000 > n {
		fmt.Fprintf(e.stderr, "vigil bench fleet: warning: open-file limit %d is low for %d agents\n", n, o.Agents)
	}
	ctx, stop := signal.NotifyContext(e.ctx, os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	rep, err := fleetbench.Run(ctx, o)
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil bench fleet: %v\n", err)
		return exitError
	}
	fmt.Fprintln(e.stdout, rep.String())
	return exitOK
}
