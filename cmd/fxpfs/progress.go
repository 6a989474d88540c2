package main

import (
	"fmt"
	"io"
	"math"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/fxpfs/fxpfs/fxpcopy"
)

// progress shows the copies of `fxpfs cp` and `fxpfs sync`. On a terminal
// it draws, with github.com/vbauerster/mpb, one bar per transfer under way
// and a total bar (files, bytes, rate, ETA) below them, and prints a line
// above the bars for each finished file. Elsewhere (a pipe, a log file) it
// prints only plain lines: one per finished file, and a summary line of the
// totals at most every summaryEvery while transfers run. Its methods are
// safe for concurrent use: pass setPlan as Options.Plan and update as the
// progress callback.
type progress struct {
	w            io.Writer
	tty          bool
	summaryEvery time.Duration
	now          func() time.Time // tests

	mu          sync.Mutex
	start       time.Time
	planFiles   int
	planBytes   int64
	doneFiles   int
	failed      int
	doneBytes   int64                    // moved by finished files (resumed prefixes excluded)
	active      map[int64]fxpcopy.Record // transfers under way
	lastSummary time.Time

	// label is the total bar's text. mpb calls decorators from the bar's
	// own goroutine, which bar methods called under mu wait for, so the
	// label is read without mu.
	label atomic.Value // string

	// terminal only
	bars  *mpb.Progress
	total *mpb.Bar
	files map[int64]*fileBar
}

// fileBar is one transfer's bar; mode is read by mpb's goroutine.
type fileBar struct {
	*mpb.Bar
	mode atomic.Value // string: fxp, fxp-reversed, relay (it may change)
}

// defaultSummaryEvery is how often plain output reports the totals.
const defaultSummaryEvery = 10 * time.Second

// nameWidth is the width of a file name in front of its bar.
const nameWidth = 28

func newProgress(w io.Writer, isTerminal bool) *progress {
	p := &progress{w: w, tty: isTerminal, summaryEvery: defaultSummaryEvery, now: time.Now,
		active: map[int64]fxpcopy.Record{}, files: map[int64]*fileBar{}}
	if isTerminal {
		p.bars = mpb.New(mpb.WithOutput(w), mpb.WithRefreshRate(150*time.Millisecond), mpb.WithAutoRefresh())
	}
	return p
}

// setPlan takes the number of files and bytes about to be copied.
func (p *progress) setPlan(files int, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.planFiles, p.planBytes = files, bytes
	p.setLabel()
	if p.tty {
		p.totalBar().SetTotal(max(bytes, 1), false)
	}
}

// totalBar makes the total bar on first use (call with mu held).
func (p *progress) totalBar() *mpb.Bar {
	if p.total == nil {
		p.setLabel()
		p.total = p.bars.AddBar(max(p.planBytes, 1),
			mpb.BarPriority(math.MaxInt), // below every file's bar
			mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return p.filesText() }, decor.WCSyncSpaceR)),
			mpb.AppendDecorators(
				decor.CountersKibiByte("% .1f / % .1f"),
				decor.Name(" "),
				decor.AverageSpeed(decor.SizeB1024(0), "% .1f"),
				decor.Name(" ETA "),
				decor.AverageETA(decor.ET_STYLE_GO),
			))
	}
	return p.total
}

// filesText is the total bar's label (mpb calls it; no lock).
func (p *progress) filesText() string {
	s, _ := p.label.Load().(string)
	return s
}

// setLabel updates the total bar's label (call with mu held).
func (p *progress) setLabel() {
	s := fmt.Sprintf("total %d/%d files", p.doneFiles, p.planFiles)
	if p.failed > 0 {
		s += fmt.Sprintf(", %d failed", p.failed)
	}
	p.label.Store(s)
}

// update takes a record from a running or finished transfer.
func (p *progress) update(r fxpcopy.Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.start.IsZero() {
		p.start, p.lastSummary = now, now
	}
	if r.Active {
		p.active[r.ID] = r
		if p.tty {
			p.advance(r)
			p.totalBar().SetCurrent(p.bytesLocked())
		} else if now.Sub(p.lastSummary) >= p.summaryEvery {
			p.lastSummary = now
			fmt.Fprintln(p.w, p.summaryLocked(now))
		}
		return
	}
	delete(p.active, r.ID)
	if r.Err != "" {
		p.failed++
	} else {
		p.doneFiles++
		p.doneBytes += max(r.Bytes-r.Resumed, 0)
	}
	p.setLabel()
	line := fileLine(r)
	if !p.tty {
		fmt.Fprintln(p.w, line)
		return
	}
	if b := p.files[r.ID]; b != nil {
		delete(p.files, r.ID)
		if r.Err != "" {
			b.Abort(true)
		} else {
			b.SetCurrent(r.Bytes)
			b.SetTotal(-1, true)
		}
	}
	p.totalBar().SetCurrent(p.bytesLocked())
	fmt.Fprintln(p.bars, line) // printed above the bars at the next refresh
}

