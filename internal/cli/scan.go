package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// Limits taken from yara 4.2.3's command line (cli/yara.c).
const (
	maxThreads     = 32      // YR_MAX_THREADS; also the default thread count
	maxRepeated    = 32      // MAX_ARGS_TAG, MAX_ARGS_IDENTIFIER, MAX_ARGS_EXT_VAR
	defaultTimeout = 1000000 // seconds, yara's default for -a
	maxQueuedFiles = 64      // MAX_QUEUED_FILES: paths waiting for a scanning thread
	maxMatchData   = 512     // DEFAULT_MAX_MATCH_DATA: bytes of a match yara prints
)

// scanOptions are the parsed flags of `vigil scan`. Field comments give the
// yara flag.
type scanOptions struct {
	compiled        bool // -C
	count           bool // -c
	defines         []string
	failOnWarnings  bool
	fast            bool // -f
	help            bool // -h
	identifiers     []string
	limit           int64 // -l
	moduleData      []string
	negate          bool // -n
	noFollow        bool // -N
	noWarnings      bool // -w
	printMeta       bool // -m
	printModuleData bool // -D
	printNamespace  bool // -e
	printStats      bool // -S
	printStrings    bool // -s
	printLength     bool // -L
	printTags       bool // -g
	recursive       bool // -r
	scanList        bool
	skipLarger      int64 // -z
	tags            []string
	threads         int64 // -p
	timeout         int64 // -a
	version         bool  // -v

	// Accepted for compatibility and ignored (see docs/cli.md).
	atomQualityTable string
	maxChunk         int64
	maxStrings       int64
	stackSize        int64

	// Vigil's own.
	json       bool
	builtin    bool
	vigil      vigilScanOptions // scan_archive.go
	quarantine string           // quarantine.go
	noProgress bool             // progress.go
	cpuProfile string           // hidden --cpuprofile: write a CPU profile (pprof)
	profile    int              // --profile[=N]: print the N costliest rules (profile.go)
}

func newScanFlags(o *scanOptions) *pflag.FlagSet {
	fs := pflag.NewFlagSet("vigil scan", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	fs.StringVar(&o.atomQualityTable, "atom-quality-table", "", "path to a file with the atom quality table (ignored)")
	fs.BoolVarP(&o.compiled, "compiled-rules", "C", false, "load compiled rules (made by `vigil compile`)")
	fs.BoolVarP(&o.count, "count", "c", false, "print only number of matches")
	fs.StringArrayVarP(&o.defines, "define", "d", nil, "define external variable")
	fs.BoolVar(&o.failOnWarnings, "fail-on-warnings", false, "fail on warnings")
	fs.BoolVarP(&o.fast, "fast-scan", "f", false, "fast matching mode")
	fs.BoolVarP(&o.help, "help", "h", false, "show this help and exit")
	fs.StringArrayVarP(&o.identifiers, "identifier", "i", nil, "print only rules named IDENTIFIER")
	fs.Int64Var(&o.maxChunk, "max-process-memory-chunk", 1073741824, "set maximum chunk size while reading process memory")
	fs.Int64VarP(&o.limit, "max-rules", "l", 0, "abort scanning after matching a NUMBER of rules")
	fs.Int64Var(&o.maxStrings, "max-strings-per-rule", 10000, "set maximum number of strings per rule (ignored)")
	fs.StringArrayVarP(&o.moduleData, "module-data", "x", nil, "pass FILE's content as extra data to MODULE (not supported yet)")
	fs.BoolVarP(&o.negate, "negate", "n", false, "print only not satisfied rules (negate)")
	fs.BoolVarP(&o.noFollow, "no-follow-symlinks", "N", false, "do not follow symlinks when scanning")
	fs.BoolVarP(&o.noWarnings, "no-warnings", "w", false, "disable warnings")
	fs.BoolVarP(&o.printMeta, "print-meta", "m", false, "print metadata")
	fs.BoolVarP(&o.printModuleData, "print-module-data", "D", false, "print module data")
	fs.BoolVarP(&o.printNamespace, "print-namespace", "e", false, "print rules' namespace")
	fs.BoolVarP(&o.printStats, "print-stats", "S", false, "print rules' statistics")
	fs.BoolVarP(&o.printStrings, "print-strings", "s", false, "print matching strings")
	fs.BoolVarP(&o.printLength, "print-string-length", "L", false, "print length of matched strings")
	fs.BoolVarP(&o.printTags, "print-tags", "g", false, "print tags")
	fs.BoolVarP(&o.recursive, "recursive", "r", false, "recursively search directories")
	fs.BoolVar(&o.scanList, "scan-list", false, "scan files listed in FILE, one per line")
	fs.Int64VarP(&o.skipLarger, "skip-larger", "z", 0, "skip files larger than the given size when scanning a directory")
	fs.Int64VarP(&o.stackSize, "stack-size", "k", 16384, "set maximum stack size (ignored)")
	fs.StringArrayVarP(&o.tags, "tag", "t", nil, "print only rules tagged as TAG")
	fs.Int64VarP(&o.threads, "threads", "p", maxThreads, "use the specified NUMBER of threads to scan a directory")
	fs.Int64VarP(&o.timeout, "timeout", "a", defaultTimeout, "abort scanning after the given number of SECONDS")
	fs.BoolVarP(&o.version, "version", "v", false, "show version information")
	fs.BoolVar(&o.json, "json", false, "print one JSON object per file with matches or errors")
	fs.BoolVar(&o.builtin, "builtin-rules", false, "scan with vigil's built-in example rules")
	addVigilScanFlags(fs, &o.vigil)
	fs.Var(&setValue{Value: newStringValue(&o.quarantine), set: &o.vigil.set}, "quarantine", "move matching files into the quarantine store DIR")
	fs.BoolVar(&o.noProgress, "no-progress", false, "no progress display on a terminal")
	fs.IntVar(&o.profile, "profile", 0, "print the N rules that cost the most time to standard error (default 10)")
	fs.Lookup("profile").NoOptDefVal = "10"
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the scan to FILE (for go tool pprof)")
	_ = fs.MarkHidden("cpuprofile")
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Value.Type() != "stringArray" {
			f.Value = &onceValue{Value: f.Value, flag: f}
		}
	})
	return fs
}

