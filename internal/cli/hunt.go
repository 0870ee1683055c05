package cli

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"vigil/server/api"
)

// hunt is `vigil hunt`: create, list, show, watch and export hunts.
func (e *env) huntCmd(args []string) int {
	return e.dispatch("hunt", args, map[string]func(*env, []string) int{
		"create":  (*env).huntCreate,
		"list":    (*env).huntList,
		"show":    (*env).huntShow,
		"results": (*env).huntResults,
		"cancel":  (*env).huntCancel,
		"wait":    (*env).huntWait,
		"approve": (*env).huntApprove,
	}, "vigil hunt: search the fleet's files with YARA rules.")
}

func (e *env) huntCreate(args []string) int {
	s := newSub(e, "hunt create", `Usage: vigil hunt create --rules FILE... --path DIR... --why TEXT [--target k=v,...] [FLAGS]
Creates a hunt: every agent whose labels match --target scans the paths with the rules
and reports the matching files (paths, hashes, rules, string offsets; never content).`)
	rules := s.fs.StringArray("rules", nil, "YARA rules `FILE` (repeatable; concatenated)")
	paths := s.fs.StringArray("path", nil, "absolute `PATH` to search on each agent (repeatable)")
	why := s.fs.String("why", "", "the reason for this hunt, written for the people who will audit it (required)")
	target := s.fs.String("target", "", "label selector `k=v,...` (default: every agent)")
	name := s.fs.String("name", "", "a short name")
	exclude := s.fs.StringArray("exclude", nil, "`GLOB` of paths not to search (repeatable)")
	expires := s.fs.String("expires", "24h", "how long agents may run it (Go `DURATION`)")
	maxSize := s.fs.Int64("max-filesize", 0, "skip files larger than `BYTES` (0 = agent default)")
	perFile := s.fs.Duration("file-timeout", 0, "per-file scan timeout (0 = agent default)")
	timeout := s.fs.Duration("timeout", 0, "whole-hunt timeout per agent (0 = until expiry)")
	maxFiles := s.fs.Int64("max-files", 0, "stop after scanning `N` files per agent (0 = no limit)")
	archives := s.fs.Bool("archives", false, "unpack archives and scan their members")
	wait := s.fs.Bool("wait", false, "wait until every agent is done, then print the results")
	if ok, code := s.parse(args, func(n int) bool { return n == 0 }); !ok {
		return code
	}
	if len(*rules) == 0 || len(*paths) == 0 || strings.TrimSpace(*why) == "" {
		fmt.Fprintf(e.stderr, "vigil hunt create: --rules, --path and --why are required\n%s\n", s.usage)
		return exitUsage
	}
	var src strings.Builder
	for _, f := range *rules {
		b, err := os.ReadFile(f)
		if err != nil {
			return s.fail(err)
		}
		src.Write(b)
		src.WriteByte('\n')
	}
	c, err := s.cf.client()
	if err != nil {
		return s.fail(err)
	}
	req := api.HuntRequest{Name: *name, Rules: src.String(), Target: *target, Paths: *paths, Exclude: *exclude, ExpiresIn: *expires, Why: *why}
	req.Limits.MaxFileSize = *maxSize
	req.Limits.PerFileTimeout = *perFile
	req.Limits.Timeout = *timeout
	req.Limits.MaxFiles = *maxFiles
	req.Limits.Archives = *archives
	h, err := c.CreateHunt(s.ctx(), req)
	if err != nil {
		return s.fail(err)
	}
	if !*wait {
		if s.cf.json {
			return s.printJSON(h)
		}
		agents := 0
		if h.Progress != nil {
			agents = h.Progress.Agents
		}
		fmt.Fprintf(e.stdout, "hunt %s created (%s, %d agents, expires %s; log entry %d, %s search)\n", h.ID, h.State, agents, fmtTime(h.Expires), h.LogIndex, h.LintClass)
		if h.State == "pending" {
			fmt.Fprintf(e.stdout, "it needs %d approval(s) by others: vigil hunt approve %s --key KEY_FILE\n", h.ApprovalsRequired-len(h.Approvals), h.ID)
		}
		return exitOK
	}
	if code := s.waitDone(c, h.ID); code != exitOK {
		return code
	}
	return s.printResults(c, h.ID, api.ResultQuery{}, "")
}

