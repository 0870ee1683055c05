package vigil_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportDirection fails the build when a package imports one of ours
// that it must not: imports flow one way (see ARCHITECTURE.md).
func TestImportDirection(t *testing.T) {
	forbidden := map[string][]string{
		// The parser stands alone.
		"vigil/yara/syntax": {"vigil/"},
		// Matching primitives know nothing of the compiler or the API.
		"vigil/yara/internal/ahocorasick": {"vigil/"},
		"vigil/yara/internal/re":          {"vigil/yara/internal/compiler", "vigil/yara/internal/exec", "vigil/yara/modules", "vigil/internal/"},
		// Modules see only the module contract.
		"vigil/yara/module": {"vigil/"},
		// The library never depends on the command line.
		"vigil/yara": {"vigil/internal/"},
		// The scanning layer serves the CLI and the agent; it knows neither.
		"vigil/scan": {"vigil/internal/"},
		// The rule linter reads syntax trees only.
		"vigil/yara/lint": {"vigil/"},
		// The protocol stands alone: both ends import it.
		"vigil/wire": {"vigil/"},
		// The agent runs on endpoints: no server, database or NATS server code.
		"vigil/agent": {"vigil/server", "vigil/internal/", "github.com/nats-io/nats-server", "modernc.org/sqlite", "github.com/jackc/pgx", "database/sql"},
		// The log and the journal are libraries for server, agent and witness alike.
		"vigil/translog": {"vigil/server", "vigil/agent", "vigil/internal/"},
		"vigil/journal":  {"vigil/"},
		// The store knows nothing of messaging or the UI.
		"vigil/server/store": {"vigil/server/bus", "vigil/server/webui", "vigil/agent", "github.com/nats-io/"},
	}
	for pkg, bans := range forbidden {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg).Output()
		if err != nil {
			// The package may not exist yet in this tree.
			t.Logf("go list %s: %v", pkg, err)
			continue
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == pkg {
				continue
			}
			for _, ban := range bans {
				if strings.HasPrefix(dep, ban) && !allowed(pkg, dep) {
					t.Errorf("%s depends on %s, which it must not", pkg, dep)
				}
			}
		}
	}
}

// allowed lists the exceptions to the bans above.
func allowed(pkg, dep string) bool {
	switch {
	case pkg == "vigil/yara/internal/re" && dep == "vigil/yara/syntax":
		return true // hex strings arrive as syntax.HexString
	case pkg == "vigil/yara/lint" && dep == "vigil/yara/syntax":
		return true // the linter classifies syntax trees
	case pkg == "vigil/translog" && dep == "vigil/wire":
		return true // hunt entries are built from wire.Hunt
	}
	return false
}
