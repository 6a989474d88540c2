package fxpcopy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

func TestPolicy(t *testing.T) {
	cfg := func(name string, p ftpclient.FXPPolicy) ftpclient.ServerConfig {
		return ftpclient.ServerConfig{Name: name, FXP: p}
	}
	for _, tc := range []struct {
		s, d          ftpclient.FXPPolicy
		tryFXP, relay bool
		why           string
		contradiction bool
	}{
		{"", "", true, true, "", false},
		{ftpclient.FXPAuto, ftpclient.FXPAuto, true, true, "", false},
		{ftpclient.FXPOff, ftpclient.FXPAuto, false, true, `fxp="off" for a`, false},
		{ftpclient.FXPAuto, ftpclient.FXPOff, false, true, `fxp="off" for b`, false},
		{ftpclient.FXPForce, ftpclient.FXPAuto, true, false, "", false},
		{ftpclient.FXPAuto, ftpclient.FXPForce, true, false, "", false},
		{ftpclient.FXPForce, ftpclient.FXPOff, false, false, "", true},
	} {
		try, relay, why, err := policy(cfg("a", tc.s), cfg("b", tc.d))
		if try != tc.tryFXP || relay != tc.relay || why != tc.why || (err != nil) != tc.contradiction {
			t.Errorf("policy(%q, %q) = %v %v %q %v", tc.s, tc.d, try, relay, why, err)
		}
		if tc.contradiction && !errors.Is(err, ErrFXPRefused) {
			t.Errorf("contradiction error %v does not wrap ErrFXPRefused", err)
		}
	}
}

// TestHistory checks the bounded ring of finished records and the counters.
func TestHistory(t *testing.T) {
	e := New(nil)
	for i := range recentCap + 10 {
		tr := e.begin(Endpoint{Path: "/a"}, Endpoint{Path: "/b"})
		tr.update(func(r *Record) { r.Mode = ModeRelay; r.Size = 10 })
		tr.bytes.Store(10)
		var err error
		if i%2 == 1 {
			err = errors.New("boom")
		}
		e.finish(tr, err)
	}
	all := e.Recent(0)
	if len(all) != recentCap {
		t.Fatalf("kept %d records, want %d", len(all), recentCap)
	}
	if all[0].ID != recentCap+10 || all[len(all)-1].ID != 11 {
		t.Errorf("newest %d, oldest %d", all[0].ID, all[len(all)-1].ID)
	}
	if got := e.Recent(3); len(got) != 3 || got[0].ID != recentCap+10 || got[2].ID != recentCap+8 {
		t.Errorf("Recent(3) = %v", got)
	}
	c := e.Counters()
	if c.RelayFiles != (recentCap+10)/2 || c.Failed != (recentCap+10)/2 || c.RelayBytes != 10*(recentCap+10) {
		t.Errorf("counters %+v", c)
	}
	if len(e.Active()) != 0 {
		t.Errorf("active transfers left")
	}
}

func TestSummaryString(t *testing.T) {
	s := Summary{Files: 3, Bytes: 3 << 20, Duration: 2 * time.Second, FXP: 2, Relay: 1,
		Reasons:  map[string]int{`fxp="off" for a`: 1},
		Failures: []Failure{{Src: "a:/f", Dst: "b:/f", Err: "denied"}}}
	got := s.String()
	for _, want := range []string{"3 files", "3.0 MiB", "2.0s", "2 by FXP, 1 relayed", `1× fxp="off" for a`, "1 FAILED", "a:/f: denied"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary %q lacks %q", got, want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB",
		3 << 30: "3.0 GiB", 5 << 30: "5.0 GiB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestReplyTextEscapes: server text quoted in errors and records cannot
// carry terminal control sequences or stray bytes.
func TestReplyTextEscapes(t *testing.T) {
	got := replyText(ftpclient.Reply{Code: 550, Msg: "no\x1b[2J\rway\nsecond line \xff"})
	if strings.ContainsAny(got, "\x1b\r\n\xff") || !strings.HasPrefix(got, "550 no") || !strings.Contains(got, " / second line") {
		t.Errorf("replyText = %q", got)
	}
	long := replyText(ftpclient.Reply{Code: 500, Msg: strings.Repeat("x", 500)})
	if len(long) > 220 || !strings.HasSuffix(long, "...") {
		t.Errorf("long reply not cut: %d bytes", len(long))
	}
}
