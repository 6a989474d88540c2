package fxpcopy

import (
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"time"
)

// Printer shows copy progress for the CLI. On a terminal it keeps one status
// line (files, total bytes, rate and ETA, and the current file's progress),
// redrawn in place at most every redrawEvery, and prints a line above it for
// each finished file; elsewhere it prints only the per-file lines. Safe for
// concurrent use: pass Update as CopyTree's progress callback.
type Printer struct {
	w   io.Writer
	tty bool
	now func() time.Time // tests

	mu        sync.Mutex
	start     time.Time
	active    map[int64]Record
	planFiles int
	planBytes int64
	doneFiles int
	failed    int
	doneBytes int64 // destination bytes of finished files
	resumed   int64 // bytes that were already there (not moved now)
	lastDraw  time.Time
	shown     bool // a status line is on screen
}

// redrawEvery limits terminal redraws.
const redrawEvery = 200 * time.Millisecond

// maxStatusWidth keeps the status line on one terminal row in most cases.
const maxStatusWidth = 118

// NewPrinter returns a printer writing to w; isTerminal selects the redrawn
// status line.
func NewPrinter(w io.Writer, isTerminal bool) *Printer {
	return &Printer{w: w, tty: isTerminal, now: time.Now, active: map[int64]Record{}}
}

// SetPlan tells the printer how much is coming (for the total ETA). Pass it
// as Options.Plan.
func (p *Printer) SetPlan(files int, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.planFiles, p.planBytes = files, bytes
}

// Update takes a record from a running or finished transfer.
func (p *Printer) Update(r Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.start.IsZero() {
		p.start = now
	}
	if r.Active {
		p.active[r.ID] = r
		if p.tty && now.Sub(p.lastDraw) >= redrawEvery {
			p.draw(now)
		}
		return
	}
	delete(p.active, r.ID)
	if r.Err != "" {
		p.failed++
	} else {
		p.doneFiles++
		p.doneBytes += r.Bytes
		p.resumed += r.Resumed
	}
	p.clear()
	fmt.Fprintln(p.w, fileLine(r))
	if p.tty {
		p.draw(now)
	}
}

// Done clears the status line; call it before printing the summary.
func (p *Printer) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

func (p *Printer) clear() {
	if p.tty && p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

// draw redraws the status line.
func (p *Printer) draw(now time.Time) {
	p.lastDraw = now
	done, resumed := p.doneBytes, p.resumed
	var cur *Record
	for id := range p.active {
		r := p.active[id]
		done += r.Bytes
		resumed += r.Resumed
		if cur == nil || r.ID < cur.ID {
			cur = &r
		}
	}
	elapsed := now.Sub(p.start)
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(done-resumed) / s
	}
	var b strings.Builder
	files := fmt.Sprintf("%d", p.doneFiles)
	if p.planFiles > 0 {
		files += fmt.Sprintf("/%d", p.planFiles)
	}
	fmt.Fprintf(&b, "[%s files] %s", files, formatBytes(done))
	if p.planBytes > 0 {
		fmt.Fprintf(&b, "/%s", formatBytes(p.planBytes))
	}
	fmt.Fprintf(&b, " %s/s ETA %s", formatBytes(int64(rate)), eta(p.planBytes-done, rate))
	if p.failed > 0 {
		fmt.Fprintf(&b, " %d failed", p.failed)
	}
	if cur != nil {
		fmt.Fprintf(&b, " | %s %s/%s %s/s ETA %s", path.Base(cur.Src), formatBytes(cur.Bytes),
			formatBytes(cur.Size), formatBytes(int64(cur.Rate())), eta(cur.Size-cur.Bytes, cur.Rate()))
		if n := len(p.active) - 1; n > 0 {
			fmt.Fprintf(&b, " +%d", n)
		}
	}
	line := b.String()
	if len(line) > maxStatusWidth {
		line = line[:maxStatusWidth]
	}
	fmt.Fprint(p.w, "\r\x1b[K"+line)
	p.shown = true
}

// fileLine is the line printed for a finished file.
func fileLine(r Record) string {
	if r.Err != "" {
		return fmt.Sprintf("FAILED %s -> %s: %s", r.Src, r.Dst, r.Err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s %10s %6.1fs %10s/s  %s -> %s", r.Mode, formatBytes(r.Bytes-r.Resumed),
		r.Duration.Seconds(), formatBytes(int64(r.Rate())), r.Src, r.Dst)
	if r.Resumed > 0 {
		fmt.Fprintf(&b, " (resumed at %s)", formatBytes(r.Resumed))
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

func eta(left int64, rate float64) string {
	if left <= 0 {
		return "0s"
	}
	if rate <= 0 {
		return "?"
	}
	d := time.Duration(float64(left) / rate * float64(time.Second))
	if d > 100*time.Hour {
		return "?"
	}
	return d.Round(time.Second).String()
}

// formatBytes prints n with a binary unit: "512 B", "1.5 KiB", "3.2 GiB".
func formatBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= 1024
		if f < 1024 || u == "TiB" {
			return fmt.Sprintf("%.1f %s", f, u)
		}
	}
	return fmt.Sprintf("%d B", n)
}
