// Package journal is the agent's local, append-only, hash-chained record of
// every hunt it ran, refused or failed, for the machine's owner to read
// (`vigil audit`) and to cross-check against the server's transparency log.
//
// # Format
//
// The journal is a text file with one JSON object per line, each ending in
// "\n". Line k (from 1) has "seq": k and "prev": the lowercase hex SHA-256 of
// line k-1's bytes (without its newline); line 1's "prev" is the SHA-256 of
// the text "vigil-journal v1". Editing, deleting, inserting or reordering a
// line therefore breaks the chain at that point.
//
// The chain cannot show that lines were cut from the end or that the last
// line was edited, so a small head file next to the journal (path + ".head")
// holds the line count and the hash of the last line, replaced atomically
// after every append. Open and Verify refuse a journal that does not match
// its head. Someone with write access to both files can still rewrite them
// together; what protects against that is the cross-check with the server's
// log (every record has the hunt's log index) and Head, which the agent can
// report to the server.
package journal

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Actions a record can have.
const (
	ActionRan     = "ran"
	ActionRefused = "refused"
	ActionFailed  = "failed"
)

// MaxLine is the longest journal line accepted, in bytes.
const MaxLine = 1 << 20

// Genesis is the "prev" of the first line: the hex SHA-256 of
// "vigil-journal v1".
var Genesis = hashLine([]byte("vigil-journal v1"))

// Record is one line of the journal. Seq and Prev are set by Append.
type Record struct {
	Seq          int64     `json:"seq"`
	Prev         string    `json:"prev"`
	Time         time.Time `json:"time"`
	HuntID       string    `json:"hunt_id"`
	LogIndex     int64     `json:"log_index"`           // the hunt's index in the server's log, -1 if it has none
	TreeSize     int64     `json:"tree_size,omitempty"` // size of the checkpoint it was verified against
	Action       string    `json:"action"`              // ActionRan, ActionRefused or ActionFailed
	Reason       string    `json:"reason,omitempty"`    // why it was refused or failed
	RulesSHA256  string    `json:"rules_sha256,omitempty"`
	Requester    string    `json:"requester,omitempty"`
	Approvers    []string  `json:"approvers,omitempty"`
	Paths        []string  `json:"paths,omitempty"`
	FilesScanned int64     `json:"files_scanned,omitempty"`
	Matches      int64     `json:"matches"` // files that matched
}

// ChainError reports where a journal is broken. Line counts from 1.
type ChainError struct {
	Path string
	Line int64
	Msg  string
}

// Error names the journal file and the line.
func (e *ChainError) Error() string {
	return fmt.Sprintf("journal %s: line %d: %s", e.Path, e.Line, e.Msg)
}

// Journal is an open journal. It is safe for concurrent use.
type Journal struct {
	path string
	mu   sync.Mutex
	f    *os.File
	n    int64  // lines
	last string // hash of the last line (Genesis if none)
	size int64  // bytes
	err  error  // set when a failed append could not be undone
}