// onceValue makes a flag fail when it is given twice, as yara's options
// other than -d, -i, -t and -x do ("too many `-s` options").
type onceValue struct {
	pflag.Value
	flag *pflag.Flag
	set  bool
}

// tooManyError reports a flag given more than once.
type tooManyError struct{ flag *pflag.Flag }

func (e *tooManyError) Error() string {
	if e.flag.Shorthand != "" {
		return fmt.Sprintf("too many `-%s` options", e.flag.Shorthand)
	}
	return fmt.Sprintf("too many `--%s` options", e.flag.Name)
}

func (v *onceValue) Set(s string) error {
	if v.set {
		return &tooManyError{v.flag}
	}
	v.set = true
	return v.Value.Set(s)
}

// scanHelpRows is the option list of `vigil scan --help`, in yara's layout:
// yara's options in yara's order, then vigil's own.
func scanHelpRows() [][2]string {
	return append([][2]string{
		{"     --atom-quality-table=FILE", "path to a file with the atom quality table (ignored)"},
		{"-C,  --compiled-rules", "load compiled rules (made by `vigil compile`)"},
		{"-c,  --count", "print only number of matches"},
		{"-d,  --define=VAR=VALUE", "define external variable"},
		{"     --fail-on-warnings", "fail on warnings"},
		{"-f,  --fast-scan", "fast matching mode"},
		{"-h,  --help", "show this help and exit"},
		{"-i,  --identifier=IDENTIFIER", "print only rules named IDENTIFIER"},
		{"     --max-process-memory-chunk=NUMBER", "set maximum chunk size while reading process memory (default=1073741824)"},
		{"-l,  --max-rules=NUMBER", "abort scanning after matching a NUMBER of rules"},
		{"     --max-strings-per-rule=NUMBER", "set maximum number of strings per rule (ignored)"},
		{"-x,  --module-data=MODULE=FILE", "pass FILE's content as extra data to MODULE (not supported yet)"},
		{"-n,  --negate", "print only not satisfied rules (negate)"},
		{"-N,  --no-follow-symlinks", "do not follow symlinks when scanning"},
		{"-w,  --no-warnings", "disable warnings"},
		{"-m,  --print-meta", "print metadata"},
		{"-D,  --print-module-data", "print module data"},
		{"-e,  --print-namespace", "print rules' namespace"},
		{"-S,  --print-stats", "print rules' statistics (number of rules only)"},
		{"-s,  --print-strings", "print matching strings"},
		{"-L,  --print-string-length", "print length of matched strings"},
		{"-g,  --print-tags", "print tags"},
		{"-r,  --recursive", "recursively search directories"},
		{"     --scan-list", "scan files listed in FILE, one per line"},
		{"-z,  --skip-larger=NUMBER", "skip files larger than the given size when scanning a directory"},
		{"-k,  --stack-size=SLOTS", "ignored (a libyara setting)"},
		{"-t,  --tag=TAG", "print only rules tagged as TAG"},
		{"-p,  --threads=NUMBER", "use the specified NUMBER of threads to scan a directory (default 32)"},
		{"-a,  --timeout=SECONDS", "abort scanning after the given number of SECONDS"},
		{"-v,  --version", "show version information"},
		{"     --json", "print one JSON object per line per file with matches or errors"},
		{"     --builtin-rules", "use vigil's built-in example rules instead of RULES_FILE"},
	}, append(vigilScanHelpRows(),
		[2]string{"     --quarantine=DIR", "move matching files (archives with a matching member) into DIR"},
		[2]string{"     --no-progress", "no progress display on standard error, even on a terminal"},
		[2]string{"     --profile[=N]", "print the N rules that cost the most time (default 10) to standard error"})...)
}

