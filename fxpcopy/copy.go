package fxpcopy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// Copy copies src to dst, replacing dst (or resuming it with opts.Continue).
// On failure no complete-looking destination is left (it is removed).
func (e *Engine) Copy(ctx context.Context, src, dst Endpoint, opts Options) (Record, error) {
	if src.Client == nil || dst.Client == nil {
		return Record{}, errors.New("fxpcopy: endpoint without a client")
	}
	for _, ep := range []Endpoint{src, dst} {
		if err := ftpclient.ValidatePath(ep.Path); err != nil {
			return Record{}, fmt.Errorf("fxpcopy: %s: %w", ep, err)
		}
		if ep.Path == "/" {
			return Record{}, fmt.Errorf("fxpcopy: %s: %w", ep, ftpclient.ErrIsDir)
		}
	}
	if src.Client == dst.Client && src.Path == dst.Path {
		return Record{}, fmt.Errorf("fxpcopy: %s: source and destination are the same file: %w", src, ftpclient.ErrExists)
	}
	t := e.begin(src, dst)
	t.update(func(r *Record) { r.Origin = opts.Origin })
	stop := e.report(t, opts.Progress)
	err := e.run(ctx, t, src, dst, opts)
	stop()
	rec := e.finish(t, err)
	if opts.Progress != nil {
		opts.Progress(rec)
	}
	if err != nil {
		e.log.Warn("copy failed", "src", rec.Src, "dst", rec.Dst, "mode", rec.Mode, "err", err)
	} else {
		e.log.Debug("copy done", "src", rec.Src, "dst", rec.Dst, "bytes", rec.Bytes, "mode", rec.Mode,
			"fallback", rec.Fallback, "verified", rec.Verified, "seconds", rec.Duration.Seconds())
	}
	if err != nil {
		return rec, fmt.Errorf("copy %s to %s: %w", rec.Src, rec.Dst, err)
	}
	return rec, nil
}

