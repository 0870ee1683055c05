package scan

import "time"

// Default limits. They follow clamscan's defaults where it has one
// (--max-files 10000, --max-recursion 17, --max-scansize 400 MB) and are a
// little more generous where Vigil's memory model allows it.
const (
	// DefaultMaxFileSize bounds a file or archive member handed to the
	// engine, which holds it in memory while scanning.
	DefaultMaxFileSize = 512 << 20
	// DefaultMaxDepth is how deep archives may nest: 42.zip needs 6 levels,
	// real malware droppers rarely more than 3.
	DefaultMaxDepth = 8
	// DefaultMaxUnpacked bounds the bytes unpacked from one top-level file,
	// all archive levels together.
	DefaultMaxUnpacked = 1 << 30
	// DefaultMaxRatio bounds bytes unpacked per compressed byte, per member
	// and for a whole top-level file (nested bombs). Text compresses about
	// 10:1, logs up to 50:1; deflate cannot exceed about 1032:1.
	DefaultMaxRatio = 200
	// DefaultMaxMembers bounds the members read from one archive.
	DefaultMaxMembers = 10000
	// DefaultFileTimeout bounds the time spent on one top-level file,
	// including its archive members.
	DefaultFileTimeout = 5 * time.Minute
)

// Limits bound the work spent on one top-level file. A zero field means
// no limit, except where noted.
type Limits struct {
	MaxFileSize int64         // bytes of one file or member
	MaxDepth    int           // archive nesting levels below the file
	MaxUnpacked int64         // bytes unpacked from one top-level file
	MaxRatio    int64         // unpacked bytes per compressed byte
	MaxMembers  int           // members per archive
	FileTimeout time.Duration // per top-level file
}

// DefaultLimits returns the default limits.
func DefaultLimits() Limits {
	return Limits{
		MaxFileSize: DefaultMaxFileSize,
		MaxDepth:    DefaultMaxDepth,
		MaxUnpacked: DefaultMaxUnpacked,
		MaxRatio:    DefaultMaxRatio,
		MaxMembers:  DefaultMaxMembers,
		FileTimeout: DefaultFileTimeout,
	}
}

// Reason tells why a file or member was skipped. The values are stable:
// they appear in JSON output.
type Reason string

// The reasons of skipped events.
const (
	ReasonTooLarge  Reason = "too-large"      // larger than MaxFileSize
	ReasonDepth     Reason = "max-depth"      // an archive below MaxDepth levels
	ReasonUnpacked  Reason = "max-unpacked"   // MaxUnpacked reached
	ReasonRatio     Reason = "max-ratio"      // compression ratio above MaxRatio
	ReasonMembers   Reason = "max-members"    // more members than MaxMembers
	ReasonTimeout   Reason = "timeout"        // FileTimeout passed
	ReasonEncrypted Reason = "encrypted"      // encrypted archive member
	ReasonDict      Reason = "decoder-memory" // decoder window above archive.MaxDictSize
	ReasonSymlink   Reason = "symlink"        // a symbolic link, not followed
	ReasonLoop      Reason = "symlink-loop"   // a link into a directory being walked
	ReasonSpecial   Reason = "special-file"   // FIFO, device, socket: never opened
)
