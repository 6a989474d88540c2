package vfs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// The trash, as the freedesktop.org trash specification has it and GIO
// (Nautilus, most GTK file managers, `gio trash`) and gvfs's trash:// do it
// for a file system that is not the home one: the trash is in the mount's
// top directory, $topdir/.Trash-$uid (or a shared, sticky $topdir/.Trash,
// which fxpfs does not offer), with files/NAME holding the trashed file and
// info/NAME.trashinfo its original path (Path=, relative to $topdir) and
// deletion date. GIO moves the file there with rename(2), so it never
// copies; a failing rename fails the trash.
//
// fxpfs's top directory is the mount root, one folder per server, and a
// trashed file must stay on its own server (a server-side rename; the data
// never crosses this host). So a Trash (one per uid) is the union of the
// servers' own trash folders:
//
//   - Its folders files/, info/ and expunged/ (TrashFolder) show what
//     SERVER/.Trash-UID/files, info and expunged of every server hold: real
//     folders on each server, made (MKD) the first time something of that
//     server is trashed. Where two servers have a name, the first in mount
//     order shows (names are unique unless made behind the mount's back).
//   - Moving a server's file into files/NAME (MoveIn) is RNFR/RNTO on that
//     server, to its /.Trash-UID/files/NAME. Restoring (a rename from
//     files/ back into the server's folders: Restore) and emptying (gvfs
//     moves the file into expunged/ and deletes it there: Rename, Remove,
//     Rmdir) are renames and deletes on the server that has it; a restore
//     onto another server fails with ErrCrossServer.
//   - GIO creates info/NAME.trashinfo exclusively (O_EXCL: that is how it
//     picks a free NAME), writes it (through a temporary file renamed over
//     it), then moves the file. Until the move the file's server is not
//     known, so these info files are held in memory (PendingInfo, made by
//     CreateInfo); the move uploads the info file to the server the file is
//     on (through a Handle, like any upload: a failed one leaves nothing),
//     then renames the file, and removes the info file again if the rename
//     fails. Without one (a plain mv into files/), an info file is made from
//     the file's path, so that the item can always be restored. A NAME is
//     free only when no server has files/NAME or info/NAME.trashinfo and no
//     pending info file has it, so names are unique across servers. A
//     pending info file no move follows is dropped after pendingTTL.
//   - GIO offers to trash a file (access::can-trash) when its folder is
//     writable (access(W_OK)) and the mount has a trash; it cannot tell
//     servers apart. Trashes.CanTrash says whether a server can hold a
//     trash (the layer above answers access(W_OK) on its folders with
//     EACCES where not): learnt the first time it is asked, by making and
//     removing /.Trash-UID (MKD, RMD), or from a refused trash, and asked
//     again trashRecheck after a refusal.
//
// Locks: Trash.mu guards the pending set and each PendingInfo's name;
// PendingInfo.mu its content; they are never held together except
// Trash.mu → PendingInfo.mu. No lock is held during FTP commands, except
// the per-server probe lock (one probe at a time).

// Trash tunables.
const (
	maxTrashes = 64 // uids with a trash (Of returns nil beyond)
)

// TrashFolder is one folder of a trash.
type TrashFolder string

// The folders of a trash.
const (
	TrashFiles    TrashFolder = "files"
	TrashInfo     TrashFolder = "info"
	TrashExpunged TrashFolder = "expunged"
)

// TrashFolders are a trash's folders, in the order a listing shows them.
var TrashFolders = []TrashFolder{TrashExpunged, TrashFiles, TrashInfo}

// Errors of the trash, besides those of ftpclient.
var (
	// ErrCrossServer: the item is on another server than where it is to
	// go (the trash never copies).
	ErrCrossServer = errors.New("on another server")
	// ErrNotPermitted: not something a trash folder holds (a new file in
	// files/ or expunged/).
	ErrNotPermitted = errors.New("not permitted in the trash")
	// ErrTrashFull: too many pending info files.
	ErrTrashFull = errors.New("too many trash info files waiting for their file")
	// ErrInfoTooLarge: a pending info file would grow beyond maxInfoSize.
	ErrInfoTooLarge = errors.New("trash info file too large")
	// ErrInfoUploaded: a pending info file was uploaded with its file; the
	// server's copy is the file now.
	ErrInfoUploaded = errors.New("trash info file already on its server")
)

