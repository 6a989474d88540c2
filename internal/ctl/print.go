package ctl

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/fxpfs/fxpfs/fxpcopy"
)

// Print writes a human-readable report of s.
func Print(w io.Writer, s Snapshot) {
	fmt.Fprintf(w, "fxpfs mount %s (pid %d, up %s)\n", s.Mountpoint, s.PID, time.Since(s.Started).Round(time.Second))
	c := s.Counters
	fmt.Fprintf(w, "copies: %d by FXP (%s server-to-server), %d relayed (%s through this host), %d failed\n",
		c.FXPFiles, HumanBytes(c.FXPBytes), c.RelayFiles, HumanBytes(c.RelayBytes), c.Failed)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tADDRESS\tCOMMANDS\tCONNECTIONS\tDATA IN\tDATA OUT")
	for _, sv := range s.Servers {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d dialled, limit %d\t%s\t%s\n", sv.Name, sv.Addr, sv.Stats.Commands,
			sv.Stats.Dials, sv.Stats.MaxConns, HumanBytes(sv.Stats.BytesIn), HumanBytes(sv.Stats.BytesOut))
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
	if len(s.Recent) > 0 {
		fmt.Fprintln(w, "recent transfers:")
		for _, r := range s.Recent {
			printRecord(w, r)
		}
	}
}

func printRecord(w io.Writer, r fxpcopy.Record) {
	d := r.Duration
	if r.Active {
		d = time.Since(r.Started)
	}
	rate := ""
	if secs := d.Seconds(); secs > 0 {
		rate = HumanBytes(int64(float64(r.Bytes)/secs)) + "/s"
	}
	pct := ""
	if r.Size > 0 {
		pct = fmt.Sprintf(" %3.0f%%", 100*float64(r.Bytes)/float64(r.Size))
	}
	fmt.Fprintf(w, "  %s -> %s  %s/%s%s  %s  %s  %s", r.Src, r.Dst, HumanBytes(r.Bytes), HumanBytes(r.Size), pct,
		rate, d.Round(100*time.Millisecond), r.Mode)
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

// HumanBytes formats n as 1.5 MiB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
