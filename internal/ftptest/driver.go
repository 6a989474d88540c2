package ftptest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"

	server "goftp.io/server/v2"
)

// diskDriver serves a directory on disk with the semantics of a real FTP
// server. goftp's own driver/file differs from vsftpd and pure-ftpd in ways
// that would hide client bugs: its MKD is MkdirAll, its RMD removes whole
// trees, and REST+STOR and APPE do not write where they should.
type diskDriver struct {
	root       string
	readOnly   bool  // every change is refused (550), like a read-only login
	writeLimit int64 // > 0: uploads fail after this many bytes (WithWriteLimit)
	readLimit  int64 // > 0: downloads end at this byte of the file (WithReadLimit)
	noReplace  bool  // RNTO onto an existing file fails (WithNoReplace)

	retrs atomic.Int64 // downloads started (Server.Retrs)
}

// refuse is the error of a change on a read-only server.
func (d *diskDriver) refuse(p string) error {
	if d.readOnly {
		return fmt.Errorf("%s: %w (read-only login)", p, fs.ErrPermission)
	}
	return nil
}

var _ server.Driver = (*diskDriver)(nil)

// real maps an FTP path (already cleaned by the session) below the root.
func (d *diskDriver) real(p string) string {
	p = path.Clean("/" + p)
	return filepath.Join(d.root, filepath.FromSlash(p))
}

func (d *diskDriver) Stat(_ *server.Context, p string) (os.FileInfo, error) {
	return os.Lstat(d.real(p))
}

func (d *diskDriver) ListDir(_ *server.Context, p string, cb func(os.FileInfo) error) error {
	ents, err := os.ReadDir(d.real(p))
	if err != nil {
		return err
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		if err := cb(fi); err != nil {
			return err
		}
	}
	return nil
}

func (d *diskDriver) DeleteDir(_ *server.Context, p string) error {
	if err := d.refuse(p); err != nil {
		return err
	}
	if path.Clean("/"+p) == "/" {
		return errors.New("cannot remove the root")
	}
	fi, err := os.Lstat(d.real(p))
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: not a directory", p)
	}
	return os.Remove(d.real(p)) // fails on a non-empty directory, like rmdir(2)
}

func (d *diskDriver) DeleteFile(_ *server.Context, p string) error {
	if err := d.refuse(p); err != nil {
		return err
	}
	fi, err := os.Lstat(d.real(p))
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s: is a directory", p)
	}
	return os.Remove(d.real(p))
}

func (d *diskDriver) Rename(_ *server.Context, from, to string) error {
	if err := d.refuse(from); err != nil {
		return err
	}
	if _, err := os.Lstat(d.real(to)); err == nil && d.noReplace {
		return fmt.Errorf("%s: file exists", to)
	}
	return os.Rename(d.real(from), d.real(to))
}

func (d *diskDriver) MakeDir(_ *server.Context, p string) error {
	if err := d.refuse(p); err != nil {
		return err
	}
	return os.Mkdir(d.real(p), 0o755)
}

func (d *diskDriver) GetFile(_ *server.Context, p string, off int64) (int64, io.ReadCloser, error) {
	d.retrs.Add(1)
	f, err := os.Open(d.real(p))
	if err != nil {
		return 0, nil, err
	}
	fi, err := f.Stat()
	if err == nil && fi.IsDir() {
		err = fmt.Errorf("%s: is a directory", p)
	}
	if err == nil && off > 0 {
		_, err = f.Seek(off, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return 0, nil, err
	}
	if d.readLimit > 0 {
		return fi.Size() - max(off, 0), limitedFile{io.LimitReader(f, max(d.readLimit-max(off, 0), 0)), f}, nil
	}
	return fi.Size() - max(off, 0), f, nil
}

// limitedFile is a download cut short (WithReadLimit).
type limitedFile struct {
	io.Reader
	io.Closer
}

// PutFile writes STOR (truncate, or at the REST offset) and APPE (append).
func (d *diskDriver) PutFile(ctx *server.Context, p string, r io.Reader, off int64) (int64, error) {
	if err := d.refuse(p); err != nil {
		return 0, err
	}
	rp := d.real(p)
	if fi, err := os.Lstat(rp); err == nil && fi.IsDir() {
		return 0, fmt.Errorf("%s: is a directory", p)
	}
	flags := os.O_WRONLY | os.O_CREATE
	switch {
	case strings.EqualFold(ctx.Cmd, "APPE"):
		flags |= os.O_APPEND
	case off <= 0:
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(rp, flags, 0o644)
	if err != nil {
		return 0, err
	}
	if off > 0 && flags&os.O_APPEND == 0 {
		if fi, err := f.Stat(); err == nil && off > fi.Size() {
			f.Close()
			return 0, fmt.Errorf("REST %d beyond the end of %s", off, p)
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return 0, err
		}
	}
	var n int64
	if d.writeLimit > 0 {
		n, err = io.Copy(f, io.LimitReader(r, d.writeLimit))
		if err == nil && n == d.writeLimit {
			err = fmt.Errorf("%s: no space left on device", p)
		}
	} else {
		n, err = io.Copy(f, r)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// diskPerm reports the real permission bits and a fixed owner.
type diskPerm struct {
	d *diskDriver
}

var _ server.Perm = diskPerm{}

func (p diskPerm) GetOwner(string) (string, error) { return "ftp", nil }
func (p diskPerm) GetGroup(string) (string, error) { return "ftp", nil }
func (p diskPerm) GetMode(name string) (os.FileMode, error) {
	fi, err := os.Lstat(p.d.real(name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0o644, nil
		}
		return 0, err
	}
	return fi.Mode().Perm(), nil // symlinks show as files: goftp prints Go's "L" type letter
}
func (p diskPerm) ChOwner(string, string) error { return nil }
func (p diskPerm) ChGroup(string, string) error { return nil }
func (p diskPerm) ChMode(name string, mode os.FileMode) error {
	return os.Chmod(p.d.real(name), mode.Perm())
}
