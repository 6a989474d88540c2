package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Access answers access(2) on a server's folder. W_OK is EROFS on a
// read-only mount and EACCES on a server that cannot hold a trash
// (vfs.Trashes.CanTrash: GIO decides access::can-trash from it); otherwise,
// and for R_OK and X_OK, the mode bits shown decide, as for go-fuse's
// default check.
func (d *dirNode) Access(ctx context.Context, mask uint32) syscall.Errno {
	caller, ok := fuse.FromContext(ctx)
	if !ok {
		return 0
	}
	if mask&unix.W_OK != 0 {
		if errno := d.root.writable(); errno != 0 {
			return errno
		}
		if !d.root.trashes.CanTrash(ctx, d.srv.cl, caller.Uid) {
			return syscall.EACCES
		}
	}
	var out fuse.AttrOut
	if errno := d.Getattr(ctx, nil, &out); errno != 0 {
		return errno
	}
	if !modeAllows(caller.Uid, caller.Gid, out.Uid, out.Gid, out.Mode, mask) {
		return syscall.EACCES
	}
	return 0
}

// modeAllows is the classic owner/group/other check of mask (R=4, W=2,
// X=1) against mode; root may do anything but execute what no one may.
// (Supplementary groups are not consulted.)
func modeAllows(uid, gid, fileUID, fileGID, mode, mask uint32) bool {
	mask &= 7
	if mask == 0 {
		return true
	}
	if uid == 0 {
		return mask&1 == 0 || mode&0o111 != 0 || mode&syscall.S_IFMT == syscall.S_IFDIR
	}
	bits := mode
	switch {
	case uid == fileUID:
		bits = mode >> 6
	case gid == fileGID:
		bits = mode >> 3
	}
	return bits&mask == mask
}
