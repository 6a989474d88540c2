package fusefs

import (
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// How writes reach the server (stream, spool, upload) is vfs's business
// (internal/vfs); fusefs only chooses how the kernel caches the handle.

// fopenFlags are the FUSE open flags for a handle opened with flags:
// read-only and write-only handles bypass the page cache (FOPEN_DIRECT_IO).
// A reader gets each read(2) whole (up to 1 MiB), about twice as fast as
// 128 KiB readahead requests. A writer's data goes from the writer's
// pages straight into the daemon: without it the kernel first copies every
// write(2) into the page cache, one more copy of every byte, and the mount
// has no writeback cache to gain from that. mmap still works (the mount
// negotiates DIRECT_IO_ALLOW_MMAP; a write-only descriptor cannot be
// mmapped anyway). O_RDWR handles keep the page cache.
func fopenFlags(flags uint32) uint32 {
	switch flags & syscall.O_ACCMODE {
	case syscall.O_RDONLY, syscall.O_WRONLY:
		return fuse.FOPEN_DIRECT_IO
	}
	return 0
}
