package vfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Moves into, within and out of a trash, and deletes in it (see trash.go).

// MoveIn moves from, a file or folder of cl's server, into folder sub of
// the trash as name: RNFR/RNTO on that server into its own trash folder,
// made first where missing. Into files/, the info file GIO wrote for name
// (pending) is uploaded to the server's info/ before the move, and removed
// again if the move fails; without one (a program other than GIO), one is
// made from the file's path, so that the item can always be restored. A
// name another server's files/ has is ErrExists (names stay unique across
// servers). A refusal (no permission) is remembered: CanTrash says false
// for the server from then on.
func (t *Trash) MoveIn(ctx context.Context, cl *ftpclient.Client, from string, sub TrashFolder, name string, noReplace bool) error {
	if err := ftpclient.ValidateName(name); err != nil {
		return err
	}
	e, err := t.v.cache.Lookup(ctx, cl, from)
	if err != nil {
		return err
	}
	return t.moveIn(ctx, cl, from, e, sub, name, noReplace)
}

// moveIn is MoveIn of the entry e.
func (t *Trash) moveIn(ctx context.Context, cl *ftpclient.Client, from string, e ftpclient.Entry, sub TrashFolder, name string, noReplace bool) error {
	ctx = context.WithoutCancel(ctx) // a half-made trash must be finished or undone
	if sub == TrashFiles && t.taken(ctx, TrashFiles, name, cl) {
		return errorf("trash", name, ftpclient.ErrExists)
	}
	subs := []TrashFolder{sub}
	if sub == TrashFiles {
		subs = append(subs, TrashInfo)
	}
	if err := t.ensureFolders(ctx, cl, subs...); err != nil {
		t.ts.refused(cl, err)
		return err
	}
	to := t.Folder(sub) + "/" + name
	var info string
	var pi *PendingInfo
	if sub == TrashFiles {
		pi = t.takePending(name + ".trashinfo")
		info = t.Folder(TrashInfo) + "/" + name + ".trashinfo"
		if err := t.v.writeFile(ctx, cl, info, infoContent(pi, cl.Name()+from, time.Now())); err != nil {
			t.restorePending(pi)
			t.ts.refused(cl, err)
			return fmt.Errorf("trash %s: the info file: %w", from, err)
		}
	}
	if err := t.v.rename(ctx, cl, from, to, e, noReplace); err != nil {
		if info != "" {
			cctx, cancel := cleanupCtx(ctx)
			if rerr := t.v.Remove(cctx, cl, info); rerr != nil && !errors.Is(rerr, ftpclient.ErrNotFound) {
				t.v.log.Warn("trash: removing the info file of a failed trash", "server", cl.Name(), "path", info, "err", rerr)
			}
			cancel()
			t.restorePending(pi)
		}
		if errors.Is(err, ftpclient.ErrPermission) {
			t.ts.refused(cl, err)
		}
		return err
	}
	if pi != nil {
		pi.uploaded()
	}
	t.ts.works(cl)
	return nil
}

// Rename moves name of folder sub to folder toSub of trash to (t itself,
// or another uid's) as newName: a pending info file within info/ (GIO's
// temporary file renamed over the info file), anything else on its server
// (into expunged/, when gvfs empties the trash; as MoveIn, so into files/
// an info file is made for it). A pending info file cannot leave info/
// (ErrCrossServer: it is on no server).
func (t *Trash) Rename(ctx context.Context, sub TrashFolder, name string, to *Trash, toSub TrashFolder, newName string, noReplace bool) error {
	if err := ftpclient.ValidateName(newName); err != nil {
		return err
	}
	if sub == TrashInfo && t.Pending(name) != nil {
		if to != t || toSub != TrashInfo {
			return errorf("move the pending info file", name, ErrCrossServer)
		}
		return t.renamePending(ctx, name, newName, noReplace)
	}
	it, err := t.find(ctx, sub, name)
	if err != nil {
		return err
	}
	return to.moveIn(ctx, it.Client, it.Path, it.Entry, toSub, newName, noReplace)
}