// waitDone polls the hunt until every agent is done or it stops running;
// a pending hunt (waiting for approvals) is waited for.
func (s *subcommand) waitDone(c *api.Client, id string) int {
	for {
		h, err := c.Hunt(s.ctx(), id)
		if err != nil {
			return s.fail(err)
		}
		p := h.Progress
		if h.State != "pending" && (p != nil && p.Done >= p.Agents || h.State != "running") {
			if !s.cf.json && p != nil {
				fmt.Fprintf(s.e.stderr, "hunt %s: %s, %d/%d agents done, %d results\n", id, h.State, p.Done, p.Agents, p.Results)
			}
			return exitOK
		}
		select {
		case <-s.ctx().Done():
			return s.fail(s.ctx().Err())
		case <-time.After(time.Second):
		}
	}
}

func (e *env) huntWait(args []string) int {
	s := newSub(e, "hunt wait", "Usage: vigil hunt wait HUNT_ID\nWaits until the hunt is approved and every agent is done (or the hunt stops running).")
	if ok, code := s.parse(args, func(n int) bool { return n == 1 }); !ok {
		return code
	}
	c, err := s.cf.client()
	if err != nil {
		return s.fail(err)
	}
	return s.waitDone(c, s.fs.Arg(0))
}

func (e *env) huntList(args []string) int {
	s := newSub(e, "hunt list", "Usage: vigil hunt list [--json]")
	if ok, code := s.parse(args, func(n int) bool { return n == 0 }); !ok {
		return code
	}
	c, err := s.cf.client()
	if err != nil {
		return s.fail(err)
	}
	hs, err := c.Hunts(s.ctx())
	if err != nil {
		return s.fail(err)
	}
	if s.cf.json {
		return s.printJSON(hs)
	}
	tw := newTable(e)
	fmt.Fprintln(tw, "ID\tSTATE\tAGENTS DONE\tRESULTS\tCREATED\tBY\tTARGET\tWHY")
	for _, h := range hs {
		done, res := "-", "-"
		if p := h.Progress; p != nil {
			done = fmt.Sprintf("%d/%d", p.Done, p.Agents)
			res = strconv.FormatInt(p.Results, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.ID, h.State, done, res, fmtTime(h.Created), h.CreatedBy, orDash(h.Target), oneLine(h.Why, 60))
	}
	tw.Flush()
	return exitOK
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = s[:max-3] + "..."
	}
	return s
}

func (e *env) huntShow(args []string) int {
	s := newSub(e, "hunt show", "Usage: vigil hunt show HUNT_ID [--json]\nPrints the hunt, its progress and every agent's state.")
	if ok, code := s.parse(args, func(n int) bool { return n == 1 }); !ok {
		return code
	}
	c, err := s.cf.client()
	if err != nil {
		return s.fail(err)
	}
	h, err := c.Hunt(s.ctx(), s.fs.Arg(0))
	if err != nil {
		return s.fail(err)
	}
	as, err := c.Assignments(s.ctx(), h.ID)
	if err != nil {
		return s.fail(err)
	}
	if s.cf.json {
		return s.printJSON(struct {
			Hunt   api.Hunt         `json:"hunt"`
			Agents []api.Assignment `json:"agents"`
		}{h, as})
	}
	fmt.Fprintf(e.stdout, "hunt %s %s\nstate:   %s\ncreated: %s by %s\nexpires: %s\ntarget:  %s\npaths:   %s\nwhy:     %s\nrules:   sha256 %s\n",
		h.ID, h.Name, h.State, fmtTime(h.Created), h.CreatedBy, fmtTime(h.Expires), orDash(h.Target), strings.Join(h.Paths, " "), h.Why, h.RulesSHA256)
	fmt.Fprintf(e.stdout, "log:     entry %d, %s search, %d of %d approvals\n", h.LogIndex, h.LintClass, len(h.Approvals), h.ApprovalsRequired)
	for _, a := range h.Approvals {
		fmt.Fprintf(e.stdout, "         approved by %s at %s (log entry %d)\n", a.Approver, fmtTime(a.Time), a.LogIndex)
	}
	if p := h.Progress; p != nil {
		fmt.Fprintf(e.stdout, "agents:  %d done, %d acknowledged, %d assigned\nresults: %d (files scanned %d, errors %d)\n", p.Done, p.Acknowledged, p.Agents, p.Results, p.FilesScanned, p.FileErrors)
	}
	tw := newTable(e)
	fmt.Fprintln(tw, "\nAGENT\tHOSTNAME\tSTATE\tSCANNED\tMATCHED\tERRORS\tUPDATED\tERROR")
	for _, a := range as {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", a.AgentID, a.Hostname, orDash(a.State), a.FilesScanned, a.FilesMatched, a.FileErrors, fmtTime(a.Updated), a.Error)
	}
	tw.Flush()
	return exitOK
}

