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
// On failure no complete-looking destination is left, and a file that was
// at dst before is as it was (see the package doc, "Existing
// destinations").
func (e *Engine) Copy(ctx context.Context, src, dst Endpoint, opts Options) (Record, error) {
	rec, _, err := e.copy(ctx, src, dst, opts, known{})
	return rec, err
}

// known is what listings the caller made say of a copy's two ends, so that
// the copy asks less; a nil field is unknown (the copy asks the server).
type known struct {
	src *srcHint
	dst *dstHint
}

// srcHint is what a listing made by the caller says of a copy's source: its
// size, which the copy then takes instead of asking SIZE (and verifies the
// destination against), and its mtime.
type srcHint struct {
	size  int64
	mtime time.Time // zero: unknown
	// exact: mtime is to the second (MLSD, or MDTM's put in a LIST listing
	// by ftpclient): copied as it is. Otherwise MDTM is asked, and the
	// listed time is the fallback.
	exact bool
}

// hintOf is the srcHint of a listed file; mlsd says the listing was MLSD
// (see listedExact).
func hintOf(e ftpclient.Entry, mlsd bool) *srcHint {
	return &srcHint{size: e.Size, mtime: e.Mtime, exact: listedExact(e.Mtime, mlsd)}
}

// listedExact reports whether a listed time is to the second: every MLSD
// time is; a LIST time is where it has seconds (ftpclient replaced LIST's
// minutes or days with MDTM's, see its MtimePolicy). One without seconds may
// be either (1 in 60 exact times falls on :00) and counts as LIST's.
func listedExact(t time.Time, mlsd bool) bool {
	return !t.IsZero() && (mlsd || t.Second() != 0 || t.Nanosecond() != 0)
}

// mlsdListings reports whether c's listings (and Stat) come from MLSD/MLST.
func mlsdListings(ctx context.Context, c *ftpclient.Client) bool {
	f, err := c.Features(ctx)
	return err == nil && f.MLSD && !c.Config().DisableMLSD
}

// copy is Copy, given what listings the caller made say of its ends. It
// also returns why the destination's mtime could not be set (nil: set, or
// nothing to set), which Copy only logs.
func (e *Engine) copy(ctx context.Context, src, dst Endpoint, opts Options, k known) (rec Record, mtimeErr error, err error) {
	if src.Client == nil || dst.Client == nil {
		return Record{}, nil, errors.New("fxpcopy: endpoint without a client")
	}
	for _, ep := range []Endpoint{src, dst} {
		if err := ftpclient.ValidatePath(ep.Path); err != nil {
			return Record{}, nil, fmt.Errorf("fxpcopy: %s: %w", ep, err)
		}
		if ep.Path == "/" {
			return Record{}, nil, fmt.Errorf("fxpcopy: %s: %w", ep, ftpclient.ErrIsDir)
		}
	}
	if src.Client == dst.Client && src.Path == dst.Path {
		return Record{}, nil, fmt.Errorf("fxpcopy: %s: source and destination are the same file: %w", src, ftpclient.ErrExists)
	}
	t := e.begin(src, dst)
	t.update(func(r *Record) { r.Origin = opts.Origin })
	stop := e.report(t, opts.Progress)
	err = e.run(ctx, t, src, dst, opts, k)
	stop()
	rec = e.finish(t, err)
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
		return rec, nil, fmt.Errorf("copy %s to %s: %w", rec.Src, rec.Dst, err)
	}
	return rec, t.mtimeErr, nil
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
func (e *Engine) run(ctx context.Context, t *transfer, src, dst Endpoint, opts Options, k known) error {
	tryFXP, allowRelay, why, err := policy(src.Client.Config(), dst.Client.Config())
	if err != nil {
		return err
	}
	if opts.NoRelay {
		if !tryFXP {
			return fmt.Errorf("%w: %s, and the caller wants no relay", ErrFXPRefused, why)
		}
		allowRelay = false
	}
	var size int64
	if k.src != nil {
		size = k.src.size // listed just now: no SIZE (the copy is verified against it)
	} else if size, err = src.Client.Size(ctx, src.Path); err != nil {
		return fmt.Errorf("size of source: %w", err)
	}
	t.update(func(r *Record) { r.Size = size })

	w := write{src: src, size: size, tryFXP: tryFXP, allowRelay: allowRelay, why: why, opts: opts}
	if !opts.NoPreserveMtime {
		w.mtime = e.sourceMtime(ctx, src, k.src)
	}
	if opts.Continue {
		w.off, err = resumeOffset(ctx, dst, size)
		if err != nil {
			return err
		}
		if w.off > 0 {
			e.log.Debug("resuming", "dst", dst.String(), "offset", w.off, "size", size)
		}
	}
	t.update(func(r *Record) { r.Resumed = w.off })
	t.bytes.Store(w.off)

	if w.off == size && opts.Continue && size > 0 {
		t.update(func(r *Record) { r.Mode, r.Fallback = ModeNone, "destination already complete" })
		return e.settle(ctx, t, dst, w)
	}
	if w.off == 0 && !opts.InPlace {
		orig, err := e.original(ctx, dst, k.dst)
		if err != nil {
			return err
		}
		if orig != nil {
			return e.replace(ctx, t, dst, orig, w)
		}
	}
	return e.write(ctx, t, dst, w, opts.Continue)
}

// write is one copy's data: where from, how much, and how it may go.
type write struct {
	src                Endpoint
	size, off          int64     // source size; resume offset
	mtime              time.Time // the source's, to copy (zero: none)
	tryFXP, allowRelay bool
	why                string // why FXP is not tried, if so (policy)
	opts               Options
}

// write copies w onto target, verifies it and gives it the source's
// mtime. A failure removes target (after ABOR and the wait of
// removeAfterFailure), unless its STOR was refused or keepPrefix keeps a
// resumed prefix for the next --continue.
//
// The connection slots the copy needs (one on each server: FXP and relay
// alike hold both at once) are taken together, so that copies never
// deadlock on each other, and held until the copy is settled: the
// verification and the mtime use the connections the transfer just
// released, not the server's one metadata connection, which every copy
// would otherwise queue for.
func (e *Engine) write(ctx context.Context, t *transfer, target Endpoint, w write, keepPrefix bool) error {
	res, err := ftpclient.Reserve(ctx, w.src.Client, target.Client)
	if err != nil {
		return fmt.Errorf("waiting for connections: %w", err)
	}
	defer res.Release()
	ctx = res.Bind(ctx)
	if err := e.transfer(ctx, t, w.src, target, w.size, w.off, w.tryFXP, w.allowRelay, w.why); err != nil {
		var intact *dstIntact
		if !errors.As(err, &intact) {
			e.removeAfterFailure(ctx, t, target, keepPrefix)
		}
		return err
	}
	return e.settle(ctx, t, target, w)
}

// settle verifies target against the source (a mismatch removes it,
// resumed or not: the whole file is suspect) and copies the mtime; a
// failure to set it is no failure of the copy (it is logged, and kept in
// t.mtimeErr for Sync).
func (e *Engine) settle(ctx context.Context, t *transfer, target Endpoint, w write) error {
	if e.beforeVerify != nil {
		e.beforeVerify(t.snapshot())
	}
	if !w.opts.NoVerify {
		verified, err := e.verify(ctx, w.src, target, w.size)
		t.update(func(r *Record) { r.Verified = verified })
		if err != nil {
			e.removeAfterFailure(ctx, t, target, false)
			return err
		}
	}
	if !w.mtime.IsZero() {
		err := target.Client.SetModTime(ctx, target.Path, w.mtime)
		t.mtimeErr = err
		switch {
		case err == nil:
		case errors.Is(err, ftpclient.ErrUnsupported):
			e.log.Debug("mtime not copied: unsupported", "dst", target.String())
		default:
			e.log.Warn("could not copy mtime", "dst", target.String(), "err", err)
		}
	}
	return nil
}

// transfer moves the bytes: each FXP orientation the policy and the
// engine's memory allow, then the relay, until one works (see the package
// doc). Between attempts a destination the failed one touched is removed
// (or, when resuming, the resume offset is read again).
// ctx carries the copy's reservation (see write).
func (e *Engine) transfer(ctx context.Context, t *transfer, src, dst Endpoint, size, off int64, tryFXP, allowRelay bool, why string) error {
	var err error
	var reasons []string
	relayWhy := RelayFailed
	if why != "" {
		reasons = append(reasons, why)
		relayWhy = RelayPolicy
	}
	var ways []Mode
	if tryFXP {
		modes, skipped := e.fxpOrder(src.Client, dst.Client)
		ways = modes
		reasons = append(reasons, skipped...)
		if len(modes) == 0 {
			relayWhy = RelayRemembered
		}
	}
	if allowRelay {
		ways = append(ways, ModeRelay)
	}
	refusals, failures := 0, 0
	var lastErr error
	for i, mode := range ways {
		t.update(func(r *Record) { r.Mode, r.Attempts = mode, i+1 })
		if mode == ModeRelay {
			if failures == 0 && refusals > 0 {
				relayWhy = RelayRefused
			}
			t.update(func(r *Record) {
				r.Reason, r.Fallback, r.Protection = relayWhy, strings.Join(reasons, "; "), relayNote(src, dst)
			})
			e.log.Warn("not server-to-server: relaying the data through this host",
				"src", src.String(), "dst", dst.String(), "bytes", size-off, "why", strings.Join(reasons, "; "))
			err = e.relay(ctx, t, src, dst, size, off)
		} else {
			err = e.fxp(ctx, t, src, dst, mode, size, off)
		}
		if err == nil {
			if mode != ModeRelay {
				e.rememberWorked(src.Client, dst.Client, mode)
				t.update(func(r *Record) { r.Fallback = strings.Join(reasons, "; ") })
			}
			return nil
		}
		if ctx.Err() != nil {
			if !errors.Is(err, ctx.Err()) {
				err = fmt.Errorf("%w (%v)", ctx.Err(), err)
			}
			return err
		}
		if finalErr(err) {
			return err
		}
		lastErr = err
		var ref *refusal
		if errors.As(err, &ref) {
			refusals++
			if ref.remember {
				e.rememberRefused(src.Client, dst.Client, mode, ref.Error())
			}
			e.log.Info("FXP refused", "mode", mode, "src", src.String(), "dst", dst.String(), "why", ref.Error())
		} else {
			failures++
			e.log.Warn("copy attempt failed; trying the next way", "mode", mode, "src", src.String(),
				"dst", dst.String(), "err", err)
			var g *giveUp
			if errors.As(err, &g) && g.unended && e.noteUnended(src.Client, dst.Client, mode) {
				e.rememberRefused(src.Client, dst.Client, mode, fmt.Sprintf("%d transfers in a row never ended", unendedLimit))
			}
		}
		reasons = append(reasons, fmt.Sprintf("%s: %v", mode, err))
		if i == len(ways)-1 {
			break
		}
		// The next attempt starts from a clean destination (or, resuming,
		// from what is there now).
		if ref == nil || ref.dstTouched {
			e.removeAfterFailure(ctx, t, dst, off > 0)
			if off > 0 {
				if off, err = resumeOffset(ctx, dst, size); err != nil {
					return err
				}
				t.update(func(r *Record) { r.Resumed = off })
			}
		}
		t.bytes.Store(off)
	}
	if lastErr == nil { // nothing was tried: force, and every orientation remembered as refused
		return fmt.Errorf("%w (fxp=\"force\"): %s", ErrFXPRefused, strings.Join(reasons, "; "))
	}
	if !allowRelay {
		return fmt.Errorf("%w (fxp=\"force\"): %s: %w", ErrFXPRefused, strings.Join(reasons, "; "), lastErr)
	}
	if len(ways) > 1 {
		return fmt.Errorf("every way failed (%s): %w", strings.Join(reasons[:len(reasons)-1], "; "), lastErr)
	}
	return lastErr
}

// sourceMtime returns the source's mtime: the caller's listing's where it
// is exact, else MDTM's, else the listing's (the caller's, or a new one), or
// zero.
func (e *Engine) sourceMtime(ctx context.Context, src Endpoint, h *srcHint) time.Time {
	if h != nil && h.exact {
		return h.mtime
	}
	mt, err := src.Client.ModTime(ctx, src.Path)
	if err == nil && !mt.IsZero() {
		return mt
	}
	if h != nil && !h.mtime.IsZero() {
		return h.mtime
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

// removeAfterFailure deletes a destination that must not look complete and
// checks that it is gone, within RemoveWait. When an attempt ended without
// the destination server confirming the end of its upload, it first waits
// until the destination's size is stable: DELE of a file still being
// written can leave it behind under another name (pure-ftpd). A resumed
// destination (keepPrefix) is kept for the next --continue.
func (e *Engine) removeAfterFailure(ctx context.Context, t *transfer, dst Endpoint, keepPrefix bool) {
	if keepPrefix {
		return
	}
	cctx, cancel := e.cleanupCtx(ctx)
	defer cancel()
	if t != nil && t.dstUnsettled.Swap(false) {
		e.waitStable(cctx, dst)
	}
	for {
		err := dst.Client.Remove(cctx, dst.Path)
		if err != nil && !errors.Is(err, ftpclient.ErrNotFound) {
			e.log.Debug("removing failed destination", "dst", dst.String(), "err", err)
		}
		still, cerr := dst.Client.Exists(cctx, dst.Path)
		switch {
		case cerr != nil:
			e.log.Warn("could not check that the failed destination is gone", "dst", dst.String(), "err", cerr)
			return
		case !still:
			return
		}
		select {
		case <-cctx.Done():
			e.log.Warn("could not remove failed destination", "dst", dst.String(), "err", err)
			return
		case <-time.After(removeRetry):
		}
	}
}

// removeRetry is the pause between removal attempts and size samples.
const removeRetry = 300 * time.Millisecond

// waitStable waits until two samples of dst's size agree (or it is gone).
func (e *Engine) waitStable(ctx context.Context, dst Endpoint) {
	last := int64(-1)
	for {
		n, err := dst.Client.Size(ctx, dst.Path)
		if err != nil || n == last {
			return
		}
		last = n
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * removeRetry):
		}
	}
}
