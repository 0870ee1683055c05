package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/mod/sumdb/tlog"

	"vigil/agent/policy"
	"vigil/journal"
	"vigil/server/api"
	"vigil/translog"
)

const auditUsage = `Usage: vigil audit --state DIR [--server URL] [--policy FILE] [--json]
Prints the journal of the agent whose state directory is DIR: every hunt it ran,
refused or could not run, with the hunt's transparency-log index, approvers,
paths and match count. It checks the journal's hash chain and exits 1 naming the
first broken line if a record was edited, removed, inserted or reordered.

With --server, every record is also checked against the server's transparency
log: the log's signed checkpoint must verify with the log key the agent's policy
pins (FILE, default DIR/policy), the entry at the record's log index must be the
hunt entry of that hunt with the same rules SHA-256, and its inclusion in the
current checkpoint must verify. The agent's stored checkpoint (DIR/log.state)
must be consistent with the server's. Any mismatch exits 1.`

// auditTimeout bounds the whole cross-check with the server.
const auditTimeout = 5 * time.Minute

// auditCheck is the outcome of the server cross-check of one record.
type auditCheck struct {
	Seq     int64  `json:"seq"`
	HuntID  string `json:"hunt_id"`
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

// auditReport is what --json prints.
type auditReport struct {
	Journal  string           `json:"journal"`
	Chain    string           `json:"chain"` // "ok" or the error
	Records  []journal.Record `json:"records"`
	Server   string           `json:"server,omitempty"`
	Problems []string         `json:"problems,omitempty"`
	Checks   []auditCheck     `json:"checks,omitempty"`
}

// auditCmd is `vigil audit`.
func (e *env) auditCmd(args []string) int {
	fs := pflag.NewFlagSet("vigil audit", pflag.ContinueOnError)
	fs.SetOutput(discard{})
	fs.SortFlags = false
	state := fs.String("state", "", "the agent's state `DIR` (required)")
	server := fs.String("server", "", "cross-check with the transparency log of the server at `URL`")
	policyFile := fs.String("policy", "", "the agent's policy `FILE`, for the pinned log key (default DIR/policy)")
	asJSON := fs.Bool("json", false, "print a JSON report")
	help := fs.BoolP("help", "h", false, "show this help and exit")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(e.stderr, "vigil audit: %v\n%s\n", err, auditUsage)
		return exitUsage
	}
	if *help {
		fmt.Fprintf(e.stdout, "%s\n\n%s", auditUsage, fs.FlagUsages())
		return exitOK
	}
	if *state == "" || fs.NArg() != 0 {
		fmt.Fprintf(e.stderr, "vigil audit: --state is required and no arguments are taken\n%s\n", auditUsage)
		return exitUsage
	}
	path := filepath.Join(*state, "journal")
	if _, err := os.Stat(path); err != nil {
		fmt.Fprintf(e.stderr, "vigil audit: %v\n", err)
		return exitError
	}
	rep := auditReport{Journal: path, Chain: "ok", Server: *server}
	if err := journal.Verify(path); err != nil {
		rep.Chain = err.Error()
		if *asJSON {
			e.printJSON(rep)
		}
		fmt.Fprintf(e.stderr, "vigil audit: THE JOURNAL HAS BEEN TAMPERED WITH OR DAMAGED: %v\n", err)
		return exitError
	}
	j, err := journal.Open(path)
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil audit: %v\n", err)
		return exitError
	}
	recs, err := j.Records()
	n, head := j.Head()
	j.Close()
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil audit: %v\n", err)
		return exitError
	}
	rep.Records = recs
	if *server != "" {
		pf := *policyFile
		if pf == "" {
			pf = filepath.Join(*state, "policy")
		}
		ctx, cancel := context.WithTimeout(e.ctx, auditTimeout)
		rep.Checks, rep.Problems = crossCheck(ctx, api.NewClient(*server, ""), *state, pf, recs)
		cancel()
	}
	if *asJSON {
		e.printJSON(rep)
	} else {
		printAudit(e.stdout, rep, n, head)
	}
	if len(rep.Problems) > 0 {
		return exitError
	}
	return exitOK
}

