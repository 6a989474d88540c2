package fxpcopy

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
)

// TestContinue resumes a half-copied destination, by FXP and by relay: only
// the missing half moves, and the result is the source.
func TestContinue(t *testing.T) {
	vs, pure := servers(t, true, true)
	data := randomBytes(t, 4<<20+5)
	half := len(data) / 2
	vs.WriteFile(t, "/src.bin", data)
	for _, tc := range []struct {
		name   string
		policy ftpclient.FXPPolicy
		modes  []Mode
	}{
		{"fxp", ftpclient.FXPAuto, []Mode{ModeFXP, ModeFXPRev}},
		{"relay", ftpclient.FXPOff, []Mode{ModeRelay}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t)
			cvs, cpure := client(t, vs, tc.policy), client(t, pure, ftpclient.FXPAuto)
			dst := "/resume-" + tc.name + ".bin"
			pure.WriteFile(t, dst, data[:half])
			rec, err := e.Copy(ctxT(t, time.Minute), Endpoint{cvs, "/src.bin"}, Endpoint{cpure, dst}, Options{Continue: true})
			if err != nil {
				t.Fatalf("Copy: %v", err)
			}
			if !contains(tc.modes, rec.Mode) || rec.Resumed != int64(half) || rec.Bytes != int64(len(data)) {
				t.Errorf("record: mode %s resumed %d bytes %d", rec.Mode, rec.Resumed, rec.Bytes)
			}
			if got := fileSHA(t, pure.Path(dst)); got != sha(data) {
				t.Fatalf("resumed destination sha256 %s, want %s", got, sha(data))
			}
			c := e.Counters()
			if moved := c.FXPBytes + c.RelayBytes; moved != int64(len(data)-half) {
				t.Errorf("counted %d bytes moved, want %d (the missing half)", moved, len(data)-half)
			}
			// Once complete, another --continue moves nothing.
			rec, err = e.Copy(ctxT(t, time.Minute), Endpoint{cvs, "/src.bin"}, Endpoint{cpure, dst}, Options{Continue: true})
			if err != nil || rec.Mode != ModeNone || rec.Verified == "" {
				t.Errorf("second resume: mode %s verified %q err %v", rec.Mode, rec.Verified, err)
			}
		})
	}
}

func contains(ms []Mode, m Mode) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

// TestVerifySizeMismatch: a destination that does not end up with the
// source's size is an error and is removed.
func TestVerifySizeMismatch(t *testing.T) {
	vs, pure := servers(t, true, true)
	e := newEngine(t)
	cvs, cpure := client(t, vs, ftpclient.FXPAuto), client(t, pure, ftpclient.FXPAuto)
	vs.WriteFile(t, "/a.bin", randomBytes(t, 500_000))
	e.beforeVerify = func(Record) {
		// Something else appends to the destination behind our back.
		f, err := os.OpenFile(pure.Path("/a.bin"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		f.Write([]byte("garbage"))
		f.Close()
	}
	rec, err := e.Copy(ctxT(t, time.Minute), Endpoint{cvs, "/a.bin"}, Endpoint{cpure, "/a.bin"}, Options{})
	if !errors.Is(err, ErrVerify) {
		t.Fatalf("err = %v, want ErrVerify", err)
	}
	if rec.Err == "" || e.Counters().Failed != 1 {
		t.Errorf("record %+v, counters %+v: want the failure recorded", rec, e.Counters())
	}
	if _, serr := os.Stat(pure.Path("/a.bin")); !os.IsNotExist(serr) {
		t.Errorf("mismatching destination not removed: %v", serr)
	}
}
