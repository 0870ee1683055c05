package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"vigil/agent"
	"vigil/server"
	"vigil/server/api"
)

const serverUsage = `Usage: vigil server [--data DIR] [--http ADDR] [--nats-port N | --nats URL] [--db DSN] [--dev]
Runs the Vigil server: the HTTP API and web UI on one port, an embedded NATS
server with JetStream for agents on another (or --nats URL for an external
cluster), state in SQLite in DIR (or --db postgres://...). On first start it
creates the operator "admin" and prints its API token (also in DIR/admin.token).

--dev is the one-command demo: the same, in a fresh temporary directory unless
--data is given, plus one local agent enrolled and ready to hunt.`

// serverCmd is `vigil server`.
func (e *env) serverCmd(args []string) int {
	fs := pflag.NewFlagSet("vigil server", pflag.ContinueOnError)
	fs.SetOutput(discard{})
	fs.SortFlags = false
	var o server.Options
	dev := fs.Bool("dev", false, "demo mode: temporary data directory and one local agent")
	fs.StringVar(&o.DataDir, "data", "", "data `DIR` (default ./vigil-data; with --dev a new temporary directory)")
	fs.StringVar(&o.HTTPAddr, "http", "127.0.0.1:7480", "HTTP API and web UI listen `ADDR`")
	fs.StringVar(&o.NATSHost, "nats-host", "127.0.0.1", "embedded NATS listen `HOST`")
	fs.IntVar(&o.NATSPort, "nats-port", 7422, "embedded NATS listen `PORT` (-1 = any free port)")
	fs.StringVar(&o.NATSURL, "nats", "", "use the external NATS at `URL` instead of embedding one")
	fs.StringVar(&o.DB, "db", "", "database: \"\" = SQLite in DIR, or a `postgres://` DSN")
	fs.StringVar(&o.Prefix, "prefix", "", "NATS subject prefix (default \"vigil\")")
	fs.StringVar(&o.TLSCert, "tls-cert", "", "TLS certificate `FILE` for HTTPS and NATS")
	fs.StringVar(&o.TLSKey, "tls-key", "", "TLS key `FILE`")
	verbose := fs.BoolP("verbose", "v", false, "log what the server does")
	help := fs.BoolP("help", "h", false, "show this help and exit")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(e.stderr, "vigil server: %v\n%s\n", err, serverUsage)
		return exitUsage
	}
	if *help {
		fmt.Fprintf(e.stdout, "%s\n\n%s", serverUsage, fs.FlagUsages())
		return exitOK
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(e.stderr, "vigil server: unexpected argument %q\n%s\n", fs.Arg(0), serverUsage)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(e.ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.DataDir == "" {
		if *dev {
			dir, err := os.MkdirTemp("", "vigil-dev-")
			if err != nil {
				fmt.Fprintf(e.stderr, "vigil server: %v\n", err)
				return exitError
			}
			defer os.RemoveAll(dir)
			o.DataDir = dir
		} else {
			o.DataDir = "vigil-data"
		}
	}
	o.Logf = func(format string, args ...any) {
		if *verbose {
			fmt.Fprintf(e.stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
		}
	}
	s, err := server.New(o)
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil server: %v\n", err)
		return exitError
	}
	if err := s.Start(ctx); err != nil {
		fmt.Fprintf(e.stderr, "vigil server: %v\n", err)
		return exitError
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := s.Shutdown(sctx); err != nil {
			fmt.Fprintf(e.stderr, "vigil server: shutdown: %v\n", err)
		}
	}()
	fmt.Fprintf(e.stdout, "Vigil server: web UI and API at %s\n", s.URL())
	fmt.Fprintf(e.stdout, "  data directory: %s\n", o.DataDir)
	tokenFile := filepath.Join(o.DataDir, "admin.token")
	if t := s.AdminToken(); t != "" {
		fmt.Fprintf(e.stdout, "  first start: operator \"admin\" created; its API token (also in %s):\n    %s\n", tokenFile, t)
	}
	if *dev {
		if err := e.startDevAgent(ctx, s, tokenFile); err != nil {
			fmt.Fprintf(e.stderr, "vigil server: dev agent: %v\n", err)
			return exitError
		}
	}
	<-ctx.Done()
	fmt.Fprintf(e.stdout, "Vigil server: shutting down\n")
	return exitOK
}

// startDevAgent enrolls and runs one agent in this process, writes the
// example rules into the data directory and prints how to hunt.
func (e *env) startDevAgent(ctx context.Context, s *server.Server, tokenFile string) error {
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		return err
	}
	adminToken := strings.TrimSpace(string(b))
	svc := s.Service()
	op, err := svc.Authenticate(ctx, adminToken)
	if err != nil {
		return err
	}
	tok, err := svc.CreateToken(ctx, op, api.TokenRequest{Labels: map[string]string{"dev": "true", "os": runtime.GOOS}, MaxUses: 1, ExpiresIn: "1h", Description: "vigil server --dev local agent"})
	if err != nil {
		return err
	}
	dir := filepath.Dir(tokenFile)
	a, err := agent.New(agent.Options{StateDir: filepath.Join(dir, "dev-agent"), Server: s.URL(), Token: tok.Secret, Version: vigilVersion()})
	if err != nil {
		return err
	}
	if err := a.Enroll(ctx); err != nil {
		return err
	}
	go func() {
		if err := a.Run(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintf(e.stderr, "vigil server: dev agent stopped: %v\n", err)
		}
	}()
	rules := filepath.Join(dir, "example.yar")
	if err := os.WriteFile(rules, builtinRules, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "  dev mode: local agent %s enrolled (labels dev=true,os=%s)\n\nTry, in another terminal:\n", a.ID(), runtime.GOOS)
	fmt.Fprintf(e.stdout, "  export VIGIL_SERVER=%s VIGIL_TOKEN=%s\n", s.URL(), adminToken)
	fmt.Fprintf(e.stdout, "  vigil hunt create --rules %s --path /usr/bin --why \"trying Vigil\" --wait\n", rules)
	fmt.Fprintf(e.stdout, "or open %s and log in with the token.\n", s.URL())
	return nil
}
