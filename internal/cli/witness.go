package cli

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"vigil/witness"
)

// witnessCmd is `vigil witness`: cosign the server's log checkpoints while
// they stay consistent, and keep the evidence when they do not.
func (e *env) witnessCmd(args []string) int {
	s := newSub(e, "witness", `Usage: vigil witness --server URL --key FILE --state DIR [--log-key KEY] [--interval 10s] [--once]
Watches a Vigil server's transparency log. Every interval it fetches the signed
checkpoint, checks with a consistency proof that it extends the last one this
witness cosigned, signs it with the witness key FILE (from 'vigil key create')
and sends the cosignature to the server. A checkpoint that does not extend the
history is refused; both signed checkpoints and the failed proof are written to
DIR/forks. The log key is pinned in DIR at the first run (or give --log-key).
The server accepts cosignatures only from witnesses it is configured with:
give its operator FILE.pub.`)
	keyFile := s.fs.String("key", "", "the witness's private key `FILE`")
	stateDir := s.fs.String("state", "", "state `DIR`: pinned log key, last cosigned checkpoint, fork evidence")
	logKey := s.fs.String("log-key", "", "the log's public `KEY` (or a file holding it) to pin")
	interval := s.fs.Duration("interval", witness.DefaultInterval, "how often to check the log")
	once := s.fs.Bool("once", false, "check and cosign once, then exit (status 1 on any failure)")
	if ok, code := s.parsePublic(args, func(n int) bool { return n == 0 }, false); !ok {
		return code
	}
	if *keyFile == "" || *stateDir == "" {
		fmt.Fprintf(e.stderr, "vigil witness: --key and --state are required\n%s\n", s.usage)
		return exitUsage
	}
	if *interval <= 0 {
		fmt.Fprintf(e.stderr, "vigil witness: --interval must be positive\n")
		return exitUsage
	}
	signer, err := readSigner(*keyFile, e.stderr)
	if err != nil {
		return s.fail(err)
	}
	key := ""
	if *logKey != "" {
		if key, err = keyArg(*logKey); err != nil {
			return s.fail(fmt.Errorf("--log-key: %w", err))
		}
	}
	c := s.publicClient()
	logf := func(format string, args ...any) {
		fmt.Fprintf(e.stderr, "%s %s\n", time.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
	}
	w, err := witness.New(witness.Options{Server: c.BaseURL, Signer: signer, LogKey: key, StateDir: *stateDir, Interval: *interval, Logf: logf})
	if err != nil {
		return s.fail(err)
	}
	if *once {
		if err := w.Once(e.ctx); err != nil {
			return s.fail(err)
		}
		_, tree := w.Trusted()
		fmt.Fprintf(e.stdout, "log checkpoint of %d entries verified and cosigned by %s\n", tree.N, signer.Name())
		return exitOK
	}
	pub := ""
	if vkey, err := readVerifierKey(*keyFile + ".pub"); err == nil {
		pub = "; its public key (for the server's witness list): " + vkey
	}
	logf("vigil witness %s watching %s every %s (state %s)%s", signer.Name(), c.BaseURL, *interval, *stateDir, pub)
	ctx, stop := signal.NotifyContext(e.ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := w.Run(ctx); err != nil {
		return s.fail(err)
	}
	return exitOK
}
