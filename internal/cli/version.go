package cli

import (
	"fmt"
	"runtime/debug"
)

// yaraVersion is the yara release whose language and command line vigil
// follows; `vigil scan --version` prints it, as `yara --version` would.
const yaraVersion = "4.2.3"

// vigilVersion is the main module's version from the build information,
// "dev" for a build from a working tree.
func vigilVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func (e *env) version(args []string) int {
	if len(args) > 0 {
		fmt.Fprintf(e.stderr, "vigil version: unexpected argument %q\n", args[0])
		return exitUsage
	}
	fmt.Fprintf(e.stdout, "vigil %s (YARA %s compatible)\n", vigilVersion(), yaraVersion)
	return exitOK
}

func (e *env) help(args []string) int {
	if len(args) == 0 {
		e.usage(e.stdout)
		return exitOK
	}
	switch args[0] {
	case "scan", "watch", "quarantine", "check", "compile":
		for _, c := range commands() {
			if c.name == args[0] {
				return c.run(e, []string{"--help"})
			}
		}
	case "version", "help":
		e.usage(e.stdout)
		return exitOK
	}
	fmt.Fprintf(e.stderr, "vigil help: unknown command %q\n", args[0])
	return exitUsage
}
