package fusefs

import (
	"context"
	"errors"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Whether a server can hold a trash (server.trashState).
const (
	trashUnknown int32 = iota // not tried yet
	trashWorks                // its trash folder exists or could be made
	trashRefused              // MKD of the trash folder, or a move into it, was refused
)

// trashRecheck is how long a refusal stands before access(W_OK) tries again.
const trashRecheck = 10 * time.Minute

// Access answers access(2) on a server's folder. W_OK is EROFS on a
// read-only mount and EACCES on a server that cannot hold a trash (see
// trash.go: GIO decides access::can-trash from it); otherwise, and for R_OK
// and X_OK, the mode bits shown decide, as for go-fuse's default check.
func (d *dirNode) Access(ctx context.Context, mask uint32) syscall.Errno {
	caller, ok := fuse.FromContext(ctx)
	if !ok {
		return 0
	}
	if mask&unix.W_OK != 0 {
		if errno := d.root.writable(); errno != 0 {
			return errno
		}
		if !d.root.trashPossible(ctx, d.srv, caller.Uid) {
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

// trashPossible reports whether srv can hold a trash: its trash folder is
// there, or can be made. The first time (and trashRecheck after a refusal)
// it makes and removes the folder of uid (MKD, RMD) to find out; a server
// that does not answer counts as possible (the trash itself then fails).
func (r *Root) trashPossible(ctx context.Context, srv *server, uid uint32) bool {
	if ok, known := srv.trashKnown(); known {
		return ok
	}
	srv.trashProbe.Lock()
	defer srv.trashProbe.Unlock()
	if ok, known := srv.trashKnown(); known {
		return ok
	}
	folder := "/" + trashName(uid)
	e, err := r.cache.Lookup(ctx, srv.cl, folder)
	switch {
	case err == nil:
		ok := e.Type == ftpclient.TypeDir
		srv.setTrash(ok)
		return ok
	case !errors.Is(err, ftpclient.ErrNotFound):
		return true
	}
	pctx := context.WithoutCancel(ctx) // a made folder must be removed
	err = srv.cl.Mkdir(pctx, folder)
	switch {
	case err == nil:
		if rerr := srv.cl.Rmdir(pctx, folder); rerr != nil {
			r.log.Warn("trash: removing the probe folder", "server", srv.name, "path", folder, "err", rerr)
			r.changed(srv, change{put: folder, entry: ftpclient.Entry{Type: ftpclient.TypeDir, Mtime: time.Now()}})
		}
		srv.setTrash(true)
		return true
	case errors.Is(err, ftpclient.ErrExists):
		srv.setTrash(true)
		return true
	case errors.Is(err, ftpclient.ErrPermission), errors.Is(err, ftpclient.ErrNotFound):
		r.trashRefused(srv, err)
		return false
	}
	return true
}

// trashRefused records that srv refused its trash folder (when err says so).
func (r *Root) trashRefused(srv *server, err error) {
	if !errors.Is(err, ftpclient.ErrPermission) && !errors.Is(err, ftpclient.ErrNotFound) {
		return
	}
	if srv.trashState.Swap(trashRefused) != trashRefused {
		r.log.Info("trash: the server refuses a trash folder; its files cannot be moved to the trash (GIO's access::can-trash is FALSE for them)",
			"server", srv.name, "err", err)
	}
	srv.trashAt.Store(time.Now().UnixNano())
}

// trashKnown returns what is known of srv's trash, if anything.
func (s *server) trashKnown() (ok, known bool) {
	switch s.trashState.Load() {
	case trashWorks:
		return true, true
	case trashRefused:
		if time.Since(time.Unix(0, s.trashAt.Load())) < trashRecheck {
			return false, true
		}
	}
	return false, false
}

// setTrash records the outcome of a probe.
func (s *server) setTrash(ok bool) {
	if ok {
		s.trashState.Store(trashWorks)
		return
	}
	s.trashState.Store(trashRefused)
	s.trashAt.Store(time.Now().UnixNano())
}
