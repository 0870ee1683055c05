package cli

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"vigil/agent"
)

const agentUsage = `Usage: vigil agent --state DIR [--server URL --token SECRET] [--labels k=v,...]
Runs the Vigil agent. The first run enrolls with the server using an enrollment
token (vigil token create); the agent's identity is kept in DIR and later runs
need only --state. The agent runs the hunts the server assigns to it and
reports matching files: paths, hashes, rules and string offsets, never content.
It runs only hunts it finds in the server's transparency log, approved as the
local policy (--policy, default DIR/policy) requires; vigil audit --state DIR
shows what it ran and refused.`

// agentCmd is `vigil agent`.
func (e *env) agentCmd(args []string) int {
	fs := pflag.NewFlagSet("vigil agent", pflag.ContinueOnError)
	fs.SetOutput(discard{})
	fs.SortFlags = false
	var o agent.Options
	fs.StringVar(&o.StateDir, "state", "", "state `DIR`: identity, finished hunts (required)")
	fs.StringVar(&o.Server, "server", "", "server `URL`, to enroll")
	fs.StringVar(&o.Token, "token", "", "enrollment `SECRET` (first run only)")
	labels := fs.String("labels", "", "this machine's labels `k=v,...` (the token's labels win)")
	fs.IntVar(&o.Workers, "workers", 1, "scanning goroutines")
	fs.StringVar(&o.PolicyFile, "policy", "", "this machine's local policy `FILE` (default DIR/policy; written from the server's keys at enrollment when missing)")
	fs.StringVar(&o.NATSCredsFile, "nats-creds", "", "NATS credentials `FILE` for a server that uses an external NATS cluster")
	verbose := fs.BoolP("verbose", "v", false, "log what the agent does")
	help := fs.BoolP("help", "h", false, "show this help and exit")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(e.stderr, "vigil agent: %v\n%s\n", err, agentUsage)
		return exitUsage
	}
	if *help {
		fmt.Fprintf(e.stdout, "%s\n\n%s", agentUsage, fs.FlagUsages())
		return exitOK
	}
	if o.StateDir == "" || fs.NArg() != 0 {
		fmt.Fprintf(e.stderr, "vigil agent: --state is required and no arguments are taken\n%s\n", agentUsage)
		return exitUsage
	}
	l, err := parseLabels(*labels)
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil agent: %v\n", err)
		return exitUsage
	}
	o.Labels = l
	o.Version = vigilVersion()
	o.Logf = func(format string, args ...any) {
		if *verbose {
			fmt.Fprintf(e.stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
		}
	}
	ctx, stop := signal.NotifyContext(e.ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := agent.New(o)
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil agent: %v\n", err)
		return exitError
	}
	defer a.Close()
	if !a.Enrolled() {
		if o.Server == "" || o.Token == "" {
			fmt.Fprintf(e.stderr, "vigil agent: not enrolled yet: give --server and --token\n")
			return exitUsage
		}
		if err := a.Enroll(ctx); err != nil {
			fmt.Fprintf(e.stderr, "vigil agent: %v\n", err)
			return exitError
		}
		fmt.Fprintf(e.stdout, "vigil agent: enrolled as %s\n", a.ID())
	}
	fmt.Fprintf(e.stdout, "vigil agent %s: running\n", a.ID())
	if err := a.Run(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintf(e.stderr, "vigil agent: %v\n", err)
		return exitError
	}
	return exitOK
}
