// Package vfs is the life of a remote file while it is open: reading it
// through a read-ahead window, writing it (streamed to STOR, or spooled
// locally and uploaded), replacing it by a server-side copy, and cleaning up
// after a failed upload; and the changes by path and the desktop trash
// built on them. It runs without FUSE (like rclone's vfs under
// cmd/mount2): package fusefs only adapts kernel requests to a *Handle and
// maps the errors returned here to errno values. Data flows one way: fusefs
// → vfs → (cache, fxpcopy, ftpclient).
//
// # Files and handles
//
// A File is one regular file of a server, made by the layer above for its
// node; the Node it is given says where the file is now (renames move it)
// and passes kernel notifications up ("gone", "changed"), so vfs needs no
// FUSE import. A Handle is one open(2) of a File.
//
// # States of a writing handle
//
//	clean      nothing written since open or the last upload: the server's
//	           file (base bytes) is the file
//	streaming  [0,size) written in order, flowing into one STOR (a new or
//	           truncated file) or APPE (writes at the end of the file)
//	spooled    the content is in a local spool file (0600, in a private
//	           directory), uploaded by STOR at flush
//	copied     filled server-to-server by a kernel copy (copy.go); nothing
//	           local
//	matching   written from offset 0 with the bytes of a file read through
//	           the mount: the first block held in memory, then the bytes
//	           spooled while an FXP copies the source (match.go)
//	failed     an upload failed and was cleaned up; every later call fails
//
// Transitions:
//
//	open                            → clean (base = listed size)
//	open(O_TRUNC), create           → streaming (size 0)
//	clean: write at base            → streaming (APPE, or STOR from 0)
//	clean: write elsewhere, truncate to a size ≠ base
//	                                → spooled (the server's file is downloaded first)
//	streaming (size 0): write at 0, files read recently
//	                                → matching
//	streaming: write not at the end, truncate to a size ≠ 0, read
//	                                → spooled (the stream is finished, then downloaded)
//	streaming, no APPE on the server → spooled
//	matching: first block, no source (or one below the threshold)
//	                                → streaming (the block sent by STOR)
//	matching: a write elsewhere, a read, a truncate
//	                                → spooled (the FXP cancelled)
//	matching: flush                 → uploaded: by the FXP where proven and
//	                                  verified, else by uploading the bytes
//	any: truncate(0)                → streaming (size 0), except spooled
//	clean (empty): copy_file_range of a whole file
//	                                → copied
//	copied: write, truncate         → clean (base = copied size), then as above
//	streaming, spooled: flush ok    → uploaded: same state, nothing dirty
//	                                  (later writes at the end append; a
//	                                  spool stays for more random writes)
//	any: upload fails               → failed: a temporary or a new file's
//	                                  partial upload removed, an original
//	                                  left as it was (a failed append keeps
//	                                  the file)
//
// # Where uploads go (replace.go)
//
// An upload of a whole file over an existing one (O_TRUNC then write, a
// spooled rewrite, an append rewritten because the server has no APPE, a
// kernel copy onto it) goes to a temporary name next to it
// (".fxpfs-XXXXXXXXXX.part") and is renamed over it only once complete
// (ftpclient.Replace, which also knows servers that cannot rename onto a
// file): a failed upload removes the temporary and leaves the original as
// it was.
// A new file streams straight to its name, and a failed one is removed:
// there is nothing to keep, and a temporary would cost two commands per
// file in trees of small files (and rsync renames its own temporaries
// anyway). Only a file created on the server by someone else after the
// mount listed the directory can be lost that way. Appends go by APPE onto
// the file itself: a failed append keeps the original bytes (the file is
// not removed), followed by whatever part of the new ones the server
// stored. A truncation nothing was written after is committed at the last
// close or fsync, not at a flush (see flushLocked).
//
// # Server-side copies
//
// A kernel copy of a whole file (copy.go) and a matched write stream
// (match.go) run as a job of the destination handle (copy_job.go),
// detached from the request that started it: interrupts, retries and
// cancellation are described there.
//
// # Changes by path and the trash
//
// Mkdir, Rmdir, Remove and Rename (ops.go) make one change on a server and
// record it in the cache. Trashes (trash.go) are the desktop trash of a
// mount, one Trash per uid: the union of the servers' own /.Trash-UID
// folders, moves into them by server-side renames, the .trashinfo files
// GIO writes before the server is known (held in memory, then uploaded
// through a Handle like any file), and whether a server can hold a trash
// at all.
//
// # Locks
//
// Lock order: Handle.mu → Handle.wmu → File.mu → Handle.omu; reader.mu is
// taken alone, under Handle.wmu (toSpool stops the read stream) or under
// servedLog.mu (the stream matcher's backlog pins and unpins read-ahead
// chunks, served.go). Every
// entry point of a Handle holds mu.RLock; Release takes mu.Lock, waiting
// for them, and marks the handle released. wmu guards the write state (a
// server-side copy job never takes it, so wmu may be held while waiting
// for one); omu guards a mirror of it (size, mtime, pending: mirror.go)
// that stat and setattr of the File read without waiting for a write
// blocked on the network. The Node's callbacks (Gone, Changed) are made
// with wmu held; the layer above may take File.mu and readers' mu in them
// (File.DropReadAhead), never a Handle's mu or wmu.
package vfs
