// Package scan is Vigil's scanning layer between the file system and the
// rule engine: it walks directories, opens files safely, unpacks archives
// recursively (package scan/archive), enforces limits, runs a pool of
// scanners and reports every outcome as an Event: a scan result, a file
// skipped with its Reason, or an error with the path. Both `vigil scan`
// and the agent use it.
//
// Paths inside archives are labels joined with "!":
// "outer.zip!inner.tar!dir/file.exe".
//
// # Security
//
// Files are hostile. Nothing is ever extracted to the file system: members
// are read into memory, bounded by Limits. Every limit that stops work
// produces an Event with a Reason, never a silent skip. Special files
// (FIFOs, devices, sockets) are recognised with lstat and never opened;
// regular files are opened with O_NONBLOCK and checked again with fstat, so
// a file swapped for a FIFO cannot block the scan. Symbolic links are not
// followed unless Options.FollowSymlinks, and a link back into a directory
// being walked is never entered.
package scan
