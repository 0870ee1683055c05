package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"vigil/scan/procmem"
	"vigil/yara"
)

// processTarget reports whether a scan target names a process, as yara
// 4.2.3 decides: it is not a file, and reads as a positive decimal number
// the way strtol does (leading blanks and a '+' allowed, nothing after).
func processTarget(target string) (int, bool) {
	if _, err := os.Stat(target); err == nil {
		return 0, false
	}
	s := strings.TrimLeft(target, " \t\n\v\f\r")
	s = strings.TrimPrefix(s, "+")
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// runProcess scans the memory of process pid (`vigil scan RULES PID`) and
// prints the result as yara does, with the PID as the path and matches at
// their addresses.
func (r *scanRun) runProcess(target string, pid int) int {
	if r.o.quarantine != "" {
		fmt.Fprintf(r.e.stderr, "vigil scan: --quarantine cannot be used with a process ID\n")
		return exitError
	}
	s, err := r.layerScanner()
	if err != nil {
		fmt.Fprintf(r.e.stderr, "error: %v\n", err)
		return exitError
	}
	res, _, err := procmem.Scan(r.ctx, pid, s, procmem.Options{MaxChunk: r.o.maxChunk})
	if err != nil {
		msg := err.Error()
		switch {
		case errors.Is(err, procmem.ErrAttach):
			msg = "can not attach to process (try running as root)" // yara's words
		case errors.Is(err, yara.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
			msg = "scanning timed out"
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.o.json {
			writeJSONLine(r.e.stdout, jsonFile{Path: target, Error: msg})
		}
		fmt.Fprintf(r.e.stderr, "error scanning %s: %s\n", target, msg)
		return exitError
	}
	// Regions were scanned apart: put the rules back in declaration order.
	for _, rules := range [][]yara.MatchRule{res.Matching, res.NotMatching} {
		sort.SliceStable(rules, func(i, j int) bool {
			return r.order[ruleKey(rules[i].Namespace, rules[i].Name)] < r.order[ruleKey(rules[j].Namespace, rules[j].Name)]
		})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.o.noWarnings {
		for _, w := range res.Warnings {
			fmt.Fprintf(r.e.stderr, "warning: %s\n", w)
		}
	}
	if r.o.json {
		r.printJSON(target, res)
	} else {
		r.printText(target, res)
	}
	return exitOK
}
