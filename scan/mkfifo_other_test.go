//go:build !unix

package scan_test

import "errors"

// mkfifo fails where there are no named pipes in the file system.
func mkfifo(p string, mode uint32) error { return errors.New("no FIFOs on this system") }
