package fusefs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// moveIntoTrash moves from (an entry e of srv) into folder td of a trash as
// name: RNFR/RNTO on srv into its own trash folder, made first where
// missing. Into files/, the info file GIO wrote for name (pending) is
// uploaded to srv's info/ before the move, and removed again if the move
// fails; without one (a program other than GIO), fxpfs writes one itself
// from the file's path, so that the item can always be restored.
func (r *Root) moveIntoTrash(ctx context.Context, srv *server, from string, e ftpclient.Entry, td *trashDir, name string, flags uint32) syscall.Errno {
	tr := td.tr
	ctx = context.WithoutCancel(ctx) // a half-made trash must be finished or undone
	if td.sub == trashFiles && tr.taken(ctx, trashFiles, name, srv) {
		return syscall.EEXIST // keep names unique across servers
	}
	subs := []string{td.sub}
	if td.sub == trashFiles {
		subs = append(subs, trashInfo)
	}
	if err := tr.ensureFolders(ctx, srv, subs...); err != nil {
		r.trashRefused(srv, err)
		return r.errno(err)
	}
	to := tr.folder(td.sub) + "/" + name
	var info string
	var pi *pendingInfo
	if td.sub == trashFiles {
		pi = tr.takePending(name + ".trashinfo")
		info = tr.folder(trashInfo) + "/" + name + ".trashinfo"
		if err := r.putSmall(ctx, srv, info, infoContent(pi, srv, from, time.Now())); err != nil {
			tr.restorePending(pi)
			r.trashRefused(srv, err)
			return r.errno(err)
		}
	}
	if errno := r.renameOnServer(ctx, srv, from, to, e, flags); errno != 0 {
		if info != "" {
			if err := srv.cl.Remove(ctx, info); err != nil && !errors.Is(err, ftpclient.ErrNotFound) {
				r.log.Warn("trash: removing the info file of a failed trash", "server", srv.name, "path", info, "err", err)
			}
			r.changed(srv, change{remove: info})
			tr.restorePending(pi)
		}
		if errno == syscall.EACCES || errno == syscall.EPERM {
			r.trashRefused(srv, ftpclient.ErrPermission)
		}
		return errno
	}
	if pi != nil {
		pi.uploaded()
	}
	srv.trashState.Store(trashWorks)
	return 0
}

// putSmall uploads data as p on srv (STOR) and records the new file.
func (r *Root) putSmall(ctx context.Context, srv *server, p string, data []byte) error {
	up, err := srv.cl.OpenWrite(ctx, p, 0, ftpclient.WriteTruncate)
	if err != nil {
		return err
	}
	if _, err := up.Write(data); err != nil {
		_ = up.Abort()
		return fmt.Errorf("upload %s: %w", p, err)
	}
	if err := up.Close(); err != nil {
		return err
	}
	r.changed(srv, change{put: p, entry: ftpclient.Entry{Type: ftpclient.TypeFile, Size: int64(len(data)), Mtime: time.Now(), Mode: 0o644}})
	return nil
}

// infoContent is the info file for from on srv: what GIO wrote (pi), if it
// is one, else one made here (Path= relative to the mount root, as GIO
// writes it, and DeletionDate= in local time).
func infoContent(pi *pendingInfo, srv *server, from string, now time.Time) []byte {
	if pi != nil {
		if data := pi.content(); bytes.HasPrefix(data, []byte("[Trash Info]")) && bytes.Contains(data, []byte("\nPath=")) {
			return data
		}
	}
	return []byte("[Trash Info]\nPath=" + escapeTrashPath(srv.name+from) +
		"\nDeletionDate=" + now.Format("2006-01-02T15:04:05") + "\n")
}

// escapeTrashPath escapes a path as the trash specification's Path= wants
// it (and GIO's g_uri_escape_string with "/" allowed does): every byte but
// letters, digits, '-', '.', '_', '~' and '/' as %XX.
func escapeTrashPath(p string) string {
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
