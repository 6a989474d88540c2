// Package streammatch recognises, from the data alone, that a file being
// written through the mount is a copy of a file read through the mount, and
// proves it, so that the upload can be replaced by an FXP copy between the
// two servers.
//
// It is pure computation: no FTP, no FUSE, no goroutines, no clock except
// Options.Now. Every method is safe for concurrent use.
//
// # API
//
//	ix := streammatch.NewIndex(streammatch.Options{})    // one per mount
//
//	// Reader side: one Tap per open read handle of a remote file.
//	t := ix.Tap(streammatch.SourceID{Server: "a", Path: "/d/f", Size: size, Mtime: mtime})
//	t.Served(off, data)   // every byte served to the kernel, BEFORE the reply is sent
//	t.Close()             // at release
//
//	// Writer side: one Writer per handle writing a new file from offset 0.
//	w := ix.NewWriter(streammatch.SHA256)  // digests the destination server can check
//	w.Write(off, data)    // every write, in the order they apply
//	w.Truncate(size)      // every ftruncate/fallocate size change after open
//	if src, ok := w.Likely(); ok { /* start FXP src → destination early */ }
//	v := w.Verdict()      // at flush: Proven (v.Source) / Mismatch / Unknown + v.Reason
//	sum, err := w.Sum(streammatch.SHA256) // digest of the written file
//
//	ix.Forget(server, path) // the file was changed, renamed or removed through the mount
//
// Likely says that the written data so far agrees with a known source (at
// least its first block, and its size is plausible): the integrator may
// start the FXP then. Verdict is the only answer to act on: Proven means
// every byte the program wrote equals the byte the mount served for
// v.Source at the same offset, and the written file's length equals
// v.Source.Size. Mismatch means the written data or length differs from
// every candidate source. Unknown means equality could not be established
// (nothing matched when the first block was written, a source block was not
// served before it was written, the writes were not one sequential stream,
// a source served two different contents, a source was forgotten, ...).
// Reason says which, in words for logs and status.
//
// Proven is about the bytes the mount served. Whether the source server
// still holds them when the FXP runs is for the integrator to check (the
// SourceID's size and mtime against the server, and Sum against the
// destination's HASH/XCRC/XMD5 reply).
//
// # What is compared, and why it is a proof
//
// Both sides cut a file on the same fixed grid: leaves of 4 KiB (the page
// size: every page-cache read is leaf-aligned) grouped into blocks of
// Options.BlockSize (256 KiB by default), the last leaf and block of a file
// being shorter. A leaf's digest is SHA-256 of its bytes; a block's digest
// is SHA-256 of the concatenated digests of its leaves. The index keeps, per
// source version, only block digests. The writer computes the same digests
// over what it writes and compares block k with block k of each candidate.
// Equal block digests at the same index imply equal bytes at the same
// offsets unless SHA-256 has a collision (if the leaf-digest sequences
// differ the outer hash collides, otherwise a leaf hash collides); equal
// digests for every block plus equal lengths imply equal files. Nothing
// else (sizes, names, timing) ever makes a Proven.
//
// Leaves make the reader side independent of the order and the sizes of
// reads: a leaf is hashed as soon as the reader has been served all of it,
// whatever the pieces, and a block's digest is formed once all its leaves
// have been seen, in any order, from any handle of the same source. Reads
// that do not start or end on a leaf boundary (direct I/O passes the
// program's own sizes) are joined while they continue each other on the
// same Tap (up to 4 such streams per Tap); an unaligned piece that arrives
// out of order is not used, so that block stays unknown unless it is read
// again.
// A running hash of the whole prefix would need the reads in order from 0
// and could not recognise a repeated read as conflicting; a hash per block
// computed directly over its bytes would lose any block whose pieces arrive
// out of order.
//
// The writer side needs the writes as one sequential stream from 0 (how
// every copying program writes); a write that leaves a hole, overwrites
// written bytes, or a truncate below the written size ends the comparison
// (Unknown). An extending truncate (preallocation) is allowed: the file's
// length is then the larger of the two, and a hole left at the end is
// Unknown. Candidates are the sources whose first block equals the
// writer's first block when that block is complete; each later block must
// be known for a candidate when the writer completes it (a copy reads
// before it writes), else the candidate is dropped. This keeps a Writer's
// state O(1): it never stores its own block digests. A file shorter than
// one block is looked up whole at Verdict. Sources sharing their beginning
// stay candidates (at most Options.MaxCandidates, the most recently served)
// until the data tells them apart; Likely prefers the one it last returned
// (the FXP may be running from it), then the most recently served, and
// Verdict names the one Likely returned if it is proven.
//
// When a block (or a leaf of a block being assembled) is served twice with
// different contents, the source version is marked inconsistent and can
// prove nothing. A partial re-read of an already known block is not
// compared (the index keeps no leaf digests for known blocks); the
// integrator's check of the source's mtime/size and of the destination's
// digest covers a file that changes on its server.
//
// # Memory
//
// Figures for the default 256 KiB blocks; all of the index's memory is
// counted against Options.MaxBytes (16 MiB by default), and the least
// recently used source versions are forgotten beyond it, or after
// Options.MaxAge (1 h) without use:
//   - a source version: about 650 bytes plus its path, and 32 bytes and 1
//     bit per block served: 130 KiB per GiB served, so the default cap
//     holds about 125 GiB of sources, or some 25,000 small files
//     (TestMemoryPerGiB and TestMemoryCap check these figures against the
//     Go heap);
//   - a block being assembled: 32 bytes per leaf (2 KiB), at most 8 per
//     source version;
//   - a Tap: up to 4 cursors of about 250 bytes;
//   - a Writer: about 4 KiB whatever the file's size (one block's leaf
//     digests, two hash states, at most Options.MaxCandidates candidates,
//     and one hash state per digest asked for).
//
// No file data is kept anywhere: only digests.
//
// # Cost
//
// Every byte served and every byte written while a candidate is followed
// is hashed once with SHA-256 (crypto/sha256, which uses the CPU's SHA
// instructions where present); a Writer that matched nothing at its first
// block hashes nothing more, so ordinary uploads pay for one block only.
// The figures, against SHA-256 and memmove of the same bytes in the same
// run, are in docs/benchmarks.md:
//
//	go test ./internal/vfs/streammatch -run '^$' -bench . -benchtime 3x
package streammatch
