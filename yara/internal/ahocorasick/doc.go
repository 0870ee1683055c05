// Package ahocorasick finds every occurrence of many short byte patterns in
// one pass over the data. It is the candidate finder of the scanner: the
// compiler extracts short literal "atoms" from every string of a rule set,
// Build turns them into one automaton, and Scan reports each place where an
// atom occurs so that the full string can be verified there.
//
// # Automaton
//
// Build constructs the Aho-Corasick trie of the patterns and computes
// failure links breadth first. The states closest to the start state, where
// a scan spends nearly all its time, get a dense row: one transition per
// input byte class, already resolved through the failure links, so a step
// is a single table load. The start state and all its children are always
// dense; further states are dense while the rows fit in a budget that keeps
// them in the CPU caches (denseBudget, 1 MiB). The remaining, deeper
// states are sparse: a sorted list of their trie children and a failure
// link, followed when no child matches.
//
// Bytes that occur in no pattern behave identically in every state, so they
// share one equivalence class; every byte that does occur in a pattern gets
// a class of its own. Dense rows have one uint32 per class, the offset of
// the target's row (premultiplied), so the start state is 0; one more entry
// holds the state's output index.
// States are laid out so that one unsigned comparison per byte tells the hot
// loop to stop: on shallow states (see below), on states with outputs, and
// on sparse states. Outputs are stored once per state (the patterns that end
// exactly there) with a link to the next shorter suffix state with outputs,
// so memory stays linear even when many patterns are suffixes of each other
// or duplicates.
//
// # Skipping
//
// On data with few hits the automaton stays in shallow states, and a
// shallow state without outputs is a function of the last one or two bytes
// read. Build chooses one of these ways to skip over such stretches without
// a dependent table load per byte:
//
//   - one byte value leaves the start state: bytes.IndexByte (vectorised);
//   - very few pairs of bytes lead to depth 2 (at most 128): a 64 Ki-bit
//     bitmap of byte pairs, eight positions per iteration. Real data is
//     full of a few pairs (00 00 in binaries, 48 89 in x86-64 code), so
//     with more pairs the skip stops too often;
//   - otherwise, if the triples starting a pattern are sparse: a hashed
//     bitmap of byte triples (4 KiB to 2 MiB, at least 128 bits per triple,
//     so few positions are looked at in vain). One- and two-byte patterns
//     add a pair bitmap, unless there are at most 64 such pairs: those go
//     into the triples with every byte before them, one lookup per
//     position instead of two;
//   - otherwise, if few bytes leave the start state: a 256-byte table;
//   - otherwise the plain table loop.
//
// Where the skip loop stops, Scan recomputes the state from the last bytes
// and continues with the automaton until it is back in a shallow state.
//
// # Memory
//
// The number of states is at most the total number of pattern bytes plus
// one. A dense state costs 4*(C+1) bytes, where C is the number of byte
// classes (the number of distinct bytes used by the patterns, plus one if
// some byte value is unused; at most 256), so at most 1028 bytes; dense
// rows together take at most max(denseBudget, 257*4*(C+1)) bytes. A sparse
// state costs at most 24 bytes: 16 for the position and count of its
// children, failure link, output index and depth, and 8 for its entry in its
// parent's child list if the parent is sparse too. Each state with outputs
// costs 8 bytes more, each pattern 5 bytes. Add a fixed 8.5 KiB and, with
// triple skipping, the triple bitmap. MemoryBytes reports the total.
//
// # Security
//
// Patterns come from rules, data from files being scanned; both may be
// hostile. Build validates every pattern length and bounds the table size
// before allocating; Scan allocates nothing and runs in time linear in the
// data plus the number of reported occurrences: failure links are followed
// at most once per byte read on average, and each sparse lookup is a binary
// search of at most 256 children.
package ahocorasick
