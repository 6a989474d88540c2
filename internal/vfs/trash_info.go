package vfs

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Pending info files (see trash.go).

// Pending info file limits.
const (
	pendingTTL     = 10 * time.Minute // a pending info file with no move after it is dropped
	maxPendingInfo = 1000             // pending info files per trash
	maxInfoSize    = 64 << 10         // bytes in one info file
)

// InfoNode is what the layer above keeps for a pending info file (its
// inode).
type InfoNode interface {
	// Uploaded: the info file, now called name, is on its server; the
	// mount should forget its entry, so that the next lookup finds the
	// server's file. Called without locks held, possibly while a request
	// that led here (a rename) is under way: it must not wait for the
	// kernel.
	Uploaded(name string)
}

// PendingInfo is a file created in a trash's info/ that is on no server
// yet: GIO's info/NAME.trashinfo (and the temporary file it writes it
// through), made before the file it describes is moved into files/. It
// lives in memory until that move uploads it to the file's server
// (MoveIn), it is removed, or pendingTTL passes. Safe for concurrent use.
type PendingInfo struct {
	t    *Trash
	node InfoNode

	name    string    // under t.mu
	created time.Time // under t.mu

	mu    sync.Mutex
	data  []byte
	mtime time.Time
	done  bool // uploaded: the server's copy is the one from now on
}

// Node is the layer above's node of the file.
func (pi *PendingInfo) Node() InfoNode { return pi.node }

// Name is the file's name in info/.
func (pi *PendingInfo) Name() string {
	pi.t.mu.Lock()
	defer pi.t.mu.Unlock()
	return pi.name
}

// Stat returns the file's size and modification time.
func (pi *PendingInfo) Stat() (size int64, mtime time.Time) {
	pi.mu.Lock()
	defer pi.mu.Unlock()
	return int64(len(pi.data)), pi.mtime
}

// ReadAt copies the file's bytes at off into dest and returns how many.
func (pi *PendingInfo) ReadAt(dest []byte, off int64) int {
	pi.mu.Lock()
	defer pi.mu.Unlock()
	if off < 0 || off >= int64(len(pi.data)) {
		return 0
	}
	return copy(dest, pi.data[off:])
}

// WriteAt writes data at off, up to maxInfoSize bytes (ErrInfoTooLarge
// beyond); ErrInfoUploaded once the file is on its server.
func (pi *PendingInfo) WriteAt(data []byte, off int64) (int, error) {
	pi.mu.Lock()
	defer pi.mu.Unlock()
	if pi.done {
		return 0, ErrInfoUploaded
	}
	end := off + int64(len(data))
	if off < 0 || end > maxInfoSize {
		return 0, ErrInfoTooLarge
	}
	if end > int64(len(pi.data)) {
		pi.data = append(pi.data, make([]byte, end-int64(len(pi.data)))...)
	}
	copy(pi.data[off:], data)
	pi.mtime = time.Now()
	return len(data), nil
}

// Truncate sets the file's size (ErrInfoTooLarge beyond maxInfoSize).
func (pi *PendingInfo) Truncate(size int64) error {
	if size < 0 || size > maxInfoSize {
		return ErrInfoTooLarge
	}
	pi.mu.Lock()
	defer pi.mu.Unlock()
	if pi.done {
		return ErrInfoUploaded
	}
	if int(size) <= len(pi.data) {
		pi.data = pi.data[:size]
	} else {
		pi.data = append(pi.data, make([]byte, int(size)-len(pi.data))...)
	}
	pi.mtime = time.Now()
	return nil
}

// content returns a copy of the file's bytes.
func (pi *PendingInfo) content() []byte {
	pi.mu.Lock()
	defer pi.mu.Unlock()
	return append([]byte(nil), pi.data...)
}

// uploaded marks pi as uploaded to its server and tells its node.
func (pi *PendingInfo) uploaded() {
	pi.mu.Lock()
	pi.done = true
	pi.mu.Unlock()
	pi.node.Uploaded(pi.Name())
}

// Pending returns the pending info file name, if any.
func (t *Trash) Pending(name string) *PendingInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked()
	return t.pending[name]
}

// pendingList returns the pending info files, sorted by name.
func (t *Trash) pendingList() []*PendingInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked()
	out := make([]*PendingInfo, 0, len(t.pending))
	for _, pi := range t.pending {
		out = append(out, pi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// expireLocked drops pending info files older than pendingTTL. t.mu held.
func (t *Trash) expireLocked() {
	for name, pi := range t.pending {
		if time.Since(pi.created) > pendingTTL {
			delete(t.pending, name)
		}
	}
}

// CreateInfo makes the pending info file name in folder sub, which must be
// info/ (ErrNotPermitted elsewhere: files/ and expunged/ only take
// renames). It is exclusive across the mount: ErrExists when any server's
// trash has the name, or, for NAME.trashinfo, a trashed NAME (so that NAME
// is free everywhere); ErrTrashFull beyond maxPendingInfo. newNode makes
// the layer above's node of the file; it is called before the file can be
// found, with the trash's lock held (it must not call back into the
// trash).
func (t *Trash) CreateInfo(ctx context.Context, sub TrashFolder, name string, newNode func(*PendingInfo) InfoNode) (*PendingInfo, error) {
	if sub != TrashInfo {
		return nil, errorf("create in the trash's", string(sub), ErrNotPermitted)
	}
	if err := ftpclient.ValidateName(name); err != nil {
		return nil, err
	}
	if t.taken(ctx, TrashInfo, name, nil) {
		return nil, errorf("create", name, ftpclient.ErrExists)
	}
	if base, ok := strings.CutSuffix(name, ".trashinfo"); ok && base != "" && t.taken(ctx, TrashFiles, base, nil) {
		return nil, errorf("create", name, ftpclient.ErrExists)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked()
	if _, ok := t.pending[name]; ok {
		return nil, errorf("create", name, ftpclient.ErrExists)
	}
	if len(t.pending) >= maxPendingInfo {
		return nil, ErrTrashFull
	}
	now := time.Now()
	pi := &PendingInfo{t: t, name: name, created: now, mtime: now}
	pi.node = newNode(pi)
	t.pending[name] = pi
	return pi, nil
}

// renamePending renames the pending info file name within info/ (GIO
// writes the info file as a temporary file renamed over it), replacing a
// pending file of the new name.
func (t *Trash) renamePending(ctx context.Context, name, newName string, noReplace bool) error {
	if noReplace && t.taken(ctx, TrashInfo, newName, nil) {
		return errorf("rename onto", newName, ftpclient.ErrExists)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	pi, ok := t.pending[name]
	if !ok {
		return errorf("rename", name, ftpclient.ErrNotFound)
	}
	delete(t.pending, name)
	pi.name = newName
	pi.created = time.Now()
	t.pending[newName] = pi
	return nil
}

// dropPending removes the pending info file name and reports whether there
// was one.
func (t *Trash) dropPending(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.pending[name]
	delete(t.pending, name)
	return ok
}

// takePending removes the pending info file name from the pending set and
// returns it (nil if none), for MoveIn to upload.
func (t *Trash) takePending(name string) *PendingInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	pi := t.pending[name]
	delete(t.pending, name)
	return pi
}

// restorePending puts back a pending info file taken for a move that
// failed.
func (t *Trash) restorePending(pi *PendingInfo) {
	if pi == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.pending[pi.name]; !ok {
		t.pending[pi.name] = pi
	}
}
