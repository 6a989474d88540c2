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

// SyncOptions configure Sync and PlanSync.
type SyncOptions struct {
	Delete   bool      // remove what SRC lacks from DST (after the copies succeeded)
	DryRun   bool      // plan only: change nothing
	SizeOnly bool      // a file with the same size is up to date, whatever its mtime
	Jobs     int       // parallel listings, mtime checks and copies (default 4)
	Exclude  *Excluder // paths left alone on both sides (nil: none)
	Copy     Options   // per-file copy options (Progress, Plan, NoVerify)
}

// SyncAction is one kind of step of a sync plan.
type SyncAction string

// Sync actions, in the order Sync carries them out.
const (
	SyncMkdir  SyncAction = "mkdir"  // make a directory SRC has
	SyncCopy   SyncAction = "copy"   // copy a new or changed file
	SyncDelete SyncAction = "delete" // remove a file SRC lacks (--delete)
	SyncRmdir  SyncAction = "rmdir"  // remove a directory SRC lacks (--delete), deepest first
)

// SyncItem is one step of a plan.
type SyncItem struct {
	Action SyncAction
	Rel    string    // path relative to SRC/DST ("" for SRC/DST themselves)
	Size   int64     // copy: the source's size
	Mtime  time.Time // copy, mkdir: the source's mtime, set on DST afterwards (zero: unknown)
	// MtimeExact: Mtime is to the second (MLSD, MDTM); otherwise it comes
	// from a LIST line and Sync asks MDTM before setting it.
	MtimeExact bool
	Replace    bool   // DST has a non-directory (file, symlink) there that goes first
	Why        string // copy: "new", "size 10 → 12", "mtime ..."

	dst *dstHint // copy: what the listing found at DST (a file it replaces, or nothing)
}

// SyncPlan is what Sync will do: the result of walking both trees.
type SyncPlan struct {
	Src, Dst    Endpoint
	Mkdirs      []SyncItem // parents first
	Copies      []SyncItem // sorted by path
	Deletes     []SyncItem // files, then directories deepest first
	UpToDate    int        // files already equal
	Excluded    []string   // paths (SRC or DST) left alone by --exclude
	Skipped     []string   // SRC entries that are neither files nor directories
	MtimeChecks int        // MDTM commands the comparison needed
	Failures    []Failure  // listings or checks that failed (those parts are not synced)
	srcIsFile   bool
	dstParent   parentState // DST's parent, where DST is missing
}

// parentState is what PlanSync found of a missing DST's parent directory.
type parentState int

const (
	parentUnknown parentState = iota // not looked up (DST exists), or the lookup failed
	parentExists
	parentMissing
)

// Bytes is the total size of the planned copies.
func (p *SyncPlan) Bytes() int64 {
	var n int64
	for _, c := range p.Copies {
		n += c.Size
	}
	return n
}

// Lines describes the plan, one step a line, as `fxpfs sync --dry-run`
// prints it.
func (p *SyncPlan) Lines() []string {
	var out []string
	add := func(it SyncItem, format string, args ...any) {
		out = append(out, fmt.Sprintf("%-6s %s", it.Action, fmt.Sprintf(format, args...)))
	}
	for _, it := range p.Mkdirs {
		add(it, "%s", p.dstPath(it.Rel))
	}
	for _, it := range p.Copies {
		add(it, "%s -> %s (%s, %s)", p.srcPath(it.Rel), p.dstPath(it.Rel), it.Why, FormatBytes(it.Size))
	}
	for _, it := range p.Deletes {
		add(it, "%s", p.dstPath(it.Rel))
	}
	return out
}

// srcPath and dstPath name rel on either side as Endpoint.String does.
func (p *SyncPlan) srcPath(rel string) string {
	return Endpoint{p.Src.Client, join(p.Src.Path, rel)}.String()
}
func (p *SyncPlan) dstPath(rel string) string {
	return Endpoint{p.Dst.Client, join(p.Dst.Path, rel)}.String()
}

// join is path.Join that keeps "" meaning the folder itself.
func join(base, rel string) string {
	if rel == "" {
		return base
	}
	return path.Join(base, rel)
}

// syncSide is one end of a sync with what the comparison needs to know of it.
type syncSide struct {
	Endpoint
	exactList bool // every listed time is to the second (MLSD)
	mdtm      bool // MDTM gives an exact time
}

