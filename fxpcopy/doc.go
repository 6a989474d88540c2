// Package fxpcopy is the server-to-server transfer engine: it copies a file
// from one FTP server to another (or within one) by FXP where the servers
// allow it, falls back to a bounded-memory relay where they do not, verifies,
// resumes, preserves mtime, and reports progress. It does not import FUSE.
//
// Entry points: Engine.Copy (one file), Engine.CopyTree (a directory tree,
// several files at once), Engine.Sync and Engine.PlanSync (make a destination
// tree like a source tree: plan, compare, copy, delete; Excluder for
// rsync-style excludes), Digest (a file's hash as its server computes it).
// Every copy is a Record, live in Engine.Active and kept in Engine.Recent;
// Engine.Counters sums them up and Engine.Reject marks a copy its caller
// did not accept.
//
// One copy (Engine.Copy):
//  1. SIZE (and MDTM) of the source, unless the caller's listing gave
//     them (CopyTree, Sync, Options.Listed: the size, and the mtime where
//     it is exact); with Options.Continue, SIZE of the destination gives
//     the resume offset. Otherwise, where a file exists at the
//     destination, the copy goes to a temporary next to it (see
//     "Existing destinations").
//  2. Policy (ServerConfig.FXP of both sides): "off" on either side means
//     relay; "force" on either side means FXP or an error.
//  3. The ways to copy, tried in turn until one works: FXP with PASV on the
//     destination, FXP with PASV on the source (reversed), the relay. The
//     orientation that last worked for the server pair goes first; one
//     refused by the pair within RefusalMemory is skipped. Each attempt
//     takes fresh control connections (a failed attempt's are destroyed,
//     never reused). A copy fails only when every way has failed, or at
//     once when the file itself is refused (missing source, no permission,
//     no space: no other way would fare better) or ctx is done.
//  4. FXP attempt: PASV (EPSV where PASV is refused or over IPv6) to the
//     passive side; PORT (EPRT for IPv6) to the active side with the
//     passive server's own control address — never a third host a PASV
//     reply may name; then the transfer commands, the passive side's first
//     (see "Command order"); then both control connections are watched at
//     once while a spare connection polls the destination's SIZE, under the
//     deadlines of deadlines.go. Where a server uses TLS, protect.go
//     decides how the servers' direct data connection is protected
//     (encrypted with SSCN/CPSV; clear only where fxp_clear_data allows it;
//     else the orientation is refused — before any connection is taken
//     when what the engine knows already rules every way out).
//  5. Relay: RETR streamed into STOR through a fixed 256 KiB buffer.
//  6. Verify: destination SIZE equals the source's, plus a common hash
//     (HASH, XSHA1, XMD5 or XCRC) when both servers offer one. A mismatch
//     removes the destination.
//  7. MFMT (or SITE UTIME) copies the source's mtime.
//  8. A temporary is renamed over the file it replaces.
//
// Steps 3 to 7 hold one connection slot on each server, taken at once
// (ftpclient.Reserve): the verification and the mtime go over the
// connections the transfer used.
//
// # Command order
//
// The passive server (the one that got PASV) is sent its transfer command
// first, the active server (PORT) its own right after, without waiting for
// a 1xx: vsftpd, pure-ftpd and proftpd send it only once the data
// connection exists, so waiting would deadlock. Why this is safe:
//   - Default orientation (PASV on the destination): STOR goes to the
//     destination, then RETR to the source. The source connects and sends
//     only after it has RETR, which left after STOR; a destination that
//     accepts in its STOR handler finds the connection queued in its listen
//     backlog; a destination that accepts at once and drops a connection
//     arriving before its command (pyftpdlib) answers STOR at once, and is
//     given time to (Engine.earlyWait), so the connection cannot overtake
//     the command. (A server whose greeting names vsftpd, pure-ftpd or
//     ProFTPD, which accept only in their STOR handler, is not waited for.) No byte can flow before the destination has opened the
//     file: the destination reads only what arrives on the connection it
//     accepted for STOR.
//   - Reversed (PASV on the source): RETR goes to the source, then STOR to
//     the destination. The destination connects only once it has STOR and
//     has opened its file, and the source sends only on a connection it
//     accepted for RETR: again no byte flows before both commands are in.
//
// The old order (the active server first, waiting for its 150) let the
// active source's data reach a passive pyftpdlib before its STOR, which
// dropped it and then waited for ever.
//
// # Watching both sides
//
// Both control connections are read at once, so an attempt that cannot work
// ends in seconds: a passive server that refuses its peer's address
// (pure-ftpd without FXP allowed) drops the data connection and keeps
// waiting, saying nothing, while its peer ends at once (426, or 226 for 0
// bytes). After PeerSilence the attempt is given up: ABOR on both control
// connections, the passive server's data connection opened from this host
// (the address it does accept) to end its wait, QUIT, and a reset of a
// connection still busy — so that no server session outlives the attempt —
// and the refusal is remembered for the pair and orientation.
//
// # Interruption
//
// When ctx is done during an FXP transfer: ABOR on both control
// connections, up to AbortWait for both transfers to end, a reset of those
// that did not, then the destination is removed (after its size is stable
// if its end was not confirmed) and checked to be gone, within RemoveWait.
// Removing it while the server's upload session still writes can leave a
// hidden file (pure-ftpd renames a file to .pureftpd-rename.* for DELE and
// keeps it if its size changes meanwhile).
//
// A failed copy removes what it wrote unless it was a resume
// (Options.Continue) whose data so far verified as a prefix, or its STOR
// was refused (DestinationIntact): nothing that looks complete is left.
//
// # Existing destinations
//
// A copy onto a file that exists (and is not resumed) never writes onto
// it. It first checks that the server would let it overwrite that file
// (ftpclient's ProbeWritable: an APPE of nothing), then copies — FXP or
// relay, any orientation — into a temporary in the same directory
// (".fxpfs-XXXXXXXXXX.part", without the dot where the server refuses dot
// files), verifies it, gives it the source's mtime and the original's
// permission bits, and only then renames it over the original
// (ftpclient's Client.Replace: RNFR/RNTO, or by way of a backup name on
// servers that cannot rename onto a file). Any failure before that —
// refusal, mismatch, cancellation, a server gone — removes the temporary
// like any failed destination (ABOR, wait, DELE, check gone) and leaves the
// original byte for byte as it was (DestinationIntact). Exceptions: where
// the directory takes no new file at all, the file is overwritten in place
// with a warning (a failure then removes it); a file created at the
// destination by someone else between the check and the copy is written
// directly; the replacement has the copying user as owner.
//
// A destination that does not exist is written directly: there is nothing
// to lose, a failure removes it, and a temporary would cost a rename per
// file in trees of new files. Options.InPlace writes the destination
// directly even where it exists: for callers that made it a temporary of
// their own (the mount's kernel copies, which hide their temporaries).
// CopyTree and Sync pass what their listings say is at each destination:
// a copy to a name their listing found free asks nothing; one onto a file
// asks SIZE (it may be gone since) and the write check, not a listing.
//
// Every error wraps the sentinel that classifies it: ftpclient's (ErrNoSpace,
// ErrPermission, ErrNotFound, ErrTimeout, ErrUnavailable, ...),
// context.Canceled, ErrVerify or ErrFXPRefused.
//
// # Files
//
//   - engine.go: Engine, Endpoint, Options, Record, the FXP policy of a pair.
//   - copy.go: one copy from start to end (steps 1-3, 7, cleanup after a
//     failure); relay.go: the relay (step 5); verify.go, digest.go: step 6.
//   - replace.go: copies onto existing files by way of a temporary (step 8).
//   - fxp.go: one FXP attempt (step 4): its two sides, PASV/EPSV and
//     PORT/EPRT, refusals; replies.go: reading both control connections at
//     once; watch.go: the transfer commands, the deadlines, the outcome;
//     teardown.go: ABOR, releasing a waiting passive server, QUIT/reset;
//     deadlines.go: the attempt's deadlines; protect.go: TLS data
//     protection; memory.go: what is remembered between copies.
//   - outcome.go, reject.go, counters.go: classifying and counting outcomes.
//   - tree.go: CopyTree; sync.go, sync_plan.go, exclude.go: Sync.
package fxpcopy
