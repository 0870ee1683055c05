package difftest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Options configure a differential run.
type Options struct {
	Seed     uint64
	N        int // number of generated cases
	Features Features
	// Batch is how many rule sets go into one yara process.
	Batch int
	// MaxShrink is how many mismatches are shrunk (shrinking costs many
	// yara runs); the others are reported unshrunk.
	MaxShrink int
	// KeepDir, when set, receives one directory per mismatch with the
	// rule file, the input and both outputs.
	KeepDir string
	// Logf, when set, receives progress messages.
	Logf func(format string, args ...any)
}

// Mismatch is one difference between the engines.
type Mismatch struct {
	Seed   uint64
	CaseID int
	Kind   string // "compile", "scan" or "error"
	// Namespace is the namespace Source is compiled in.
	Namespace string
	Source    string
	// Context holds other rule sets compiled with Source (in their own
	// namespaces) that the mismatch needs: empty unless it shows only
	// in their company.
	Context []Source
	Input   []byte // scan mismatches only
	Yara    string // yara's side, rendered
	Other   string // the other engine's side, rendered
	Shrunk  bool
}

// String formats m as a reproducer.
func (m *Mismatch) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "=== %s mismatch (seed %d, case %d, shrunk %v)\n", m.Kind, m.Seed, m.CaseID, m.Shrunk)
	fmt.Fprintf(&b, "--- rules (namespace %s):\n%s\n", m.Namespace, strings.TrimRight(m.Source, "\n"))
	for _, c := range m.Context {
		fmt.Fprintf(&b, "--- compiled together with (namespace %s):\n%s\n", c.Namespace, strings.TrimRight(c.Text, "\n"))
	}
	if m.Kind != "compile" {
		fmt.Fprintf(&b, "--- input (%d bytes): %x\n", len(m.Input), m.Input)
	}
	b.WriteString("--- yara:\n" + m.Yara + "\n--- other:\n" + m.Other + "\n")
	return b.String()
}

// Report summarizes a run.
type Report struct {
	Cases        int // rule sets generated
	YaraAccepted int // rule sets yara compiled
	BothRejected int // rule sets both engines rejected
	Scans        int // (rule set, input) pairs compared
	MatchedRules int // rule matches yara reported, in total
	// Surprises lists rule sets yara rejected though the generator meant
	// them to be valid: generator defects, not engine mismatches.
	Surprises []string
	// InvalidAccepted counts rule sets with a deliberate defect that yara
	// accepted anyway (for example an "unreferenced" string that "them"
	// references).
	InvalidAccepted int
	// MismatchScans counts every (rule set, input) pair that differed;
	// Mismatches has one entry per rule set.
	MismatchScans int
	// YaraFailedSets counts rule sets left out because yara fails to
	// scan with them (for example "too many regex fibers", error 46).
	YaraFailedSets int
	// YaraScanErrors counts inputs yara failed to scan (not compared).
	YaraScanErrors int
	Mismatches     []*Mismatch
}

func (r *Report) String() string {
	return fmt.Sprintf("%d rule sets (%d accepted by yara, %d rejected by both), %d scans compared, %d rule matches, %d yara scan errors (%d rule sets left out), %d generator surprises, %d mismatching scans, %d mismatches",
		r.Cases, r.YaraAccepted, r.BothRejected, r.Scans, r.MatchedRules, r.YaraScanErrors, r.YaraFailedSets, len(r.Surprises), r.MismatchScans, len(r.Mismatches))
}

// Run generates opt.N cases and compares yara with other on them.
func Run(yara, other Engine, opt Options) (*Report, error) {
	if opt.Batch <= 0 {
		opt.Batch = 25
	}
	rep := &Report{}
	for start := 0; start < opt.N; start += opt.Batch {
		var cases []*Case
		for id := start; id < min(start+opt.Batch, opt.N); id++ {
			cases = append(cases, GenerateCase(opt.Seed, id, opt.Features))
		}
		if err := runBatch(yara, other, cases, rep, opt); err != nil {
			return rep, err
		}
		if opt.Logf != nil && (start/opt.Batch)%20 == 19 {
			opt.Logf("%d cases: %s", start+opt.Batch, rep)
		}
	}
	return rep, nil
}

