package fxpcopy

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// TestCountersPerOutcome: every finished copy counts in exactly one outcome,
// relays count per reason (bounded), and the bytes go to FXP or relay.
func TestCountersPerOutcome(t *testing.T) {
	e := New(nil)
	finish := func(mode Mode, origin Origin, fallback string, bytes int64, err error) {
		tr := e.begin(Endpoint{Path: "/a"}, Endpoint{Path: "/b"})
		tr.update(func(r *Record) { r.Mode, r.Origin, r.Fallback, r.Size = mode, origin, fallback, bytes })
		tr.bytes.Store(bytes)
		e.finish(tr, err)
	}
	for range 700 {
		finish(ModeFXP, "", "", 10, nil)
	}
	for range 200 {
		finish(ModeFXPRev, "", "fxp: 500 PORT refused", 10, nil)
	}
	for range 50 {
		finish(ModeFXP, OriginMatchedStream, "", 100, nil)
	}
	for i := range 40 {
		finish(ModeRelay, "", fmt.Sprintf("reason %d", i), 1000, nil) // more reasons than kept apart
	}
	for range 7 {
		finish(ModeRelay, "", `fxp="off" for beta`, 1000, nil)
	}
	for range 3 {
		finish(ModeRelay, "", "", 5, errors.New("boom"))
	}
	c := e.Counters()
	want := Counters{FXPFiles: 950, FXPRevFiles: 200, MatchedFiles: 50, RelayFiles: 47, Failed: 3,
		FXPBytes: 700*10 + 200*10 + 50*100, MatchedBytes: 5000, RelayBytes: 47*1000 + 3*5}
	got := c
	got.RelayReasons, got.FailedReasons = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("counters\n got %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual(c.FailedReasons, map[string]int64{"other": 3}) {
		t.Errorf("failures per kind %v, want 3 × other (errors.New wraps no sentinel)", c.FailedReasons)
	}
	if n := len(c.RelayReasons); n != maxReasons+1 { // + OtherReasons
		t.Errorf("%d distinct relay reasons kept, want %d", n, maxReasons+1)
	}
	if c.RelayReasons[`fxp="off" for beta`] != 0 || c.RelayReasons[OtherReasons] != 40-maxReasons+7 {
		t.Errorf("reasons beyond the bound: %v", c.RelayReasons)
	}
	var sum int64
	for _, n := range c.RelayReasons {
		sum += n
	}
	if sum != c.RelayFiles {
		t.Errorf("relay reasons add up to %d, want %d", sum, c.RelayFiles)
	}
	c.RelayReasons["reason 0"] = 999 // Counters returns a copy
	if e.Counters().RelayReasons["reason 0"] != 1 {
		t.Error("Counters shares its map with the engine")
	}
	if got := len(e.Recent(0)); got != recentCap || recentCap < 1000 {
		t.Errorf("history keeps %d of %d transfers, want %d (>= 1000)", got, 1000, recentCap)
	}
}
