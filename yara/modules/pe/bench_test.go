package pe

import (
	"os"
	"testing"

	"vigil/yara/module"
)

func benchmarkLoad(b *testing.B, data []byte) {
	mod := Module()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		c := &module.Context{Data: data, Cache: map[any]any{}}
		if _, err := mod.Load(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadTiny(b *testing.B) { benchmarkLoad(b, tinyPE()) }

// BenchmarkLoadSamples loads each built sample.
func BenchmarkLoadSamples(b *testing.B) {
	for _, s := range samples(b) {
		data, err := os.ReadFile(s.path)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(s.name, func(b *testing.B) { benchmarkLoad(b, data) })
	}
}