// advance makes or advances r's bar (call with mu held).
func (p *progress) advance(r fxpcopy.Record) {
	b := p.files[r.ID]
	if b == nil {
		b = &fileBar{}
		name := path.Base(r.Src)
		if len([]rune(name)) > nameWidth {
			name = string([]rune(name)[:nameWidth-1]) + "…"
		}
		b.Bar = p.bars.AddBar(max(r.Size, 1),
			mpb.BarRemoveOnComplete(),
			mpb.PrependDecorators(decor.Name(name, decor.WC{W: nameWidth, C: decor.DindentRight | decor.DSyncSpaceR})),
			mpb.AppendDecorators(
				decor.CountersKibiByte("% .1f / % .1f"),
				decor.Name(" "),
				decor.AverageSpeed(decor.SizeB1024(0), "% .1f"),
				decor.Any(func(decor.Statistics) string { m, _ := b.mode.Load().(string); return " " + m }),
			))
		p.files[r.ID] = b
	}
	b.mode.Store(string(r.Mode))
	if r.Size > 0 {
		b.SetTotal(r.Size, false)
	}
	b.SetCurrent(min(r.Bytes, max(r.Size, 1)))
}

// bytesLocked is the bytes moved so far, finished and under way.
func (p *progress) bytesLocked() int64 {
	n := p.doneBytes
	for _, r := range p.active {
		n += max(r.Bytes-r.Resumed, 0)
	}
	return n
}

// summaryLocked is the periodic plain-output line.
func (p *progress) summaryLocked(now time.Time) string {
	moved := p.bytesLocked()
	var b strings.Builder
	fmt.Fprintf(&b, "progress: %d/%d files, %s", p.doneFiles, p.planFiles, fxpcopy.FormatBytes(moved))
	if p.planBytes > 0 {
		fmt.Fprintf(&b, "/%s", fxpcopy.FormatBytes(p.planBytes))
	}
	if secs := now.Sub(p.start).Seconds(); secs > 0 {
		fmt.Fprintf(&b, ", %s/s", fxpcopy.FormatBytes(int64(float64(moved)/secs)))
	}
	fmt.Fprintf(&b, ", %d under way", len(p.active))
	if p.failed > 0 {
		fmt.Fprintf(&b, ", %d failed", p.failed)
	}
	return b.String()
}

// done finishes the display; call it before printing the summary.
func (p *progress) done() {
	if !p.tty {
		return
	}
	p.mu.Lock()
	for id, b := range p.files {
		b.Abort(true)
		delete(p.files, id)
	}
	if p.total != nil {
		p.total.SetTotal(-1, true)
	}
	p.mu.Unlock()
	p.bars.Wait()
}

// fileLine is the line printed for a finished file.
func fileLine(r fxpcopy.Record) string {
	if r.Err != "" {
		return fmt.Sprintf("FAILED %s -> %s: %s", r.Src, r.Dst, r.Err)
	}
	var b strings.Builder
	mode := string(r.Mode)
	if r.Origin != "" {
		mode += " (" + string(r.Origin) + ")"
	}
	fmt.Fprintf(&b, "%-12s %10s %6.1fs %10s/s  %s -> %s", mode, fxpcopy.FormatBytes(r.Bytes-r.Resumed),
		r.Duration.Seconds(), fxpcopy.FormatBytes(int64(r.Rate())), r.Src, r.Dst)
	if r.Resumed > 0 {
		fmt.Fprintf(&b, " (resumed at %s)", fxpcopy.FormatBytes(r.Resumed))
	}
	if r.Verified != "" {
		fmt.Fprintf(&b, " [%s ok]", r.Verified)
	}
	if r.Protection != "" {
		fmt.Fprintf(&b, " [%s]", r.Protection)
	}
	if r.Fallback != "" {
		fmt.Fprintf(&b, " (%s)", r.Fallback)
	}
	return b.String()
}
