// Package archive reads the members of archives and compressed files held
// in memory: zip (with zip64), tar, gzip, bzip2, xz and zstd. Formats are
// recognised by their content (Detect), never by a file name.
//
// A member's name is only a label: nothing here creates files, so a name
// like "../../etc/passwd" is harmless. Labels are cleaned of control
// characters before they are returned, so they can be printed.
//
// # Security
//
// Every input is assumed hostile. Member content is read with a size
// limit and a compression ratio limit (Member.Read), checked while
// decompressing, so a zip bomb costs at most the limit in memory and
// time. Declared sizes are used only to refuse early, never to allocate
// beyond the limit. Decoders whose memory depends on a header field (the
// xz dictionary, the zstd window) are bounded before they allocate
// (MaxDictSize). Malformed input gives an error, never a panic.
package archive
