package translog

import (
	"fmt"
	"sort"
)

// CheckApprovals decides whether a hunt is approved, as an agent must
// decide it itself: it counts the approvals (canonical approval entries)
// that carry a valid signature over huntCanonical by a key in trusted
// (approver name -> note verifier key, from the agent's own policy), from
// distinct approvers other than the hunt's requester. It returns the sorted
// names of the approvers counted and an error unless there are at least
// max(minApprovals, the hunt's ApprovalsRequired) of them. Approvals that do not
// count are listed in the error. The caller must also have checked that
// each approval is in the log (VerifyEntry).
func CheckApprovals(huntCanonical []byte, approvals [][]byte, trusted map[string]string, minApprovals int) ([]string, error) {
	h, err := DecodeHunt(huntCanonical)
	if err != nil {
		return nil, err
	}
	need := max(minApprovals, h.ApprovalsRequired)
	seen := map[string]bool{}
	var names, rejected []string
	for i, b := range approvals {
		a, err := DecodeApproval(b)
		if err != nil {
			rejected = append(rejected, fmt.Sprintf("approval %d: %v", i, err))
			continue
		}
		switch {
		case a.Approver == h.Requester:
			rejected = append(rejected, fmt.Sprintf("approval %d: by the requester %q", i, a.Approver))
		case trusted[a.Approver] == "" || trusted[a.Approver] != a.ApproverKey:
			rejected = append(rejected, fmt.Sprintf("approval %d: key of %q is not a trusted approver key", i, a.Approver))
		case seen[a.Approver]:
			rejected = append(rejected, fmt.Sprintf("approval %d: %q approved twice", i, a.Approver))
		default:
			if err := a.Verify(huntCanonical); err != nil {
				rejected = append(rejected, fmt.Sprintf("approval %d: %v", i, err))
				continue
			}
			seen[a.Approver] = true
			names = append(names, a.Approver)
		}
	}
	sort.Strings(names)
	if len(names) < need {
		msg := fmt.Sprintf("hunt %s has %d valid approvals, needs %d", h.HuntID, len(names), need)
		for _, r := range rejected {
			msg += "; " + r
		}
		return names, fmt.Errorf("%s", msg)
	}
	return names, nil
}
