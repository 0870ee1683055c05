// Command vigil is a YARA-compatible rule engine and scanner. All of its
// logic lives in vigil/internal/cli.
package main

import (
	"context"
	"os"

	"vigil/internal/cli"
)

func main() {
	os.Exit(cli.Run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