func (e *env) huntCancel(args []string) int {
	s := newSub(e, "hunt cancel", "Usage: vigil hunt cancel HUNT_ID")
	if ok, code := s.parse(args, func(n int) bool { return n == 1 }); !ok {
		return code
	}
	c, err := s.cf.client()
	if err != nil {
		return s.fail(err)
	}
	h, err := c.CancelHunt(s.ctx(), s.fs.Arg(0))
	if err != nil {
		return s.fail(err)
	}
	fmt.Fprintf(e.stdout, "hunt %s %s\n", h.ID, h.State)
	return exitOK
}

func (e *env) huntResults(args []string) int {
	s := newSub(e, "hunt results", `Usage: vigil hunt results HUNT_ID [--json | --csv] [--rule R] [--agent A] [--path P]
Prints a hunt's results: one line per (file, rule). --json prints JSON lines,
--csv CSV with a header; both as the server's export.`)
	asCSV := s.fs.Bool("csv", false, "print CSV")
	rule := s.fs.String("rule", "", "only results of rules whose name contains `TEXT`")
	agent := s.fs.String("agent", "", "only results of agent `ID`")
	path := s.fs.String("path", "", "only paths containing `TEXT`")
	if ok, code := s.parse(args, func(n int) bool { return n == 1 }); !ok {
		return code
	}
	c, err := s.cf.client()
	if err != nil {
		return s.fail(err)
	}
	format := ""
	switch {
	case *asCSV && s.cf.json:
		return s.fail(errors.New("--json and --csv exclude each other"))
	case *asCSV:
		format = "csv"
	case s.cf.json:
		format = "jsonl"
	}
	return s.printResults(c, s.fs.Arg(0), api.ResultQuery{Rule: *rule, Agent: *agent, Path: *path}, format)
}

// printResults pages through results and prints them as text, JSON lines
// or CSV.
func (s *subcommand) printResults(c *api.Client, id string, q api.ResultQuery, format string) int {
	var cw *csv.Writer
	if format == "csv" {
		cw = csv.NewWriter(s.e.stdout)
		cw.Write(api.CSVHeader)
	}
	enc := json.NewEncoder(s.e.stdout)
	for {
		p, err := c.Results(s.ctx(), id, q)
		if err != nil {
			return s.fail(err)
		}
		for _, r := range p.Results {
			switch format {
			case "jsonl":
				enc.Encode(r)
			case "csv":
				cw.Write(api.CSVRow(r))
			default:
				host := r.Hostname
				if host == "" {
					host = r.AgentID
				}
				fmt.Fprintf(s.e.stdout, "%s %s:%s %s\n", host, r.Namespace, r.Rule, r.Path)
			}
		}
		if !p.More || len(p.Results) == 0 {
			break
		}
		q.After = p.Next
	}
	if cw != nil {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return s.fail(err)
		}
	}
	return exitOK
}
