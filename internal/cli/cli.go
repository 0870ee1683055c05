// Package cli implements the vigil command line. Run is the whole program:
// cmd/vigil only passes it the process's arguments and standard streams.
//
// Subcommands live one per file: scan (a drop-in for the yara 4.2.3 command
// line), watch, quarantine, check, compile, the fleet's server, agent and
// operator commands (hunt, agents, token, operator), version and help. The package
// keeps no global state and never exits the process; every command returns
// its exit code.
package cli

import (
	"context"
	"fmt"
	"io"
)

// Exit codes shared by the subcommands. vigil scan keeps yara's: 0 when the
// scan ran (matches or not), 1 on any fatal error, usage errors included.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2 // vigil-level usage errors (unknown command, check/compile flags)
)

// env is what a command may touch: its standard streams, the engine and
// the context. Tests build it with a different engine.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	eng    engine
}

// Run runs the vigil command line with args (without the program name) and
// returns the process exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, eng: yaraEngine()}
	return e.run(args)
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(e *env, args []string) int
}

func commands() []command {
	return []command{
		{"scan", "scan files with YARA rules (yara 4.2.3 compatible)", (*env).scan},
		{"watch", "scan files as they are created or modified", (*env).watch},
		{"quarantine", "list, restore or delete quarantined files", (*env).quarantineCmd},
		{"check", "compile rule files and report every error and warning", (*env).check},
		{"compile", "compile rule files into a file for `vigil scan -C`", (*env).compile},
		{"server", "run the fleet server: API, web UI, embedded NATS, SQLite", (*env).serverCmd},
		{"agent", "run the agent that runs the server's hunts on this machine", (*env).agentCmd},
		{"audit", "show and check the hunts this machine's agent ran or refused", (*env).auditCmd},
		{"hunt", "create hunts and read their results (needs a server)", (*env).huntCmd},
		{"agents", "list the agents enrolled with a server", (*env).agentsCmd},
		{"token", "create, list and revoke agent enrollment tokens", (*env).tokenCmd},
		{"operator", "create and list operators (people using the server)", (*env).operatorCmd},
		{"key", "make and register approval and witness keys", (*env).keyCmd},
		{"log", "audit the server's public transparency log (verify, show)", (*env).logCmd},
		{"witness", "cosign the server's transparency-log checkpoints while they stay consistent", (*env).witnessCmd},
		{"bench", "measure the fleet under load (vigil bench fleet)", (*env).benchCmd},
		{"version", "print the version", (*env).version},
		{"help", "show help for vigil or a command", (*env).help},
	}
}

func (e *env) run(args []string) int {
	if len(args) == 0 {
		e.usage(e.stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help":
		e.usage(e.stdout)
		return exitOK
	case "-v", "--version":
		return e.version(nil)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "vigil: unknown command %q\nRun 'vigil help' for the list of commands.\n", args[0])
	return exitUsage
}

func (e *env) usage(w io.Writer) {
	fmt.Fprintf(w, "Vigil, a YARA-compatible rule engine and scanner.\n\nUsage: vigil COMMAND [ARGUMENT]...\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'vigil help COMMAND' or 'vigil COMMAND --help' for a command's options.\n")
}
