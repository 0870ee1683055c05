// Package quarantine keeps files that matched rules in a quarantine store:
// a directory where each file's content is encrypted, so it can neither be
// executed nor found again by a scanner, next to a record of where it came
// from (path, owner, mode, times, size, SHA-256, the rules that matched).
//
// A store holds, per item, ID.data (the encrypted content) and ID.json
// (the record), plus one key file, "key", made on first use (mode 0600).
//
// # Encryption
//
// Content is sealed with AES-256-GCM in chunks of ChunkSize bytes (the
// STREAM construction: each chunk's nonce is the item's random 8-byte
// prefix and the chunk's number, and the last chunk is marked in the
// additional data), so items of any size are written and read with
// bounded memory, and a truncated, reordered or altered item is detected
// on restore. Each record carries an HMAC-SHA256 (with a key derived from
// the store's by HKDF), so a record edited to restore a file elsewhere is
// refused. XOR would defang as well, but would detect neither corruption
// nor tampering; AES-GCM is in the standard library and costs little. The key lives in the
// store: the goal is to defang files and guard their integrity, not to
// keep them secret from whoever can read the store.
//
// # Safety
//
// Add never loses data: it copies the file into the store, syncs it to
// disk, reads the copy back and compares its SHA-256 with the file's, and
// only then removes the original, after checking that the path still
// names the same, unchanged file. Restore writes a temporary file beside
// the original path, checks its SHA-256, restores mode, times and (as
// root) owner, and renames it into place; it refuses to replace an
// existing file unless told to.
package quarantine