func nsOf(c *Case) string { return fmt.Sprintf("c%d", c.ID) }

func runBatch(yara, other Engine, cases []*Case, rep *Report, opt Options) error {
	rep.Cases += len(cases)
	// 1. Which rule sets compile, in each engine. One yara run tells
	// whether all rule sets meant to be valid compile; only otherwise,
	// and for those meant to be invalid, yara runs once per rule set.
	var valid []Source
	for _, c := range cases {
		if c.Invalid == "" {
			valid = append(valid, Source{nsOf(c), c.Source})
		}
	}
	batchCompiled := false
	if len(valid) > 0 {
		if _, err := yara.Scan(valid, nil); err == nil {
			batchCompiled = true
		} else if !isCompileFailure(err) {
			return err
		}
	}
	var scanned []*Case
	for _, c := range cases {
		src := Source{nsOf(c), c.Source}
		yok := batchCompiled && c.Invalid == ""
		ymsg := ""
		if !yok {
			var err error
			yok, ymsg, err = yara.Accepts(src)
			if err != nil {
				return err
			}
		}
		ook, omsg, err := other.Accepts(src)
		if err != nil {
			return err
		}
		if yok {
			rep.YaraAccepted++
		}
		if yok && c.Invalid != "" {
			rep.InvalidAccepted++
		}
		if !yok && c.Invalid == "" {
			rep.Surprises = append(rep.Surprises, fmt.Sprintf("case %d: yara rejects a rule set meant to be valid: %s", c.ID, ymsg))
		}
		if !yok && !ook {
			rep.BothRejected++
		}
		if yok != ook {
			m := &Mismatch{Seed: c.Seed, CaseID: c.ID, Kind: "compile", Namespace: nsOf(c), Source: c.Source,
				Yara: acceptText(yok, ymsg), Other: acceptText(ook, omsg)}
			addMismatch(yara, other, m, rep, opt)
			continue
		}
		if yok {
			scanned = append(scanned, c)
		}
	}
	return scanCases(yara, other, scanned, rep, opt)
}

