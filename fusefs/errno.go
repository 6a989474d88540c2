package fusefs

import (
	"context"
	"errors"
	"log/slog"
	"syscall"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/vfs"
)

// errNameTooLong: a name longer than a file system allows (ENAMETOOLONG),
// refused before anything is sent. It wraps ErrBadName for callers that do
// not care which bad name it was.
var errNameTooLong = &nameTooLong{}

type nameTooLong struct{}

func (*nameTooLong) Error() string        { return "file name too long" }
func (*nameTooLong) Is(target error) bool { return target == ftpclient.ErrBadName }

// errnoMap is the one mapping from the errors below fusefs to errno, first
// match wins: ftpclient's sentinels (what the server said), then vfs's,
// then the context's. An error wrapping several (a failed upload wraps
// vfs.ErrFailed and its cause) maps by its cause where the cause is listed
// above ErrFailed: close(2) says ENOSPC for a full server, EIO for a lost
// connection.
var errnoMap = []struct {
	err   error
	errno syscall.Errno
}{
	{errNameTooLong, syscall.ENAMETOOLONG},
	{ftpclient.ErrNotFound, syscall.ENOENT},
	{ftpclient.ErrExists, syscall.EEXIST},
	{ftpclient.ErrPermission, syscall.EACCES},
	{ftpclient.ErrNotEmpty, syscall.ENOTEMPTY},
	{ftpclient.ErrIsDir, syscall.EISDIR},
	{ftpclient.ErrNotDir, syscall.ENOTDIR},
	{ftpclient.ErrBadName, syscall.EINVAL}, // CR, LF, NUL, '/'
	{ftpclient.ErrUnsupported, syscall.ENOTSUP},
	{ftpclient.ErrNoSpace, syscall.ENOSPC},
	{ftpclient.ErrTimeout, syscall.ETIMEDOUT},
	{ftpclient.ErrShortRead, syscall.EIO},
	{vfs.ErrFailed, syscall.EIO},
	{vfs.ErrBadHandle, syscall.EBADF},
	{vfs.ErrCrossServer, syscall.EXDEV},
	{vfs.ErrNotPermitted, syscall.EPERM},
	{vfs.ErrTrashFull, syscall.ENOSPC},
	{vfs.ErrInfoTooLarge, syscall.EFBIG},
	{vfs.ErrInfoUploaded, syscall.EROFS},
	{context.Canceled, syscall.EINTR},
	{context.DeadlineExceeded, syscall.ETIMEDOUT},
}

// fsErrnos are the errno values that may pass through from below as they
// are (a local spool on a full disk is ENOSPC, a node unlinked meanwhile is
// ENOENT). Anything else (ECONNRESET, EPIPE, ECONNREFUSED: the network)
// is not a file-system error and becomes EIO.
var fsErrnos = map[syscall.Errno]bool{
	syscall.ENOENT: true, syscall.EEXIST: true, syscall.EACCES: true, syscall.EPERM: true,
	syscall.ENOSPC: true, syscall.EDQUOT: true, syscall.EROFS: true, syscall.ENOTDIR: true,
	syscall.EISDIR: true, syscall.ENOTEMPTY: true, syscall.ENAMETOOLONG: true, syscall.EINVAL: true,
	syscall.EBADF: true, syscall.EFBIG: true, syscall.EXDEV: true, syscall.EINTR: true,
	syscall.EIO: true, syscall.ENOTSUP: true, syscall.ETIMEDOUT: true,
}

// toErrno classifies err with errors.Is (never by its text, and never with
// fs.ToErrno, which compares wrapped errors with ==). A file-system errno
// from outside the FTP layer passes through. Anything else (protocol
// errors, a server gone, a network errno from the FTP layer, a failed
// verification) is logged and becomes EIO.
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
	var oe *ftpclient.OpError
	if errors.As(err, &errno) && fsErrnos[errno] && !errors.As(err, &oe) {
		return errno
	}
	log.Error("fxpfs: I/O error", "err", err)
	return syscall.EIO
}

// errno is toErrno with the root's logger.
func (r *Root) errno(err error) syscall.Errno { return toErrno(r.log, err) }
