//go:build windows || plan9 || js || wasip1

package agent

import "os"

// reloadSignal returns nil: this system has no SIGHUP, so the policy is
// read when the agent starts only.
func reloadSignal() (<-chan os.Signal, func()) { return nil, func() {} }