const scanUsage = "Usage: vigil scan [OPTION]... [NAMESPACE:]RULES_FILE... FILE | DIR"

func scanHelp(w io.Writer) {
	fmt.Fprintf(w, "vigil scan: scan files with YARA rules, like yara %s.\n%s\n       vigil scan --builtin-rules [OPTION]... FILE | DIR\n\n", yaraVersion, scanUsage)
	fmt.Fprintf(w, "Mandatory arguments to long options are mandatory for short options too.\n\n")
	for _, r := range scanHelpRows() {
		fmt.Fprintf(w, "  %-41s%s\n", r[0], r[1])
	}
	fmt.Fprintf(w, "\nExit status: 0 when the scan ran (whether or not rules matched), 1 on errors.\nSee docs/cli.md for the differences with yara.\n")
}

// parseScanArgs parses the flags of `vigil scan`. It returns the options,
// the positional arguments, and ok=false when it printed an error.
func parseScanArgs(args []string, stderr io.Writer) (*scanOptions, []string, bool) {
	o := &scanOptions{}
	fs := newScanFlags(o)
	if err := fs.Parse(args); err != nil {
		var tm *tooManyError
		if errors.As(err, &tm) {
			fmt.Fprintf(stderr, "%v\n", tm)
		} else {
			fmt.Fprintf(stderr, "vigil scan: %v\nTry `vigil scan --help` for more options\n", err)
		}
		return nil, nil, false
	}
	for _, f := range []struct {
		name string
		n    int
	}{{"-d", len(o.defines)}, {"-i", len(o.identifiers)}, {"-t", len(o.tags)}, {"-x", len(o.moduleData)}} {
		if f.n > maxRepeated {
			fmt.Fprintf(stderr, "too many `%s` options\n", f.name)
			return nil, nil, false
		}
	}
	return o, fs.Args(), true
}

// scan is `vigil scan`: yara's command line.
func (e *env) scan(args []string) int {
	o, pos, ok := parseScanArgs(args, e.stderr)
	if !ok {
		return exitError
	}
	if o.version {
		fmt.Fprintf(e.stdout, "%s\n", yaraVersion)
		return exitOK
	}
	if o.help {
		scanHelp(e.stdout)
		return exitOK
	}
	if o.threads > maxThreads {
		fmt.Fprintf(e.stderr, "maximum number of threads is %d\n", maxThreads)
		return exitError
	}
	if o.threads < 1 {
		fmt.Fprintf(e.stderr, "vigil scan: the number of threads must be at least 1\n")
		return exitError
	}
	minArgs := 2
	if o.builtin {
		minArgs = 1
	}
	if len(pos) < minArgs {
		fmt.Fprintf(e.stderr, "vigil scan: wrong number of arguments\n%s\n\nTry `--help` for more options\n", scanUsage)
		return exitError
	}
	if len(o.moduleData) > 0 {
		fmt.Fprintf(e.stderr, "vigil scan: -x/--module-data is not supported yet\n")
		return exitError
	}
	if o.json && (o.count || o.negate || o.printModuleData) {
		fmt.Fprintf(e.stderr, "vigil scan: --json cannot be combined with -c, -n or -D\n")
		return exitError
	}
	if o.cpuProfile != "" {
		stop, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			fmt.Fprintf(e.stderr, "vigil scan: %v\n", err)
			return exitError
		}
		defer stop()
	}
	defs := parseDefines(o.defines, e.stderr)
	rs, ok := e.scanRules(o, pos[:len(pos)-1], defs)
	if !ok {
		return exitError
	}
	if o.printStats {
		fmt.Fprintf(e.stdout, "number of rules                    : %d\n", len(rs.Info()))
	}
	r := newScanRun(e, o, rs, defs)
	code := r.run(pos[len(pos)-1])
	if o.profile > 0 {
		r.printProfile(o.profile) // profile.go
	}
	return code
}

// isDir reports whether path names a directory, following symlinks, as
// yara's is_directory.
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// splitNamespace splits a rule-file argument "NS:FILE" as yara does: only
// when no file is named like the whole argument, at the first colon, and
// not when the colon is followed by a backslash (a Windows drive, C:\...).
func splitNamespace(arg string, exists func(string) bool) (ns, file string) {
	if exists(arg) {
		return "", arg
	}
	i := strings.IndexByte(arg, ':')
	if i < 0 || (i+1 < len(arg) && arg[i+1] == '\\') {
		return "", arg
	}
	return arg[:i], arg[i+1:]
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// scanErrorText is the text yara prints after "error scanning PATH: ".
func scanErrorText(err error) string {
	var pe *os.PathError
	switch {
	case errors.As(err, &pe):
		return "could not open file"
	default:
		return err.Error()
	}
}
