package api

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// CSVRow formats a result as api.CSVHeader says.
func CSVRow(r Result) []string {
	var strs []string
	for _, h := range r.Strings {
		offs := make([]string, len(h.Offsets))
		for i, o := range h.Offsets {
			offs[i] = "0x" + strconv.FormatInt(o, 16)
		}
		strs = append(strs, fmt.Sprintf("%s@%s (%d)", h.ID, strings.Join(offs, ";"), h.Count))
	}
	tags := append([]string(nil), r.Tags...)
	sort.Strings(tags)
	return []string{r.HuntID, r.AgentID, r.Hostname, r.Path, strconv.FormatInt(r.Size, 10), r.SHA256, r.MD5, r.Rule, r.Namespace,
		strings.Join(tags, " "), strings.Join(strs, " "), r.Received.UTC().Format(time.RFC3339Nano)}
}
