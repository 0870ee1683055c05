package dotnet

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"vigil/yara/modules/internal/modtest"
)

// sample is one file to compare with yara.
type sample struct {
	name string
	data []byte
}

// dumpOf returns what module.Dump prints for the dotnet module on data.
func dumpOf(t testing.TB, data []byte) string {
	t.Helper()
	return modtest.DumpOf(t, Module(), data)
}

// compareWithYara compares Load+Dump with `yara -D` on every sample and
// returns the number of samples and of printed lines that agree.
func compareWithYara(t *testing.T, samples []sample) (files, lines int) {
	t.Helper()
	ms := make([]modtest.Sample, len(samples))
	for i, s := range samples {
		ms[i] = modtest.Sample{Name: s.name, Data: s.data}
	}
	return modtest.CompareDumps(t, Module(), ms)
}

// monoDir is where Debian's mono packages install assemblies.
const monoDir = "/usr/lib/mono"

// systemAssemblies returns up to n distinct .dll and .exe files of at most
// maxSize bytes from under dir (symbolic links resolved, duplicates by
// content left out), spread evenly over the sorted list.
func systemAssemblies(t *testing.T, dir string, n int, maxSize int64) []sample {
	t.Helper()
	var paths []string
	seen := map[string]bool{}
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		ext := strings.ToLower(filepath.Ext(p))
		if ext != ".dll" && ext != ".exe" {
			return nil
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil || seen[real] {
			return nil
		}
		st, err := os.Stat(real)
		if err != nil || !st.Mode().IsRegular() || st.Size() > maxSize {
			return nil
		}
		seen[real] = true
		paths = append(paths, real)
		return nil
	})
	sort.Strings(paths)
	var out []sample
	contents := map[string]bool{}
	step := max(1, len(paths)/n)
	for i := 0; i < len(paths) && len(out) < n; i += step {
		data, err := os.ReadFile(paths[i])
		if err != nil || contents[string(data)] {
			continue
		}
		contents[string(data)] = true
		name := strings.ReplaceAll(strings.TrimPrefix(paths[i], "/"), "/", "_")
		out = append(out, sample{name: name, data: data})
	}
	return out
}

// mcsProgram is a C# program with every kind of metadata the module
// reports: a GuidAttribute (typelib), an assembly version and culture,
// user strings, string constants, a static array initializer (FieldRVA),
// P/Invoke module references, and resources added on the command line.
const mcsProgram = `using System;
using System.Reflection;
using System.Runtime.InteropServices;

[assembly: Guid("0f8fad5b-d9cb-469f-a165-70867728950e")]
[assembly: AssemblyVersion("1.2.3.4")]
[assembly: AssemblyTitle("vigil dotnet sample")]
%s

public class Sample {
	public const string Greeting = "constant greeting";
	public const string Empty = "";
	public const string Wide = "\u00e9t\u00e9 \u4e2d\u6587";
	public const int Number = 42;
	static readonly int[] table = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	static readonly byte[] bytes = { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6, 7 };

	[DllImport("user32.dll")] static extern int MessageBoxA(IntPtr h, string t, string c, int f);
	[DllImport("kernel32")] static extern uint GetTickCount();
	[DllImport("libc.so.6")] static extern int getpid();

	public static int Main(string[] args) {
		Console.WriteLine("hello from a user string");
		Console.WriteLine("");
		Console.WriteLine("x");
		Console.WriteLine("\u00fcnic\u00f6de \u2603");
		return table[args.Length] + bytes[0] + Greeting.Length + Empty.Length + Wide.Length;
	}
}
`

// mcsBuilt caches mcsSamples' builds by name (nil for a failed build) for
// the test binary's run.
var mcsBuilt struct {
	sync.Mutex
	m map[string][]byte
}

// mcsSamples returns small assemblies built with mcs, if it is installed,
// in several variants (executable or library, 32 or 64 bits, with or
// without resources and a culture): those named in only, or all. Builds
// that fail are skipped.
func mcsSamples(t testing.TB, only ...string) []sample {
	t.Helper()
	mcs, err := exec.LookPath("mcs")
	if err != nil {
		t.Log("mcs not found: no compiled samples (apt-get install mono-mcs)")
		return nil
	}
	mcsBuilt.Lock()
	defer mcsBuilt.Unlock()
	if mcsBuilt.m == nil {
		mcsBuilt.m = map[string][]byte{}
	}
	var out []sample
	for _, b := range mcsBuilds {
		if len(only) > 0 && !slices.Contains(only, b.name) {
			continue
		}
		data, ok := mcsBuilt.m[b.name]
		if !ok {
			data = buildMcs(t, mcs, b.name, b.args)
			mcsBuilt.m[b.name] = data
		}
		if data != nil {
			out = append(out, sample{name: b.name, data: data})
		}
	}
	return out
}

// mcsBuilds are mcsSamples' builds: the arguments of mcs, where the words
// plain.cs, culture.cs, tiny.cs, RES1 and RES2 name generated files.
var mcsBuilds = []struct {
	name string
	args []string
}{
	{"plain.exe", []string{"plain.cs"}},
	{"plain-x86.exe", []string{"-platform:x86", "plain.cs"}},
	{"plain-x64.exe", []string{"-platform:x64", "plain.cs"}},
	{"plain.dll", []string{"-target:library", "plain.cs"}},
	{"res.exe", []string{"plain.cs", "-resource:RES1,greeting.txt", "-resource:RES2,data.bin"}},
	{"res-x64.dll", []string{"-target:library", "-platform:x64", "plain.cs", "-resource:RES1,greeting.txt", "-resource:RES2,data.bin"}},
	{"culture.dll", []string{"-target:library", "culture.cs"}},
	{"tiny.exe", []string{"tiny.cs"}},
	{"tiny.netmodule", []string{"-target:module", "tiny.cs"}},
	{"debug.exe", []string{"-debug", "-optimize-", "plain.cs"}},
}

// buildMcs runs one of mcsBuilds in a temporary directory and returns the
// assembly, or nil if mcs fails.
func buildMcs(t testing.TB, mcs, name string, args []string) []byte {
	t.Helper()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	files := map[string]string{
		"plain.cs":   write("plain.cs", fmt.Sprintf(mcsProgram, "")),
		"culture.cs": write("culture.cs", fmt.Sprintf(mcsProgram, `[assembly: AssemblyCulture("fr-FR")]`)),
		"tiny.cs":    write("tiny.cs", "class T { static void Main() {} }\n"),
		"RES1":       write("res1.txt", "first resource\n"),
		"RES2":       write("res2.bin", strings.Repeat("\x00\x01binary\xff", 40)),
	}
	full := []string{"-nowarn:414,169,649", "-out:" + filepath.Join(dir, name)}
	for _, a := range args {
		for word, path := range files {
			a = strings.Replace(a, word, path, 1)
		}
		full = append(full, a)
	}
	if msg, err := exec.Command(mcs, full...).CombinedOutput(); err != nil {
		t.Logf("mcs %s: %v: %s", name, err, msg)
		return nil
	}
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}
