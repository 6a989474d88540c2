package fusefs

import "github.com/hanwen/go-fuse/v2/fs"

// The FUSE operations fxpfs implements, per node and handle type. Those it
// does not (yet) implement are listed in the TODO block at the end.

// Root: the mount root, whose entries are the servers.
var (
	_ = (fs.NodeOnAdder)((*Root)(nil))
	_ = (fs.NodeLookuper)((*Root)(nil))
	_ = (fs.NodeReaddirer)((*Root)(nil))
	_ = (fs.NodeGetattrer)((*Root)(nil))
	_ = (fs.NodeSetattrer)((*Root)(nil))
	_ = (fs.NodeStatfser)((*Root)(nil))
	_ = (fs.NodeMkdirer)((*Root)(nil))
	_ = (fs.NodeCreater)((*Root)(nil))
	_ = (fs.NodeRmdirer)((*Root)(nil))
	_ = (fs.NodeUnlinker)((*Root)(nil))
	_ = (fs.NodeRenamer)((*Root)(nil))
)

// dirNode: a directory on a server.
var (
	_ = (fs.NodeLookuper)((*dirNode)(nil))
	_ = (fs.NodeReaddirer)((*dirNode)(nil))
	_ = (fs.NodeGetattrer)((*dirNode)(nil))
	_ = (fs.NodeSetattrer)((*dirNode)(nil))
	_ = (fs.NodeStatfser)((*dirNode)(nil))
	_ = (fs.NodeMkdirer)((*dirNode)(nil))
	_ = (fs.NodeRmdirer)((*dirNode)(nil))
	_ = (fs.NodeUnlinker)((*dirNode)(nil))
	_ = (fs.NodeRenamer)((*dirNode)(nil))
	_ = (fs.NodeCreater)((*dirNode)(nil))
	_ = (fs.NodeAccesser)((*dirNode)(nil)) // W_OK says whether the server can hold a trash
)

// trashRoot: MOUNT/.Trash-UID; trashDir: its files/, info/, expunged/
// (union of the servers' trash folders); infoNode: an info file not on a
// server yet (trash.go).
var (
	_ = (fs.NodeGetattrer)((*trashRoot)(nil))
	_ = (fs.NodeSetattrer)((*trashRoot)(nil))
	_ = (fs.NodeReaddirer)((*trashRoot)(nil))
	_ = (fs.NodeMkdirer)((*trashRoot)(nil))
	_ = (fs.NodeRmdirer)((*trashRoot)(nil))
	_ = (fs.NodeUnlinker)((*trashRoot)(nil))
	_ = (fs.NodeRenamer)((*trashRoot)(nil))
	_ = (fs.NodeCreater)((*trashRoot)(nil))

	_ = (fs.NodeLookuper)((*trashDir)(nil))
	_ = (fs.NodeReaddirer)((*trashDir)(nil))
	_ = (fs.NodeGetattrer)((*trashDir)(nil))
	_ = (fs.NodeSetattrer)((*trashDir)(nil))
	_ = (fs.NodeStatfser)((*trashDir)(nil))
	_ = (fs.NodeMkdirer)((*trashDir)(nil))
	_ = (fs.NodeCreater)((*trashDir)(nil))
	_ = (fs.NodeUnlinker)((*trashDir)(nil))
	_ = (fs.NodeRmdirer)((*trashDir)(nil))
	_ = (fs.NodeRenamer)((*trashDir)(nil))

	_ = (fs.NodeOpener)((*infoNode)(nil))
	_ = (fs.NodeReader)((*infoNode)(nil))
	_ = (fs.NodeWriter)((*infoNode)(nil))
	_ = (fs.NodeGetattrer)((*infoNode)(nil))
	_ = (fs.NodeSetattrer)((*infoNode)(nil))
	_ = (fs.NodeFlusher)((*infoNode)(nil))
	_ = (fs.NodeFsyncer)((*infoNode)(nil))
)

// fileNode: a regular file; fileHandle: an open one.
var (
	_ = (fs.NodeOpener)((*fileNode)(nil))
	_ = (fs.NodeGetattrer)((*fileNode)(nil))
	_ = (fs.NodeSetattrer)((*fileNode)(nil))
	_ = (fs.NodeCopyFileRanger)((*fileNode)(nil)) // FXP through the mount

	_ = (fs.FileReader)((*fileHandle)(nil))
	_ = (fs.FileWriter)((*fileHandle)(nil))
	_ = (fs.FileFlusher)((*fileHandle)(nil))
	_ = (fs.FileFsyncer)((*fileHandle)(nil))
	_ = (fs.FileReleaser)((*fileHandle)(nil))
)

// linkNode: a symlink the server listed.
var (
	_ = (fs.NodeReadlinker)((*linkNode)(nil))
	_ = (fs.NodeGetattrer)((*linkNode)(nil))
)

/* TODO
var _ = (fs.NodeSymlinker)((*dirNode)(nil))       // FTP has no portable symlink command
var _ = (fs.NodeLinker)((*dirNode)(nil))          // no hard links in FTP
var _ = (fs.NodeMknoder)((*dirNode)(nil))
var _ = (fs.NodeGetxattrer)((*fileNode)(nil))     // no xattrs in FTP
var _ = (fs.NodeSetxattrer)((*fileNode)(nil))
var _ = (fs.NodeAllocater)((*fileNode)(nil))
var _ = (fs.NodeLseeker)((*fileNode)(nil))        // no holes
var _ = (fs.NodeGetlker)((*fileNode)(nil))        // no locks
var _ = (fs.NodeSetlker)((*fileNode)(nil))
var _ = (fs.NodeSetlkwer)((*fileNode)(nil))
*/
