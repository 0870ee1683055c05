// Package difftest compares Vigil's YARA engine with the reference
// implementation, the yara 4.2.3 command-line tool, on randomly generated
// rules and inputs.
//
// The pieces are:
//
//   - a rule generator (GenerateCase), deterministic from a seed, writing
//     YARA source text covering the language yara 4.2.3 supports, plus a
//     fraction of deliberately invalid rule sets;
//   - an input generator that plants instances of a rule set's strings
//     (exact, mutated, case-flipped, wide, xor-ed, base64-encoded, at the
//     edges of the input, overlapping) into random bytes;
//   - two engines behind one interface (Engine): the yara binary, run with
//     -s -L -e -g -m -w -p 1 on many rule files (one namespace each) and inputs
//     (--scan-list) per process, and Vigil in process. yara's -n is not
//     used: the set of matching public rules determines the rest;
//   - the comparison (Run), which compares "compiles or not" and, for rule
//     sets both engines accept, the matching rules with their tags and
//     meta and every (string, offset, length, data) tuple, and shrinks a
//     mismatch to a small reproducer.
//
// TestDifferential runs it in CI. Features the engine does not support yet
// can be switched off through Features; every switch is listed there.
//
// Usage:
//
//	go test ./internal/difftest/                       # 2,000 cases, seed 1
//	go test ./internal/difftest/ -run TestDifferential \
//	    -difftest.n=20000 -difftest.seed=7 -difftest.keep=/tmp/fails
//	go test ./internal/difftest/ -run TestGenerate -v -difftest.case=42
//	go test ./internal/difftest/ -run TestCorpus -v    # the rule corpus
//
// A mismatch is reported once per rule set, shrunk (the first
// -difftest.maxlog of them) to a small rule source and input; when it
// shows only with other rule sets of its batch compiled alongside, the
// reproducer lists them. Tests skip when /usr/bin/yara is missing.
//
// # yara 4.2.3 facts the harness relies on
//
// Checked by hand against the binary (and recorded in parse_test.go):
// -m prints integers as "n =1", strings up to their first NUL with C
// escapes and octal; -s prints text and regex matches
// with printable ASCII as is and other bytes as \xNN, hex string matches
// as "61 62" limited to 64 bytes then " ..."; -L prints the length of the
// recorded data (at most 512 bytes); "#a in (lo..hi)" with lo != 0 fails
// the scan (internal error 31), so only lo = 0 is generated; rule
// wildcards also match rules of other namespaces, so rule names carry the
// case number.
package difftest
