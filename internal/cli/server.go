package cli

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/mod/sumdb/note"

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
	fs.StringVar(&o.LogName, "log-name", "", "name of the transparency log's key, made at first start (default \"vigil-log\")")
	fs.IntVar(&o.MinApprovals, "min-approvals", 0, "approvals by others a hunt needs before it runs (default 1)")
	fs.IntVar(&o.MinDocumentApprovals, "min-document-approvals", 0, "approvals a keyword/document search needs (default 2)")
	fs.StringArrayVar(&o.Witnesses, "witness", nil, "note verifier `KEY` of a witness whose cosignatures the server accepts (repeatable)")
	fs.BoolVar(&o.NoApprovals, "no-approvals", false, "let hunts run without approval (tests and demos only; agents' policies may still refuse)")
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

// startDevAgent creates an approver with a key (so that a hunt can be
// approved by someone other than its author), enrolls and runs one agent in
// this process, writes the example rules into the data directory and
// prints how to hunt, approve and audit.
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
	dir := filepath.Dir(tokenFile)
	// The approver: an operator whose key pair lives in the data directory
	// (a real approver keeps it on their own machine: vigil key create).
	approver, err := svc.CreateOperator(ctx, op, api.OperatorRequest{Name: "approver", Role: "approver"})
	if err != nil {
		return fmt.Errorf("creating the approver: %w", err)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, "approver")
	if err != nil {
		return err
	}
	approverKey := filepath.Join(dir, "approver.key")
	if err := os.WriteFile(approverKey, []byte(skey+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(approverKey+".pub", []byte(vkey+"\n"), 0o644); err != nil {
		return err
	}
	if _, err := svc.SetKey(ctx, approver.Operator, api.KeyRequest{Key: vkey}); err != nil {
		return fmt.Errorf("registering the approver's key: %w", err)
	}
	tok, err := svc.CreateToken(ctx, op, api.TokenRequest{Labels: map[string]string{"dev": "true", "os": runtime.GOOS}, MaxUses: 1, ExpiresIn: "1h", Description: "vigil server --dev local agent"})
	if err != nil {
		return err
	}
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
	fmt.Fprintf(e.stdout, "  dev mode: local agent %s enrolled (labels dev=true,os=%s; its policy: %s)\n", a.ID(), runtime.GOOS, filepath.Join(dir, "dev-agent", "policy"))
	fmt.Fprintf(e.stdout, "  operator \"approver\" (key %s), API token:\n    %s\n\nTry, in another terminal:\n", approverKey, approver.Token)
	fmt.Fprintf(e.stdout, "  export VIGIL_SERVER=%s VIGIL_TOKEN=%s\n", s.URL(), adminToken)
	fmt.Fprintf(e.stdout, "  vigil hunt create --rules %s --path /usr/bin --why \"trying Vigil\"       # pending: it needs an approval\n", rules)
	fmt.Fprintf(e.stdout, "  vigil hunt approve HUNT_ID --key %s --token %s --yes\n", approverKey, approver.Token)
	fmt.Fprintf(e.stdout, "  vigil hunt wait HUNT_ID && vigil hunt results HUNT_ID\n")
	fmt.Fprintf(e.stdout, "  vigil audit --state %s --server %s   # what this machine ran, checked against the log\n", filepath.Join(dir, "dev-agent"), s.URL())
	fmt.Fprintf(e.stdout, "or open %s and log in with a token; %s/log is the public transparency log.\n", s.URL(), s.URL())
	return nil
}
