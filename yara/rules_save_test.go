package yara

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"
)

// TestSaveJSON checks that Save writes what encoding/json writes for the
// whole savedRules document.
func TestSaveJSON(t *testing.T) {
	sets := []*Rules{
		{},
		{sources: []savedSource{}},
		{
			sources: []savedSource{
				{Name: "a.yar", Src: []byte("rule a { condition: true }"), Namespace: "default", File: true},
				{Name: "<b>&\"\\\u2028é", Src: nil, Namespace: "n<1>"},
				{Name: "c", Src: []byte{}, Namespace: "n2"},
				{Name: "d", Src: []byte{0, 1, 2, 0xff, 0xfe, '<', '&'}, Namespace: "n3", File: true},
			},
			included: map[string][]byte{"/z/inc.yar": []byte("rule z { condition: false }"), "/a/b": nil, "/a/<c>": {}},
			externals: []external{
				{name: "b", val: value{k: kBool, i: 1}},
				{name: "i", val: value{k: kInt, i: -7}},
				{name: "f", val: value{k: kFloat, f: 1.5}},
				{name: "s", val: value{k: kString, s: "x<y>&"}},
				{name: "z", val: value{k: kInt}},
			},
		},
		{sources: []savedSource{{Name: "e", Src: bytes.Repeat([]byte("abcdefg"), 10000)}}, included: map[string][]byte{}},
	}
	for i, r := range sets {
		var got bytes.Buffer
		if err := r.Save(&got); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		bw := bufio.NewWriter(&want)
		bw.WriteString(saveMagic)
		sr := savedRules{Version: saveVersion, Sources: r.sources, Included: r.included, Externals: r.savedExternals()}
		if err := json.NewEncoder(bw).Encode(&sr); err != nil {
			t.Fatal(err)
		}
		bw.Flush()
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("set %d: Save wrote\n%.500s\nwant\n%.500s", i, got.Bytes(), want.Bytes())
		}
	}
}