// TrashName returns the name of uid's trash folder (".Trash-1000").
func TrashName(uid uint32) string { return ".Trash-" + strconv.FormatUint(uint64(uid), 10) }

// ParseTrashName returns the uid of a trash folder's name (".Trash-1000").
func ParseTrashName(name string) (uint32, bool) {
	s, ok := strings.CutPrefix(name, ".Trash-")
	if !ok || s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(n), true
}

// Trashes are the trashes of a mount's servers: one Trash per uid, and per
// server whether it can hold one (trash_access.go). Safe for concurrent use.
type Trashes struct {
	v       *VFS
	clients []*ftpclient.Client             // mount order
	can     map[*ftpclient.Client]*canTrash // fixed at NewTrashes

	mu    sync.Mutex
	byUID map[uint32]*Trash
}

// NewTrashes returns the trashes of the servers clients (in mount order:
// where two have a name, the first shows).
func (v *VFS) NewTrashes(clients []*ftpclient.Client) *Trashes {
	ts := &Trashes{v: v, clients: clients, can: map[*ftpclient.Client]*canTrash{}, byUID: map[uint32]*Trash{}}
	for _, cl := range clients {
		ts.can[cl] = &canTrash{}
	}
	return ts
}

// Of returns (making it on first use) the trash of uid; nil when there
// are maxTrashes already.
func (ts *Trashes) Of(uid uint32) *Trash {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if t, ok := ts.byUID[uid]; ok {
		return t
	}
	if len(ts.byUID) >= maxTrashes {
		return nil
	}
	t := &Trash{ts: ts, v: ts.v, uid: uid, pending: map[string]*PendingInfo{}}
	ts.byUID[uid] = t
	return t
}

// Trash is the trash of one uid: the union of SERVER/.Trash-UID of every
// server, and the info files not on a server yet.
type Trash struct {
	ts  *Trashes
	v   *VFS
	uid uint32

	mu      sync.Mutex
	pending map[string]*PendingInfo // info files not on a server yet, by name
}

// UID is the trash's owner.
func (t *Trash) UID() uint32 { return t.uid }

// Folder returns the path of the trash's folder sub on a server
// ("/.Trash-UID/files"); sub "" is the trash itself.
func (t *Trash) Folder(sub TrashFolder) string {
	if sub == "" {
		return "/" + TrashName(t.uid)
	}
	return "/" + TrashName(t.uid) + "/" + string(sub)
}

// TrashItem is an entry of a trash folder: on a server, or a pending info
// file.
type TrashItem struct {
	Name   string
	Client *ftpclient.Client // the server that has it; nil for a pending info file
	Path   string            // its path on that server
	Entry  ftpclient.Entry
	Info   *PendingInfo // a pending info file (Client nil)
}

// Lookup finds name in folder sub: among the pending info files (info/
// only), then in the folder of each server in mount order.
func (t *Trash) Lookup(ctx context.Context, sub TrashFolder, name string) (TrashItem, error) {
	if err := ftpclient.ValidateName(name); err != nil {
		return TrashItem{}, err
	}
	if sub == TrashInfo {
		if pi := t.Pending(name); pi != nil {
			return TrashItem{Name: name, Info: pi}, nil
		}
	}
	return t.find(ctx, sub, name)
}