func newSide(ctx context.Context, ep Endpoint) (syncSide, error) {
	f, err := ep.Client.Features(ctx)
	if err != nil {
		return syncSide{}, fmt.Errorf("%s: %w", ep.Client.Name(), err)
	}
	return syncSide{
		Endpoint:  ep,
		exactList: f.MLSD && !ep.Client.Config().DisableMLSD,
		mdtm:      f.MDTM,
	}, nil
}

// stamp is an mtime with the precision it really has.
type stamp struct {
	t    time.Time
	prec time.Duration
}

// listStamp is the time a listing gave for e. MLSD gives seconds. LIST
// gives minutes for recent files and days (shown as midnight, with a year)
// for files older than six months, but ftpclient replaces them with MDTM's
// where its precise_mtime policy says so: a LIST time with seconds came from
// MDTM. One without may be either (1 in 60 exact times falls on :00), so it
// counts as LIST's and the comparison asks MDTM if it must.
func (s syncSide) listStamp(e ftpclient.Entry, now time.Time) stamp {
	switch {
	case e.Mtime.IsZero():
		return stamp{}
	case s.exactList, e.Mtime.Second() != 0 || e.Mtime.Nanosecond() != 0:
		return stamp{e.Mtime, time.Second}
	case e.Mtime.Hour() == 0 && e.Mtime.Minute() == 0 && now.Sub(e.Mtime) > 150*24*time.Hour:
		return stamp{e.Mtime, 24 * time.Hour}
	}
	return stamp{e.Mtime, time.Minute}
}

// sameTime compares two stamps at the coarser of their precisions. An
// unknown time on either syncSide cannot show a difference.
func sameTime(a, b stamp) bool {
	if a.t.IsZero() || b.t.IsZero() {
		return true
	}
	g := max(a.prec, b.prec, time.Second)
	return a.t.Truncate(g).Equal(b.t.Truncate(g))
}

// planner walks both trees. Listings run in parallel (at most jobs at a
// time); the semaphore is held only around one command, never across a
// recursion, so it cannot deadlock.
type planner struct {
	src, dst syncSide
	opts     SyncOptions
	sem      chan struct{}
	now      time.Time

	wg      sync.WaitGroup
	mu      sync.Mutex
	plan    *SyncPlan
	pending []candidate // same size: the mtimes decide
}

// candidate is a file present on both sides with the same size.
type candidate struct {
	rel      string
	src, dst ftpclient.Entry
}

func (pl *planner) fail(what string, err error) {
	pl.mu.Lock()
	pl.plan.Failures = append(pl.plan.Failures, Failure{Src: what, Err: err.Error()})
	pl.mu.Unlock()
}

func (pl *planner) list(ctx context.Context, s syncSide, rel string) ([]ftpclient.Entry, error) {
	select {
	case pl.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-pl.sem }()
	ents, err := s.Client.List(ctx, join(s.Path, rel))
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name < ents[j].Name })
	return ents, err
}

