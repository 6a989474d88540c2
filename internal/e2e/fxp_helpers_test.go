package e2e

import (
	"testing"

	"github.com/fxpfs/fxpfs/fxpcopy"
	"github.com/fxpfs/fxpfs/internal/ctl"
)

// maxHostBytes bounds the data-channel bytes (listings) a copy step may
// move through this host when the data itself goes server-to-server.
const maxHostBytes = 256 << 10

// hostBytes sums the data-channel bytes of all servers of a snapshot.
func hostBytes(s ctl.Snapshot) int64 {
	var n int64
	for _, sv := range s.Servers {
		n += sv.Stats.BytesIn + sv.Stats.BytesOut
	}
	return n
}

// maxRecordID is the highest transfer id in s.
func maxRecordID(s ctl.Snapshot) int64 {
	var id int64
	for _, r := range append(append([]fxpcopy.Record{}, s.Recent...), s.Active...) {
		id = max(id, r.ID)
	}
	return id
}

// newRecords returns the finished records of after that came after before.
func newRecords(before, after ctl.Snapshot) []fxpcopy.Record {
	last := maxRecordID(before)
	var out []fxpcopy.Record
	for _, r := range after.Recent {
		if r.ID > last {
			out = append(out, r)
		}
	}
	return out
}

// checkAllFXP checks that between before and after, files copies were
// made by FXP (either orientation), none relayed or failed, and the data
// bytes through this host stayed near zero.
func checkAllFXP(t *testing.T, before, after ctl.Snapshot, files int64) {
	t.Helper()
	b, a := before.Counters, after.Counters
	if a.RelayBytes != 0 || a.RelayFiles != 0 {
		t.Errorf("counters: %d files / %d bytes relayed through this host, want 0", a.RelayFiles, a.RelayBytes)
	}
	if d := a.FXPFiles - b.FXPFiles; d != files {
		t.Errorf("counters: FXPFiles grew by %d, want %d", d, files)
	}
	if d := a.Failed - b.Failed; d != 0 {
		t.Errorf("counters: Failed grew by %d", d)
	}
	if d := hostBytes(after) - hostBytes(before); d > maxHostBytes {
		t.Errorf("data-channel bytes through this host grew by %d, want ≈ 0 (≤ %d: listings only)", d, maxHostBytes)
	}
	for _, r := range newRecords(before, after) {
		if (r.Mode != fxpcopy.ModeFXP && r.Mode != fxpcopy.ModeFXPRev) || r.Err != "" {
			t.Errorf("transfer %s -> %s: mode %q err %q fallback %q, want FXP", r.Src, r.Dst, r.Mode, r.Err, r.Fallback)
		}
	}
}