// scanCases scans every input of the cases with the rule sets of all of
// them, compiled together, and compares.
func scanCases(yara, other Engine, scanned []*Case, rep *Report, opt Options) error {
	if len(scanned) == 0 {
		return nil
	}
	var srcs []Source
	for _, c := range scanned {
		srcs = append(srcs, Source{nsOf(c), c.Source})
	}
	var inputs [][]byte
	var owner []*Case
	for _, c := range scanned {
		for _, in := range c.Inputs {
			inputs = append(inputs, in)
			owner = append(owner, c)
		}
	}
	yh, err := yara.Scan(srcs, inputs)
	var crash *YaraCrash
	if errors.As(err, &crash) {
		// Find the rule set yara crashes with, and leave it out.
		if len(scanned) == 1 {
			rep.YaraFailedSets++
			if opt.Logf != nil {
				opt.Logf("case %d left out: yara crashes scanning with it (%v)", scanned[0].ID, err)
			}
			return nil
		}
		half := len(scanned) / 2
		if err := scanCases(yara, other, scanned[:half], rep, opt); err != nil {
			return err
		}
		return scanCases(yara, other, scanned[half:], rep, opt)
	}
	if err != nil {
		return fmt.Errorf("yara scan of compiled batch: %w", err)
	}
	// A rule set that makes yara fail the scan (for example "too many
	// regex fibers") spoils the scan of every input: leave it out.
	if bad := failingCases(yh); len(bad) > 0 && len(bad) < len(scanned) {
		var keep []*Case
		for _, c := range scanned {
			if bad[c.ID] {
				rep.YaraFailedSets++
				if opt.Logf != nil {
					opt.Logf("case %d left out: yara fails to scan with it", c.ID)
				}
				continue
			}
			keep = append(keep, c)
		}
		return scanCases(yara, other, keep, rep, opt)
	}
	oh, oerr := other.Scan(srcs, inputs)
	if oerr != nil {
		// Attribute the failure: scan each case alone.
		for _, c := range scanned {
			_, err := other.Scan([]Source{{nsOf(c), c.Source}}, c.Inputs)
			if err != nil {
				m := &Mismatch{Seed: c.Seed, CaseID: c.ID, Kind: "error", Namespace: nsOf(c), Source: c.Source,
					Yara: "(scanned)", Other: err.Error()}
				addMismatch(yara, other, m, rep, opt)
			}
		}
		return nil
	}
	reported := map[*Case]bool{}
	for i := range inputs {
		if len(yh[i]) == 1 && yh[i][0].Rule == ScanErrorRule {
			rep.YaraScanErrors++
			if opt.Logf != nil {
				opt.Logf("yara failed to scan an input of case %d: %s", owner[i].ID, yh[i][0].Strings[0].Text)
			}
			continue
		}
		rep.Scans += len(scanned)
		ys, os := byNamespace(yh[i]), byNamespace(oh[i])
		for _, c := range scanned {
			ns := nsOf(c)
			rep.MatchedRules += len(ys[ns])
			yt := renderHits(ys[ns], nil)
			ot := renderHits(os[ns], yaraTexts(ys[ns]))
			if yt != ot {
				rep.MismatchScans++
				if reported[c] {
					continue // one reproducer per rule set is enough
				}
				reported[c] = true
				var others []Source
				for _, s := range srcs {
					if s.Namespace != ns {
						others = append(others, s)
					}
				}
				m := &Mismatch{Seed: c.Seed, CaseID: c.ID, Kind: "scan", Namespace: ns, Source: c.Source,
					Context: others, Input: inputs[i], Yara: yt, Other: ot}
				addMismatch(yara, other, m, rep, opt)
			}
		}
	}
	return nil
}

var failingRuleRE = regexp.MustCompile(`in rule "[a-z]c(\d+)_`)

// failingCases returns the ids of the cases whose rules yara names in
// scan failures.
func failingCases(hits [][]RuleHit) map[int]bool {
	bad := map[int]bool{}
	for _, h := range hits {
		if len(h) == 1 && h[0].Rule == ScanErrorRule {
			if m := failingRuleRE.FindStringSubmatch(h[0].Strings[0].Text); m != nil {
				id, _ := strconv.Atoi(m[1])
				bad[id] = true
			}
		}
	}
	return bad
}

func acceptText(ok bool, msg string) string {
	if ok {
		return "compiles"
	}
	return "rejected: " + msg
}

func addMismatch(yara, other Engine, m *Mismatch, rep *Report, opt Options) {
	if len(rep.Mismatches) < opt.MaxShrink {
		shrink(yara, other, m)
	}
	rep.Mismatches = append(rep.Mismatches, m)
	if opt.KeepDir != "" {
		dir := filepath.Join(opt.KeepDir, fmt.Sprintf("seed%d-case%d-%d", m.Seed, m.CaseID, len(rep.Mismatches)))
		if err := os.MkdirAll(dir, 0o755); err == nil {
			os.WriteFile(filepath.Join(dir, "rules.yar"), []byte(m.Source), 0o644)
			os.WriteFile(filepath.Join(dir, "input.bin"), m.Input, 0o644)
			os.WriteFile(filepath.Join(dir, "report.txt"), []byte(m.String()), 0o644)
			for i, c := range m.Context {
				os.WriteFile(filepath.Join(dir, fmt.Sprintf("context%d-%s.yar", i, c.Namespace)), []byte(c.Text), 0o644)
			}
		}
	}
}
