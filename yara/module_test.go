package yara

import (
	"context"
	"strings"
	"testing"
)

// TestModulesAgainstYara runs module-using rules through both engines.
func TestModulesAgainstYara(t *testing.T) {
	cases := []string{
		`import "hash" rule r { condition: hash.md5(0, filesize) == "5eb63bbbe01eeed093cb22bb8f5acdc3" }`,
		`import "hash" rule r { condition: hash.sha256(0, 5) == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" }`,
		`import "hash" rule r { condition: hash.md5("hello") == "5d41402abc4b2a76b9719d911017c592" }`,
		`import "hash" rule r { condition: hash.crc32(0, filesize) == 0xd4a1185 }`,
		`import "hash" rule r { condition: not defined hash.md5(0, filesize + 10) }`,
		`import "math" rule r { condition: math.entropy(0, filesize) > 2.8 and math.entropy(0, filesize) < 2.9 }`,
		`import "math" rule r { condition: math.mean(0, filesize) > 100 }`,
		`import "math" rule r { condition: math.max(1, 2) == 2 and math.min(1, 2) == 1 }`,
		`import "math" rule r { condition: math.to_number(true) == 1 }`,
		`import "math" rule r { condition: math.abs(-3) == 3 }`,
		`import "time" rule r { condition: time.now() > 0 }`,
		`import "hash" rule a { condition: true } rule b { condition: hash.md5(0, 1) == hash.md5("h") }`,
	}
	data := []byte("hello world")
	for _, src := range cases {
		checkAgainstYara(t, src, data, ScanOptions{})
	}
}

func TestConsoleOrder(t *testing.T) {
	r, err := Compile(`import "console"
rule a { condition: console.log("first") and console.log("n: ", 7) }
rule b { condition: console.hex(255) or console.log("never") }`)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.NewScanner().ScanBytes(context.Background(), []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(res.Console, "|")
	if got != "first|n: 7|0xff" {
		t.Errorf("console %q", got)
	}
}

func TestUnknownModuleNamed(t *testing.T) {
	_, err := Compile(`import "cuckoo" rule r { condition: true }`)
	if err == nil || !strings.Contains(err.Error(), `"cuckoo"`) {
		t.Errorf("got %v, want an error naming cuckoo", err)
	}
}

// TestConsoleBeforeFalse: a rule whose strings did not match is still
// evaluated when console output could precede the false result.
func TestConsoleBeforeFalse(t *testing.T) {
	src := `import "console" rule r { strings: $a = "zzz" condition: console.log("seen") and $a }`
	r, err := Compile(src)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.NewScanner().ScanBytes(context.Background(), []byte("abc"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Console) != 1 || res.Console[0] != "seen" {
		t.Errorf("console %q", res.Console)
	}
}
