package yara

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
)

// The saved form of a rule set is a magic line, a format version and a JSON
// document with the canonical inputs of the compilation: the sources in the
// order they were added (with their names and namespaces), the contents of
// every included file, and the external variables with their defaults.
// Load compiles them again; it never reads the file system.

const (
	saveMagic   = "VIGIL-YARA-RULES\n"
	saveVersion = 1
	// maxLoadSize bounds what Load reads.
	maxLoadSize = 1 << 30
)

// ErrNoSources is returned by Save for rules compiled without their
// sources (Compiler.DiscardSources).
var ErrNoSources = errors.New("yara: rules compiled without keeping their sources cannot be saved")

// ErrFormat is returned (wrapped) by Load for data that is not a saved rule
// set of a supported version.
var ErrFormat = errors.New("yara: not a saved rule set")

type savedRules struct {
	Version   int               `json:"version"`
	Sources   []savedSource     `json:"sources"`
	Included  map[string][]byte `json:"included,omitempty"`
	Externals []savedExternal   `json:"externals,omitempty"`
}

type savedExternal struct {
	Name  string  `json:"name"`
	Kind  string  `json:"kind"`
	Int   int64   `json:"int,omitempty"`
	Float float64 `json:"float,omitempty"`
	Str   string  `json:"str,omitempty"`
}

// Save writes the rule set in Vigil's versioned format. The format stores
// the canonical sources, namespaces, included files and external variables
// and Load recompiles them: a saved rule set is portable between Vigil
// versions that can compile its sources.
//
// The JSON document is the one encoding/json writes for savedRules
// (TestSaveJSON), written a source at a time: encoding the whole of it at
// once held a second copy of every source, base64-encoded.
func (r *Rules) Save(w io.Writer) error {
	if r.unsaved {
		return ErrNoSources
	}
	exts := r.savedExternals()
	bw := bufio.NewWriter(w)
	bw.WriteString(saveMagic)
	fmt.Fprintf(bw, `{"version":%d,"sources":`, saveVersion)
	if r.sources == nil {
		bw.WriteString("null")
	} else {
		bw.WriteByte('[')
		for i, s := range r.sources {
			if i > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString(`{"Name":`)
			writeJSONString(bw, s.Name)
			bw.WriteString(`,"Src":`)
			writeJSONBytes(bw, s.Src)
			bw.WriteString(`,"Namespace":`)
			writeJSONString(bw, s.Namespace)
			fmt.Fprintf(bw, `,"File":%t}`, s.File)
		}
		bw.WriteByte(']')
	}
	if len(r.included) > 0 {
		bw.WriteString(`,"included":{`)
		for i, k := range slices.Sorted(maps.Keys(r.included)) {
			if i > 0 {
				bw.WriteByte(',')
			}
			writeJSONString(bw, k)
			bw.WriteByte(':')
			writeJSONBytes(bw, r.included[k])
		}
		bw.WriteByte('}')
	}
	if len(exts) > 0 {
		b, err := json.Marshal(exts)
		if err != nil {
			return err
		}
		bw.WriteString(`,"externals":`)
		bw.Write(b)
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

// writeJSONString writes s as encoding/json does.
func writeJSONString(w *bufio.Writer, s string) {
	b, _ := json.Marshal(s) // a string always encodes
	w.Write(b)
}

// writeJSONBytes writes b as encoding/json does: null for nil, else a
// base64 string.
func writeJSONBytes(w *bufio.Writer, b []byte) {
	if b == nil {
		w.WriteString("null")
		return
	}
	w.WriteByte('"')
	enc := base64.NewEncoder(base64.StdEncoding, w)
	enc.Write(b)
	enc.Close()
	w.WriteByte('"')
}

// Load reads a rule set written by Save and compiles it again.
func Load(rd io.Reader) (*Rules, error) {
	return load(rd, true)
}

// LoadDiscard is Load for a program that only scans with the rules: like
// Compiler.DiscardSources, it keeps no copy of the sources, and Save
// fails on the rules.
func LoadDiscard(rd io.Reader) (*Rules, error) {
	return load(rd, false)
}

func load(rd io.Reader, keep bool) (*Rules, error) {
	data, err := io.ReadAll(io.LimitReader(rd, maxLoadSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxLoadSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrFormat, maxLoadSize)
	}
	if len(data) < len(saveMagic) || string(data[:len(saveMagic)]) != saveMagic {
		return nil, fmt.Errorf("%w: bad magic", ErrFormat)
	}
	var sr savedRules
	if err := json.Unmarshal(data[len(saveMagic):], &sr); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if sr.Version != saveVersion {
		return nil, fmt.Errorf("%w: unsupported version %d", ErrFormat, sr.Version)
	}
	c := NewCompiler()
	if !keep {
		c.DiscardSources()
	}
	c.readInclude = func(path string) ([]byte, error) {
		if b, ok := sr.Included[path]; ok {
			return b, nil
		}
		return nil, fmt.Errorf("%s: not in the saved rule set", path)
	}
	for _, e := range sr.Externals {
		var v any
		switch e.Kind {
		case "bool":
			v = e.Int != 0
		case "int":
			v = e.Int
		case "float":
			v = e.Float
		case "string":
			v = e.Str
		default:
			return nil, fmt.Errorf("%w: external %q of unknown kind %q", ErrFormat, e.Name, e.Kind)
		}
		if err := c.DefineVariable(e.Name, v); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrFormat, err)
		}
	}
	for i, s := range sr.Sources {
		if keep {
			c.sources = append(c.sources, s)
		} else {
			sr.Sources[i].Src = nil // compiled: let it go
		}
		c.recording = false
		err := c.add(s.Name, s.Src, s.Namespace, s.File)
		c.recording = true
		if err != nil {
			return nil, err
		}
	}
	if keep {
		c.included = sr.Included
	}
	if c.included == nil {
		c.included = map[string][]byte{}
	}
	return c.Rules()
}

// savedExternals returns the external variables as Save writes them.
func (r *Rules) savedExternals() []savedExternal {
	var exts []savedExternal
	for _, e := range r.externals {
		se := savedExternal{Name: e.name}
		switch e.val.k {
		case kBool:
			se.Kind, se.Int = "bool", e.val.i
		case kInt:
			se.Kind, se.Int = "int", e.val.i
		case kFloat:
			se.Kind, se.Float = "float", e.val.f
		case kString:
			se.Kind, se.Str = "string", e.val.s
		}
		exts = append(exts, se)
	}
	return exts
}
