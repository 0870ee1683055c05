package translog

import (
	"strings"
	"testing"
	"time"
)

func TestCheckApprovals(t *testing.T) {
	h := testHunt("h1") // requester alice, 2 approvals required
	hb, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	type op struct {
		b    []byte
		vkey string
	}
	ops := map[string]op{}
	trusted := map[string]string{}
	for _, name := range []string{"alice", "bob", "carol", "dave"} {
		s, _, vkey := testKey(t, name)
		a, err := NewApproval(s, vkey, hb, 0, time.Unix(100, 0))
		if err != nil {
			t.Fatal(err)
		}
		b, err := a.Encode()
		if err != nil {
			t.Fatal(err)
		}
		ops[name] = op{b, vkey}
		if name != "dave" {
			trusted[name] = vkey
		}
	}
	// dave signs with his own key, which the agent does not trust; an
	// impostor "carol" signs with a key that is not carol's.
	s, _, vkey := testKey(t, "carol")
	fake, _ := NewApproval(s, vkey, hb, 0, time.Unix(100, 0))
	fakeCarol, _ := fake.Encode()

	for _, c := range []struct {
		name  string
		set   [][]byte
		min   int
		ok    bool
		names string
	}{
		{"two others", [][]byte{ops["bob"].b, ops["carol"].b}, 0, true, "bob,carol"},
		{"author counts not", [][]byte{ops["alice"].b, ops["bob"].b}, 0, false, "bob"},
		{"duplicate", [][]byte{ops["bob"].b, ops["bob"].b}, 0, false, "bob"},
		{"untrusted key", [][]byte{ops["bob"].b, ops["dave"].b}, 0, false, "bob"},
		{"impostor", [][]byte{ops["bob"].b, fakeCarol}, 0, false, "bob"},
		{"garbage", [][]byte{ops["bob"].b, []byte("junk")}, 0, false, "bob"},
		{"local minimum higher", [][]byte{ops["bob"].b, ops["carol"].b}, 3, false, "bob,carol"},
	} {
		names, err := CheckApprovals(hb, c.set, trusted, c.min)
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", c.name, err, c.ok)
		}
		if strings.Join(names, ",") != c.names {
			t.Errorf("%s: counted %v, want %s", c.name, names, c.names)
		}
	}
	// An approval of the same hunt ID but different content does not count.
	other := testHunt("h1")
	other.Paths = []string{"/home"}
	ob, _ := other.Encode()
	if _, err := CheckApprovals(ob, [][]byte{ops["bob"].b, ops["carol"].b}, trusted, 0); err == nil {
		t.Fatal("approvals of another hunt body counted")
	}
}
