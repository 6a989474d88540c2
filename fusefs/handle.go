package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/fxpfs/fxpfs/internal/vfs"
)

// fileHandle adapts an open vfs.Handle to go-fuse: each method is one call
// into the handle and maps its error. CopyFileRange type-asserts handles to
// *fileHandle to find the vfs handles.
type fileHandle struct {
	h    *vfs.Handle
	root *Root
	node *fileNode
}

// Read: see vfs.Handle.Read. The reply points into the handle's read-ahead
// window; go-fuse writes it and calls Done.
func (fh *fileHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	fh.root.reads.Add(1)
	r, err := fh.h.Read(ctx, dest, off)
	if err != nil {
		return nil, fh.root.errno(err)
	}
	return readReply{r}, 0
}

// Write: see vfs.Handle.Write.
func (fh *fileHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	n, err := fh.h.Write(ctx, data, off)
	return uint32(n), fh.root.errno(err)
}

// Flush is called at every close(2): a failed upload is reported here (the
// kernel ignores Release's result).
func (fh *fileHandle) Flush(ctx context.Context) syscall.Errno {
	errno := fh.root.errno(fh.h.Flush(ctx))
	fh.node.awaitGone(goneWaitAtClose) // a failed upload's file is gone when close returns
	// ... and the attributes and pages this handle showed (an O_TRUNC open
	// whose overwrite the server refused showed size 0) are dropped: a stat
	// right after close sees the server's file. FLUSH holds no lock the
	// kernel needs for that.
	fh.node.notifyWait(goneWaitAtClose)
	return errno
}

// Fsync uploads like Flush; the handle stays writable (later sequential
// writes append).
func (fh *fileHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return fh.root.errno(fh.h.Fsync(ctx))
}

// Release closes the handle.
func (fh *fileHandle) Release(ctx context.Context) syscall.Errno {
	fh.h.Release(ctx)
	return 0
}