func hashLine(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func headPath(path string) string { return path + ".head" }

// Open opens the journal at path, creating it if it does not exist, and
// verifies the whole chain and the head file.
func Open(path string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	n, last, size, err := verify(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	j := &Journal{path: path, f: f, n: n, last: last, size: size}
	// Write the head: a new journal gets its first one, and a head one line
	// behind (an append interrupted before the head was replaced) catches up.
	if err := j.writeHead(); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// Verify checks the journal at path and its head file without changing
// them.
func Verify(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, _, _, err = verify(path, f)
	return err
}

// verify reads every line of f, checks the chain and the head and returns
// the line count, the hash of the last line and the byte size.
func verify(path string, f *os.File) (n int64, last string, size int64, err error) {
	n, last, size, err = scan(path, f, nil)
	if err != nil {
		return 0, "", 0, err
	}
	hn, hh, err := readHead(path)
	if err != nil {
		return 0, "", 0, err
	}
	switch {
	case hn < 0 && n == 0:
		// A new journal: no head yet.
	case hn < 0:
		return 0, "", 0, &ChainError{path, n, "the head file " + headPath(path) + " is missing"}
	case hn == n && hh == last:
	case hn > n:
		return 0, "", 0, &ChainError{path, n + 1, fmt.Sprintf("missing: the head says the journal has %d lines, it has %d (lines were cut from the end)", hn, n)}
	case hn == n:
		return 0, "", 0, &ChainError{path, n, "does not match the head file (the last line was edited)"}
	default:
		// The journal has more lines than the head records: only an append
		// interrupted between the two writes leaves exactly one more line.
		if hn != n-1 {
			return 0, "", 0, &ChainError{path, hn + 1, fmt.Sprintf("the head says the journal has %d lines, it has %d", hn, n)}
		}
		if err := checkHeadAt(path, f, hn, hh); err != nil {
			return 0, "", 0, err
		}
	}
	return n, last, size, nil
}

// checkHeadAt checks that line k of the journal hashes to h.
func checkHeadAt(path string, f *os.File, k int64, h string) error {
	var got string
	_, _, _, err := scan(path, f, func(seq int64, line []byte, _ *Record) {
		if seq == k {
			got = hashLine(line)
		}
	})
	if err != nil {
		return err
	}
	if k == 0 {
		got = Genesis
	}
	if got != h {
		return &ChainError{path, k, "does not match the head file (edited)"}
	}
	return nil
}

// scan reads and checks every line of f from the start.
func scan(path string, f *os.File, each func(seq int64, line []byte, rec *Record)) (n int64, last string, size int64, err error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, "", 0, err
	}
	r := bufio.NewReaderSize(f, 64<<10)
	last = Genesis
	for {
		line, err := readLine(r)
		if err == io.EOF && len(line) == 0 {
			return n, last, size, nil
		}
		lineNo := n + 1
		if errors.Is(err, errLong) {
			return 0, "", 0, &ChainError{path, lineNo, fmt.Sprintf("longer than %d bytes", MaxLine)}
		}
		if err == io.EOF {
			return 0, "", 0, &ChainError{path, lineNo, "truncated: no newline at the end (an incomplete write or a cut file)"}
		}
		if err != nil {
			return 0, "", 0, err
		}
		size += int64(len(line))
		body := line[:len(line)-1]
		rec, err := parseLine(body)
		if err != nil {
			return 0, "", 0, &ChainError{path, lineNo, err.Error()}
		}
		if rec.Seq != lineNo {
			return 0, "", 0, &ChainError{path, lineNo, fmt.Sprintf("has seq %d: lines were deleted, inserted or reordered", rec.Seq)}
		}
		if rec.Prev != last {
			msg := "its hash of the previous line does not match"
			if lineNo > 1 {
				msg += fmt.Sprintf(": line %d was edited", lineNo-1)
			}
			return 0, "", 0, &ChainError{path, lineNo, msg}
		}
		if each != nil {
			each(lineNo, body, rec)
		}
		last = hashLine(body)
		n = lineNo
	}
}

var errLong = errors.New("line too long")

func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxLine+1 {
			return nil, errLong
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return line, err
	}
}

func parseLine(b []byte) (*Record, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	rec := &Record{}
	if err := d.Decode(rec); err != nil {
		return nil, fmt.Errorf("not a journal record: %v", err)
	}
	if d.More() {
		return nil, errors.New("trailing data after the record")
	}
	if err := rec.check(); err != nil {
		return nil, err
	}
	return rec, nil
}

func (r *Record) check() error {
	switch r.Action {
	case ActionRan, ActionRefused, ActionFailed:
	default:
		return fmt.Errorf("action %q is not ran, refused or failed", r.Action)
	}
	return nil
}

// head file: "vigil-journal-head v1\n<count>\n<hash>\n"
const headMagic = "vigil-journal-head v1"

func readHead(path string) (int64, string, error) {
	b, err := os.ReadFile(headPath(path))
	if errors.Is(err, os.ErrNotExist) {
		return -1, "", nil
	}
	if err != nil {
		return 0, "", err
	}
	parts := strings.Split(string(b), "\n")
	if len(parts) != 4 || parts[0] != headMagic || parts[3] != "" {
		return 0, "", fmt.Errorf("journal %s: malformed head file", path)
	}
	n, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || n < 0 || len(parts[2]) != 64 {
		return 0, "", fmt.Errorf("journal %s: malformed head file", path)
	}
	return n, parts[2], nil
}

func (j *Journal) writeHead() error {
	tmp := headPath(j.path) + ".tmp"
	data := fmt.Sprintf("%s\n%d\n%s\n", headMagic, j.n, j.last)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, headPath(j.path)); err != nil {
		return err
	}
	return syncDir(filepath.Dir(j.path))
}

func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Append adds rec as the next line, setting its Seq and Prev, and syncs
// the journal and its head to disk.
func (j *Journal) Append(rec Record) error {
	if err := rec.check(); err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	if j.f == nil {
		return errors.New("journal: closed")
	}
	rec.Seq, rec.Prev = j.n+1, j.last
	body, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if len(body)+1 > MaxLine {
		return fmt.Errorf("journal: record of %d bytes is over the %d-byte limit", len(body), MaxLine)
	}
	line := append(body, '\n')
	if _, err := j.f.WriteAt(line, j.size); err != nil {
		return j.undo(err)
	}
	if err := j.f.Sync(); err != nil {
		return j.undo(err)
	}
	j.n, j.last, j.size = j.n+1, hashLine(body), j.size+int64(len(line))
	if err := j.writeHead(); err != nil {
		// The line is durable; the next Open accepts a head one line
		// behind. Later appends would leave it further behind, so stop.
		j.err = fmt.Errorf("journal: head not updated: %w", err)
		return j.err
	}
	return nil
}

func (j *Journal) undo(err error) error {
	if terr := j.f.Truncate(j.size); terr != nil {
		j.err = fmt.Errorf("journal: write failed (%v) and could not be undone: %w", err, terr)
		return j.err
	}
	return fmt.Errorf("journal: %w", err)
}

// Records reads the journal again, verifying the chain, and returns every
// record in order.
func (j *Journal) Records() ([]Record, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil, errors.New("journal: closed")
	}
	var out []Record
	n, last, _, err := scan(j.path, j.f, func(_ int64, _ []byte, rec *Record) { out = append(out, *rec) })
	if err != nil {
		return nil, err
	}
	if n != j.n || last != j.last {
		return nil, &ChainError{j.path, n, "the journal changed on disk since it was opened"}
	}
	return out, nil
}

// Head returns the number of lines and the hash of the last line (Genesis
// for an empty journal): a short commitment to the whole journal that the
// agent can report elsewhere.
func (j *Journal) Head() (int64, string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.n, j.last
}

// Close closes the journal.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