// report calls progress about every poll interval until stop is called.
func (e *Engine) report(t *transfer, progress func(Record)) (stop func()) {
	if progress == nil {
		return func() {}
	}
	progress(t.snapshot())
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(e.poll)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				progress(t.snapshot())
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// run does one copy; t records what happens.
func (e *Engine) run(ctx context.Context, t *transfer, src, dst Endpoint, opts Options) error {
	tryFXP, allowRelay, why, err := policy(src.Client.Config(), dst.Client.Config())
	if err != nil {
		return err
	}
	size, err := src.Client.Size(ctx, src.Path)
	if err != nil {
		return fmt.Errorf("size of source: %w", err)
	}
	t.update(func(r *Record) { r.Size = size })

	var mtime time.Time
	if !opts.NoPreserveMtime {
		mtime = e.sourceMtime(ctx, src)
	}

	var off int64
	if opts.Continue {
		off, err = resumeOffset(ctx, dst, size)
		if err != nil {
			return err
		}
		if off > 0 {
			e.log.Debug("resuming", "dst", dst.String(), "offset", off, "size", size)
		}
	}
	t.update(func(r *Record) { r.Resumed = off })
	t.bytes.Store(off)

	if off == size && opts.Continue && size > 0 {
		t.update(func(r *Record) { r.Mode, r.Fallback = ModeNone, "destination already complete" })
	} else if err := e.transfer(ctx, t, src, dst, size, off, tryFXP, allowRelay, why); err != nil {
		var intact *dstIntact
		if !errors.As(err, &intact) {
			e.removeAfterFailure(ctx, dst, opts.Continue)
		}
		return err
	}

	if e.beforeVerify != nil {
		e.beforeVerify(t.snapshot())
	}
	if !opts.NoVerify {
		verified, err := e.verify(ctx, src, dst, size)
		t.update(func(r *Record) { r.Verified = verified })
		if err != nil {
			// A mismatch makes the whole destination suspect, resume or not.
			e.removeAfterFailure(ctx, dst, false)
			return err
		}
	}
	if !mtime.IsZero() {
		if err := dst.Client.SetModTime(ctx, dst.Path, mtime); err != nil {
			if !errors.Is(err, ftpclient.ErrUnsupported) {
				e.log.Warn("could not copy mtime", "dst", dst.String(), "err", err)
			} else {
				e.log.Debug("mtime not copied: unsupported", "dst", dst.String())
			}
		}
	}
	return nil
}

// transfer moves the bytes: FXP (both orientations) where the policy allows,
// else relay.
func (e *Engine) transfer(ctx context.Context, t *transfer, src, dst Endpoint, size, off int64, tryFXP, allowRelay bool, why string) error {
	// FXP and relay alike hold a connection on each side at once: take both
	// slots together (the scheduler never lets two copies deadlock), and
	// draw every connection of the copy from them.
	res, err := ftpclient.Reserve(ctx, src.Client, dst.Client)
	if err != nil {
		return fmt.Errorf("waiting for connections: %w", err)
	}
	defer res.Release()
	ctx = res.Bind(ctx)

	var reasons []string
	if why != "" {
		reasons = append(reasons, why)
	}
	if tryFXP {
		for _, mode := range []Mode{ModeFXP, ModeFXPRev} {
			t.update(func(r *Record) { r.Mode = mode })
			err := e.fxp(ctx, t, src, dst, mode, size, off)
			if err == nil {
				t.update(func(r *Record) { r.Fallback = strings.Join(reasons, "; ") })
				return nil
			}
			var ref *refusal
			if !errors.As(err, &ref) || ctx.Err() != nil {
				return err
			}
			e.log.Info("FXP refused", "mode", mode, "src", src.String(), "dst", dst.String(), "why", ref.Error())
			reasons = append(reasons, fmt.Sprintf("%s: %s", mode, ref.Error()))
			// Nothing reached the destination; drop what the refused
			// attempt may have created before the next one.
			if ref.dstTouched {
				e.removeAfterFailure(ctx, dst, off > 0)
			}
			t.bytes.Store(off)
		}
		if !allowRelay {
			return fmt.Errorf("%w (fxp=\"force\"): %s", ErrFXPRefused, strings.Join(reasons, "; "))
		}
	}
	t.update(func(r *Record) {
		r.Mode, r.Fallback, r.Protection = ModeRelay, strings.Join(reasons, "; "), relayNote(src, dst)
	})
	e.log.Warn("not server-to-server: relaying the data through this host",
		"src", src.String(), "dst", dst.String(), "bytes", size-off, "why", strings.Join(reasons, "; "))
	return e.relay(ctx, t, src, dst, size, off)
}

// sourceMtime returns the source's mtime (MDTM, else its listing), or zero.
func (e *Engine) sourceMtime(ctx context.Context, src Endpoint) time.Time {
	mt, err := src.Client.ModTime(ctx, src.Path)
	if err == nil && !mt.IsZero() {
		return mt
	}
	st, serr := src.Client.Stat(ctx, src.Path)
	if serr == nil {
		return st.Mtime
	}
	e.log.Debug("source mtime unknown", "src", src.String(), "mdtm", err, "stat", serr)
	return time.Time{}
}

// resumeOffset is the destination's current size when it is a usable prefix.
func resumeOffset(ctx context.Context, dst Endpoint, size int64) (int64, error) {
	n, err := dst.Client.Size(ctx, dst.Path)
	switch {
	case errors.Is(err, ftpclient.ErrNotFound):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("size of destination (to resume): %w", err)
	case n > size:
		return 0, nil // longer than the source: not a prefix, start over
	}
	return n, nil
}

// removeAfterFailure deletes a destination that must not look complete. A
// resumed destination (keepPrefix) is kept for the next --continue.
func (e *Engine) removeAfterFailure(ctx context.Context, dst Endpoint, keepPrefix bool) {
	if keepPrefix {
		return
	}
	cctx, cancel := cleanupCtx(ctx)
	defer cancel()
	if err := dst.Client.Remove(cctx, dst.Path); err != nil && !errors.Is(err, ftpclient.ErrNotFound) {
		e.log.Warn("could not remove failed destination", "dst", dst.String(), "err", err)
	}
}
