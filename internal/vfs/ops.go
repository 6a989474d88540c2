package vfs

import (
	"context"
	"errors"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Changes by path (not of a file's content). Each is one FTP command (two
// for a rename) run detached from the caller's cancellation: a half-done
// MKD, RMD, DELE or RNFR/RNTO must finish so that the cache learns the
// truth (the client's own timeouts bound it). Each records what it did in
// the listing cache and for stream matching (Put, Removed).

// Mkdir makes the folder p (MKD) and returns its new entry.
func (v *VFS) Mkdir(ctx context.Context, cl *ftpclient.Client, p string) (ftpclient.Entry, error) {
	if err := cl.Mkdir(context.WithoutCancel(ctx), p); err != nil {
		return ftpclient.Entry{}, err
	}
	e := ftpclient.Entry{Type: ftpclient.TypeDir, Mtime: time.Now()}
	v.Put(cl, p, e)
	return e, nil
}

// Rmdir removes the empty folder p (RMD).
func (v *VFS) Rmdir(ctx context.Context, cl *ftpclient.Client, p string) error {
	if err := cl.Rmdir(context.WithoutCancel(ctx), p); err != nil {
		return err
	}
	v.Removed(cl, p)
	return nil
}

// Remove deletes the file p (DELE). A file the server does not have
// (ErrNotFound) is forgotten all the same.
func (v *VFS) Remove(ctx context.Context, cl *ftpclient.Client, p string) error {
	err := cl.Remove(context.WithoutCancel(ctx), p)
	if err == nil || errors.Is(err, ftpclient.ErrNotFound) {
		v.Removed(cl, p)
	}
	return err
}

// Rename renames from to to (RNFR/RNTO). With noReplace it fails with
// ErrExists where to exists (looked up first: FTP has no atomic form).
// A file renamed onto another (rsync's last step) replaces it like an
// upload does (replace.go): on servers that refuse to rename onto an
// existing file, by way of a backup name.
func (v *VFS) Rename(ctx context.Context, cl *ftpclient.Client, from, to string, noReplace bool) error {
	e, err := v.cache.Lookup(ctx, cl, from)
	if err != nil {
		return err
	}
	return v.rename(ctx, cl, from, to, e, noReplace)
}

// rename is Rename of the entry e.
func (v *VFS) rename(ctx context.Context, cl *ftpclient.Client, from, to string, e ftpclient.Entry, noReplace bool) error {
	if noReplace {
		_, err := v.Lookup(ctx, cl, to)
		if err == nil {
			return errorf("rename onto", to, ftpclient.ErrExists)
		}
		if !errors.Is(err, ftpclient.ErrNotFound) {
			return err
		}
	}
	var err error
	if e.Type == ftpclient.TypeFile && !noReplace {
		err = v.replace(context.WithoutCancel(ctx), cl, from, to)
	} else {
		err = cl.Rename(context.WithoutCancel(ctx), from, to)
	}
	if err != nil {
		return err
	}
	v.Removed(cl, from)
	v.Put(cl, to, e)
	return nil
}

// Put records that p was created or replaced through the mount as e: its
// cached entry, no listings below it (a folder replaced by a rename), and
// nothing read of it proves anything for stream matching.
func (v *VFS) Put(cl *ftpclient.Client, p string, e ftpclient.Entry) {
	v.Forget(cl, p)
	v.cache.InvalidateTree(cl, p)
	v.cache.Put(cl, p, e)
}

// Removed records that p was removed through the mount: its entry and
// every listing at or below it go, and what was read of it proves nothing
// now.
func (v *VFS) Removed(cl *ftpclient.Client, p string) {
	v.cache.Remove(cl, p)
	v.Forget(cl, p)
}
