package fusefs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/fxpcopy"
	"github.com/fxpfs/fxpfs/internal/vfs"
)

// opErr is an error as ftpclient returns it.
func opErr(kind, cause error) error {
	return &ftpclient.OpError{Server: "alpha", Op: "STOR", Path: "/f", Kind: kind, Err: cause}
}

// netErr is a network error carrying errno e, as a broken data connection gives.
func netErr(e syscall.Errno) error {
	return &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", e)}
}

// failed is a failed upload as vfs reports it.
func failed(cause error) error { return errors.Join(vfs.ErrFailed, cause) }

func TestToErrno(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	tests := []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"nil", nil, 0},
		{"not found", opErr(ftpclient.ErrNotFound, nil), syscall.ENOENT},
		{"exists", opErr(ftpclient.ErrExists, nil), syscall.EEXIST},
		{"permission (553)", opErr(ftpclient.ErrPermission, nil), syscall.EACCES},
		{"not empty", opErr(ftpclient.ErrNotEmpty, nil), syscall.ENOTEMPTY},
		{"is a directory", opErr(ftpclient.ErrIsDir, nil), syscall.EISDIR},
		{"not a directory", opErr(ftpclient.ErrNotDir, nil), syscall.ENOTDIR},
		{"unsupported", opErr(ftpclient.ErrUnsupported, nil), syscall.ENOTSUP},
		{"no space (452/552)", opErr(ftpclient.ErrNoSpace, nil), syscall.ENOSPC},
		{"server timeout", opErr(ftpclient.ErrTimeout, nil), syscall.ETIMEDOUT},
		{"deadline", fmt.Errorf("wait: %w", context.DeadlineExceeded), syscall.ETIMEDOUT},
		{"cancelled", fmt.Errorf("copy: %w", context.Canceled), syscall.EINTR},
		{"cancelled inside an OpError", opErr(nil, context.Canceled), syscall.EINTR},
		{"CR/LF/NUL in a name", fmt.Errorf("name: %w", ftpclient.ErrBadName), syscall.EINVAL},
		{"256-byte name", fmt.Errorf("name of 256 bytes: %w", errNameTooLong), syscall.ENAMETOOLONG},
		{"short download", opErr(ftpclient.ErrShortRead, nil), syscall.EIO},
		{"upload failed: no space", failed(opErr(ftpclient.ErrNoSpace, nil)), syscall.ENOSPC},
		{"upload failed: permission", failed(opErr(ftpclient.ErrPermission, nil)), syscall.EACCES},
		{"upload failed: connection reset", failed(opErr(ftpclient.ErrUnavailable, netErr(syscall.ECONNRESET))), syscall.EIO},
		{"upload failed: cancelled", fmt.Errorf("%w: %v", vfs.ErrFailed, context.Canceled), syscall.EIO},
		{"earlier failure", fmt.Errorf("%w: %v", vfs.ErrFailed, "no space"), syscall.EIO},
		{"handle closed", vfs.ErrBadHandle, syscall.EBADF},
		{"trash item on another server", fmt.Errorf("restore: %w", vfs.ErrCrossServer), syscall.EXDEV},
		{"a new file in the trash's files/", fmt.Errorf("create: %w", vfs.ErrNotPermitted), syscall.EPERM},
		{"too many pending info files", vfs.ErrTrashFull, syscall.ENOSPC},
		{"info file too large", vfs.ErrInfoTooLarge, syscall.EFBIG},
		{"info file already uploaded", vfs.ErrInfoUploaded, syscall.EROFS},
		{"trash folder is a file", fmt.Errorf("trash on alpha: /.Trash-0 is not a folder: %w", ftpclient.ErrNotDir), syscall.ENOTDIR},
		{"ECONNRESET from the FTP layer", opErr(ftpclient.ErrUnavailable, netErr(syscall.ECONNRESET)), syscall.EIO},
		{"EPIPE from the FTP layer, no kind", opErr(nil, netErr(syscall.EPIPE)), syscall.EIO},
		{"bare ECONNRESET", netErr(syscall.ECONNRESET), syscall.EIO},
		{"bare ECONNREFUSED", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), syscall.EIO},
		{"protocol error", opErr(ftpclient.ErrProtocol, nil), syscall.EIO},
		{"server unavailable (421)", opErr(ftpclient.ErrUnavailable, nil), syscall.EIO},
		{"FXP verification failed", fmt.Errorf("copy: %w", fxpcopy.ErrVerify), syscall.EIO},
		{"local spool on a full disk", &os.PathError{Op: "write", Path: "/tmp/spool", Err: syscall.ENOSPC}, syscall.ENOSPC},
		{"local spool over quota", &os.PathError{Op: "write", Path: "/tmp/spool", Err: syscall.EDQUOT}, syscall.EDQUOT},
		{"node unlinked", syscall.ENOENT, syscall.ENOENT},
		{"unknown error", io.ErrUnexpectedEOF, syscall.EIO},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := toErrno(log, tc.err); got != tc.want {
				t.Errorf("toErrno(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
