package fusefs

import (
	"context"
	"errors"
	"log/slog"
	"syscall"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/vfs"
)

// errnoMap is the one mapping from ftpclient's sentinel errors to errno.
var errnoMap = []struct {
	err   error
	errno syscall.Errno
}{
	{ftpclient.ErrNotFound, syscall.ENOENT},
	{ftpclient.ErrExists, syscall.EEXIST},
	{ftpclient.ErrPermission, syscall.EACCES},
	{ftpclient.ErrNotEmpty, syscall.ENOTEMPTY},
	{ftpclient.ErrIsDir, syscall.EISDIR},
	{ftpclient.ErrNotDir, syscall.ENOTDIR},
	{ftpclient.ErrBadName, syscall.EINVAL},
	{ftpclient.ErrUnsupported, syscall.ENOTSUP},
	{ftpclient.ErrNoSpace, syscall.ENOSPC},
	{ftpclient.ErrTimeout, syscall.ETIMEDOUT},
	{ftpclient.ErrShortRead, syscall.EIO},
	{vfs.ErrFailed, syscall.EIO},
	{vfs.ErrBadHandle, syscall.EBADF},
	{context.Canceled, syscall.EINTR},
	{context.DeadlineExceeded, syscall.ETIMEDOUT},
}

// toErrno classifies err with errors.Is (never by its text, and never with
// fs.ToErrno, which compares wrapped errors with ==). A bare or wrapped
// syscall.Errno passes through. Anything else (protocol errors, a server
// gone, a closed client) is logged and becomes EIO.
func toErrno(log *slog.Logger, err error) syscall.Errno {
	if err == nil {
		return 0
	}
	for _, m := range errnoMap {
		if errors.Is(err, m.err) {
			return m.errno
		}
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	log.Error("fxpfs: I/O error", "err", err)
	return syscall.EIO
}

// errno is toErrno with the root's logger.
func (r *Root) errno(err error) syscall.Errno { return toErrno(r.log, err) }
