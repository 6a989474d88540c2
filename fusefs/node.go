package fusefs

import (
	"context"
	"fmt"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// node is what every node below a server has: the shared root and its server.
// A node's path is not stored: it is where the node sits in the tree now
// (go-fuse moves nodes on rename), see path.
type node struct {
	fs.Inode
	root *Root
	srv  *server
}

// path returns the node's mount path on its server ("/" for the server's
// directory), or ErrNotFound when the node was unlinked.
//
// A node in a folder of the trash (MOUNT/.Trash-UID/files/...) is on its
// server's own trash folder: its path starts there (trash.go).
func (n *node) path() (string, error) {
	var parts []string
	in := n.EmbeddedInode()
	prefix := ""
	for in != n.srv.inode {
		if td, ok := in.Operations().(*trashDir); ok {
			prefix = td.tr.t.Folder(td.sub)
			break
		}
		name, parent := in.Parent()
		if parent == nil {
			return "", syscall.ENOENT
		}
		parts = append(parts, name)
		in = parent
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return prefix + "/" + strings.Join(parts, "/"), nil
}

// server returns the node's server.
func (n *node) server() *server { return n.srv }

// child returns the mount path of name in directory dir, after checking the
// name before any FTP command: longer than a name or path may be →
// errNameTooLong (ENAMETOOLONG); CR, LF, NUL, '/' → ErrBadName (EINVAL).
func child(dir, name string) (string, error) {
	if len(name) > ftpclient.MaxNameLen || len(dir)+1+len(name) > ftpclient.MaxPathLen {
		return "", fmt.Errorf("name of %d bytes (max %d): %w", len(name), ftpclient.MaxNameLen, errNameTooLong)
	}
	if err := ftpclient.ValidateName(name); err != nil {
		return "", err
	}
	return path.Join(dir, name), nil
}

// fileType maps an entry type to the S_IFMT bits.
func fileType(t ftpclient.EntryType) uint32 {
	switch t {
	case ftpclient.TypeDir:
		return syscall.S_IFDIR
	case ftpclient.TypeLink:
		return syscall.S_IFLNK
	default:
		return syscall.S_IFREG
	}
}

// stableAttr is the identity of the inode for p: a stable Ino from (server,
// path), and the current rename/unlink epoch as generation, so that a moved
// or unlinked node still known to the kernel never aliases a new file at
// its old path.
func (r *Root) stableAttr(srv *server, p string, t ftpclient.EntryType) fs.StableAttr {
	return fs.StableAttr{Mode: fileType(t), Ino: inoOf(srv.name, p), Gen: r.epoch.Load()}
}

// newNode returns the Inode for entry e of srv at path p below parent: the
// node already in the tree under that name if its type and server match,
// else a new one.
func (r *Root) newNode(ctx context.Context, parent *fs.Inode, srv *server, p string, e ftpclient.Entry) *fs.Inode {
	if ch := parent.GetChild(e.Name); ch != nil && ch.StableAttr().Mode == fileType(e.Type) {
		if n, ok := ch.Operations().(interface{ server() *server }); ok && n.server() == srv {
			return ch
		}
	}
	var ops fs.InodeEmbedder
	switch e.Type {
	case ftpclient.TypeDir:
		ops = &dirNode{node: node{root: r, srv: srv}}
	case ftpclient.TypeLink:
		ops = &linkNode{node: node{root: r, srv: srv}}
	default:
		f := &fileNode{node: node{root: r, srv: srv}}
		f.vf = r.vfs.NewFile(srv.cl, f)
		ops = f
	}
	return parent.NewInode(ctx, ops, r.stableAttr(srv, p, e.Type))
}

// fillAttr sets out from entry e for the inode in.
func (r *Root) fillAttr(in *fs.Inode, e ftpclient.Entry, out *fuse.Attr) {
	perm := uint32(e.Mode.Perm())
	size := uint64(0)
	switch e.Type {
	case ftpclient.TypeDir:
		if perm == 0 {
			perm = defaultDirMode
		}
		size = 4096
	case ftpclient.TypeLink:
		perm = 0o777
		size = uint64(len(e.Target))
	default:
		if perm == 0 {
			perm = defaultFileMode
		}
		if e.Size > 0 {
			size = uint64(e.Size)
		}
	}
	mtime := e.Mtime
	if mtime.IsZero() {
		mtime = r.started
	}
	out.Ino = in.StableAttr().Ino
	out.Mode = fileType(e.Type) | perm
	out.Size = size
	out.Blocks = (size + 511) / 512 // full: cp must not take files for sparse
	out.Blksize = blockSize
	out.Nlink = 1
	out.Uid, out.Gid = r.opts.UID, r.opts.GID
	out.SetTimes(&mtime, &mtime, &mtime)
}

// timeout is how long the kernel may cache what the listing of dir said:
// until that listing expires in our cache (never more than its TTL).
func (r *Root) timeout(srv *server, dir string) time.Duration {
	exp, ok := r.cache.Expires(srv.cl, dir)
	if !ok {
		return 0
	}
	d := time.Until(exp)
	if d < 0 {
		d = 0
	}
	return d
}

// writable returns EROFS on a read-only mount.
func (r *Root) writable() syscall.Errno {
	if r.opts.ReadOnly {
		return syscall.EROFS
	}
	return 0
}

// parentDir returns the directory of p.
func parentDir(p string) string { return path.Dir(p) }

// Modes shown when the server's listing gives none (LIST without
// permissions, MLSD without unix.mode), and assumed for new files.
const (
	defaultFileMode = 0o644
	defaultDirMode  = 0o755
)
