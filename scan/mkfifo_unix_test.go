//go:build unix

package scan_test

import "syscall"

// mkfifo makes a named pipe at p.
func mkfifo(p string, mode uint32) error { return syscall.Mkfifo(p, mode) }
