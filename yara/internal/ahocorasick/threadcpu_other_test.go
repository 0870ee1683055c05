//go:build !linux

package ahocorasick

import "time"

var processStart = time.Now()

// threadCPU falls back to wall-clock time where the thread CPU clock is not
// available: the throughput table is then noisier.
func threadCPU() time.Duration { return time.Since(processStart) }
