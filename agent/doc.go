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
// wire.SyncRequest. A hunt pushed on P.to.<id>.hunt is never run as it
// came: it only makes the agent sync at once, since only a sync reply
// carries the log proofs (below). A wire.Cancel on P.to.<id>.cancel stops
// a hunt.
//
// # No hunt in secret: log, approvals and the local policy
//
// The agent runs only hunts that the server's transparency log (package
// translog) holds, approved as the machine owner's local policy (package
// agent/policy) requires. The policy file is Options.PolicyFile, by
// default StateDir/policy. When it does not exist at enrollment, the agent
// writes one from the wire.EnrollReply (log-key, one approver line per
// approver key, min-approvals as the server said; the server's witnesses
// as comments, not required) and says so in a log line: the server's keys
// are trusted on first use, and from then on only the machine's
// administrator changes them. Run reads the policy when it starts and
// again on SIGHUP (Unix; a file that no longer parses is then ignored and
// the policy in force kept). A policy file that exists and does not parse
// stops Run. Without any policy file the default policy applies, which
// pins no log key, so every hunt is refused.
//
// Every SyncRequest carries LogSize, the size of the checkpoint the agent
// last verified (StateDir/log.state). On every reply the agent checks the
// Checkpoint's signature by the pinned log key (and the cosignatures of
// min-witnesses of the policy's witnesses), and that it extends the stored
// checkpoint by the Consistency proof; the first checkpoint is trusted on
// first use, and each newer one is stored. A checkpoint that does not
// verify (for example not yet cosigned by enough witnesses) leaves the
// reply's hunts unjudged: they are asked for again with the sync's backoff.
// A checkpoint that does not extend the stored one is a fork of the log:
// the agent keeps both signed checkpoints in log.state as evidence,
// journals the fork, and refuses every hunt (this reply's, later ones and
// those resumed after a restart) with a reason naming both trees' sizes
// and hashes. It keeps refusing until the machine's administrator, having
// looked at the evidence, deletes StateDir/log.state (the agent then
// trusts the server's next checkpoint on first use).
//
// For each hunt the agent then checks that it came with its log entry and
// approvals (wire.HuntLog), each proven to be in the checkpoint's tree,
// that the entry is this hunt's (translog.HuntEntry.CheckHunt), and asks
// the policy (policy.Check: forbidden roots, content collection, document
// hunts, approvals by the policy's approver keys other than the requester,
// the daily cap counted from the journal's "ran" records of the last 24
// hours and the hunts accepted since). Each root is also resolved
// (filepath.EvalSymlinks) and refused if it lands in a forbidden place.
// Forbidden places inside a root are never opened or entered: the walk
// asks policy.Forbidden (through scan.Options.Skip) about every path as
// walked, through the resolved root, and resolved on disk when the hunt
// follows symbolic links; the decision's Exclude patterns are added too,
// and every result is checked once more before it is reported.
//
// Every hunt the agent ran, refused or could not run is recorded in
// StateDir/journal (package journal, hash-chained) with its log index,
// the tree size it was checked against, requester, approvers, rules
// SHA-256, paths, reason and counts; a fork is recorded too. `vigil audit
// --state DIR` prints and checks it. The policy's cpu-share is enforced by
// resting after scans in proportion to the scanning time (a duty cycle:
// share% of one core over all of a hunt's workers).
//
// # Running a hunt
//
// Messages that do not decode (malformed or unknown JSON, over
// wire.MaxMessage) and hunts without a valid ID are logged and ignored. A
// hunt that is otherwise invalid, whose rules do not hash to RulesSHA256,
// whose rules use include (an agent reads no rule files), whose exclude
// patterns are malformed, that has already expired, or that fails the log
// and policy checks above is refused (Status "refused" with the reason). Refused hunts are remembered like finished
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
