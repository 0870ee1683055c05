package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"vigil/server/api"
	"vigil/wire"
)

// The operator commands (hunt, token, agents, operator) talk to a server's
// HTTP API as one operator: --server (or $VIGIL_SERVER) and --token (or
// $VIGIL_TOKEN, or --token-file).

// defaultServerURL is where `vigil server` listens by default.
const defaultServerURL = "http://127.0.0.1:7480"

type clientFlags struct {
	server    string
	token     string
	tokenFile string
	json      bool
	help      bool
}

func (c *clientFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&c.server, "server", "", "server `URL` (default $VIGIL_SERVER or "+defaultServerURL+")")
	fs.StringVar(&c.token, "token", "", "operator API `TOKEN` (default $VIGIL_TOKEN)")
	fs.StringVar(&c.tokenFile, "token-file", "", "read the operator token from `FILE` (e.g. DATA/admin.token)")
	fs.BoolVar(&c.json, "json", false, "print JSON")
	fs.BoolVarP(&c.help, "help", "h", false, "show this help and exit")
}

// client builds the API client from the flags and the environment.
func (c *clientFlags) client() (*api.Client, error) {
	server := c.server
	if server == "" {
		server = os.Getenv("VIGIL_SERVER")
	}
	if server == "" {
		server = defaultServerURL
	}
	token := c.token
	if token == "" && c.tokenFile != "" {
		b, err := os.ReadFile(c.tokenFile)
		if err != nil {
			return nil, err
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		token = os.Getenv("VIGIL_TOKEN")
	}
	if token == "" {
		return nil, errors.New("no operator token: use --token, --token-file or $VIGIL_TOKEN")
	}
	return api.NewClient(server, token), nil
}

// subcommand parses the flags of `vigil NAME SUB` and returns the client.
type subcommand struct {
	e     *env
	name  string // "hunt create"
	usage string
	fs    *pflag.FlagSet
	cf    clientFlags
}

func newSub(e *env, name, usage string) *subcommand {
	s := &subcommand{e: e, name: name, usage: usage}
	s.fs = pflag.NewFlagSet("vigil "+name, pflag.ContinueOnError)
	s.fs.SetOutput(discard{})
	s.fs.SortFlags = false
	return s
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// parse parses args; ok is false when the command must return code.
func (s *subcommand) parse(args []string, nargs func(int) bool) (ok bool, code int) {
	s.cf.add(s.fs)
	if err := s.fs.Parse(args); err != nil {
		fmt.Fprintf(s.e.stderr, "vigil %s: %v\n%s\n", s.name, err, s.usage)
		return false, exitUsage
	}
	if s.cf.help {
		fmt.Fprintf(s.e.stdout, "%s\n\n%s", s.usage, s.fs.FlagUsages())
		return false, exitOK
	}
	if nargs != nil && !nargs(s.fs.NArg()) {
		fmt.Fprintf(s.e.stderr, "vigil %s: wrong number of arguments\n%s\n", s.name, s.usage)
		return false, exitUsage
	}
	return true, 0
}

// fail prints err and returns the exit code.
func (s *subcommand) fail(err error) int {
	fmt.Fprintf(s.e.stderr, "vigil %s: %v\n", s.name, err)
	return exitError
}

func (s *subcommand) printJSON(v any) int {
	enc := json.NewEncoder(s.e.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return s.fail(err)
	}
	return exitOK
}

func (s *subcommand) ctx() context.Context { return s.e.ctx }

// dispatch runs the subcommand named by args[0] among subs.
func (e *env) dispatch(cmd string, args []string, subs map[string]func(*env, []string) int, summary string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := e.stdout
		code := exitOK
		if len(args) == 0 {
			w, code = e.stderr, exitUsage
		}
		names := make([]string, 0, len(subs))
		for n := range subs {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(w, "%s\n\nUsage: vigil %s {%s} [FLAGS]\nRun 'vigil %s SUBCOMMAND --help' for its flags.\n", summary, cmd, strings.Join(names, "|"), cmd)
		return code
	}
	f, ok := subs[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "vigil %s: unknown subcommand %q\n", cmd, args[0])
		return exitUsage
	}
	return f(e, args[1:])
}

// parseLabels parses "k=v,k2=v2".
func parseLabels(s string) (map[string]string, error) {
	sel, err := wire.ParseSelector(s)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	return map[string]string(sel), nil
}

func labelString(m map[string]string) string { return wire.Selector(m).String() }

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func newTable(e *env) *tabwriter.Writer { return tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0) }

// ---- vigil agents ----

