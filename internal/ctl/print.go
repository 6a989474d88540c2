package ctl

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fxpfs/fxpfs/fxpcopy"
)

// DefaultRecent is how many finished transfers Print lists by default.
const DefaultRecent = 20

// Print writes a human-readable report of s, listing the last recent
// finished transfers (all that s holds if recent <= 0) and every failed one
// s holds.
func Print(w io.Writer, s Snapshot, recent int) {
	fmt.Fprintf(w, "fxpfs mount %s (pid %d, up %s)\n", s.Mountpoint, s.PID, time.Since(s.Started).Round(time.Second))
	printCounters(w, s)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tADDRESS\tCOMMANDS\tCONNECTIONS\tDATA IN\tDATA OUT")
	for _, sv := range s.Servers {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d dialled, limit %d\t%s\t%s\n", sv.Name, sv.Addr, sv.Stats.Commands,
			sv.Stats.Dials, sv.Stats.MaxConns, fxpcopy.FormatBytes(sv.Stats.BytesIn), fxpcopy.FormatBytes(sv.Stats.BytesOut))
	}
	tw.Flush()
	if len(s.Active) == 0 {
		fmt.Fprintln(w, "active transfers: none")
	} else {
		fmt.Fprintln(w, "active transfers:")
		for _, r := range s.Active {
			printRecord(w, r)
		}
	}
	shown := s.Recent
	if recent > 0 && len(shown) > recent {
		shown = shown[:recent]
	}
	if len(shown) > 0 {
		fmt.Fprintf(w, "recent transfers (newest first, %d of %d kept):\n", len(shown), len(s.Recent))
		for _, r := range shown {
			printRecord(w, r)
		}
	}
	var failed []fxpcopy.Record
	for _, r := range s.Recent[len(shown):] {
		if r.Err != "" {
			failed = append(failed, r)
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "older failed transfers (%d):\n", len(failed))
		for _, r := range failed {
			printRecord(w, r)
		}
	}
}

// printCounters prints the count of finished copies per outcome and where
// the bytes went.
func printCounters(w io.Writer, s Snapshot) {
	c := s.Counters
	plain := c.FXPFiles - c.FXPRevFiles - c.MatchedFiles
	total := c.FXPFiles + c.RelayFiles + c.Failed
	fmt.Fprintf(w, "copies: %d finished: %d %s, %d %s, %d %s (%s), %d %s, %d failed\n", total,
		plain, fxpcopy.ModeFXP, c.FXPRevFiles, fxpcopy.ModeFXPRev,
		c.MatchedFiles, fxpcopy.ModeFXP, fxpcopy.OriginMatchedStream, c.RelayFiles, fxpcopy.ModeRelay, c.Failed)
	type reason struct {
		why string
		n   int64
	}
	var rs []reason
	for why, n := range c.RelayReasons {
		rs = append(rs, reason{why, n})
	}
	slices.SortFunc(rs, func(a, b reason) int { return cmp.Or(cmp.Compare(b.n, a.n), strings.Compare(a.why, b.why)) })
	for _, r := range rs {
		fmt.Fprintf(w, "  relayed %d× because: %s\n", r.n, r.why)
	}
	var up, down int64
	for _, sv := range s.Servers {
		up += sv.Stats.BytesOut
		down += sv.Stats.BytesIn
	}
	fmt.Fprintf(w, "bytes: %s moved server-to-server by FXP (%s of it instead of uploads); "+
		"this host uploaded %s (%s of it relayed) and downloaded %s\n",
		fxpcopy.FormatBytes(c.FXPBytes), fxpcopy.FormatBytes(c.MatchedBytes), fxpcopy.FormatBytes(up), fxpcopy.FormatBytes(c.RelayBytes), fxpcopy.FormatBytes(down))
}

func printRecord(w io.Writer, r fxpcopy.Record) {
	d := r.Duration
	if r.Active {
		d = time.Since(r.Started)
	}
	rate := ""
	if secs := d.Seconds(); secs > 0 {
		rate = fxpcopy.FormatBytes(int64(float64(r.Bytes)/secs)) + "/s"
	}
	pct := ""
	if r.Size > 0 {
		pct = fmt.Sprintf(" %3.0f%%", 100*float64(r.Bytes)/float64(r.Size))
	}
	fmt.Fprintf(w, "  %s -> %s  %s/%s%s  %s  %s  %s", r.Src, r.Dst, fxpcopy.FormatBytes(r.Bytes), fxpcopy.FormatBytes(r.Size), pct,
		rate, d.Round(100*time.Millisecond), r.Mode)
	if r.Origin != "" {
		fmt.Fprintf(w, " (%s)", r.Origin)
	}
	if r.Protection != "" {
		fmt.Fprintf(w, " [%s]", r.Protection)
	}
	if r.Fallback != "" {
		fmt.Fprintf(w, " (%s)", r.Fallback)
	}
	if r.Verified != "" {
		fmt.Fprintf(w, " verified:%s", r.Verified)
	}
	if r.Err != "" {
		fmt.Fprintf(w, " FAILED: %s", r.Err)
	}
	fmt.Fprintln(w)
}
