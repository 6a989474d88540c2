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

// Failure is one file CopyTree could not copy.
type Failure struct {
	Src, Dst string
	Err      string
}

// Summary is the outcome of CopyTree.
type Summary struct {
	Files    int           // files copied successfully
	Dirs     int           // directories made (or found) at the destination
	Bytes    int64         // bytes moved (resumed prefixes excluded)
	Duration time.Duration // wall time
	FXP      int           // files moved by FXP (either orientation)
	Relay    int           // files relayed through this host
	Reasons  map[string]int
	Skipped  []string // entries not copied: symlinks and special files
	Failures []Failure
}

// String is the summary the CLI prints.
func (s Summary) String() string {
	var b strings.Builder
	secs := s.Duration.Seconds()
	fmt.Fprintf(&b, "%d files, %s in %.1fs", s.Files, FormatBytes(s.Bytes), secs)
	if secs > 0 && s.Bytes > 0 {
		fmt.Fprintf(&b, " (%s/s)", FormatBytes(int64(float64(s.Bytes)/secs)))
	}
	fmt.Fprintf(&b, "; %d by FXP, %d relayed", s.FXP, s.Relay)
	if len(s.Reasons) > 0 {
		fmt.Fprintf(&b, " (why: %s)", reasonsText(s.Reasons))
	}
	if len(s.Skipped) > 0 {
		fmt.Fprintf(&b, "; %d skipped (symlinks/special)", len(s.Skipped))
	}
	if len(s.Failures) > 0 {
		fmt.Fprintf(&b, "; %d FAILED:", len(s.Failures))
		for i, f := range s.Failures {
			if i == 10 {
				fmt.Fprintf(&b, "\n  ... and %d more", len(s.Failures)-10)
				break
			}
			fmt.Fprintf(&b, "\n  %s: %s", f.Src, f.Err)
		}
	}
	return b.String()
}

type job struct {
	src, dst Endpoint
	size     int64
	known    known // what the listings say of src and dst
}

// CopyTree copies src to dst: a file to the file dst, or a directory
// recursively into the directory dst (made if missing), with jobs parallel
// transfers. It continues past per-file failures and returns an error at the
// end if any file failed. progress (may be nil) gets every file's record
// while it runs and when it ends (see Options.Progress).
func (e *Engine) CopyTree(ctx context.Context, src, dst Endpoint, opts Options, jobs int, progress func(Record)) (Summary, error) {
	start := time.Now()
	sum := Summary{Reasons: map[string]int{}}
	if progress != nil {
		opts.Progress = progress
	}
	if jobs < 1 {
		jobs = 1
	}
	listed := opts.Listed
	opts.Listed = nil
	var st ftpclient.Entry
	if listed != nil {
		st = listed.Src
	} else {
		var err error
		if st, err = src.Client.Stat(ctx, src.Path); err != nil {
			return sum, fmt.Errorf("copy %s: %w", src, err)
		}
	}
	var work []job
	var err error
	if st.Type == ftpclient.TypeDir {
		if src.Client == dst.Client && within(dst.Path, src.Path) {
			return sum, fmt.Errorf("copy %s into itself (%s): %w", src, dst, ftpclient.ErrExists)
		}
		work, err = e.plan(ctx, src, dst, &sum)
		if err != nil {
			sum.Duration = time.Since(start)
			return sum, err
		}
	} else {
		k := known{src: hintOf(st, mlsdListings(ctx, src.Client))}
		if listed != nil && listed.DstLooked {
			k.dst = &dstHint{}
			if listed.Dst != nil {
				k.dst = &dstHint{exists: true, entry: *listed.Dst}
			}
		}
		work = []job{{src, dst, st.Size, k}}
	}
	if opts.Plan != nil {
		var total int64
		for _, j := range work {
			total += j.size
		}
		opts.Plan(len(work), total)
	}

	var mu sync.Mutex
	forEach(ctx, jobs, work, func(j job) {
		rec, _, err := e.copy(ctx, j.src, j.dst, opts, j.known)
		mu.Lock()
		sum.add(j, rec, err)
		mu.Unlock()
	})
	sum.Duration = time.Since(start)
	sort.Slice(sum.Failures, func(a, b int) bool { return sum.Failures[a].Src < sum.Failures[b].Src })
	if err := ctx.Err(); err != nil {
		return sum, fmt.Errorf("copy %s interrupted after %d files: %w", src, sum.Files, err)
	}
	if n := len(sum.Failures); n > 0 {
		return sum, fmt.Errorf("copy %s: %d of %d files failed (first: %s: %s)",
			src, n, len(work), sum.Failures[0].Src, sum.Failures[0].Err)
	}
	return sum, nil
}