// visit compares directory rel on both sides (dstExists: DST has it) and
// visits its subdirectories in new goroutines.
func (pl *planner) visit(ctx context.Context, rel string, dstExists bool) {
	defer pl.wg.Done()
	srcEnts, err := pl.list(ctx, pl.src, rel)
	if err != nil {
		pl.fail(pl.src.Client.Name()+":"+join(pl.src.Path, rel), fmt.Errorf("list: %w", err))
		return
	}
	dstByName := map[string]ftpclient.Entry{}
	if dstExists {
		dstEnts, err := pl.list(ctx, pl.dst, rel)
		if err != nil {
			pl.fail(pl.dst.Client.Name()+":"+join(pl.dst.Path, rel), fmt.Errorf("list: %w", err))
			return
		}
		for _, e := range dstEnts {
			dstByName[e.Name] = e
		}
	}
	var copies, mkdirs []SyncItem
	var pending []candidate
	var excluded, skipped []string
	upToDate := 0
	type sub struct {
		rel    string
		exists bool
	}
	var subs []sub
	for _, se := range srcEnts {
		crel := path.Join(rel, se.Name)
		de, onDst := dstByName[se.Name]
		delete(dstByName, se.Name)
		if ex, _ := pl.opts.Exclude.Excluded(crel, se.Type == ftpclient.TypeDir); ex {
			excluded = append(excluded, crel)
			continue
		}
		switch se.Type {
		case ftpclient.TypeDir:
			switch {
			case onDst && de.Type == ftpclient.TypeDir:
				subs = append(subs, sub{crel, true})
			default:
				mkdirs = append(mkdirs, SyncItem{Action: SyncMkdir, Rel: crel, Mtime: se.Mtime, Replace: onDst})
				subs = append(subs, sub{crel, false})
			}
		case ftpclient.TypeFile:
			it := SyncItem{Action: SyncCopy, Rel: crel, Size: se.Size, Mtime: se.Mtime,
				MtimeExact: pl.src.listStamp(se, pl.now).prec == time.Second}
			switch {
			case !onDst:
				it.Why, it.dst = "new", &dstHint{}
				copies = append(copies, it)
			case de.Type == ftpclient.TypeDir:
				pl.fail(pl.dst.Client.Name()+":"+join(pl.dst.Path, crel),
					errors.New("is a directory where the source has a file: remove it by hand"))
			case de.Type != ftpclient.TypeFile:
				it.Why, it.Replace, it.dst = "replaces a symlink", true, &dstHint{} // removed first
				copies = append(copies, it)
			case de.Size != se.Size:
				it.Why, it.dst = fmt.Sprintf("size %d → %d", de.Size, se.Size), &dstHint{true, de}
				copies = append(copies, it)
			case pl.opts.SizeOnly:
				upToDate++
			default:
				pending = append(pending, candidate{crel, se, de})
			}
		default:
			skipped = append(skipped, Endpoint{pl.src.Client, join(pl.src.Path, crel)}.String())
		}
	}
	var deletes []SyncItem
	for _, de := range sortedEntries(dstByName) {
		crel := path.Join(rel, de.Name)
		if ex, _ := pl.opts.Exclude.Excluded(crel, de.Type == ftpclient.TypeDir); ex {
			excluded = append(excluded, crel)
			continue
		}
		if !pl.opts.Delete {
			continue
		}
		if de.Type == ftpclient.TypeDir {
			d, ex, _ := pl.deleteTree(ctx, crel)
			deletes = append(deletes, d...)
			excluded = append(excluded, ex...)
			continue
		}
		deletes = append(deletes, SyncItem{Action: SyncDelete, Rel: crel})
	}
	pl.mu.Lock()
	pl.plan.Copies = append(pl.plan.Copies, copies...)
	pl.plan.Mkdirs = append(pl.plan.Mkdirs, mkdirs...)
	pl.plan.Deletes = append(pl.plan.Deletes, deletes...)
	pl.plan.Excluded = append(pl.plan.Excluded, excluded...)
	pl.plan.Skipped = append(pl.plan.Skipped, skipped...)
	pl.plan.UpToDate += upToDate
	pl.pending = append(pl.pending, pending...)
	pl.mu.Unlock()
	for _, s := range subs {
		pl.wg.Add(1)
		go pl.visit(ctx, s.rel, s.exists)
	}
}

// deleteTree plans the removal of DST's directory rel, which SRC lacks:
// its files, its subdirectories, then itself (post-order). Excluded entries
// are kept, and then so are the directories holding them (kept reports it).
func (pl *planner) deleteTree(ctx context.Context, rel string) (deletes []SyncItem, excluded []string, kept bool) {
	ents, err := pl.list(ctx, pl.dst, rel)
	if err != nil {
		pl.fail(pl.dst.Client.Name()+":"+join(pl.dst.Path, rel), fmt.Errorf("list (to delete): %w", err))
		return nil, nil, true
	}
	for _, e := range ents {
		crel := path.Join(rel, e.Name)
		if ex, _ := pl.opts.Exclude.Excluded(crel, e.Type == ftpclient.TypeDir); ex {
			excluded = append(excluded, crel)
			kept = true
			continue
		}
		if e.Type == ftpclient.TypeDir {
			d, ex, k := pl.deleteTree(ctx, crel)
			deletes, excluded, kept = append(deletes, d...), append(excluded, ex...), kept || k
			continue
		}
		deletes = append(deletes, SyncItem{Action: SyncDelete, Rel: crel})
	}
	if !kept {
		deletes = append(deletes, SyncItem{Action: SyncRmdir, Rel: rel})
	}
	return deletes, excluded, kept
}

