package cli

import (
	"fmt"
	"time"

	"vigil/yara"
)

// printProfile prints, for --profile, the n rules that cost the most
// time, summed over every scanner of the run, to standard error.
func (r *scanRun) printProfile(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ps := make([][]yara.RuleProfile, 0, len(r.scanners))
	for _, s := range r.scanners {
		ps = append(ps, s.Profile())
	}
	all := yara.MergeProfiles(ps...)
	var match, cond time.Duration
	for _, p := range all {
		match += p.Match
		cond += p.Condition
	}
	w := r.e.stderr
	slow := yara.SlowestRules(all, n)
	fmt.Fprintf(w, "profile: %d rules; checking strings took %s, conditions %s (elapsed time in the scanners, summed over %d)\n",
		len(all), fmtSeconds(match), fmtSeconds(cond), len(r.scanners))
	if len(slow) == 0 {
		return
	}
	fmt.Fprintf(w, "%10s %10s %10s %12s %8s  %s\n", "total", "match", "condition", "checks", "share", "rule")
	for _, p := range slow {
		share := 0.0
		if t := match + cond; t > 0 {
			share = 100 * float64(p.Total()) / float64(t)
		}
		name := p.Rule
		if p.Namespace != "" && p.Namespace != "default" {
			name = p.Namespace + ":" + p.Rule
		}
		fmt.Fprintf(w, "%10s %10s %10s %12d %7.1f%%  %s\n",
			fmtSeconds(p.Total()), fmtSeconds(p.Match), fmtSeconds(p.Condition), p.Checks, share, name)
	}
}

// fmtSeconds prints a duration in seconds with three decimals.
func fmtSeconds(d time.Duration) string {
	return fmt.Sprintf("%.3fs", d.Seconds())
}
