//go:build unix

package fleetbench

import "syscall"

// RaiseFileLimit raises the soft open-file limit to the hard one: every
// simulated agent holds a connection, and the child server inherits it.
func RaiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	return l.Cur, nil
}
