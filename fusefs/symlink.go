package fusefs

import (
	"path"
	"path/filepath"
	"strings"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Symbolic links a server lists.
//
// The kernel resolves a symlink's target itself, on this machine: a server
// listing "upload.txt -> /etc/shadow" would make `cat` print this host's
// file, and a `cp` onto it overwrite it, as the mount's user. So by default
// every target is confined to the server's folder in the mount, the way the
// server's own (chrooted) namespace sees it, and shown as a relative path:
//
//   - an absolute target is a path on the server: below the server's base
//     path it is that place in the mount ("/pub/a" with base "/pub" is
//     MOUNT/srv/a); outside the base path (which the mount does not show)
//     it is taken as if the server's folder were "/" ("/etc/shadow" is
//     MOUNT/srv/etc/shadow, which usually does not exist);
//   - a relative target is resolved from the link's folder, its ".." never
//     going above the server's folder (as in a chroot: "../../../etc/x"
//     from MOUNT/srv/a is MOUNT/srv/etc/x);
//   - the result is written relative to the link's folder ("../x/y"), so it
//     resolves inside the server's folder wherever the mount is, and never
//     into another server's folder or this host's files.
//
// Names are resolved lexically ("a/../b" is "b" even where a is itself a
// link). Options.RawSymlinks shows targets exactly as the server lists
// them instead: only for servers you trust with this host's files.

// linkTarget is what readlink shows for the link at mount path p on srv
// whose listed target is target.
func (r *Root) linkTarget(srv *server, p, target string) string {
	if r.opts.RawSymlinks {
		return target
	}
	return confineLink(srv.cl.Config().BasePath, p, target)
}

// linkSize sets out's size to the length of the target readlink shows
// (programs size their readlink buffer from st_size).
func (r *Root) linkSize(srv *server, p string, e ftpclient.Entry, out *fuse.Attr) {
	if e.Type == ftpclient.TypeLink {
		out.Size = uint64(len(r.linkTarget(srv, p, e.Target)))
		out.Blocks = (out.Size + 511) / 512
	}
}

// confineLink returns target, of the link at mount path p on a server whose
// base path is base, confined to the server's folder and relative to the
// link's folder (see above). An empty target stays empty.
func confineLink(base, p, target string) string {
	if target == "" {
		return ""
	}
	dir := path.Dir(path.Clean("/" + p))
	var to string
	if strings.HasPrefix(target, "/") {
		t, b := path.Clean(target), path.Clean("/"+base)
		switch {
		case b == "/":
			to = t
		case t == b:
			to = "/"
		case strings.HasPrefix(t, b+"/"):
			to = t[len(b):]
		default:
			to = t // outside the base path: as if the folder were "/"
		}
	} else {
		to = path.Join(dir, target) // Clean drops ".." at the root
	}
	rel, _ := filepath.Rel(dir, to) // both absolute: no error (slash paths: fusefs is Linux-only)
	return rel
}