func (e *env) agentsCmd(args []string) int {
	s := newSub(e, "agents", "Usage: vigil agents [--json] [--server URL] [--token TOKEN]\nLists the enrolled agents.")
	if ok, code := s.parse(args, func(n int) bool { return n == 0 }); !ok {
		return code
	}
	c, err := s.cf.client()
	if err != nil {
		return s.fail(err)
	}
	agents, err := c.Agents(s.ctx())
	if err != nil {
		return s.fail(err)
	}
	if s.cf.json {
		return s.printJSON(agents)
	}
	tw := newTable(e)
	fmt.Fprintln(tw, "ID\tHOSTNAME\tOS/ARCH\tVERSION\tSTATUS\tLAST SEEN\tLABELS")
	for _, a := range agents {
		st := "offline"
		if a.Online {
			st = "online"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s/%s\t%s\t%s\t%s\t%s\n", a.ID, a.Hostname, a.OS, a.Arch, a.Version, st, fmtTime(a.LastSeen), labelString(a.Labels))
	}
	tw.Flush()
	return exitOK
}

// ---- vigil token ----

func (e *env) tokenCmd(args []string) int {
	return e.dispatch("token", args, map[string]func(*env, []string) int{
		"create": (*env).tokenCreate,
		"list":   (*env).tokenList,
		"revoke": (*env).tokenRevoke,
	}, "vigil token: manage agent enrollment tokens (admin).")
}

func (e *env) tokenCreate(args []string) int {
	s := newSub(e, "token create", "Usage: vigil token create [--labels k=v,...] [--max-uses N] [--expires DURATION] [--description TEXT]\nCreates an enrollment token and prints its secret (shown once) and the agent command.")
	labels := s.fs.String("labels", "", "labels given to agents enrolled with this token (`k=v,k2=v2`)")
	maxUses := s.fs.Int("max-uses", 0, "agents that may enroll with it (0 = unlimited)")
	expires := s.fs.String("expires", "168h", "validity (Go `DURATION`)")
	desc := s.fs.String("description", "", "a note for other admins")
	if ok, code := s.parse(args, func(n int) bool { return n == 0 }); !ok {
		return code
	}
	l, err := parseLabels(*labels)
	if err != nil {
		return s.fail(err)
	}
	c, err := s.cf.client()
	if err != nil {
		return s.fail(err)
	}
	t, err := c.CreateToken(s.ctx(), api.TokenRequest{Labels: l, MaxUses: *maxUses, ExpiresIn: *expires, Description: *desc})
	if err != nil {
		return s.fail(err)
	}
	if s.cf.json {
		return s.printJSON(t)
	}
	fmt.Fprintf(e.stdout, "token %s (labels %s, expires %s)\nsecret: %s\n\nOn each machine:\n  vigil agent --server %s --token %s --state /var/lib/vigil-agent\n",
		t.Token.ID, labelString(t.Token.Labels), fmtTime(t.Token.Expires), t.Secret, c.BaseURL, t.Secret)
	return exitOK
}

func (e *env) tokenList(args []string) int {
	s := newSub(e, "token list", "Usage: vigil token list [--json]")
	if ok, code := s.parse(args, func(n int) bool { return n == 0 }); !ok {
		return code
	}
	c, err := s.cf.client()
	if err != nil {
		return s.fail(err)
	}
	ts, err := c.Tokens(s.ctx())
	if err != nil {
		return s.fail(err)
	}
	if s.cf.json {
		return s.printJSON(ts)
	}
	tw := newTable(e)
	fmt.Fprintln(tw, "ID\tLABELS\tUSES\tEXPIRES\tREVOKED\tCREATED BY\tDESCRIPTION")
	for _, t := range ts {
		uses := fmt.Sprintf("%d", t.Uses)
		if t.MaxUses > 0 {
			uses += fmt.Sprintf("/%d", t.MaxUses)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\t%s\n", t.ID, labelString(t.Labels), uses, fmtTime(t.Expires), t.Revoked, t.CreatedBy, t.Description)
	}
	tw.Flush()
	return exitOK
}

func (e *env) tokenRevoke(args []string) int {
	s := newSub(e, "token revoke", "Usage: vigil token revoke TOKEN_ID")
	if ok, code := s.parse(args, func(n int) bool { return n == 1 }); !ok {
		return code
	}
	c, err := s.cf.client()
	if err != nil {
		return s.fail(err)
	}
	if err := c.RevokeToken(s.ctx(), s.fs.Arg(0)); err != nil {
		return s.fail(err)
	}
	fmt.Fprintf(e.stdout, "revoked %s\n", s.fs.Arg(0))
	return exitOK
}

// ---- vigil operator ----

func (e *env) operatorCmd(args []string) int {
	return e.dispatch("operator", args, map[string]func(*env, []string) int{
		"create": (*env).operatorCreate,
		"list":   (*env).operatorList,
	}, "vigil operator: manage the people who use the server (admin).")
}

func (e *env) operatorCreate(args []string) int {
	s := newSub(e, "operator create", "Usage: vigil operator create NAME --role viewer|hunter|approver|admin\nCreates an operator and prints its API token (shown once).")
	role := s.fs.String("role", "viewer", "the operator's `ROLE`")
	if ok, code := s.parse(args, func(n int) bool { return n == 1 }); !ok {
		return code
	}
	c, err := s.cf.client()
	if err != nil {
		return s.fail(err)
	}
	o, err := c.CreateOperator(s.ctx(), api.OperatorRequest{Name: s.fs.Arg(0), Role: *role})
	if err != nil {
		return s.fail(err)
	}
	if s.cf.json {
		return s.printJSON(o)
	}
	fmt.Fprintf(e.stdout, "operator %s (%s, role %s)\ntoken: %s\n", o.Operator.Name, o.Operator.ID, o.Operator.Role, o.Token)
	return exitOK
}

func (e *env) operatorList(args []string) int {
	s := newSub(e, "operator list", "Usage: vigil operator list [--json]")
	if ok, code := s.parse(args, func(n int) bool { return n == 0 }); !ok {
		return code
	}
	c, err := s.cf.client()
	if err != nil {
		return s.fail(err)
	}
	ops, err := c.Operators(s.ctx())
	if err != nil {
		return s.fail(err)
	}
	if s.cf.json {
		return s.printJSON(ops)
	}
	tw := newTable(e)
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tDISABLED")
	for _, o := range ops {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", o.ID, o.Name, o.Role, fmtTime(o.Created), o.Disabled)
	}
	tw.Flush()
	return exitOK
}