// List lists folder sub: the pending info files (info/ only, by name),
// then the folder of every server (a name two servers have is shown once,
// as Lookup finds it). A server that cannot be listed is logged and left
// out.
func (t *Trash) List(ctx context.Context, sub TrashFolder) []TrashItem {
	seen := map[string]bool{}
	var list []TrashItem
	if sub == TrashInfo {
		for _, pi := range t.pendingList() {
			name := pi.Name()
			seen[name] = true
			list = append(list, TrashItem{Name: name, Info: pi})
		}
	}
	dir := t.Folder(sub)
	for _, cl := range t.ts.clients {
		ok, err := t.hasFolder(ctx, cl, sub)
		if err == nil && ok {
			var entries []ftpclient.Entry
			entries, err = t.v.List(ctx, cl, dir)
			for _, e := range entries {
				if seen[e.Name] || ftpclient.ValidateName(e.Name) != nil {
					continue
				}
				seen[e.Name] = true
				list = append(list, TrashItem{Name: e.Name, Client: cl, Path: dir + "/" + e.Name, Entry: e})
			}
		}
		if err != nil {
			t.v.log.Warn("trash: listing a server's trash", "server", cl.Name(), "err", err)
		}
	}
	return list
}

// hasFolder reports whether cl's server has the trash folder sub (from the
// cached listings of "/" and "/.Trash-UID": no command when they are
// cached).
func (t *Trash) hasFolder(ctx context.Context, cl *ftpclient.Client, sub TrashFolder) (bool, error) {
	for _, p := range []string{t.Folder(""), t.Folder(sub)} {
		e, err := t.v.cache.Lookup(ctx, cl, p)
		if errors.Is(err, ftpclient.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if e.Type != ftpclient.TypeDir {
			return false, nil
		}
	}
	return true, nil
}

// ensureFolders makes the trash (and its folders subs) on cl's server where
// missing (MKD).
func (t *Trash) ensureFolders(ctx context.Context, cl *ftpclient.Client, subs ...TrashFolder) error {
	paths := []string{t.Folder("")}
	for _, s := range subs {
		paths = append(paths, t.Folder(s))
	}
	for _, p := range paths {
		e, err := t.v.cache.Lookup(ctx, cl, p)
		if err == nil {
			if e.Type != ftpclient.TypeDir {
				return fmt.Errorf("trash on %s: %s is not a folder: %w", cl.Name(), p, ftpclient.ErrNotDir)
			}
			continue
		}
		if !errors.Is(err, ftpclient.ErrNotFound) {
			return err
		}
		if _, err := t.v.Mkdir(ctx, cl, p); errors.Is(err, ftpclient.ErrExists) {
			// Made meanwhile (by another client: the listing lacked it).
			t.v.Put(cl, p, ftpclient.Entry{Type: ftpclient.TypeDir, Mtime: time.Now()})
		} else if err != nil {
			return err
		}
	}
	return nil
}

// find returns the item name of folder sub on the first server (in mount
// order) that has it; ErrNotFound if none does (a server that could not be
// searched is logged at debug level: every lookup would repeat it).
func (t *Trash) find(ctx context.Context, sub TrashFolder, name string) (TrashItem, error) {
	var firstErr error
	for _, cl := range t.ts.clients {
		ok, err := t.hasFolder(ctx, cl, sub)
		if err == nil && ok {
			p := t.Folder(sub) + "/" + name
			var e ftpclient.Entry
			e, err = t.v.Lookup(ctx, cl, p)
			if err == nil {
				return TrashItem{Name: name, Client: cl, Path: p, Entry: e}, nil
			}
		}
		if err != nil && !errors.Is(err, ftpclient.ErrNotFound) && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		t.v.log.Debug("trash: a server could not be searched", "name", name, "err", firstErr)
	}
	return TrashItem{}, fmt.Errorf("trash %s/%s: %w", sub, name, ftpclient.ErrNotFound)
}

// taken reports whether name is used in folder sub by any server's trash,
// or (info/) by a pending info file; except, when not nil, is left out.
func (t *Trash) taken(ctx context.Context, sub TrashFolder, name string, except *ftpclient.Client) bool {
	if sub == TrashInfo && t.Pending(name) != nil {
		return true
	}
	for _, cl := range t.ts.clients {
		if cl == except {
			continue
		}
		if ok, err := t.hasFolder(ctx, cl, sub); err != nil || !ok {
			continue
		}
		if _, err := t.v.Lookup(ctx, cl, t.Folder(sub)+"/"+name); err == nil {
			return true
		}
	}
	return false
}