func sortedEntries(m map[string]ftpclient.Entry) []ftpclient.Entry {
	out := make([]ftpclient.Entry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// exactTime is e's mtime to the second: from the listing where it is exact,
// else by MDTM where the server has it, else the listing's with its
// precision. checks counts the MDTM commands sent.
func (pl *planner) exactTime(ctx context.Context, s syncSide, rel string, e ftpclient.Entry, checks *int) (stamp, error) {
	st := s.listStamp(e, pl.now)
	if st.prec == time.Second || !s.mdtm {
		return st, nil
	}
	*checks++
	t, err := s.Client.ModTime(ctx, join(s.Path, rel))
	if errors.Is(err, ftpclient.ErrUnsupported) {
		return st, nil
	}
	if err != nil {
		return stamp{}, err
	}
	return stamp{t, time.Second}, nil
}

// resolve decides the candidates (same size on both sides) by their mtimes,
// with jobs parallel MDTM checks where a listing is not exact.
func (pl *planner) resolve(ctx context.Context) {
	forEach(ctx, cap(pl.sem), pl.pending, func(c candidate) {
		checks := 0
		defer func() {
			pl.mu.Lock()
			pl.plan.MtimeChecks += checks
			pl.mu.Unlock()
		}()
		ss, err := pl.exactTime(ctx, pl.src, c.rel, c.src, &checks)
		if err != nil {
			pl.fail(pl.src.Client.Name()+":"+join(pl.src.Path, c.rel), fmt.Errorf("mtime: %w", err))
			return
		}
		ds, err := pl.exactTime(ctx, pl.dst, c.rel, c.dst, &checks)
		if err != nil {
			pl.fail(pl.dst.Client.Name()+":"+join(pl.dst.Path, c.rel), fmt.Errorf("mtime: %w", err))
			return
		}
		pl.mu.Lock()
		defer pl.mu.Unlock()
		if sameTime(ss, ds) {
			pl.plan.UpToDate++
			return
		}
		pl.plan.Copies = append(pl.plan.Copies, SyncItem{Action: SyncCopy, Rel: c.rel, Size: c.src.Size,
			Mtime: ss.t, MtimeExact: ss.prec == time.Second,
			Why: fmt.Sprintf("mtime %s → %s", fmtStamp(ds), fmtStamp(ss)), dst: &dstHint{true, c.dst}})
	})
}

func fmtStamp(s stamp) string {
	layout := "2006-01-02 15:04:05"
	switch {
	case s.prec >= 24*time.Hour:
		layout = "2006-01-02"
	case s.prec >= time.Minute:
		layout = "2006-01-02 15:04"
	}
	return s.t.UTC().Format(layout)
}

// forEach runs fn on every item, at most n at a time, and returns when all
// have run or ctx is done (items not started then are dropped).
func forEach[T any](ctx context.Context, n int, items []T, fn func(T)) {
	ch := make(chan T)
	var wg sync.WaitGroup
	for range min(max(n, 1), max(len(items), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range ch {
				fn(it)
			}
		}()
	}
feed:
	for _, it := range items {
		select {
		case ch <- it:
		case <-ctx.Done():
			break feed
		}
	}
	close(ch)
	wg.Wait()
}

// PlanSync walks SRC and DST and returns what Sync would do, changing
// nothing. SRC may be a file or a directory; DST is the file or directory
// that is to equal it (it may be missing).
func (e *Engine) PlanSync(ctx context.Context, src, dst Endpoint, opts SyncOptions) (*SyncPlan, error) {
	plan := &SyncPlan{Src: src, Dst: dst}
	if src.Client == nil || dst.Client == nil {
		return plan, errors.New("fxpcopy: endpoint without a client")
	}
	jobs := opts.Jobs
	if jobs < 1 {
		jobs = 4
	}
	if src.Client == dst.Client && (within(dst.Path, src.Path) || within(src.Path, dst.Path)) {
		return plan, fmt.Errorf("sync %s with %s: one is inside the other: %w", src, dst, ftpclient.ErrExists)
	}
	ss, err := newSide(ctx, src)
	if err != nil {
		return plan, err
	}
	ds, err := newSide(ctx, dst)
	if err != nil {
		return plan, err
	}
	pl := &planner{src: ss, dst: ds, opts: opts, sem: make(chan struct{}, jobs), now: time.Now(), plan: plan}

	// SRC and DST are looked up at once where they are on two servers
	// (each on its own connection). A DST that is missing has its parent
	// looked up too, meanwhile: where it exists, DST (or its directory,
	// for a file) is made without asking again.
	var dst0 ftpclient.Entry
	var derr error
	lookDst := func() {
		dst0, derr = dst.Client.Stat(ctx, dst.Path)
		if errors.Is(derr, ftpclient.ErrNotFound) && dst.Path != "/" {
			pe, perr := dst.Client.Stat(ctx, path.Dir(dst.Path))
			switch {
			case perr == nil && pe.Type == ftpclient.TypeDir:
				plan.dstParent = parentExists
			case errors.Is(perr, ftpclient.ErrNotFound):
				plan.dstParent = parentMissing
			}
		}
	}
	var wg sync.WaitGroup
	if src.Client != dst.Client {
		wg.Go(lookDst)
	}
	sst, err := src.Client.Stat(ctx, src.Path)
	if src.Client == dst.Client && err == nil {
		lookDst()
	}
	wg.Wait()
	if err != nil {
		return plan, fmt.Errorf("sync %s: %w", src, err)
	}
	dstExists := derr == nil
	if derr != nil && !errors.Is(derr, ftpclient.ErrNotFound) {
		return plan, fmt.Errorf("sync to %s: %w", dst, derr)
	}
	switch sst.Type {
	case ftpclient.TypeDir:
		if dstExists && dst0.Type != ftpclient.TypeDir {
			return plan, fmt.Errorf("sync %s: %s is not a directory: %w", src, dst, ftpclient.ErrNotDir)
		}
		if !dstExists {
			plan.Mkdirs = append(plan.Mkdirs, SyncItem{Action: SyncMkdir, Rel: "", Mtime: sst.Mtime})
		}
		pl.wg.Add(1)
		pl.visit(ctx, "", dstExists)
		pl.wg.Wait()
	case ftpclient.TypeFile:
		plan.srcIsFile = true
		it := SyncItem{Action: SyncCopy, Size: sst.Size, Mtime: sst.Mtime,
			MtimeExact: ss.listStamp(sst, pl.now).prec == time.Second}
		switch {
		case !dstExists:
			it.Why, it.dst = "new", &dstHint{}
			plan.Copies = append(plan.Copies, it)
		case dst0.Type == ftpclient.TypeDir:
			return plan, fmt.Errorf("sync %s: %s is a directory: %w", src, dst, ftpclient.ErrIsDir)
		case dst0.Size != sst.Size:
			it.Why, it.dst = fmt.Sprintf("size %d → %d", dst0.Size, sst.Size), &dstHint{true, dst0}
			plan.Copies = append(plan.Copies, it)
		case opts.SizeOnly:
			plan.UpToDate++
		default:
			pl.pending = append(pl.pending, candidate{"", sst, dst0})
		}
	default:
		return plan, fmt.Errorf("sync %s: not a regular file or directory", src)
	}
	pl.resolve(ctx)
	if err := ctx.Err(); err != nil {
		return plan, fmt.Errorf("sync %s: %w", src, err)
	}
	sort.Slice(plan.Mkdirs, func(i, j int) bool { return plan.Mkdirs[i].Rel < plan.Mkdirs[j].Rel })
	sort.Slice(plan.Copies, func(i, j int) bool { return plan.Copies[i].Rel < plan.Copies[j].Rel })
	sort.SliceStable(plan.Deletes, func(i, j int) bool {
		a, b := plan.Deletes[i], plan.Deletes[j]
		if (a.Action == SyncRmdir) != (b.Action == SyncRmdir) {
			return b.Action == SyncRmdir // files first
		}
		if a.Action == SyncRmdir {
			return strings.Count(a.Rel, "/") > strings.Count(b.Rel, "/") // deepest first
		}
		return a.Rel < b.Rel
	})
	sort.Strings(plan.Excluded)
	sort.Slice(plan.Failures, func(i, j int) bool { return plan.Failures[i].Src < plan.Failures[j].Src })
	return plan, nil
}
