package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"vigil/server/api"
	"vigil/translog"
)

// The transparency log's routes are public: `vigil log` and `vigil
// witness` need a server URL but no operator token.

// logPage is how many entries one request asks for (the API's maximum).
const logPage = 1000

// parsePublic is parse for commands that need no operator token: only
// --server, --help and, if withJSON, --json.
func (s *subcommand) parsePublic(args []string, nargs func(int) bool, withJSON bool) (ok bool, code int) {
	s.fs.StringVar(&s.cf.server, "server", "", "server `URL` (default $VIGIL_SERVER or "+defaultServerURL+")")
	if withJSON {
		s.fs.BoolVar(&s.cf.json, "json", false, "print JSON")
	}
	s.fs.BoolVarP(&s.cf.help, "help", "h", false, "show this help and exit")
	if err := s.fs.Parse(args); err != nil {
		fmt.Fprintf(s.e.stderr, "vigil %s: %v\n%s\n", s.name, err, s.usage)
		return false, exitUsage
	}
	if s.cf.help {
		fmt.Fprintf(s.e.stdout, "%s\n\n%s", s.usage, s.fs.FlagUsages())
		return false, exitOK
	}
	if nargs != nil && !nargs(s.fs.NArg()) {
		fmt.Fprintf(s.e.stderr, "vigil %s: wrong number of arguments\n%s\n", s.name, s.usage)
		return false, exitUsage
	}
	return true, 0
}

// publicClient is a client without a token for the public log routes.
func (s *subcommand) publicClient() *api.Client {
	server := s.cf.server
	if server == "" {
		server = os.Getenv("VIGIL_SERVER")
	}
	if server == "" {
		server = defaultServerURL
	}
	return api.NewClient(server, "")
}

// logCmd is `vigil log`: audit the server's transparency log.
func (e *env) logCmd(args []string) int {
	return e.dispatch("log", args, map[string]func(*env, []string) int{
		"verify": (*env).logVerify,
		"show":   (*env).logShow,
	}, "vigil log: audit the server's public transparency log of every hunt and approval.")
}

// logHunt is one hunt of the log as `vigil log verify` reports it.
type logHunt struct {
	Index             int64    `json:"index"`
	HuntID            string   `json:"hunt_id"`
	Name              string   `json:"name,omitempty"`
	Requester         string   `json:"requester"`
	Why               string   `json:"why"`
	LintClass         string   `json:"lint_class"`
	ApprovalsRequired int      `json:"approvals_required"`
	Approvers         []string `json:"approvers"` // distinct, other than the requester, signature valid
}

// logReport is the outcome of `vigil log verify`.
type logReport struct {
	Origin        string         `json:"origin"`
	LogKey        string         `json:"log_key"`
	Size          int64          `json:"size"`
	RootHash      string         `json:"root_hash"`
	PreviousSize  int64          `json:"previous_size"` // the saved checkpoint's size, -1 without one
	Kinds         map[string]int `json:"kinds"`
	DocumentHunts []logHunt      `json:"document_hunts"`
	Problems      []string       `json:"problems"` // entries that are well hashed but wrong
	Checkpoint    []byte         `json:"-"`
}

func (e *env) logVerify(args []string) int {
	s := newSub(e, "log verify", `Usage: vigil log verify [--server URL] [--checkpoint FILE] [--log-key KEY] [--json]
Fetches every entry of the server's transparency log, recomputes the Merkle tree
and checks that it is the tree of the signed checkpoint; with --checkpoint, checks
that the log extends the checkpoint saved in FILE by an earlier run, then saves
the new one there. Prints the entries per kind and the document-class hunts.
Exit status 1 on any failure: a checkpoint not signed by the log key, entries
that do not hash to it, a log inconsistent with FILE (a fork), malformed entries
or approvals whose signatures do not verify.`)
	cpFile := s.fs.String("checkpoint", "", "saved checkpoint `FILE`: the log must extend it; the new checkpoint is saved there")
	logKey := s.fs.String("log-key", "", "the log's public `KEY` (or a file holding it); default: what the server announces")
	if ok, code := s.parsePublic(args, func(n int) bool { return n == 0 }, true); !ok {
		return code
	}
	key := ""
	if *logKey != "" {
		k, err := keyArg(*logKey)
		if err != nil {
			return s.fail(fmt.Errorf("--log-key: %w", err))
		}
		key = k
	}
	rep, err := verifyLog(s.ctx(), s.publicClient(), key, *cpFile, e.stderr)
	if err != nil {
		return s.fail(err)
	}
	if s.cf.json {
		s.printJSON(rep)
	} else {
		printLogReport(e.stdout, rep, *cpFile)
	}
	if len(rep.Problems) > 0 {
		for _, p := range rep.Problems {
			fmt.Fprintf(e.stderr, "vigil log verify: %s\n", p)
		}
		return exitError
	}
	return exitOK
}

