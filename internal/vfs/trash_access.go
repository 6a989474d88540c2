package vfs

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Whether a server can hold a trash (see trash.go).

// States of canTrash.
const (
	trashUnknown int32 = iota // not tried yet
	trashWorks                // its trash folder exists or could be made
	trashRefused              // MKD of the trash folder, or a move into it, was refused
)

// trashRecheck is how long a refusal stands before CanTrash tries again.
const trashRecheck = 10 * time.Minute

// canTrash is what is known of one server's trash.
type canTrash struct {
	state atomic.Int32
	at    atomic.Int64 // UnixNano of the last refusal
	probe sync.Mutex   // one probe at a time
}

// CanTrash reports whether cl's server can hold a trash: its trash folder
// is there, or can be made. The first time (and trashRecheck after a
// refusal) it makes and removes the folder of uid (MKD, RMD) to find out;
// a server that does not answer counts as able (the trash itself then
// fails). A server not in the mount cannot.
func (ts *Trashes) CanTrash(ctx context.Context, cl *ftpclient.Client, uid uint32) bool {
	c := ts.can[cl]
	if c == nil {
		return false
	}
	if ok, known := c.known(); known {
		return ok
	}
	c.probe.Lock()
	defer c.probe.Unlock()
	if ok, known := c.known(); known {
		return ok
	}
	folder := "/" + TrashName(uid)
	e, err := ts.v.cache.Lookup(ctx, cl, folder)
	switch {
	case err == nil:
		ok := e.Type == ftpclient.TypeDir
		c.set(ok)
		return ok
	case !errors.Is(err, ftpclient.ErrNotFound):
		return true
	}
	pctx := context.WithoutCancel(ctx) // a made folder must be removed
	err = cl.Mkdir(pctx, folder)
	switch {
	case err == nil:
		if rerr := cl.Rmdir(pctx, folder); rerr != nil {
			ts.v.log.Warn("trash: removing the probe folder", "server", cl.Name(), "path", folder, "err", rerr)
			ts.v.Put(cl, folder, ftpclient.Entry{Type: ftpclient.TypeDir, Mtime: time.Now()})
		}
		c.set(true)
		return true
	case errors.Is(err, ftpclient.ErrExists):
		c.set(true)
		return true
	case errors.Is(err, ftpclient.ErrPermission), errors.Is(err, ftpclient.ErrNotFound):
		ts.refused(cl, err)
		return false
	}
	return true
}

// refused records that cl's server refused its trash folder, when err says
// so (no permission, or no such path).
func (ts *Trashes) refused(cl *ftpclient.Client, err error) {
	c := ts.can[cl]
	if c == nil || (!errors.Is(err, ftpclient.ErrPermission) && !errors.Is(err, ftpclient.ErrNotFound)) {
		return
	}
	if c.state.Swap(trashRefused) != trashRefused {
		ts.v.log.Info("trash: the server refuses a trash folder; its files cannot be moved to the trash (GIO's access::can-trash is FALSE for them)",
			"server", cl.Name(), "err", err)
	}
	c.at.Store(time.Now().UnixNano())
}

// works records that a move into cl's trash succeeded.
func (ts *Trashes) works(cl *ftpclient.Client) {
	if c := ts.can[cl]; c != nil {
		c.state.Store(trashWorks)
	}
}

// known returns what is known of the server's trash, if anything.
func (c *canTrash) known() (ok, known bool) {
	switch c.state.Load() {
	case trashWorks:
		return true, true
	case trashRefused:
		if time.Since(time.Unix(0, c.at.Load())) < trashRecheck {
			return false, true
		}
	}
	return false, false
}

// set records the outcome of a probe.
func (c *canTrash) set(ok bool) {
	if ok {
		c.state.Store(trashWorks)
		return
	}
	c.state.Store(trashRefused)
	c.at.Store(time.Now().UnixNano())
}
