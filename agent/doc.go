// Package agent is the Vigil endpoint agent as a library: it enrolls with a
// Vigil server, connects to the server's NATS with its own nkey, and runs the
// hunts the server sends it with the scanning layer (package scan), reporting
// statuses and matches as the wire protocol says (package wire). It imports
// no server or SQL code.
//
// # Life of an agent
//
// New loads the agent's identity from its state directory. On the first run
// Run (or Enroll) makes an nkey user key pair, posts a wire.EnrollRequest with
// the enrollment token to {Server}/api/v1/enroll and saves what the server
// answers (agent ID, NATS URLs, subject prefix) with the key's seed in
// StateDir/identity.json (mode 0600). The token is never stored or logged.
//
// Run then connects to NATS as "vigil-agent <id>" with the nkey and the
// inbox prefix wire.InboxPrefix(id), reconnecting forever. It only
// publishes on P.from.<id>.> and subscribes to P.to.<id>.> and its inbox:
// the permissions wire.AgentPermissions grants. It does not use the
// JetStream API: statuses and result batches are plain requests to the
// subjects the server's stream captures, and the JetStream PubAck reply is
// parsed by hand; a message is retried with backoff until it is
// acknowledged. Messages carry no Nats-Msg-Id (JetStream's duplicate
// detection spans the stream, so a predictable ID would let one agent
// suppress another's messages): a retried message may be stored twice in
// the stream, and the server keeps each (hunt, agent, seq) once.
//
// On connect and every wire.HelloInterval the agent publishes a wire.Hello;
// on connect and every wire.SyncInterval it asks for its hunts with a
// wire.SyncRequest. Hunts also arrive pushed on P.to.<id>.hunt; a
// wire.Cancel on P.to.<id>.cancel stops one.
//
// # Running a hunt
//
// Messages that do not decode (malformed or unknown JSON, over
// wire.MaxMessage) and hunts without a valid ID are logged and ignored. A
// hunt that is otherwise invalid, whose rules do not hash to RulesSHA256,
// whose rules use include (an agent reads no rule files), whose exclude
// patterns are malformed, or that has already expired is refused (Status
// "refused" with the reason). Refused hunts are remembered like finished
// ones.
// Otherwise the agent reports "received" at once, waits for its turn (one
// hunt scans at a time, in arrival order), compiles the rules ("failed"
// with the compiler's message if they do not compile), reports "running",
// scans, and ends with "done", "failed" or "canceled". While it scans it
// sends a "running" status with counters every 5 seconds and the matches in
// wire.ResultBatch messages: at most wire.MaxMatchesPerMsg matches and about
// 512 KiB each, sent when full and at least every 2 seconds while matches
// arrive. The terminal status's Batches is the highest batch Seq sent.
//
// Hunt limits map onto scan.Options: MaxFileSize, PerFileTimeout (the
// scan's per-file timeout), MaxArchiveDepth, FollowSymlinks and Archives
// (archives are unpacked only when the hunt asks for it). MaxFiles stops the
// scan after that many top-level files (status "done", with a note in
// Error). Limits.Timeout bounds the scan: when it passes the status is
// "failed" ("hunt timeout ... passed"). The hunt's Expires bounds
// everything: a hunt that expires while it waits or scans ends "canceled".
//
// A FileMatch holds the path ("!"-joined for archive members), the size and
// the SHA-256 and MD5 of exactly the bytes that were scanned (for archive
// members too: they are hashed from the unpacked bytes the scanner saw),
// and for each matching rule its namespace, tags and, per string, the first
// wire.MaxOffsetsPerHit offsets and the total count. Never any file content
// or matched data. Files that could not be read go into ResultBatch.Errors
// (at most wire.MaxErrorsPerMsg per message and 1000 per hunt; the status
// counts them all).
//
// # Local record and restarts
//
// StateDir/hunts holds what survives a restart: finished.json lists the
// hunts finished (or refused) with their expiry, pruned once expired, so
// that a restarted agent neither reruns them nor is sent them again (they
// are the SyncRequest's Known list); active/<id>.hunt and active/<id>.seq
// hold each hunt accepted but not finished, and its last sequence numbers.
//
// A hunt that was queued or running when the agent stopped is run again
// from the start when it restarts. Its sequence numbers do not restart at
// 1: statuses and batches continue from the last numbers used (they are
// written down before each message is sent), because the server ignores a
// status whose Seq is not above the last one it applied, and stores each
// (hunt, agent, seq) batch once, so restarted numbering would lose the new
// run's statuses and results. Before anything else the rerun resends the
// last batch number it had used as an empty batch, which is a duplicate if
// that batch had arrived and fills the gap if it had not, so the batches
// the server holds are always numbered 1..Batches. A terminal status is also
// written down before it is sent and resent after a restart. The price of a
// rerun is that matches found before the restart are reported again in
// later batches.
package agent
