package fxpcopy

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// TestSourceKilledMidFXP kills the source server while an FXP transfer of a
// large (sparse) file runs: Copy fails promptly and no destination that looks
// complete remains.
func TestSourceKilledMidFXP(t *testing.T) {
	for _, tc := range []struct {
		name       string
		srcIsVsftp bool
	}{
		{"pure-ftpd source", false},
		{"vsftpd source", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs, pure := servers(t, true, true)
			src, dst := pure, vs
			if tc.srcIsVsftp {
				src, dst = vs, pure
			}
			const size = 64 << 30 // sparse on the source's disk
			src.WriteFile(t, "/huge.bin", nil)
			if err := os.Truncate(src.Path("/huge.bin"), size); err != nil {
				t.Fatal(err)
			}
			e := newEngine(t)
			csrc, cdst := client(t, src, ftpclient.FXPForce), client(t, dst, ftpclient.FXPAuto)

			moving := make(chan struct{})
			var once bool
			type result struct {
				rec Record
				err error
			}
			done := make(chan result, 1)
			go func() {
				rec, err := e.Copy(ctxT(t, 2*time.Minute), Endpoint{csrc, "/huge.bin"}, Endpoint{cdst, "/huge.bin"},
					Options{Progress: func(r Record) {
						if r.Active && r.Bytes > 0 && !once {
							once = true
							close(moving)
						}
					}})
				done <- result{rec, err}
			}()
			select {
			case <-moving:
			case r := <-done:
				t.Fatalf("copy ended before any progress was seen: %+v, %v", r.rec, r.err)
			case <-time.After(time.Minute):
				t.Fatal("no progress within a minute")
			}
			if a := e.Active(); len(a) != 1 || a[0].Bytes <= 0 || a[0].Mode == ModeRelay {
				t.Errorf("Active() = %+v, want one FXP transfer under way", a)
			}
			src.Kill()
			var r result
			select {
			case r = <-done:
			case <-time.After(time.Minute):
				t.Fatal("Copy still running a minute after the source was killed")
			}
			t.Logf("error: %v", r.err)
			if r.err == nil {
				t.Fatal("Copy succeeded after the source was killed")
			}
			if fi, err := os.Stat(dst.Path("/huge.bin")); err == nil && fi.Size() == size {
				t.Errorf("a complete-looking destination (%d bytes) remains", fi.Size())
			} else if err == nil {
				t.Errorf("partial destination (%d bytes) not removed", fi.Size())
			}
			if len(e.Active()) != 0 || e.Counters().Failed != 1 {
				t.Errorf("after failure: active %v counters %+v", e.Active(), e.Counters())
			}
			// The destination server is still usable through the same client.
			if _, err := cdst.List(ctxT(t, 30*time.Second), "/"); err != nil {
				t.Errorf("destination unusable after the failed copy: %v", err)
			}
		})
	}
}

// TestLongFXP: an FXP transfer lasting longer than the control channel's
// CmdTimeout succeeds (the final replies are awaited as long as the
// destination keeps growing), and its progress is visible while it runs.
func TestLongFXP(t *testing.T) {
	vs := realftpd.StartVsftpd(t, realftpd.Options{Addr: "127.0.0.2", FXP: true, MaxRate: 512 << 10})
	pure := realftpd.StartPureFTPd(t, realftpd.Options{Addr: "127.0.0.3", FXP: true})
	data := randomBytes(t, 1536<<10) // about 3 s at 512 KiB/s
	vs.WriteFile(t, "/slow.bin", data)
	cfg := vs.Config("")
	cfg.CmdTimeout = time.Second
	csrc, err := ftpclient.New(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { csrc.Close() })
	cdst := client(t, pure, ftpclient.FXPAuto)
	e := newEngine(t)
	var partial int
	rec, err := e.Copy(ctxT(t, time.Minute), Endpoint{csrc, "/slow.bin"}, Endpoint{cdst, "/slow.bin"},
		Options{Progress: func(r Record) {
			if r.Active && r.Bytes > 0 && r.Bytes < r.Size {
				partial++
			}
		}})
	if err != nil {
		// ftpclient must not apply CmdTimeout to RawConn.ReadReply while a
		// transfer is in flight: fxpcopy detects stalls itself (DataTimeout
		// without the destination growing) and cancels ctx.
		t.Fatalf("Copy: %v", err)
	}
	if rec.Mode != ModeFXP || rec.Duration < 2*time.Second {
		t.Errorf("mode %s duration %v", rec.Mode, rec.Duration)
	}
	if partial < 2 {
		t.Errorf("saw %d progress reports of a partial transfer, want several", partial)
	}
	if got := fileSHA(t, pure.Path("/slow.bin")); got != sha(data) {
		t.Fatalf("destination sha256 %s, want %s", got, sha(data))
	}
}

