package fusefs

import (
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/fxpfs/fxpfs/internal/vfs"
)

// readReply adapts a vfs.Reply to go-fuse's fuse.ReadResult. go-fuse writes
// its Slices with one writev (header and data, no copy in between: the
// withSlice interface) and calls Done afterwards.
type readReply struct{ *vfs.Reply }

// Bytes returns the reply as one slice.
func (r readReply) Bytes(buf []byte) ([]byte, fuse.Status) { return r.Reply.Bytes(buf), fuse.OK }

// Slices is go-fuse's vectored-reply interface (fuse.withSlice).
func (r readReply) Slices() ([][]byte, fuse.Status) { return r.Reply.Slices(), fuse.OK }
