package yrval

import (
	"math"
	"testing"
)

func TestRange(t *testing.T) {
	data := []byte("0123456789")
	tests := []struct {
		off, size int64
		want      string
		ok        bool
	}{
		{0, 10, "0123456789", true},
		{0, 0, "", true},
		{9, 0, "", true},
		{9, 5, "9", true},
		{3, 4, "3456", true},
		{2, math.MaxInt64, "23456789", true},
		{10, 0, "", false},
		{11, 1, "", false},
		{-1, 1, "", false},
		{0, -1, "", false},
		{math.MinInt64, math.MaxInt64, "", false},
		{math.MaxInt64, math.MaxInt64, "", false},
	}
	for _, tt := range tests {
		b, ok := Range(data, tt.off, tt.size)
		if ok != tt.ok || string(b) != tt.want {
			t.Errorf("Range(%d, %d) = %q, %v; want %q, %v", tt.off, tt.size, b, ok, tt.want, tt.ok)
		}
	}
	if _, ok := Range(nil, 0, 0); ok {
		t.Error("Range(nil, 0, 0) is defined, want undefined")
	}
}

func TestUndefined(t *testing.T) {
	if u := Undefined; uint64(u) != 0xFFFABADAFABADAFF {
		t.Errorf("Undefined = %#x", uint64(u))
	}
	tests := []struct {
		got, want any
	}{
		{Int(5), int64(5)},
		{Int(Undefined), nil},
		{Float(1.5), 1.5},
		{Float(math.NaN()), nil},
		{Float(float64(Undefined)), nil},
		{Float(math.Inf(1)), math.Inf(1)},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%d: got %v, want %v", i, tt.got, tt.want)
		}
	}
}

func FuzzRange(f *testing.F) {
	f.Add([]byte("abc"), int64(1), int64(5))
	f.Add([]byte{}, int64(0), int64(0))
	f.Add([]byte("x"), int64(math.MaxInt64), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, data []byte, off, size int64) {
		b, ok := Range(data, off, size)
		if !ok {
			if b != nil {
				t.Fatal("undefined range with bytes")
			}
			return
		}
		if off < 0 || size < 0 || off >= int64(len(data)) || int64(len(b)) > size || off+int64(len(b)) > int64(len(data)) {
			t.Fatalf("Range(%d, %d) over %d bytes = %d bytes", off, size, len(data), len(b))
		}
	})
}
