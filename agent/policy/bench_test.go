package policy

import "testing"

func BenchmarkForbidden(b *testing.B) {
	p := defaultFor("linux")
	for b.Loop() {
		if p.Forbidden("/usr/lib/x86_64-linux-gnu/libc.so.6") {
			b.Fatal("forbidden")
		}
	}
}
