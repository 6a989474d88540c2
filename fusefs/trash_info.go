package fusefs

import (
	"context"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// pendingInfo is a file created in a trash's info/ that is on no server
// yet: GIO's info/NAME.trashinfo (and the temporary file it writes it
// through), made before the file it describes is moved into files/. It
// lives in memory until that move uploads it to the file's server
// (moveIntoTrash), an unlink drops it, or pendingTTL passes.
type pendingInfo struct {
	fs.Inode
	tr      *trashRoot
	created time.Time

	name string // under tr.mu

	mu    sync.Mutex
	data  []byte
	mtime time.Time
	done  bool // uploaded: the server's copy is the one from now on
}

// pendingInfo returns the pending info file name, if any.
func (tr *trashRoot) pendingInfo(name string) *pendingInfo {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.expireLocked()
	return tr.pending[name]
}

// pendingList returns the pending info files, sorted by name.
func (tr *trashRoot) pendingList() []*pendingInfo {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.expireLocked()
	out := make([]*pendingInfo, 0, len(tr.pending))
	for _, pi := range tr.pending {
		out = append(out, pi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// expireLocked drops pending info files older than pendingTTL. tr.mu held.
func (tr *trashRoot) expireLocked() {
	for name, pi := range tr.pending {
		if time.Since(pi.created) > pendingTTL {
			delete(tr.pending, name)
		}
	}
}

// createPending makes the pending info file name in d (info/). It is
// exclusive across the mount: EEXIST when any server's trash has the name,
// or, for NAME.trashinfo, a trashed NAME (so that NAME is free everywhere).
func (tr *trashRoot) createPending(ctx context.Context, d *trashDir, name string) (*pendingInfo, syscall.Errno) {
	if tr.taken(ctx, trashInfo, name, nil) {
		return nil, syscall.EEXIST
	}
	if base, ok := strings.CutSuffix(name, ".trashinfo"); ok && base != "" && tr.taken(ctx, trashFiles, base, nil) {
		return nil, syscall.EEXIST
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.expireLocked()
	if _, ok := tr.pending[name]; ok {
		return nil, syscall.EEXIST
	}
	if len(tr.pending) >= maxPendingInfo {
		return nil, syscall.ENOSPC
	}
	now := time.Now()
	pi := &pendingInfo{tr: tr, name: name, created: now, mtime: now}
	d.NewInode(ctx, pi, fs.StableAttr{Mode: syscall.S_IFREG})
	tr.pending[name] = pi
	return pi, 0
}

// renamePending renames a pending info file within info/ (GIO writes the
// info file as a temporary file renamed over it), replacing a pending file
// of the new name.
func (tr *trashRoot) renamePending(ctx context.Context, name, newName string, noReplace bool) syscall.Errno {
	if noReplace && tr.taken(ctx, trashInfo, newName, nil) {
		return syscall.EEXIST
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	pi, ok := tr.pending[name]
	if !ok {
		return syscall.ENOENT
	}
	delete(tr.pending, name)
	pi.name = newName
	pi.created = time.Now()
	tr.pending[newName] = pi
	return 0
}

// dropPending removes the pending info file name and reports whether there was one.
func (tr *trashRoot) dropPending(name string) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	_, ok := tr.pending[name]
	delete(tr.pending, name)
	return ok
}

// takePending removes the pending info file name from the pending set and
// returns it (nil if none), for moveIntoTrash to upload.
func (tr *trashRoot) takePending(name string) *pendingInfo {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	pi := tr.pending[name]
	delete(tr.pending, name)
	return pi
}

// restorePending puts back a pending info file taken for a move that failed.
func (tr *trashRoot) restorePending(pi *pendingInfo) {
	if pi == nil {
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if _, ok := tr.pending[pi.name]; !ok {
		tr.pending[pi.name] = pi
	}
}

// uploaded marks pi as uploaded to its server: the kernel forgets the
// entry, so the next lookup finds the server's file. Until then pi still
// answers with the same content.
func (pi *pendingInfo) uploaded() {
	pi.mu.Lock()
	pi.done = true
	pi.mu.Unlock()
	pi.tr.mu.Lock()
	name := pi.name
	pi.tr.mu.Unlock()
	info := pi.tr.dirs[trashInfo]
	// Asynchronous: the kernel may hold locks for the rename that led here.
	go info.NotifyEntry(name)
}

// content returns a copy of the file's bytes.
func (pi *pendingInfo) content() []byte {
	pi.mu.Lock()
	defer pi.mu.Unlock()
	return append([]byte(nil), pi.data...)
}

// fillAttr describes the file: the trash owner's, 0600.
func (pi *pendingInfo) fillAttr(out *fuse.Attr) {
	pi.mu.Lock()
	defer pi.mu.Unlock()
	out.Ino = pi.StableAttr().Ino
	out.Mode = syscall.S_IFREG | 0o600
	out.Nlink = 1
	out.Size = uint64(len(pi.data))
	out.Blocks = (out.Size + 511) / 512
	out.Blksize = blockSize
	out.Uid, out.Gid = pi.tr.uid, pi.tr.root.opts.GID
	out.SetTimes(&pi.mtime, &pi.mtime, &pi.mtime)
}

// Open opens the file in memory; O_TRUNC empties it.
func (pi *pendingInfo) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_TRUNC != 0 {
		pi.mu.Lock()
		pi.data, pi.mtime = nil, time.Now()
		pi.mu.Unlock()
	}
	return nil, fuse.FOPEN_DIRECT_IO, 0
}

// Read reads from memory.
func (pi *pendingInfo) Read(ctx context.Context, f fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	pi.mu.Lock()
	defer pi.mu.Unlock()
	if off >= int64(len(pi.data)) {
		return fuse.ReadResultData(nil), 0
	}
	n := copy(dest, pi.data[off:])
	return fuse.ReadResultData(dest[:n]), 0
}

// Write writes to memory, up to maxInfoSize bytes (EFBIG beyond).
func (pi *pendingInfo) Write(ctx context.Context, f fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	pi.mu.Lock()
	defer pi.mu.Unlock()
	if pi.done {
		return 0, syscall.EROFS // the server's copy is the file now
	}
	end := off + int64(len(data))
	if off < 0 || end > maxInfoSize {
		return 0, syscall.EFBIG
	}
	if end > int64(len(pi.data)) {
		pi.data = append(pi.data, make([]byte, end-int64(len(pi.data)))...)
	}
	copy(pi.data[off:], data)
	pi.mtime = time.Now()
	return uint32(len(data)), 0
}

// Getattr describes the file.
func (pi *pendingInfo) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	pi.fillAttr(&out.Attr)
	return 0
}

// Setattr truncates; times and modes are accepted and ignored.
func (pi *pendingInfo) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if size, ok := in.GetSize(); ok {
		if size > maxInfoSize {
			return syscall.EFBIG
		}
		pi.mu.Lock()
		if int(size) <= len(pi.data) {
			pi.data = pi.data[:size]
		} else {
			pi.data = append(pi.data, make([]byte, int(size)-len(pi.data))...)
		}
		pi.mtime = time.Now()
		pi.mu.Unlock()
	}
	return pi.Getattr(ctx, f, out)
}

// Flush and Fsync have nothing to do: the file is uploaded with the move.
func (pi *pendingInfo) Flush(ctx context.Context, f fs.FileHandle) syscall.Errno { return 0 }
func (pi *pendingInfo) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	return 0
}
