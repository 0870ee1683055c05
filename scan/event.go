package scan

import (
	"maps"
	"slices"
	"time"

	"vigil/yara"
)

// Kind is the kind of an Event.
type Kind uint8

// The kinds of events.
const (
	Scanned Kind = iota // Result holds the scan result
	Skipped             // Reason says why the file was not scanned
	Failed              // Err says why the file could not be scanned
)

// Event is one outcome of a scan.
type Event struct {
	Kind Kind
	// Path is the file's path as walked, with "!"-joined labels for
	// archive members.
	Path string
	// Depth is 0 for a file, 1 for a member of it, and so on.
	Depth int
	// Size is the number of bytes scanned (Scanned), or the known size of
	// what was skipped (-1 when unknown).
	Size   int64
	Result *yara.Result // Scanned
	Reason Reason       // Skipped
	Detail string       // Skipped: a human explanation of the limit hit
	Err    error        // Failed
}

// Summary totals the events of a run.
type Summary struct {
	Files   int64            // top-level files scanned
	Members int64            // archive members scanned
	Bytes   int64            // bytes scanned, members included
	Matches int64            // matching rules, over all files and members
	Skipped map[Reason]int64 // skipped files and members per reason
	Errors  int64            // files and members that failed
	Elapsed time.Duration
}

// Add counts one event.
func (s *Summary) Add(e Event) {
	switch e.Kind {
	case Scanned:
		if e.Depth == 0 {
			s.Files++
		} else {
			s.Members++
		}
		s.Bytes += e.Size
		if e.Result != nil {
			s.Matches += int64(len(e.Result.Matching))
		}
	case Skipped:
		if s.Skipped == nil {
			s.Skipped = map[Reason]int64{}
		}
		s.Skipped[e.Reason]++
	case Failed:
		s.Errors++
	}
}

// SkippedTotal is the number of skipped files and members.
func (s *Summary) SkippedTotal() int64 {
	var n int64
	for _, v := range s.Skipped {
		n += v
	}
	return n
}

// Reasons returns the reasons of Skipped in sorted order.
func (s *Summary) Reasons() []Reason {
	return slices.Sorted(maps.Keys(s.Skipped))
}
