package policy

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"vigil/translog"
	"vigil/wire"
)

// Decision is the policy's verdict on one hunt, before it runs.
type Decision struct {
	// Allowed is true when the hunt may run.
	Allowed bool
	// Reasons are sentences for the journal and the server: every reason
	// for a refusal, and for an allowed hunt who approved it and what it
	// will skip.
	Reasons []string
	// Exclude lists forbidden places inside the hunt's roots (patterns in
	// this system's separators, without "/**", usable with scan.Excludes),
	// for the journal. The scanner must still call Forbidden on every
	// walked path: only Forbidden folds case and resolves aliases.
	Exclude []string
	// Approvers are the names of the approvers whose approvals counted.
	Approvers []string
}

// Check decides whether hunt h may run under the policy. entry is the
// canonical bytes of h's log entry and approvals those of its approval
// entries; the caller must already have verified that all of them are in
// the log (translog Verifier: checkpoint, consistency, inclusion) and that
// h has not expired. huntsToday is how many hunts this agent has accepted
// in the current day (the agent's clock; a rolling 24 hours is fine), not
// counting h.
//
// The hunt is refused if it does not match its entry exactly
// (HuntEntry.CheckHunt); if a root is forbidden, is under a forbidden
// place, or is not an absolute path the policy can judge; if it collects
// file content and allow-content is no; if its lint class is not "code"
// and document hunts are refused; if it has fewer valid approvals than
// max(min-approvals, the entry's ApprovalsRequired, and for non-"code"
// hunts min-document-approvals), counting only approvals signed by the
// policy's approver keys, by approvers other than the requester; or if
// huntsToday has reached max-hunts-per-day. A forbidden place inside a
// root does not refuse the hunt: it is listed in Exclude.
//
// Check judges the roots as written. A root may be a symbolic link into a
// forbidden place, so before scanning the agent must also call Forbidden
// on each root resolved with filepath.EvalSymlinks, and on every path it
// walks.
func (p *Policy) Check(h *wire.Hunt, entry []byte, approvals [][]byte, huntsToday int) Decision {
	var d Decision
	refuse := func(format string, a ...any) { d.Reasons = append(d.Reasons, fmt.Sprintf(format, a...)) }
	if h == nil {
		return Decision{Reasons: []string{"There is no hunt."}}
	}
	if err := h.Validate(); err != nil {
		refuse("The hunt is malformed: %v.", err)
	}
	e, err := translog.DecodeHunt(entry)
	if err != nil {
		refuse("The hunt's log entry is not valid: %v.", err)
		e = nil
	} else if err := e.CheckHunt(h); err != nil {
		refuse("The hunt is not the one its log entry describes: %v.", err)
	}

	// Paths.
	s := p.style()
	pats, bad := p.patterns()
	for _, b := range bad {
		refuse("The local policy's forbid-path %q is malformed, so no path can be judged.", b)
	}
	excluded := map[string]bool{}
	var notes []string
	for _, root := range h.Paths {
		elems, err := s.split(root, false)
		if err != nil {
			refuse("Hunt path %q cannot be judged by the local policy: %v.", root, err)
			continue
		}
		forbidden := false
		for _, r := range s.aliases(elems) {
			for _, c := range pats {
				if covers(c.elems, r) {
					if !forbidden {
						refuse("Hunt path %q is forbidden by the local policy (forbid-path %s).", root, c.text)
					}
					forbidden = true
				}
			}
		}
		if forbidden {
			continue
		}
		var skip []string
		for _, r := range s.aliases(elems) {
			for _, c := range pats {
				if mayMatchInside(c.elems, r) {
					x := excludeText(c.text)
					if !slices.Contains(skip, x) {
						skip = append(skip, x)
					}
					if !excluded[x] {
						excluded[x] = true
						d.Exclude = append(d.Exclude, x)
					}
				}
			}
		}
		if len(skip) > 0 {
			notes = append(notes, fmt.Sprintf("Inside hunt path %q the agent skips what the local policy forbids: %s.", root, strings.Join(skip, ", ")))
		}
	}

	// Content, document hunts, approvals, daily limit.
	if e != nil {
		if e.ContentCollection && !p.AllowContent {
			refuse("The hunt asks to collect file content, and the local policy allows no content to leave this machine.")
		}
		need := p.MinApprovals
		document := e.LintClass != translog.LintCode
		if document {
			if !p.AllowDocumentHunts {
				refuse("The hunt's lint class is %q, not \"code\", so it counts as a keyword or document search, and the local policy refuses such hunts.", e.LintClass)
			}
			need = max(need, p.MinDocumentApprovals)
		}
		names, err := translog.CheckApprovals(entry, approvals, p.ApproverKeys(), need)
		if err != nil {
			refuse("The hunt is not approved as the local policy requires: %v.", err)
		} else {
			d.Approvers = names
			if len(names) > 0 {
				notes = append(notes, fmt.Sprintf("Approved by %s.", strings.Join(names, ", ")))
			}
		}
	}
	if p.MaxHuntsPerDay != Unlimited && huntsToday >= p.MaxHuntsPerDay {
		refuse("This agent has accepted %d hunts today; the local policy allows %d a day.", huntsToday, p.MaxHuntsPerDay)
	}
	d.Allowed = len(d.Reasons) == 0
	if d.Allowed {
		d.Reasons = notes
	}
	return d
}

// excludeText is a pattern without its "/**", in the system's separators.
func excludeText(pat string) string {
	pat = strings.TrimSuffix(pat, "/**")
	pat = strings.TrimSuffix(pat, `\**`)
	return filepath.FromSlash(pat)
}