func printLogReport(w io.Writer, rep *logReport, cpFile string) {
	fmt.Fprintf(w, "log %s: checkpoint of %d entries verified (root %s)\n", rep.Origin, rep.Size, rep.RootHash)
	fmt.Fprintf(w, "every entry hashes to the signed root\n")
	switch {
	case cpFile == "":
	case rep.PreviousSize < 0:
		fmt.Fprintf(w, "no saved checkpoint in %s: saved this one\n", cpFile)
	default:
		fmt.Fprintf(w, "consistent with the saved checkpoint of %d entries (%s)\n", rep.PreviousSize, cpFile)
	}
	kinds := make([]string, 0, len(rep.Kinds))
	for k := range rep.Kinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, rep.Kinds[k]))
	}
	fmt.Fprintf(w, "entries: %s\n", orDash(strings.Join(parts, ", ")))
	fmt.Fprintf(w, "document-class hunts: %d\n", len(rep.DocumentHunts))
	if len(rep.DocumentHunts) == 0 {
		return
	}
	tw := tabwriterTo(w)
	fmt.Fprintln(tw, "INDEX\tHUNT\tREQUESTER\tAPPROVALS\tAPPROVERS\tWHY")
	for _, h := range rep.DocumentHunts {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d/%d\t%s\t%s\n", h.Index, h.HuntID, h.Requester, len(h.Approvers), h.ApprovalsRequired, orDash(strings.Join(h.Approvers, ",")), oneLine(h.Why, 60))
	}
	tw.Flush()
	fmt.Fprintf(w, "(approvals: logged, validly signed, by distinct operators other than the requester; whether an agent trusts their keys is its own policy)\n")
}

// verifyLog is `vigil log verify` without the printing. warn receives
// notices that are not failures.
func verifyLog(ctx context.Context, c *api.Client, key, cpFile string, warn io.Writer) (*logReport, error) {
	if key == "" {
		k, err := c.LogKey(ctx)
		if err != nil {
			return nil, fmt.Errorf("log key: %w", err)
		}
		key = strings.TrimSpace(k.Key)
		fmt.Fprintf(warn, "using the log key the server announces: %s\n(pin it with --log-key to detect a server that changes it)\n", key)
	}
	lv, err := note.NewVerifier(key)
	if err != nil {
		return nil, fmt.Errorf("log key %q: %w", key, err)
	}
	v := translog.NewVerifier(lv)
	rep := &logReport{Origin: lv.Name(), LogKey: key, PreviousSize: -1, Kinds: map[string]int{}, DocumentHunts: []logHunt{}, Problems: []string{}}

	var saved []byte
	if cpFile != "" {
		saved, err = readSmallFile(cpFile, translog.MaxCheckpointSize)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if err := v.UnmarshalState(saved); err != nil {
			return nil, fmt.Errorf("saved checkpoint %s: %w", cpFile, err)
		}
		if len(saved) > 0 {
			_, old := v.Trusted()
			rep.PreviousSize = old.N
		}
	}

	cp, err := c.Checkpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	tree, err := v.VerifyCheckpoint(cp)
	if err != nil {
		return nil, fmt.Errorf("the server's checkpoint does not verify with the log key %s: %w", key, err)
	}
	rep.Size, rep.RootHash, rep.Checkpoint = tree.N, tree.Hash.String(), cp

	hashes, err := fetchAndCheckEntries(ctx, c, tree.N, rep)
	if err != nil {
		return nil, err
	}
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(hashes)) {
				return nil, fmt.Errorf("stored hash %d out of range", x)
			}
			out[i] = hashes[x]
		}
		return out, nil
	})
	root, err := tlog.TreeHash(tree.N, reader)
	if err != nil {
		return nil, err
	}
	if root != tree.Hash {
		return nil, fmt.Errorf("the log's %d entries hash to root %s but the signed checkpoint says %s: the server serves entries that are not the signed log", tree.N, root, tree.Hash)
	}

	// Consistency with the saved checkpoint: the proof is computed from
	// the entries just checked, so it does not depend on the server.
	if len(saved) > 0 {
		_, old := v.Trusted()
		var proof tlog.TreeProof
		switch {
		case old.N > 0 && old.N < tree.N:
			if proof, err = tlog.ProveTree(tree.N, old.N, reader); err != nil {
				return nil, err
			}
		case old.N > tree.N:
			fmt.Fprintf(warn, "warning: the server serves a checkpoint of %d entries, older than the saved one of %d\n", tree.N, old.N)
			p, err := c.TreeProof(ctx, tree.N, old.N)
			if err != nil {
				return nil, fmt.Errorf("the server serves a checkpoint older than the saved one and cannot prove it a prefix: %w", err)
			}
			if proof, err = proofHashes(p.Proof); err != nil {
				return nil, err
			}
		}
		if err := v.Advance(cp, proof); err != nil {
			var fe *translog.ForkError
			if errors.As(err, &fe) {
				return nil, fmt.Errorf("%w\nsaved checkpoint (%s):\n%s\nserved checkpoint:\n%s", fe, cpFile, fe.Trusted, fe.Offered)
			}
			return nil, err
		}
	} else if err := v.Advance(cp, nil); err != nil {
		return nil, err
	}
	if cpFile != "" {
		if state := v.MarshalState(); !bytes.Equal(state, saved) {
			if err := writeFileReplace(cpFile, state, 0o644); err != nil {
				return nil, fmt.Errorf("saving the checkpoint: %w", err)
			}
		}
	}
	return rep, nil
}