// Restore moves name of folder sub out of the trash to path dst of cl's
// server (RNFR/RNTO); ErrCrossServer if the item is on another server.
// The item's info file is the caller's to remove (GIO does).
func (t *Trash) Restore(ctx context.Context, sub TrashFolder, name string, cl *ftpclient.Client, dst string, noReplace bool) error {
	it, err := t.find(ctx, sub, name)
	if err != nil {
		return err
	}
	if it.Client != cl {
		return fmt.Errorf("restore %s from the trash of %s to %s: %w", name, it.Client.Name(), cl.Name(), ErrCrossServer)
	}
	return t.v.rename(ctx, cl, it.Path, dst, it.Entry, noReplace)
}

// Remove deletes the file name from folder sub (DELE on the server that
// has it), or drops the pending info file name.
func (t *Trash) Remove(ctx context.Context, sub TrashFolder, name string) error {
	if sub == TrashInfo && t.dropPending(name) {
		return nil
	}
	it, err := t.find(ctx, sub, name)
	if err != nil {
		return err
	}
	return t.v.Remove(ctx, it.Client, it.Path)
}

// Rmdir removes the empty folder name from folder sub (RMD on its server).
func (t *Trash) Rmdir(ctx context.Context, sub TrashFolder, name string) error {
	it, err := t.find(ctx, sub, name)
	if err != nil {
		return err
	}
	return t.v.Rmdir(ctx, it.Client, it.Path)
}

// infoContent is the info file for the mount path orig (SERVER/PATH): what
// GIO wrote (pi), if it is one, else one made here (Path= relative to the
// mount root, as GIO writes it, and DeletionDate= in local time).
func infoContent(pi *PendingInfo, orig string, now time.Time) []byte {
	if pi != nil {
		if data := pi.content(); bytes.HasPrefix(data, []byte("[Trash Info]")) && bytes.Contains(data, []byte("\nPath=")) {
			return data
		}
	}
	return []byte("[Trash Info]\nPath=" + EscapeTrashPath(orig) +
		"\nDeletionDate=" + now.Format("2006-01-02T15:04:05") + "\n")
}

// EscapeTrashPath escapes a path as the trash specification's Path= wants
// it (and GIO's g_uri_escape_string with "/" allowed does): every byte but
// letters, digits, '-', '.', '_', '~' and '/' as %XX.
func EscapeTrashPath(p string) string {
	const hex = "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '/':
			b = append(b, c)
		default:
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

// writeFile uploads data as the whole file p of cl's server through a
// Handle, as a program writing it would: a new file streams to its name
// and is removed if the upload fails; an existing one is uploaded to a
// temporary name renamed over it, so a failure keeps it. Either way a
// failed upload is an error and leaves nothing half-written. The cache
// learns the new file.
func (v *VFS) writeFile(ctx context.Context, cl *ftpclient.Client, p string, data []byte) error {
	f := v.NewFile(cl, fixedNode(p))
	var h *Handle
	_, err := v.Lookup(ctx, cl, p)
	switch {
	case err == nil:
		if h, err = f.Open(ctx, os.O_WRONLY|os.O_TRUNC); err != nil {
			return err
		}
	case errors.Is(err, ftpclient.ErrNotFound):
		v.Put(cl, p, ftpclient.Entry{Type: ftpclient.TypeFile, Mtime: time.Now(), Mode: DefaultFileMode})
		h = f.Create(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, DefaultFileMode)
	default:
		return err
	}
	defer h.Release(ctx)
	if _, err := h.Write(ctx, data, 0); err != nil {
		return err
	}
	return h.Fsync(ctx)
}

// fixedNode is the Node of a file only vfs itself writes (writeFile): it
// stays where it is, and no kernel holds anything of it.
type fixedNode string

func (n fixedNode) Path() (string, error) { return string(n), nil }
func (n fixedNode) Gone()                 {}
func (n fixedNode) Changed()              {}
