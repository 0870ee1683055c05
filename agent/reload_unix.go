//go:build !windows && !plan9 && !js && !wasip1

package agent

import (
	"os"
	"os/signal"
	"syscall"
)

// reloadSignal returns a channel that receives SIGHUP, and a function that
// stops the delivery.
func reloadSignal() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	return ch, func() { signal.Stop(ch) }
}
