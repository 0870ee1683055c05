// Package hash implements yara's "hash" module: md5, sha1, sha256,
// checksum32 and crc32, each over a range of the scanned data (offset, size)
// or over a string.
//
// Digests are lowercase hexadecimal strings. A range whose offset is negative
// or not inside the data, or whose size is negative, is undefined; a size
// reaching past the end of the data is cut at the end, as yara does.
package hash

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"hash/crc32"

	"vigil/yara/module"
	"vigil/yara/modules/internal/yrval"
)

// Module returns the hash module.
func Module() *module.Module {
	return &module.Module{
		Name: "hash",
		Type: module.StructOf(
			module.F("md5", digestFunc("md5", md5Hex)),
			module.F("sha1", digestFunc("sha1", sha1Hex)),
			module.F("sha256", digestFunc("sha256", sha256Hex)),
			module.F("checksum32", sumFunc("checksum32", checksum32)),
			module.F("crc32", sumFunc("crc32", crc32.ChecksumIEEE)),
		),
		Load: func(*module.Context) (*module.Struct, error) {
			return module.NewStruct(), nil
		},
	}
}

func md5Hex(b []byte) string {
	d := md5.Sum(b)
	return hex.EncodeToString(d[:])
}

func sha1Hex(b []byte) string {
	d := sha1.Sum(b)
	return hex.EncodeToString(d[:])
}

func sha256Hex(b []byte) string {
	d := sha256.Sum256(b)
	return hex.EncodeToString(d[:])
}

// checksum32 is the sum of the bytes modulo 2^32.
func checksum32(b []byte) uint32 {
	var sum uint32
	for _, c := range b {
		sum += uint32(c)
	}
	return sum
}

// cacheKey identifies a digest of a data range in Context.Cache. The range is
// the clamped one, so f(0, filesize) and f(0, huge) share an entry.
type cacheKey struct {
	name       string
	start, end int
}

// digestFunc declares a string-valued digest with its (offset, size) and
// (string) overloads.
func digestFunc(name string, digest func([]byte) string) *module.Type {
	return module.FuncOf(
		&module.Func{Args: "ii", Result: module.KindString, Impl: func(c *module.Context, args []module.Value) module.Value {
			return cachedRange(c, name, args, digest, func(d string) module.Value { return d })
		}},
		&module.Func{Args: "s", Result: module.KindString, Impl: func(c *module.Context, args []module.Value) module.Value {
			s, ok := yrval.StringArg(args, 0)
			if !ok {
				return nil
			}
			return digest([]byte(s))
		}},
	)
}

// sumFunc declares an integer-valued checksum with its (offset, size) and
// (string) overloads.
func sumFunc(name string, sum func([]byte) uint32) *module.Type {
	return module.FuncOf(
		&module.Func{Args: "ii", Result: module.KindInt, Impl: func(c *module.Context, args []module.Value) module.Value {
			return cachedRange(c, name, args, sum, func(v uint32) module.Value { return int64(v) })
		}},
		&module.Func{Args: "s", Result: module.KindInt, Impl: func(c *module.Context, args []module.Value) module.Value {
			s, ok := yrval.StringArg(args, 0)
			if !ok {
				return nil
			}
			return int64(sum([]byte(s)))
		}},
	)
}

// cachedRange computes f (called name) over the data range args (offset,
// size), memoized per scan in c.Cache, and converts the result with wrap.
func cachedRange[T any](c *module.Context, name string, args []module.Value, f func([]byte) T, wrap func(T) module.Value) module.Value {
	off, ok1 := yrval.IntArg(args, 0)
	size, ok2 := yrval.IntArg(args, 1)
	if !ok1 || !ok2 {
		return nil
	}
	b, ok := yrval.Range(c.Data, off, size)
	if !ok {
		return nil
	}
	key := cacheKey{name: name, start: int(off), end: int(off) + len(b)}
	if v, hit := c.Cache[key]; hit {
		return wrap(v.(T))
	}
	v := f(b)
	if c.Cache != nil {
		n, _ := c.Cache[cacheCount{}].(int)
		if n < maxCacheEntries {
			c.Cache[key] = v
			c.Cache[cacheCount{}] = n + 1
		}
	}
	return wrap(v)
}

// maxCacheEntries bounds the digests memoized in one scan: a rule looping
// over many offsets could otherwise fill memory with them. Further results
// are computed each time.
const maxCacheEntries = 4096

// cacheCount is the Context.Cache key of the number of digests memoized.
type cacheCount struct{}
