package vfs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/fxpcopy"
)

// Interrupts. A server-side copy runs as a job of its destination handle,
// detached from the copy_file_range call that started it. When that call
// is interrupted (FUSE_INTERRUPT: any signal the program gets, a terminal's
// SIGWINCH, Go's preemption signals alike), the call returns EINTR at once
// — the kernel waits for the daemon's answer even for a fatal signal, so
// holding it would make the process unkillable — and the copy goes on.
//
//   - A program that handles the signal and retries (coreutils cp, Go's
//     io.Copy and Python retry copy_file_range on EINTR) sends the same call
//     again: it attaches to the running copy and gets its result. A copy
//     lasts as long as it needs; interrupts cost nothing.
//   - A program killed by the signal closes its descriptors: the FLUSH that
//     follows cancels the copy (fxpcopy aborts the transfer and removes
//     what it wrote) and fails the handle, so nothing is left at the
//     destination (a new file disappears, an existing one stays as it was).
//   - A program that does something else with the descriptor instead (a
//     write: falling back to read/write) cancels the copy the same way, and
//     its writes go to the still empty file.
//   - A copy nobody re-attaches to within copyGrace of the interrupt, while
//     the descriptor stays open, is cancelled too (its connections are
//     freed); a later call starts again.

// copyGrace is how long an interrupted copy runs on without a caller.
const copyGrace = 30 * time.Second

// errCopyAbandoned: a server-side copy was interrupted and not resumed.
var errCopyAbandoned = errors.New("server-side copy interrupted and not resumed")

// copyJob is a server-side copy running for a destination handle.
type copyJob struct {
	srcCl   *ftpclient.Client
	srcPath string
	cancel  context.CancelFunc
	done    chan struct{}  // closed when the copy has ended
	rec     fxpcopy.Record // valid after done
	err     error          // valid after done
	matched bool           // started by stream matching (match.go), not by a kernel copy

	// Under the handle's wmu.
	waiters int         // calls waiting for it
	grace   *time.Timer // cancels it when nobody comes back after an interrupt
	expired bool        // cancelled by grace: the next call starts afresh
}

// startJob starts the server-side copy of the whole source onto this
// (empty) file: onto a new file directly, onto an existing one (and for
// stream matching always) into a temporary renamed over it once complete
// (replace.go). wmu held.
func (h *Handle) startJob(srcCl *ftpclient.Client, srcPath string, matched bool) (*copyJob, error) {
	dstPath := h.currentPath()
	h.target, h.tkind = dstPath, targetNew
	if h.existed || matched || h.clash { // a matched copy may be given up for an upload: never onto the name
		if h.existed {
			if err := h.cl.ProbeWritable(h.ctx, dstPath); err != nil {
				h.target, h.tkind = "", targetNone
				return nil, h.failLocked(err)
			}
		}
		h.target, h.tkind = h.v.newTemp(h.cl, dstPath, true), targetTemp
	}
	ctx, cancel := context.WithCancel(h.ctx)
	j := &copyJob{srcCl: srcCl, srcPath: srcPath, cancel: cancel, done: make(chan struct{}), matched: matched}
	dst := fxpcopy.Endpoint{Client: h.cl, Path: h.target}
	// Like cp: cp -p (rsync -a) sets the time itself. InPlace: h.target is
	// this handle's own temporary (or a new file), put in place by commit.
	opts := fxpcopy.Options{NoPreserveMtime: true, InPlace: true}
	if matched {
		// The written bytes are here: where FXP is refused they are
		// uploaded, not relayed a second time.
		opts.Origin, opts.NoRelay = fxpcopy.OriginMatchedStream, true
	}
	go func() {
		defer close(j.done)
		defer cancel()
		j.rec, j.err = h.v.copyFn(ctx, fxpcopy.Endpoint{Client: srcCl, Path: srcPath}, dst, opts)
	}()
	h.job = j
	return j, nil
}

// awaitJob waits for j on behalf of a copy_file_range call of length bytes
// and returns its answer; an interrupt of the call leaves j running (see
// the top of this file). wmu held on entry and return, released while
// waiting.
func (h *Handle) awaitJob(ctx context.Context, j *copyJob, length int64) (int64, error) {
	j.waiters++
	if j.grace != nil {
		j.grace.Stop()
		j.grace = nil
	}
	h.wmu.Unlock()
	select {
	case <-j.done:
	case <-ctx.Done():
	}
	h.wmu.Lock()
	j.waiters--
	if h.job != j {
		// Another call took its result, or gave it up: answer from the
		// handle as it is now (the caller's retry finds a finished copy).
		return 0, fmt.Errorf("%w: %w", errCopyAbandoned, context.Canceled)
	}
	select {
	case <-j.done:
		h.job = nil
		return h.finishJob(j, length)
	default:
	}
	if j.waiters == 0 {
		j.grace = time.AfterFunc(h.v.copyGrace, func() { h.graceOver(j) })
	}
	h.v.log.Debug("kernel copy interrupted; the server-side copy goes on", "server", h.cl.Name(), "path", h.path)
	return 0, context.Cause(ctx)
}

// graceOver cancels j if nobody came back for it.
func (h *Handle) graceOver(j *copyJob) {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	if h.job == j && j.waiters == 0 {
		h.v.log.Warn("interrupted kernel copy not resumed: cancelled", "server", h.cl.Name(), "path", h.path,
			"after", h.v.copyGrace)
		j.expired = true
		j.cancel()
	}
}

// abandonJob cancels the handle's server-side copy (why: for its record),
// waits for its end and removes what it wrote: the file is as before the
// copy (empty). wmu held.
func (h *Handle) abandonJob(why string) {
	j := h.job
	if j == nil {
		return
	}
	h.job = nil
	if j.grace != nil {
		j.grace.Stop()
	}
	j.cancel()
	<-j.done // fxpcopy's cleanup is bounded; the job never takes wmu
	if j.err == nil && h.v.eng != nil {
		h.v.eng.Reject(j.rec.ID, why) // it ended well, but its result is not used
	}
	switch {
	case h.tkind == targetTemp:
		h.v.dropTemp(h.ctx, h.cl, h.target, true)
	case h.tkind == targetNew && j.err == nil:
		// Complete, but nobody was told: not part of the file.
		h.v.removeLeftover(h.ctx, h.cl, h.target, "an abandoned copy", slog.LevelWarn)
	}
	h.target, h.tkind = "", targetNone
	h.v.log.Info("server-side copy abandoned", "server", h.cl.Name(), "path", h.path, "src", j.srcPath)
}
