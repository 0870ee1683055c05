//go:build !linux

package procmem

import (
	"context"

	"vigil/scan"
	"vigil/yara"
)

func scanProcess(context.Context, int, scan.Scanner, Options) (*yara.Result, Stats, error) {
	return nil, Stats{}, ErrUnsupported
}