// TestDestinationRefusesStor: a destination directory the server cannot
// write to fails the copy at once with a permission error (a refused file is
// not an FXP refusal: no other orientation or relay is tried), leaving
// nothing behind.
func TestDestinationRefusesStor(t *testing.T) {
	vs, pure := servers(t, true, true)
	e := newEngine(t)
	cvs, cpure := client(t, vs, ftpclient.FXPAuto), client(t, pure, ftpclient.FXPAuto)
	vs.WriteFile(t, "/a.bin", randomBytes(t, 300_000))
	pure.MkdirAll(t, "/ro")
	if err := os.Chmod(pure.Path("/ro"), 0o555); err != nil {
		t.Fatal(err)
	}
	rec, err := e.Copy(ctxT(t, time.Minute), Endpoint{cvs, "/a.bin"}, Endpoint{cpure, "/ro/a.bin"}, Options{})
	t.Logf("error: %v; fallback: %s", err, rec.Fallback)
	if !errors.Is(err, ftpclient.ErrPermission) {
		t.Errorf("err = %v, want ErrPermission", err)
	}
	if _, serr := os.Stat(pure.Path("/ro/a.bin")); !os.IsNotExist(serr) {
		t.Errorf("destination exists: %v", serr)
	}
	// The servers and pools still work afterwards.
	if _, err := e.Copy(ctxT(t, time.Minute), Endpoint{cvs, "/a.bin"}, Endpoint{cpure, "/ok.bin"}, Options{}); err != nil {
		t.Errorf("next copy: %v", err)
	}
}

// TestRefusedOverwriteKeepsDestination: a destination file the server
// refuses to overwrite (read-only, owned by someone else, in a directory the
// FTP user may write) fails the copy at once with a permission error, by FXP
// and by relay alike, and is left exactly as it was: a refused STOR wrote
// nothing, so removing "the partial file" would destroy someone's data.
func TestRefusedOverwriteKeepsDestination(t *testing.T) {
	vs, pure := servers(t, true, true)
	e := newEngine(t)
	vs.WriteFile(t, "/a.bin", randomBytes(t, 300_000))
	old := randomBytes(t, 1000)
	pure.WriteFile(t, "/open/theirs.bin", old)
	if err := os.Chown(pure.Path("/open/theirs.bin"), 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(pure.Path("/open/theirs.bin"), 0o444); err != nil {
		t.Fatal(err)
	}
	for _, policy := range []ftpclient.FXPPolicy{ftpclient.FXPAuto, ftpclient.FXPOff} {
		t.Run(string(policy), func(t *testing.T) {
			cvs, cpure := client(t, vs, policy), client(t, pure, policy)
			rec, err := e.Copy(ctxT(t, time.Minute), Endpoint{cvs, "/a.bin"}, Endpoint{cpure, "/open/theirs.bin"}, Options{})
			if !errors.Is(err, ftpclient.ErrPermission) {
				t.Errorf("err = %v, want ErrPermission", err)
			}
			if policy == ftpclient.FXPAuto && rec.Mode == ModeRelay {
				t.Errorf("a refused file fell back to a relay (%s): it cannot fare better", rec.Fallback)
			}
			if got, rerr := os.ReadFile(pure.Path("/open/theirs.bin")); rerr != nil || sha(got) != sha(old) {
				t.Errorf("destination changed or removed after a refused overwrite: %v (%d bytes)", rerr, len(got))
			}
		})
	}
}
