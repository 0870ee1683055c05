package yara

import (
	"sort"
	"time"
)

// RuleProfile is what one rule cost a Scanner, summed over the scans it
// ran with ScanOptions.Profile set (see Scanner.Profile).
type RuleProfile struct {
	Namespace string `json:"namespace"`
	Rule      string `json:"rule"`
	// Match is the time spent checking where the atoms of the rule's
	// strings occurred (comparing literals, running hex and regex code,
	// and checking strings that have no atom at every offset). The
	// search for the atoms themselves is one pass for all rules and is
	// not part of any rule's cost.
	Match time.Duration `json:"match_ns"`
	// Condition is the time spent evaluating the rule's condition,
	// including parsing a module's data for the file when this rule was
	// the first to ask for it.
	Condition time.Duration `json:"condition_ns"`
	// Checks counts the places where one of the rule's strings was
	// checked: atom hits, and offsets tried for strings without atoms.
	Checks int64 `json:"checks"`
	// Evaluations counts the condition evaluations (a rule whose
	// strings all failed is decided without one).
	Evaluations int64 `json:"evaluations"`
}

// Total is the whole cost of the rule.
func (p RuleProfile) Total() time.Duration { return p.Match + p.Condition }

// profileData accumulates the cost of strings and rules in a Scanner.
type profileData struct {
	strNS    []int64 // per string: verification time
	strCheck []int64 // per string: verifications
	condNS   []int64 // per rule: condition time
	condN    []int64 // per rule: evaluations
}

func newProfileData(r *Rules) *profileData {
	return &profileData{
		strNS:    make([]int64, len(r.strings)),
		strCheck: make([]int64, len(r.strings)),
		condNS:   make([]int64, len(r.rules)),
		condN:    make([]int64, len(r.rules)),
	}
}

// profEpoch is the origin of profNow.
var profEpoch = time.Now()

// profNow reads the monotonic clock, in nanoseconds.
func profNow() int64 { return int64(time.Since(profEpoch)) }

// Profile returns the cost of every rule (private rules included) over
// the scans this Scanner ran with ScanOptions.Profile set, in rule
// order. It is nil when no such scan ran.
func (s *Scanner) Profile() []RuleProfile {
	p := s.m.prof
	if p == nil {
		return nil
	}
	r := s.rules
	out := make([]RuleProfile, len(r.rules))
	for i, ru := range r.rules {
		out[i] = RuleProfile{
			Namespace:   ru.info.Namespace,
			Rule:        ru.info.Name,
			Condition:   time.Duration(p.condNS[i]),
			Evaluations: p.condN[i],
		}
	}
	for si, sd := range r.strings {
		out[sd.rule].Match += time.Duration(p.strNS[si])
		out[sd.rule].Checks += p.strCheck[si]
	}
	return out
}

// ResetProfile forgets what Profile would return.
func (s *Scanner) ResetProfile() { s.m.prof = nil }

// MergeProfiles adds up the profiles of several Scanners of the same
// rules (for example one per goroutine), rule by rule. Profiles that are
// nil are left out.
func MergeProfiles(ps ...[]RuleProfile) []RuleProfile {
	var out []RuleProfile
	for _, p := range ps {
		if p == nil {
			continue
		}
		if out == nil {
			out = append([]RuleProfile(nil), p...)
			continue
		}
		for i := range out {
			if i >= len(p) {
				break
			}
			out[i].Match += p[i].Match
			out[i].Condition += p[i].Condition
			out[i].Checks += p[i].Checks
			out[i].Evaluations += p[i].Evaluations
		}
	}
	return out
}

// SlowestRules returns the n rules of p that cost the most, costliest
// first (ties in rule order); rules that cost nothing are left out.
func SlowestRules(p []RuleProfile, n int) []RuleProfile {
	var out []RuleProfile
	for _, x := range p {
		if x.Total() > 0 || x.Checks > 0 {
			out = append(out, x)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Total() > out[j].Total() })
	if n >= 0 && len(out) > n {
		out = out[:n]
	}
	return out
}
