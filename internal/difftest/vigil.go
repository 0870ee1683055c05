package difftest

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"vigil/yara"
)

// vigilScanTimeout bounds one scan of a small input; a scan that needs
// longer is reported as an error (a hang, for inputs of a few hundred
// bytes).
const vigilScanTimeout = 10 * time.Second

// VigilEngine runs Vigil's engine (package vigil/yara) in process. Panics
// are turned into errors, so that they show as mismatches.
type VigilEngine struct{}

// Name implements Engine.
func (VigilEngine) Name() string { return "vigil" }

func newVigilCompiler() (*yara.Compiler, error) {
	c := yara.NewCompiler()
	for _, x := range Externals {
		if err := c.DefineVariable(x.Name, x.Value); err != nil {
			return nil, fmt.Errorf("defining %s: %w", x.Name, err)
		}
	}
	return c, nil
}

func panicErr(p any) error {
	return fmt.Errorf("panic: %v\n%s", p, debug.Stack())
}

// Accepts implements Engine.
func (VigilEngine) Accepts(src Source) (ok bool, msg string, err error) {
	defer func() {
		if p := recover(); p != nil {
			ok, msg, err = false, panicErr(p).Error(), nil
		}
	}()
	c, err := newVigilCompiler()
	if err != nil {
		return false, "", err
	}
	if err := c.AddSource("rules.yar", []byte(src.Text), src.Namespace); err != nil {
		return false, err.Error(), nil
	}
	if _, err := c.Rules(); err != nil {
		return false, err.Error(), nil
	}
	return true, "", nil
}

// Scan implements Engine.
func (VigilEngine) Scan(srcs []Source, inputs [][]byte) (hits [][]RuleHit, err error) {
	defer func() {
		if p := recover(); p != nil {
			hits, err = nil, panicErr(p)
		}
	}()
	c, err := newVigilCompiler()
	if err != nil {
		return nil, err
	}
	for i, s := range srcs {
		if err := c.AddSource(fmt.Sprintf("rules%d.yar", i), []byte(s.Text), s.Namespace); err != nil {
			return nil, &CompileFailure{Msg: err.Error()}
		}
	}
	rules, err := c.Rules()
	if err != nil {
		return nil, &CompileFailure{Msg: err.Error()}
	}
	sc := rules.NewScanner()
	out := make([][]RuleHit, len(inputs))
	for i, in := range inputs {
		ctx, cancel := context.WithTimeout(context.Background(), vigilScanTimeout)
		res, err := sc.ScanBytes(ctx, in)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("scanning input %d (%x): %w", i, in, err)
		}
		out[i] = vigilHits(res)
	}
	return out, nil
}

func vigilHits(res *yara.Result) []RuleHit {
	var hits []RuleHit
	for _, m := range res.Matching {
		h := RuleHit{Namespace: m.Namespace, Rule: m.Name, Tags: strings.Join(m.Tags, ",")}
		var keys []string
		var values []any
		for _, x := range m.Meta {
			keys = append(keys, x.Key)
			values = append(values, x.Value)
		}
		h.Meta = metaText(keys, values)
		for _, s := range m.Strings {
			for _, x := range s.Matches {
				data := x.Data
				if len(data) > MaxMatchData {
					data = data[:MaxMatchData]
				}
				if data == nil {
					data = []byte{}
				}
				// Rendered as Vigil says yara prints it (MatchString.Hex).
				text := escapeData(data)
				if s.Hex {
					text = hexData(data)
				}
				h.Strings = append(h.Strings, StringHit{ID: s.ID, Offset: x.Offset,
					Length: min(x.Length, MaxMatchData), Data: data, Text: text})
			}
		}
		hits = append(hits, h)
	}
	return hits
}