// fetchAndCheckEntries reads entries [0, n) and returns the tree's stored
// hashes. Entries that hash fine but are malformed, or approvals that do not
// verify, are added to rep.Problems.
func fetchAndCheckEntries(ctx context.Context, c *api.Client, n int64, rep *logReport) ([]tlog.Hash, error) {
	var hashes []tlog.Hash
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(hashes)) {
				return nil, fmt.Errorf("stored hash %d out of range", x)
			}
			out[i] = hashes[x]
		}
		return out, nil
	})
	hunts := map[int64][]byte{} // index -> canonical hunt entry
	docs := map[int64]int{}     // index -> position in rep.DocumentHunts
	approvedBy := map[int64]map[string]bool{}
	problem := func(format string, args ...any) { rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...)) }

	for start := int64(0); start < n; {
		count := min(int64(logPage), n-start)
		page, err := c.LogEntries(ctx, start, count)
		if err != nil {
			return nil, fmt.Errorf("entries %d-%d: %w", start, start+count-1, err)
		}
		if len(page) == 0 {
			return nil, fmt.Errorf("the server has no entry %d but its signed checkpoint has %d entries", start, n)
		}
		if int64(len(page)) > count {
			return nil, fmt.Errorf("the server sent %d entries for %d asked", len(page), count)
		}
		for _, le := range page {
			i := start
			if le.Index != i {
				return nil, fmt.Errorf("the server sent entry %d where entry %d was expected", le.Index, i)
			}
			b := []byte(le.Entry)
			add, err := tlog.StoredHashesForRecordHash(i, tlog.RecordHash(b), reader)
			if err != nil {
				return nil, err
			}
			hashes = append(hashes, add...)
			start++

			kind, err := translog.Kind(b)
			if err != nil {
				problem("entry %d: %v", i, err)
				continue
			}
			rep.Kinds[kind]++
			if le.Kind != kind {
				problem("entry %d: the server labels it %q but it is a %q entry", i, le.Kind, kind)
			}
			switch kind {
			case translog.KindHunt:
				h, err := translog.DecodeHunt(b)
				if err != nil {
					problem("entry %d: %v", i, err)
					continue
				}
				hunts[i] = b
				if h.LintClass == translog.LintDocument {
					docs[i] = len(rep.DocumentHunts)
					rep.DocumentHunts = append(rep.DocumentHunts, logHunt{Index: i, HuntID: h.HuntID, Name: h.Name, Requester: h.Requester,
						Why: h.Why, LintClass: h.LintClass, ApprovalsRequired: h.ApprovalsRequired, Approvers: []string{}})
				}
			case translog.KindApproval:
				a, err := translog.DecodeApproval(b)
				if err != nil {
					problem("entry %d: %v", i, err)
					continue
				}
				hb, ok := hunts[a.HuntIndex]
				if !ok || a.HuntIndex >= i {
					problem("entry %d: approval of hunt %s refers to entry %d, which is not an earlier hunt entry", i, a.HuntID, a.HuntIndex)
					continue
				}
				if err := a.Verify(hb); err != nil {
					problem("entry %d: approval by %s: %v", i, a.Approver, err)
					continue
				}
				h, _ := translog.DecodeHunt(hb)
				if a.Approver == h.Requester {
					problem("entry %d: hunt %s approved by its own requester %s", i, a.HuntID, a.Approver)
					continue
				}
				if approvedBy[a.HuntIndex] == nil {
					approvedBy[a.HuntIndex] = map[string]bool{}
				}
				if approvedBy[a.HuntIndex][a.Approver] {
					problem("entry %d: hunt %s approved twice by %s", i, a.HuntID, a.Approver)
					continue
				}
				approvedBy[a.HuntIndex][a.Approver] = true
				if d, ok := docs[a.HuntIndex]; ok {
					rep.DocumentHunts[d].Approvers = append(rep.DocumentHunts[d].Approvers, a.Approver)
				}
			case translog.KindRuleSet:
				if _, err := translog.DecodeRuleSet(b); err != nil {
					problem("entry %d: %v", i, err)
				}
			default:
				if err := translog.CheckEntry(kind, b); err != nil {
					problem("entry %d: %v", i, err)
				}
			}
		}
	}
	return hashes, nil
}

