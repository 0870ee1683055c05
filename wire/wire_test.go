package wire

import (
	"strings"
	"testing"
	"time"
)

func TestSubjectsAndPermissions(t *testing.T) {
	p, id := "vigil", "a-123"
	for _, s := range []string{SyncSubject(p, id), HelloSubject(p, id), StatusSubject(p, id), ResultsSubject(p, id)} {
		got, err := AgentFromSubject(p, s)
		if err != nil || got != id {
			t.Errorf("AgentFromSubject(%q) = %q, %v", s, got, err)
		}
		if !strings.HasPrefix(s, AgentPermissions(p, id).Publish[0][:len(AgentPermissions(p, id).Publish[0])-1]) {
			t.Errorf("%s is not under the agent's publish permission", s)
		}
	}
	for _, s := range []string{HuntSubject(p, id), CancelSubject(p, id), "vigil.from.a-1", "other.from.a-1.sync", "vigil.from.A*B.sync", "vigil.from..sync"} {
		if got, err := AgentFromSubject(p, s); err == nil {
			t.Errorf("AgentFromSubject(%q) = %q, want an error", s, got)
		}
	}
	perm := AgentPermissions(p, id)
	if len(perm.Publish) != 1 || perm.Publish[0] != "vigil.from.a-123.>" ||
		len(perm.Subscribe) != 2 || perm.Subscribe[0] != "vigil.to.a-123.>" || perm.Subscribe[1] != "_I.a-123.>" {
		t.Errorf("permissions %+v", perm)
	}
	if StreamName("vigil") != "VIGIL_FROM" || StreamName("t.x-y") != "T_X_Y_FROM" {
		t.Errorf("stream names %s %s", StreamName("vigil"), StreamName("t.x-y"))
	}
}

func TestValidID(t *testing.T) {
	for _, ok := range []string{"a", "a-1_b", strings.Repeat("z", 64)} {
		if err := ValidID(ok); err != nil {
			t.Errorf("ValidID(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "A", "a.b", "a*", "a>", "a b", strings.Repeat("z", 65), "é"} {
		if ValidID(bad) == nil {
			t.Errorf("ValidID(%q) accepted", bad)
		}
	}
}

func TestSelector(t *testing.T) {
	sel, err := ParseSelector(" site=berlin, os=linux ")
	if err != nil || sel.String() != "os=linux,site=berlin" {
		t.Fatalf("ParseSelector: %v %v", sel, err)
	}
	if !sel.Matches(map[string]string{"os": "linux", "site": "berlin", "x": "y"}) || sel.Matches(map[string]string{"os": "linux"}) {
		t.Error("Matches is wrong")
	}
	if empty, _ := ParseSelector(""); !empty.Matches(nil) {
		t.Error("the empty selector must match everything")
	}
	for _, bad := range []string{"os", "=x", "x=", "a=1,a=2", "a=b c", "a=1,,b=2"} {
		if _, err := ParseSelector(bad); err == nil {
			t.Errorf("ParseSelector(%q) accepted", bad)
		}
	}
}

func TestDecodeRefusesGarbage(t *testing.T) {
	var h Hunt
	for _, bad := range []string{"", "{", `{"id":"h"} x`, `{"id":"h","unknown":1}`, `[]`, strings.Repeat(" ", MaxMessage+1)} {
		if err := Decode([]byte(bad), &h); err == nil {
			t.Errorf("Decode(%.20q) accepted", bad)
		}
	}
	in := Hunt{ID: "h-1", Rules: "rule a { condition: true }", RulesSHA256: "x", Paths: []string{"/"}, Why: "w", Created: time.Unix(1, 0).UTC(), Expires: time.Unix(2, 0).UTC()}
	b, err := Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Hunt
	if err := Decode(b, &out); err != nil || out.ID != in.ID || !out.Expires.Equal(in.Expires) || out.Validate() != nil {
		t.Errorf("round trip: %+v %v", out, err)
	}
	out.Paths = nil
	if out.Validate() == nil {
		t.Error("a hunt without paths validated")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"hunt_id":"h","seq":1,"matches":[{"path":"/a","size":1,"sha256":"","md5":"","rules":[]}]}`))
	f.Add([]byte(`{"hunts":[],"checkpoint":"eA=="}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var rb ResultBatch
		_ = Decode(b, &rb)
		var sr SyncReply
		_ = Decode(b, &sr)
		var st Status
		_ = Decode(b, &st)
	})
}
