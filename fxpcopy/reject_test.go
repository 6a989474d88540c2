package fxpcopy

import "testing"

// TestRejectMovesTheOutcome: a copy rejected after it finished counts as
// failed ("not accepted"), no longer as what it was.
func TestRejectMovesTheOutcome(t *testing.T) {
	e := New(nil)
	recs := []Record{
		{Mode: ModeFXP, Origin: OriginMatchedStream, Bytes: 100, Attempts: 1},
		{Mode: ModeFXPRev, Bytes: 50, Attempts: 2},
		{Mode: ModeRelay, Bytes: 10, Reason: RelayRefused, Attempts: 1},
	}
	for i := range recs {
		tr := e.begin(Endpoint{Path: "/a"}, Endpoint{Path: "/b"})
		tr.update(func(r *Record) {
			r.Mode, r.Origin, r.Reason, r.Attempts = recs[i].Mode, recs[i].Origin, recs[i].Reason, recs[i].Attempts
		})
		tr.bytes.Store(recs[i].Bytes)
		recs[i] = e.finish(tr, nil)
	}
	if c := e.Counters(); c.FXPFiles != 2 || c.MatchedFiles != 1 || c.RelayFiles != 1 || c.Failed != 0 {
		t.Fatalf("before: %+v", c)
	}
	for _, r := range recs {
		e.Reject(r.ID, "test")
	}
	e.Reject(recs[0].ID, "twice") // already failed: nothing changes
	c := e.Counters()
	if c.FXPFiles != 0 || c.FXPRevFiles != 0 || c.MatchedFiles != 0 || c.RelayFiles != 0 ||
		c.FXPBytes != 0 || c.MatchedBytes != 0 || c.RelayBytes != 10 || c.Retried != 1 {
		t.Errorf("after: %+v, want every copy moved to Failed (relayed bytes still crossed this host)", c)
	}
	if c.Failed != 3 || c.FailedReasons["not accepted"] != 3 || len(c.RelayReasons) != 0 {
		t.Errorf("after: %+v, want 3 failed, not accepted", c)
	}
	for _, r := range e.Recent(0) {
		if r.Err == "" || r.Reason != "not accepted" {
			t.Errorf("record %+v: want the rejection", r)
		}
	}
}