func (e *env) printJSON(v any) {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// printAudit prints the journal and the checks as text.
func printAudit(w io.Writer, rep auditReport, n int64, head string) {
	fmt.Fprintf(w, "journal %s: %d records, hash chain verified (head %s)\n", rep.Journal, n, head)
	checks := map[int64]auditCheck{}
	for _, c := range rep.Checks {
		checks[c.Seq] = c
	}
	for _, r := range rep.Records {
		hunt := r.HuntID
		if hunt == "" {
			hunt = "(no hunt)"
		}
		idx := "-"
		if r.LogIndex >= 0 {
			idx = fmt.Sprint(r.LogIndex)
		}
		fmt.Fprintf(w, "\n#%d %s %-7s hunt %s  log index %s", r.Seq, r.Time.UTC().Format(time.RFC3339), r.Action, hunt, idx)
		if r.TreeSize > 0 {
			fmt.Fprintf(w, " (checked in log of size %d)", r.TreeSize)
		}
		fmt.Fprintln(w)
		if r.Requester != "" {
			fmt.Fprintf(w, "    requested by: %s\n", r.Requester)
		}
		if len(r.Approvers) > 0 {
			fmt.Fprintf(w, "    approved by:  %s\n", strings.Join(r.Approvers, ", "))
		}
		if len(r.Paths) > 0 {
			fmt.Fprintf(w, "    paths:        %s\n", strings.Join(r.Paths, ", "))
		}
		if r.RulesSHA256 != "" {
			fmt.Fprintf(w, "    rules sha256: %s\n", r.RulesSHA256)
		}
		if r.Action == journal.ActionRan {
			fmt.Fprintf(w, "    files:        %d scanned, %d matched\n", r.FilesScanned, r.Matches)
		}
		if r.Reason != "" {
			fmt.Fprintf(w, "    reason:       %s\n", r.Reason)
		}
		if c, ok := checks[r.Seq]; ok {
			verdict := "ok"
			if !c.OK {
				verdict = "MISMATCH"
			}
			fmt.Fprintf(w, "    server log:   %s: %s\n", verdict, c.Message)
		}
	}
	if rep.Server != "" {
		if len(rep.Problems) == 0 {
			fmt.Fprintf(w, "\ncross-checked with %s: every record matches the server's transparency log\n", rep.Server)
		} else {
			fmt.Fprintf(w, "\ncross-check with %s found %d problems:\n", rep.Server, len(rep.Problems))
			for _, p := range rep.Problems {
				fmt.Fprintf(w, "  - %s\n", p)
			}
		}
	}
}

// crossCheck checks the journal's records against the server's log.
func crossCheck(ctx context.Context, c *api.Client, stateDir, policyFile string, recs []journal.Record) (checks []auditCheck, problems []string) {
	fail := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	lk, err := c.LogKey(ctx)
	if err != nil {
		fail("getting the server's log key: %v", err)
		return nil, problems
	}
	key := lk.Key
	pol, err := policy.Load(policyFile)
	switch {
	case err == nil && pol.LogKey != "":
		if pol.LogKey != lk.Key {
			fail("the server's log key %q is not the one the agent's policy %s pins (%q)", lk.Key, policyFile, pol.LogKey)
		}
		key = pol.LogKey
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		fail("the agent's policy: %v", err)
	default:
		fail("no pinned log key in %s: the server's own key was used, which proves nothing about that key", policyFile)
	}
	v, err := translog.NewVerifierFromKey(key)
	if err != nil {
		fail("log key: %v", err)
		return nil, problems
	}
	cp, err := c.Checkpoint(ctx)
	if err != nil {
		fail("getting the server's checkpoint: %v", err)
		return nil, problems
	}
	tree, err := v.VerifyCheckpoint(cp)
	if err != nil {
		fail("the server's checkpoint does not verify: %v", err)
		return nil, problems
	}
	// The agent's own checkpoint must be a prefix of the server's log.
	if data, err := os.ReadFile(filepath.Join(stateDir, "log.state")); err == nil {
		var st struct {
			Checkpoint string          `json:"checkpoint"`
			Fork       json.RawMessage `json:"fork"`
		}
		if json.Unmarshal(data, &st) != nil {
			fail("the agent's log.state is not valid JSON")
		} else {
			if len(st.Fork) > 0 && string(st.Fork) != "null" {
				fail("the agent detected a fork of the server's log and refuses every hunt; evidence in %s", filepath.Join(stateDir, "log.state"))
			}
			if st.Checkpoint != "" {
				if err := checkConsistent(ctx, c, key, st.Checkpoint, cp, tree); err != nil {
					fail("the agent's stored checkpoint and the server's: %v", err)
				}
			}
		}
	}
	for _, r := range recs {
		if r.LogIndex < 0 {
			if r.Action == journal.ActionRan {
				fail("record %d: hunt %s ran without a log index", r.Seq, r.HuntID)
				checks = append(checks, auditCheck{Seq: r.Seq, HuntID: r.HuntID, Message: "ran without a log index"})
			}
			continue
		}
		msg, err := checkRecord(ctx, c, v, tree, r)
		if err != nil {
			fail("record %d (hunt %s, log index %d): %v", r.Seq, r.HuntID, r.LogIndex, err)
			checks = append(checks, auditCheck{Seq: r.Seq, HuntID: r.HuntID, Message: err.Error()})
			continue
		}
		checks = append(checks, auditCheck{Seq: r.Seq, HuntID: r.HuntID, OK: true, Message: msg})
	}
	return checks, problems
}

// checkRecord checks that the server's entry at r.LogIndex is r's hunt,
// included in tree.
func checkRecord(ctx context.Context, c *api.Client, v *translog.Verifier, tree tlog.Tree, r journal.Record) (string, error) {
	if r.LogIndex >= tree.N {
		return "", fmt.Errorf("not in the server's log of size %d", tree.N)
	}
	es, err := c.LogEntries(ctx, r.LogIndex, 1)
	if err != nil {
		return "", fmt.Errorf("getting the entry: %v", err)
	}
	if len(es) != 1 || es[0].Index != r.LogIndex {
		return "", errors.New("the server did not return that entry")
	}
	entry := []byte(es[0].Entry)
	p, err := c.RecordProof(ctx, r.LogIndex, tree.N)
	if err != nil {
		return "", fmt.Errorf("getting its inclusion proof: %v", err)
	}
	proof, err := hashesOf(p.Proof)
	if err != nil {
		return "", err
	}
	if err := v.VerifyEntry(entry, r.LogIndex, tlog.RecordProof(proof), tree); err != nil {
		return "", fmt.Errorf("the entry is not proven to be in the signed checkpoint: %v", err)
	}
	h, err := translog.DecodeHunt(entry)
	if err != nil {
		return "", fmt.Errorf("the entry is not a hunt entry: %v", err)
	}
	if h.HuntID != r.HuntID {
		return "", fmt.Errorf("the entry is hunt %q, not %q", h.HuntID, r.HuntID)
	}
	if r.RulesSHA256 != "" && h.RulesSHA256 != r.RulesSHA256 {
		return "", fmt.Errorf("the entry's rules SHA-256 is %s, the journal says %s", h.RulesSHA256, r.RulesSHA256)
	}
	return fmt.Sprintf("entry %d is this hunt (requested by %s), included in the checkpoint of size %d", r.LogIndex, h.Requester, tree.N), nil
}

// checkConsistent checks that the agent's stored checkpoint is consistent
// with the server's current one.
func checkConsistent(ctx context.Context, c *api.Client, key, stored string, current []byte, tree tlog.Tree) error {
	v, err := translog.NewVerifierFromKey(key)
	if err != nil {
		return err
	}
	if err := v.UnmarshalState([]byte(stored)); err != nil {
		return fmt.Errorf("stored checkpoint: %v", err)
	}
	_, old := v.Trusted()
	var proof []tlog.Hash
	if old.N > 0 && old.N != tree.N {
		lo, hi := min(old.N, tree.N), max(old.N, tree.N)
		p, err := c.TreeProof(ctx, lo, hi)
		if err != nil {
			return fmt.Errorf("getting a consistency proof: %v", err)
		}
		if proof, err = hashesOf(p.Proof); err != nil {
			return err
		}
	}
	return v.Advance(current, tlog.TreeProof(proof))
}

// hashesOf converts a proof from the API.
func hashesOf(p [][]byte) ([]tlog.Hash, error) {
	if len(p) > 128 {
		return nil, fmt.Errorf("proof of %d hashes", len(p))
	}
	out := make([]tlog.Hash, len(p))
	for i, h := range p {
		if len(h) != tlog.HashSize {
			return nil, fmt.Errorf("proof hash %d is %d bytes", i, len(h))
		}
		copy(out[i][:], h)
	}
	return out, nil
}