func (s *Summary) add(j job, rec Record, err error) {
	if err != nil {
		s.Failures = append(s.Failures, Failure{Src: j.src.String(), Dst: j.dst.String(), Err: err.Error()})
		return
	}
	s.Files++
	s.Bytes += max(rec.Bytes-rec.Resumed, 0)
	switch rec.Mode {
	case ModeFXP, ModeFXPRev:
		s.FXP++
	case ModeRelay:
		s.Relay++
	}
	if rec.Fallback != "" && rec.Mode != ModeNone {
		s.Reasons[rec.Fallback]++
	}
}

// plan walks the source tree breadth-first, makes every directory at the
// destination, and returns the files to copy, each with what is at its
// destination: nothing in a directory it made, else what a listing of the
// directory that was there says (a failed listing: unknown, each copy
// asks).
func (e *Engine) plan(ctx context.Context, src, dst Endpoint, sum *Summary) ([]job, error) {
	type dir struct{ src, dst string }
	queue := []dir{{src.Path, dst.Path}}
	mlsd := mlsdListings(ctx, src.Client)
	var work []job
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		made, err := mkdirNew(ctx, dst.Client, d.dst)
		if err != nil {
			return nil, fmt.Errorf("make directory %s:%s: %w", dst.Client.Name(), d.dst, err)
		}
		sum.Dirs++
		there := map[string]ftpclient.Entry{} // with made: nothing
		if !made {
			there = e.listDst(ctx, Endpoint{dst.Client, d.dst})
		}
		entries, err := src.Client.List(ctx, d.src)
		if err != nil {
			return nil, fmt.Errorf("list %s:%s: %w", src.Client.Name(), d.src, err)
		}
		for _, en := range entries {
			sp, dp := path.Join(d.src, en.Name), path.Join(d.dst, en.Name)
			switch en.Type {
			case ftpclient.TypeDir:
				queue = append(queue, dir{sp, dp})
			case ftpclient.TypeFile:
				k := known{src: hintOf(en, mlsd)}
				if there != nil {
					de, ok := there[en.Name]
					k.dst = &dstHint{exists: ok, entry: de}
				}
				work = append(work, job{Endpoint{src.Client, sp}, Endpoint{dst.Client, dp}, en.Size, k})
			default:
				name := Endpoint{src.Client, sp}.String()
				sum.Skipped = append(sum.Skipped, name)
				e.log.Info("not copied: not a regular file", "src", name)
			}
		}
	}
	return work, nil
}

// reasonsText lists counted reasons, "3× reason; 1× other", sorted.
func reasonsText(reasons map[string]int) string {
	rs := make([]string, 0, len(reasons))
	for r, n := range reasons {
		rs = append(rs, fmt.Sprintf("%d× %s", n, r))
	}
	sort.Strings(rs)
	return strings.Join(rs, "; ")
}

// within reports whether p is dir or below it (both clean, absolute).
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// mkdir makes p unless it already exists as a directory.
func mkdir(ctx context.Context, c *ftpclient.Client, p string) error {
	_, err := mkdirNew(ctx, c, p)
	return err
}

// mkdirNew is mkdir, also saying whether it made p (false: it was there).
func mkdirNew(ctx context.Context, c *ftpclient.Client, p string) (made bool, err error) {
	if p == "/" {
		return false, nil
	}
	err = c.Mkdir(ctx, p)
	if err == nil {
		return true, nil
	}
	st, serr := c.Stat(ctx, p)
	if serr == nil && st.Type == ftpclient.TypeDir {
		return false, nil
	}
	if serr == nil {
		return false, fmt.Errorf("%w: exists and is not a directory", ftpclient.ErrNotDir)
	}
	if errors.Is(err, ftpclient.ErrExists) {
		return false, serr
	}
	return false, err
}

// listDst lists a destination directory that was there before the copy,
// by name; nil where the listing fails (each copy then asks).
func (e *Engine) listDst(ctx context.Context, dir Endpoint) map[string]ftpclient.Entry {
	ents, err := dir.Client.List(ctx, dir.Path)
	if err != nil {
		e.log.Debug("destination directory not listed: each copy asks what is there", "dir", dir.String(), "err", err)
		return nil
	}
	m := make(map[string]ftpclient.Entry, len(ents))
	for _, en := range ents {
		m[en.Name] = en
	}
	return m
}
