package scan_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"vigil/scan"
	"vigil/yara"
)

// Scanning a directory with archives unpacked: every outcome is an event.
func ExampleRun() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("hello"), 0o644)

	rules, err := yara.Compile(`rule Hello { strings: $h = "hello" condition: $h }`)
	if err != nil {
		panic(err)
	}
	o := scan.DefaultOptions()
	sum, err := scan.Run(context.Background(), o, []string{dir},
		func() (scan.Scanner, error) { return rules.NewScanner(), nil },
		func(e scan.Event) {
			switch e.Kind {
			case scan.Scanned:
				for _, m := range e.Result.Matching {
					fmt.Println(m.Name, filepath.Base(e.Path))
				}
			case scan.Skipped:
				fmt.Println("skipped", e.Path, e.Reason, e.Detail)
			case scan.Failed:
				fmt.Println("error", e.Path, e.Err)
			}
		})
	if err != nil {
		panic(err)
	}
	fmt.Println(sum.Files, "file(s),", sum.Matches, "match(es)")
	// Output:
	// Hello a.txt
	// 1 file(s), 1 match(es)
}