// proofHashes converts an API proof, checking its size.
func proofHashes(p [][]byte) ([]tlog.Hash, error) {
	if len(p) > 128 {
		return nil, fmt.Errorf("proof of %d hashes is too long", len(p))
	}
	out := make([]tlog.Hash, len(p))
	for i, b := range p {
		if len(b) != tlog.HashSize {
			return nil, fmt.Errorf("proof hash %d has %d bytes, want %d", i, len(b), tlog.HashSize)
		}
		copy(out[i][:], b)
	}
	return out, nil
}

// writeFileReplace writes b to a temporary file beside path, syncs it and
// renames it over path.
func writeFileReplace(path string, b []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (e *env) logShow(args []string) int {
	s := newSub(e, "log show", `Usage: vigil log show [--server URL] [--start N] [--count M] [--full] [--json]
Prints the entries of the server's transparency log, one line each (--full: the
exact logged text; --json: the API's JSON). It only displays: 'vigil log verify'
checks them.`)
	start := s.fs.Int64("start", 0, "first entry `N`")
	count := s.fs.Int64("count", 0, "print at most `M` entries (0 = up to the latest checkpoint)")
	full := s.fs.Bool("full", false, "print each entry's full logged text")
	if ok, code := s.parsePublic(args, func(n int) bool { return n == 0 }, true); !ok {
		return code
	}
	if *start < 0 || *count < 0 {
		return s.fail(errors.New("--start and --count must not be negative"))
	}
	c := s.publicClient()
	cp, err := c.Checkpoint(s.ctx())
	if err != nil {
		return s.fail(fmt.Errorf("checkpoint: %w", err))
	}
	size, err := checkpointSize(cp)
	if err != nil {
		return s.fail(err)
	}
	end := size
	if *count > 0 && *start+*count < end {
		end = *start + *count
	}
	all := []api.LogEntry{}
	tw := newTable(e)
	if !s.cf.json && !*full {
		fmt.Fprintln(tw, "INDEX\tKIND\tSUMMARY")
	}
	for i := *start; i < end; {
		page, err := c.LogEntries(s.ctx(), i, min(int64(logPage), end-i))
		if err != nil {
			return s.fail(err)
		}
		if len(page) == 0 {
			break
		}
		for _, le := range page {
			i++
			switch {
			case s.cf.json:
				all = append(all, le)
			case *full:
				fmt.Fprintf(e.stdout, "=== entry %d (%s)\n%s", le.Index, le.Kind, le.Entry)
			default:
				fmt.Fprintf(tw, "%d\t%s\t%s\n", le.Index, le.Kind, entrySummary([]byte(le.Entry)))
			}
		}
	}
	if s.cf.json {
		return s.printJSON(all)
	}
	if !*full {
		tw.Flush()
	}
	return exitOK
}

// checkpointSize reads the tree size of a checkpoint note without verifying
// its signatures (log show only displays).
func checkpointSize(cp []byte) (int64, error) {
	text, _, ok := bytes.Cut(cp, []byte("\n\n"))
	if !ok {
		return 0, errors.New("malformed checkpoint")
	}
	_, tree, err := translog.ParseCheckpoint(append(text, '\n'))
	if err != nil {
		return 0, err
	}
	return tree.N, nil
}

// entrySummary is one line about a canonical entry.
func entrySummary(b []byte) string {
	kind, err := translog.Kind(b)
	if err != nil {
		return "malformed: " + err.Error()
	}
	switch kind {
	case translog.KindHunt:
		h, err := translog.DecodeHunt(b)
		if err != nil {
			return "malformed: " + err.Error()
		}
		return fmt.Sprintf("hunt %s by %s [%s, %d approvals required] target %s paths %s rules %.12s: %s",
			h.HuntID, h.Requester, h.LintClass, h.ApprovalsRequired, orDash(h.Target), strings.Join(h.Paths, ","), h.RulesSHA256, oneLine(h.Why, 60))
	case translog.KindApproval:
		a, err := translog.DecodeApproval(b)
		if err != nil {
			return "malformed: " + err.Error()
		}
		return fmt.Sprintf("approval of hunt %s (entry %d) by %s at %s", a.HuntID, a.HuntIndex, a.Approver, fmtTime(a.Time))
	case translog.KindRuleSet:
		r, err := translog.DecodeRuleSet(b)
		if err != nil {
			return "malformed: " + err.Error()
		}
		return fmt.Sprintf("rule set %s by %s [%s] rules %.12s", r.Name, r.Publisher, r.LintClass, r.RulesSHA256)
	}
	return kind
}

func tabwriterTo(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }
