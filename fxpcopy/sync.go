package fxpcopy

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// SyncSummary is the outcome of Sync.
type SyncSummary struct {
	Copied      Summary // the copies: files, bytes, FXP vs relay and why
	UpToDate    int     // files that were already equal
	Mkdirs      int     // directories made
	Deleted     int     // files removed (--delete)
	Rmdirs      int     // directories removed (--delete)
	Excluded    int     // paths left alone by --exclude
	Skipped     []string
	MtimeChecks int // MDTM commands the comparison needed
	// NoMtime counts files whose mtime DST cannot store: a later run copies
	// them again unless --size-only.
	NoMtime int
	// DeletesSkipped: deletions not done because something failed.
	DeletesSkipped int
	DryRun         bool
	Plan           *SyncPlan
	Failures       []Failure // every failure: listings, directories, copies, mtimes, deletions
	Duration       time.Duration
}

// String is the summary `fxpfs sync` prints, naming every failure.
func (s SyncSummary) String() string {
	var b strings.Builder
	if s.DryRun && s.Plan != nil {
		p := s.Plan
		files, dirs := 0, 0
		for _, d := range p.Deletes {
			if d.Action == SyncRmdir {
				dirs++
			} else {
				files++
			}
		}
		fmt.Fprintf(&b, "dry run: would copy %d files (%s), make %d directories, delete %d files and %d directories; %d up to date",
			len(p.Copies), FormatBytes(p.Bytes()), len(p.Mkdirs), files, dirs, p.UpToDate)
	} else {
		c := s.Copied
		fmt.Fprintf(&b, "%d copied (%s", c.Files, FormatBytes(c.Bytes))
		if secs := c.Duration.Seconds(); secs > 0 && c.Bytes > 0 {
			fmt.Fprintf(&b, ", %s/s", FormatBytes(int64(float64(c.Bytes)/secs)))
		}
		fmt.Fprintf(&b, "; %d by FXP, %d relayed)", c.FXP, c.Relay)
		fmt.Fprintf(&b, ", %d up to date, %d directories made, %d files and %d directories deleted",
			s.UpToDate, s.Mkdirs, s.Deleted, s.Rmdirs)
	}
	if s.Excluded > 0 {
		fmt.Fprintf(&b, ", %d excluded", s.Excluded)
	}
	if len(s.Skipped) > 0 {
		fmt.Fprintf(&b, ", %d skipped (symlinks/special)", len(s.Skipped))
	}
	if s.MtimeChecks > 0 {
		fmt.Fprintf(&b, "; %d MDTM checks", s.MtimeChecks)
	}
	fmt.Fprintf(&b, "; %.1fs", s.Duration.Seconds())
	if len(s.Copied.Reasons) > 0 {
		// Fallbacks, also to the other FXP orientation: not "not by FXP".
		fmt.Fprintf(&b, "\nnot the first way tried, because: %s", reasonsText(s.Copied.Reasons))
	}
	if s.NoMtime > 0 {
		fmt.Fprintf(&b, "\nwarning: %d files: the destination cannot set file times, so the next run copies them again (use --size-only)", s.NoMtime)
	}
	if s.DeletesSkipped > 0 {
		fmt.Fprintf(&b, "\n%d deletions not done because of the failures below", s.DeletesSkipped)
	}
	if len(s.Failures) > 0 {
		fmt.Fprintf(&b, "\n%d FAILED:", len(s.Failures))
		for _, f := range s.Failures {
			fmt.Fprintf(&b, "\n  %s: %s", f.Src, f.Err)
		}
	}
	return b.String()
}

// Sync makes DST equal to SRC, like `rsync -a` or `lftp mirror`: it plans
// (PlanSync), then makes the missing directories, copies the new and changed
// files with jobs parallel copies (FXP where the servers allow, see Copy),
// sets each copied file's mtime to the source's, removes with opts.Delete
// what SRC lacks (only when everything before succeeded), and sets the
// mtimes of the directories it changed. A file is changed when its size
// differs, or (without SizeOnly) its mtime at the precision both sides
// really have: MLSD and MDTM give seconds, LIST minutes or days, so where
// a listed time is still LIST's (ftpclient's precise_mtime policy replaces
// them with MDTM's by default) and the sizes agree, MDTM is asked. With DryRun it
// returns the plan and changes nothing. The error names the first failure;
// the summary lists all.
func (e *Engine) Sync(ctx context.Context, src, dst Endpoint, opts SyncOptions) (sum SyncSummary, err error) {
	start := time.Now()
	plan, err := e.PlanSync(ctx, src, dst, opts)
	sum = SyncSummary{Plan: plan, DryRun: opts.DryRun, Copied: Summary{Reasons: map[string]int{}}}
	if plan != nil {
		sum.Excluded, sum.Skipped, sum.MtimeChecks = len(plan.Excluded), plan.Skipped, plan.MtimeChecks
		sum.Failures = append(sum.Failures, plan.Failures...)
	}
	defer func() { sum.Duration = time.Since(start) }()
	if err != nil {
		return sum, err
	}
	if opts.DryRun {
		sum.UpToDate = plan.UpToDate
		return sum, sum.err(src)
	}
	if opts.Jobs < 1 {
		opts.Jobs = 4
	}
	x := &syncRun{e: e, plan: plan, opts: opts, sum: &sum, changed: map[string]time.Time{}}
	x.mkdirs(ctx)
	x.copies(ctx)
	sum.UpToDate = plan.UpToDate
	if opts.Delete {
		if len(sum.Failures) > 0 {
			sum.DeletesSkipped = len(plan.Deletes)
		} else {
			x.deletes(ctx)
		}
	}
	x.dirTimes(ctx)
	sum.Duration = time.Since(start)
	if err := ctx.Err(); err != nil {
		return sum, fmt.Errorf("sync %s interrupted: %w", src, err)
	}
	return sum, sum.err(src)
}

func (s *SyncSummary) err(src Endpoint) error {
	if len(s.Failures) == 0 {
		return nil
	}
	sort.SliceStable(s.Failures, func(i, j int) bool { return s.Failures[i].Src < s.Failures[j].Src })
	return fmt.Errorf("sync %s: %d failed (first: %s: %s)", src, len(s.Failures), s.Failures[0].Src, s.Failures[0].Err)
}

// syncRun carries out a plan.
type syncRun struct {
	e    *Engine
	plan *SyncPlan
	opts SyncOptions

	mu      sync.Mutex
	sum     *SyncSummary
	changed map[string]time.Time // DST directories whose contents changed -> SRC mtime to restore (zero: unknown)
}

func (x *syncRun) fail(what string, err error) {
	x.mu.Lock()
	x.sum.Failures = append(x.sum.Failures, Failure{Src: what, Err: err.Error()})
	x.mu.Unlock()
}

// touched notes that the contents of DST's directory holding rel changed.
func (x *syncRun) touched(rel string) {
	if x.plan.srcIsFile {
		return
	}
	dir := path.Dir(rel)
	if dir == "." {
		dir = ""
	}
	x.mu.Lock()
	if _, ok := x.changed[dir]; !ok {
		x.changed[dir] = time.Time{}
	}
	x.mu.Unlock()
}

func (x *syncRun) mkdirs(ctx context.Context) {
	dst := x.plan.Dst
	for _, it := range x.plan.Mkdirs {
		if ctx.Err() != nil {
			return
		}
		p := join(dst.Path, it.Rel)
		if it.Replace {
			if err := dst.Client.Remove(ctx, p); err != nil {
				x.fail(x.plan.dstPath(it.Rel), fmt.Errorf("remove (a directory replaces it): %w", err))
				continue
			}
		}
		var err error
		if it.Rel == "" {
			err = x.plan.mkdirDst(ctx, p)
		} else {
			err = mkdir(ctx, dst.Client, p)
		}
		if err != nil {
			x.fail(x.plan.dstPath(it.Rel), fmt.Errorf("make directory: %w", err))
			continue
		}
		x.sum.Mkdirs++
		x.mu.Lock()
		x.changed[it.Rel] = it.Mtime
		x.mu.Unlock()
		if it.Rel != "" {
			x.touched(it.Rel)
		}
	}
}

// mkdirDst makes dir, which is DST itself (a directory SRC) or DST's
// parent (a file SRC), with its missing parents, using what PlanSync found
// of DST's parent: a parent found is not looked up again, nor is one found
// missing (it is made after its own parents).
func (p *SyncPlan) mkdirDst(ctx context.Context, dir string) error {
	c := p.Dst.Client
	parent := path.Dir(p.Dst.Path)
	var dirs []string // outermost first
	switch p.dstParent {
	case parentExists:
	case parentMissing:
		if err := mkdirAll(ctx, c, path.Dir(parent)); err != nil {
			return err
		}
		dirs = append(dirs, parent)
	default:
		return mkdirAll(ctx, c, dir)
	}
	if dir != parent {
		dirs = append(dirs, dir)
	}
	for _, d := range dirs {
		if err := mkdir(ctx, c, d); err != nil {
			return err
		}
	}
	return nil
}

// mkdirAll makes p and its missing parents.
func mkdirAll(ctx context.Context, c *ftpclient.Client, p string) error {
	if p == "/" {
		return nil
	}
	if st, err := c.Stat(ctx, p); err == nil {
		if st.Type == ftpclient.TypeDir {
			return nil
		}
		return fmt.Errorf("%w: exists and is not a directory", ftpclient.ErrNotDir)
	}
	if err := mkdirAll(ctx, c, path.Dir(p)); err != nil {
		return err
	}
	return mkdir(ctx, c, p)
}

func (x *syncRun) copies(ctx context.Context) {
	plan, opts := x.plan, x.opts
	if opts.Copy.Plan != nil {
		opts.Copy.Plan(len(plan.Copies), plan.Bytes())
	}
	if plan.srcIsFile && len(plan.Copies) > 0 && plan.dstParent != parentExists && (plan.Copies[0].dst == nil || !plan.Copies[0].dst.exists) {
		// DST is missing, and so may be its directory.
		if err := plan.mkdirDst(ctx, path.Dir(plan.Dst.Path)); err != nil {
			x.fail(plan.dstPath(""), fmt.Errorf("make its directory: %w", err))
			return
		}
	}
	copyOpts := opts.Copy
	copyOpts.Continue = false
	start := time.Now()
	forEach(ctx, opts.Jobs, plan.Copies, func(it SyncItem) {
		src := Endpoint{plan.Src.Client, join(plan.Src.Path, it.Rel)}
		dst := Endpoint{plan.Dst.Client, join(plan.Dst.Path, it.Rel)}
		if it.Replace {
			if err := dst.Client.Remove(ctx, dst.Path); err != nil && !errors.Is(err, ftpclient.ErrNotFound) {
				x.fail(dst.String(), fmt.Errorf("remove (a file replaces it): %w", err))
				return
			}
		}
		// The plan's listing gives the size and the mtime (exact, or
		// asked by MDTM in the copy): the copy sets it right after its
		// verification, on the same connection.
		k := known{src: &srcHint{size: it.Size, mtime: it.Mtime, exact: it.MtimeExact}, dst: it.dst}
		rec, mtimeErr, err := x.e.copy(ctx, src, dst, copyOpts, k)
		x.mu.Lock()
		x.sum.Copied.add(job{src, dst, it.Size, k}, rec, err)
		x.mu.Unlock()
		if err != nil {
			x.fail(src.String(), err)
			return
		}
		x.touched(it.Rel)
		switch {
		case mtimeErr == nil:
		case errors.Is(mtimeErr, ftpclient.ErrUnsupported):
			x.mu.Lock()
			x.sum.NoMtime++
			x.mu.Unlock()
		default:
			x.fail(dst.String(), fmt.Errorf("set mtime: %w", mtimeErr))
		}
	})
	x.sum.Copied.Duration = time.Since(start)
	// Copy failures are in sum.Failures; keep Copied.Failures for callers
	// that look at the copies alone.
}

func (x *syncRun) deletes(ctx context.Context) {
	dst := x.plan.Dst
	var files, dirs []SyncItem
	for _, it := range x.plan.Deletes {
		if it.Action == SyncRmdir {
			dirs = append(dirs, it)
		} else {
			files = append(files, it)
		}
	}
	forEach(ctx, x.opts.Jobs, files, func(it SyncItem) {
		if err := dst.Client.Remove(ctx, join(dst.Path, it.Rel)); err != nil && !errors.Is(err, ftpclient.ErrNotFound) {
			x.fail(x.plan.dstPath(it.Rel), fmt.Errorf("delete: %w", err))
			return
		}
		x.mu.Lock()
		x.sum.Deleted++
		x.mu.Unlock()
		x.touched(it.Rel)
	})
	for _, it := range dirs { // deepest first
		if ctx.Err() != nil {
			return
		}
		if err := dst.Client.Rmdir(ctx, join(dst.Path, it.Rel)); err != nil && !errors.Is(err, ftpclient.ErrNotFound) {
			x.fail(x.plan.dstPath(it.Rel), fmt.Errorf("remove directory: %w", err))
			continue
		}
		x.sum.Rmdirs++
		x.mu.Lock()
		delete(x.changed, it.Rel)
		x.mu.Unlock()
		x.touched(it.Rel)
	}
}

// dirTimes gives the DST directories whose contents changed their SRC
// directory's mtime, deepest first (setting a file's time does not change
// its directory's). Servers that cannot set a directory's time (vsftpd) are
// left as they are: that is no failure.
func (x *syncRun) dirTimes(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	plan := x.plan
	var dirs []string
	for d := range x.changed {
		dirs = append(dirs, d)
	}
	depth := func(d string) int {
		if d == "" {
			return -1
		}
		return strings.Count(d, "/")
	}
	sort.Slice(dirs, func(i, j int) bool { return depth(dirs[i]) > depth(dirs[j]) })
	for _, d := range dirs {
		mt := x.changed[d]
		if mt.IsZero() {
			st, err := plan.Src.Client.Stat(ctx, join(plan.Src.Path, d))
			if err != nil || st.Mtime.IsZero() {
				continue
			}
			mt = st.Mtime
		}
		p := join(plan.Dst.Path, d)
		if p == "/" {
			continue
		}
		if err := plan.Dst.Client.SetModTime(ctx, p, mt); err != nil && !errors.Is(err, ftpclient.ErrUnsupported) {
			x.e.log.Warn("sync: could not set a directory's mtime", "dir", plan.dstPath(d), "err", err)
		}
	}
}
