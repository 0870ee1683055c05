package syntax

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// evalInt evaluates a constant integer expression built from literals and
// arithmetic operators, following yara's semantics for the operators used
// in arithTests.
func evalInt(t *testing.T, e Expr) int64 {
	switch e := e.(type) {
	case *IntLit:
		return e.Value
	case *Paren:
		return evalInt(t, e.X)
	case *Unary:
		x := evalInt(t, e.X)
		if e.Op == OpNeg {
			return -x
		}
		return ^x
	case *Binary:
		x, y := evalInt(t, e.X), evalInt(t, e.Y)
		switch e.Op {
		case OpAdd:
			return x + y
		case OpSub:
			return x - y
		case OpMul:
			return x * y
		case OpDiv:
			return x / y
		case OpMod:
			return x % y
		case OpBitAnd:
			return x & y
		case OpBitOr:
			return x | y
		case OpBitXor:
			return x ^ y
		case OpShl:
			return x << uint64(y)
		case OpShr:
			return x >> uint64(y)
		}
	}
	t.Fatalf("cannot evaluate %s", DumpExpr(e))
	return 0
}

// arithTests mix operators so that a wrong precedence or associativity
// gives a different value.
var arithTests = []string{
	`1 + 2 * 3`,
	`10 - 4 - 3`,
	`100 \ 10 \ 5`,
	`7 % 4 * 3`,
	`2 * 7 % 4`,
	`1 | 6 & 3`,
	`1 ^ 3 & 6`,
	`5 | 2 ^ 7`,
	`1 << 2 + 1`,
	`64 >> 2 >> 1`,
	`1 << 4 >> 2`,
	`3 & 6 << 1`,
	`-2 * -3 + ~4`,
	`~1 & 7`,
	`- 3 - -4`,
	`(1 + 2) * (3 - 5) \ 2`,
	`6 \ 4 * 4`,
	`1 + 12 | 3 ^ 5 & 6 << 1 >> 3 - 2 * 3 % 4 \ 1`,
}

// TestOracleArith checks operator precedence against yara: for each
// expression E, our tree evaluates to v, and yara must agree that E == v.
func TestOracleArith(t *testing.T) {
	yara, err := exec.LookPath("yara")
	if err != nil || testing.Short() {
		t.Skip("yara not installed or short mode")
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("x"), 0o644)
	for _, src := range arithTests {
		f, err := Parse("t.yar", []byte("rule r { condition: "+src+" == 0 }"))
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		v := evalInt(t, f.Decls[0].(*Rule).Condition.(*Binary).X)
		rules := filepath.Join(dir, "r.yar")
		cond := "(" + src + ") == " + strconv.FormatInt(v, 10)
		if v < 0 {
			cond = "(" + src + ") == -" + strconv.FormatInt(-v, 10)
		}
		os.WriteFile(rules, []byte("rule r { condition: "+cond+" }"), 0o644)
		out, err := exec.Command(yara, "-w", rules, target).CombinedOutput()
		if err != nil || len(out) == 0 {
			t.Errorf("%s: we compute %d (%s), yara disagrees: %s %v", src, v, DumpExpr(f.Decls[0].(*Rule).Condition), out, err)
		}
	}
}
