package fxpcopy

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ftptest"
)

// TestFailedCopyKeepsExisting (issue 7 item 1): a copy onto an existing file
// that fails in any way — refused, cut short, cancelled, stalled, not
// matching, not put in place — leaves that file byte for byte as it was,
// says so (DestinationIntact), and leaves nothing else at the destination,
// hidden or not.
func TestFailedCopyKeepsExisting(t *testing.T) {
	notOriginal := func(p string) bool { return p != "/b.bin" }
	relay := func(c *ftpclient.ServerConfig) { c.FXP = ftpclient.FXPOff }
	for _, c := range []struct {
		name     string
		src, dst func(*fakeFTP)
		cfg      func(*ftpclient.ServerConfig) // both clients
		cancel   bool
		mismatch bool // something appends to the copy before it is verified
		want     error
	}{
		{name: "no space at the end of STOR", dst: func(f *fakeFTP) {
			f.storFinal = func(p string, _ int64) string {
				if notOriginal(p) {
					return "552 Quota exceeded"
				}
				return ""
			}
		}, want: ftpclient.ErrNoSpace},
		{name: "relay: no space at the end of STOR", dst: func(f *fakeFTP) {
			f.storFinal = func(p string, _ int64) string {
				if notOriginal(p) {
					return "552 Quota exceeded"
				}
				return ""
			}
		}, cfg: relay, want: ftpclient.ErrNoSpace},
		{name: "STOR refused: no space", dst: func(f *fakeFTP) {
			f.storReply = func(p string) string {
				if notOriginal(p) {
					return "552 Disk full"
				}
				return ""
			}
		}, want: ftpclient.ErrNoSpace},
		{name: "cancelled during FXP", src: func(f *fakeFTP) { f.rate = 1 << 20 },
			dst:    func(f *fakeFTP) { f.hiddenRename, f.stopLag = true, 300*time.Millisecond },
			cancel: true, want: context.Canceled},
		{name: "cancelled during relay", src: func(f *fakeFTP) { f.rate = 1 << 20 },
			dst:    func(f *fakeFTP) { f.hiddenRename, f.stopLag = true, 300*time.Millisecond },
			cfg:    relay,
			cancel: true, want: context.Canceled},
		{name: "stall", src: func(f *fakeFTP) { f.stallAfter = 100_000 },
			cfg: func(c *ftpclient.ServerConfig) { c.DataTimeout = time.Second }, want: ftpclient.ErrTimeout},
		{name: "verification mismatch", mismatch: true, want: ErrVerify},
		{name: "rename refused", dst: func(f *fakeFTP) {
			f.renameReply = func(string, string) string { return "553 Renaming not allowed" }
		}, want: ftpclient.ErrPermission},
	} {
		t.Run(c.name, func(t *testing.T) {
			fc := newFakeCopy(t, c.src, c.dst, c.cfg)
			dst, e := fc.dst, fc.e
			fc.src.put("/a.bin", randomBytes(t, 4<<20))
			orig := randomBytes(t, 300_000)
			dst.put("/b.bin", orig)
			if c.mismatch {
				e.beforeVerify = func(Record) {
					dst.mu.Lock()
					defer dst.mu.Unlock()
					for p, ff := range dst.files {
						if notOriginal(p) {
							ff.data = append(ff.data, "garbage"...)
						}
					}
				}
			}
			var cancelAt int64
			if c.cancel {
				cancelAt = 300_000
			}
			rec, err := fc.run(cancelAt)
			t.Logf("err: %v (mode %s, attempts %d, reason %q)", err, rec.Mode, rec.Attempts, rec.Reason)
			if !errors.Is(err, c.want) {
				t.Errorf("err = %v, want one wrapping %v", err, c.want)
			}
			if !DestinationIntact(err) {
				t.Errorf("DestinationIntact = false for a failed copy onto an existing file")
			}
			if got, ok := dst.get("/b.bin"); !ok || !bytes.Equal(got, orig) {
				t.Errorf("the existing file has %d bytes (there: %v), equal to the original: %v", len(got), ok, bytes.Equal(got, orig))
			}
			if names := dst.names(); !slices.Equal(names, []string{"/b.bin"}) || dst.renamed != 0 {
				t.Errorf("at the destination: %q (%d kept under a hidden name); want only /b.bin", names, dst.renamed)
			}
			if rec.Dst != "dst:/b.bin" || e.Counters().Failed != 1 {
				t.Errorf("record names %q, counters %+v; want dst:/b.bin, one failure", rec.Dst, e.Counters())
			}
		})
	}
}

// TestCopyReplacesExisting: a copy onto an existing file, by FXP or relay,
// on a server that renames onto files and on one that cannot (the backup
// way, then remembered), replaces it with the source's bytes and mtime and
// the original's mode, and leaves no temporary; the record names the real
// destination.
func TestCopyReplacesExisting(t *testing.T) {
	for _, c := range []struct {
		name      string
		policy    ftpclient.FXPPolicy
		noReplace bool
	}{
		{"fxp", ftpclient.FXPAuto, false},
		{"relay", ftpclient.FXPOff, false},
		{"fxp, server refuses to rename over a file", ftpclient.FXPAuto, true},
		{"relay, server refuses to rename over a file", ftpclient.FXPOff, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var opts []ftptest.Option
			if c.noReplace {
				opts = append(opts, ftptest.WithNoReplace())
			}
			src := ftptest.Start(t)
			dst := ftptest.Start(t, append(opts, ftptest.WithoutMLSD())...) // goftp's MLSD has no modes
			mk := func(s *ftptest.Server, name string) *ftpclient.Client {
				cfg := s.Config(name)
				cfg.FXP = c.policy
				cl, err := ftpclient.New(cfg, testLog(t))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { cl.Close() })
				return cl
			}
			cs, cd := mk(src, "alpha"), mk(dst, "beta")
			data := randomBytes(t, 1<<20)
			mtime := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
			writeDisk(t, src.Root, "/a.bin", data, 0o644, mtime)
			writeDisk(t, dst.Root, "/d/f", randomBytes(t, 600_000), 0o600, time.Now())
			e := newEngine(t)
			for i := range 2 { // the second time, a server that cannot rename over a file is known
				rec, err := e.Copy(ctxT(t, time.Minute), Endpoint{cs, "/a.bin"}, Endpoint{cd, "/d/f"}, Options{})
				if err != nil {
					t.Fatalf("copy %d: %v", i, err)
				}
				if c.policy == ftpclient.FXPAuto && rec.Mode == ModeRelay {
					t.Errorf("copy %d: relayed (%s), want FXP", i, rec.Fallback)
				}
				if rec.Dst != "beta:/d/f" || rec.Verified == "" {
					t.Errorf("copy %d: record names %q, verified %q", i, rec.Dst, rec.Verified)
				}
				fi := diskFile(t, dst.Root, "/d/f", data)
				if fi != nil && (fi.Mode().Perm() != 0o600 || !fi.ModTime().Equal(mtime)) {
					t.Errorf("copy %d: mode %v, mtime %v; want the original's 0600 and the source's %v",
						i, fi.Mode().Perm(), fi.ModTime().UTC(), mtime)
				}
				if l := ftptest.TempFiles(t, filepath.Join(dst.Root, "d")); len(l) != 0 {
					t.Errorf("copy %d: temporaries left: %v", i, l)
				}
			}
			if cd.RefusesRenameOver() != c.noReplace {
				t.Errorf("RefusesRenameOver() = %v, want %v", cd.RefusesRenameOver(), c.noReplace)
			}
		})
	}
}

// TestContinueOntoLongerFile: --continue onto a file longer than the source
// (not a prefix of it) is a replacement like any other: a failure leaves
// the file as it was, a success replaces it.
func TestContinueOntoLongerFile(t *testing.T) {
	for _, fail := range []bool{true, false} {
		t.Run(map[bool]string{true: "fails", false: "succeeds"}[fail], func(t *testing.T) {
			fc := newFakeCopy(t, nil, func(f *fakeFTP) {
				f.storFinal = func(p string, _ int64) string {
					if fail && p != "/b.bin" {
						return "552 Quota exceeded"
					}
					return ""
				}
			}, nil)
			data, orig := randomBytes(t, 200_000), randomBytes(t, 300_000)
			fc.src.put("/a.bin", data)
			fc.dst.put("/b.bin", orig)
			rec, err := fc.e.Copy(ctxT(t, time.Minute), Endpoint{fc.cs, "/a.bin"}, Endpoint{fc.cd, "/b.bin"}, Options{Continue: true})
			want := data
			if fail {
				want = orig
				if !errors.Is(err, ftpclient.ErrNoSpace) || !DestinationIntact(err) {
					t.Errorf("err = %v (intact: %v), want ErrNoSpace, destination intact", err, DestinationIntact(err))
				}
			} else if err != nil || rec.Resumed != 0 {
				t.Errorf("copy: %v, resumed %d; want a whole copy", err, rec.Resumed)
			}
			if got, _ := fc.dst.get("/b.bin"); !bytes.Equal(got, want) {
				t.Errorf("destination has %d bytes, want %d (the %s)", len(got), len(want), map[bool]string{true: "original", false: "source"}[fail])
			}
			if names := fc.dst.names(); !slices.Equal(names, []string{"/b.bin"}) {
				t.Errorf("at the destination: %q", names)
			}
		})
	}
}

// TestCopyTemporaryNames: where the server refuses dot files, the copy goes
// to a visible temporary; where it refuses any new file in that directory
// (but lets this file be written), the file is overwritten in place.
func TestCopyTemporaryNames(t *testing.T) {
	for _, c := range []struct {
		name   string
		refuse func(p string) bool
		stor   func(p string) bool // the STOR that wrote the copy
	}{
		{"dot files refused", func(p string) bool { return strings.HasPrefix(path.Base(p), ".") },
			func(p string) bool { return strings.HasPrefix(path.Base(p), "fxpfs-") && strings.HasSuffix(p, ".part") }},
		{"new files refused", func(p string) bool { return p != "/b.bin" },
			func(p string) bool { return p == "/b.bin" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := startFake(t, "src", "127.0.0.2")
			dst := startFake(t, "dst", "127.0.0.3", func(f *fakeFTP) {
				f.storReply = func(p string) string {
					if c.refuse(p) {
						return "553 Prohibited file name"
					}
					return ""
				}
			})
			data := randomBytes(t, 200_000)
			src.put("/a.bin", data)
			dst.put("/b.bin", []byte("original"))
			e := newEngine(t)
			if _, err := e.Copy(ctxT(t, time.Minute), Endpoint{fakeClient(t, src), "/a.bin"},
				Endpoint{fakeClient(t, dst), "/b.bin"}, Options{}); err != nil {
				t.Fatal(err)
			}
			if got, _ := dst.get("/b.bin"); !bytes.Equal(got, data) {
				t.Errorf("destination has %d bytes, not the source's %d", len(got), len(data))
			}
			if names := dst.names(); !slices.Equal(names, []string{"/b.bin"}) {
				t.Errorf("at the destination: %q", names)
			}
			var stors []string
			for _, l := range dst.commands() {
				if _, cmd, _ := strings.Cut(l, " "); strings.HasPrefix(cmd, "STOR ") && c.stor(strings.TrimPrefix(cmd, "STOR ")) {
					stors = append(stors, cmd)
				}
			}
			if len(stors) != 1 {
				t.Errorf("STOR commands that wrote the copy: %q, want one", stors)
			}
		})
	}
}

// TestTreeAndSyncKeepExisting: cp -r and sync into a tree that has some of
// the files already, on a server whose disk fills up: the new file and the
// file that fits are copied (the replaced one keeps its mode: the planners'
// listings give it), the one that does not fit fails and its original
// stays, and no temporary is left.
func TestTreeAndSyncKeepExisting(t *testing.T) {
	for _, how := range []string{"CopyTree", "Sync"} {
		t.Run(how, func(t *testing.T) {
			src := ftptest.Start(t)
			dst := ftptest.Start(t, ftptest.WithoutMLSD(), ftptest.WithWriteLimit(1<<20))
			cs, cd := newTestClient(t, src, "alpha"), newTestClient(t, dst, "beta")
			now := time.Now()
			newData, midData, bigData := randomBytes(t, 100_000), randomBytes(t, 200_000), randomBytes(t, 3<<20)
			writeDisk(t, src.Root, "/t/new", newData, 0o644, now)
			writeDisk(t, src.Root, "/t/mid", midData, 0o644, now)
			writeDisk(t, src.Root, "/t/big", bigData, 0o644, now)
			midOld, bigOld := randomBytes(t, 1000), randomBytes(t, 2000)
			writeDisk(t, dst.Root, "/m/mid", midOld, 0o600, now.Add(-time.Hour))
			writeDisk(t, dst.Root, "/m/big", bigOld, 0o600, now.Add(-time.Hour))
			e := newEngine(t)
			var err error
			if how == "CopyTree" {
				_, err = e.CopyTree(ctxT(t, time.Minute), Endpoint{cs, "/t"}, Endpoint{cd, "/m"}, Options{}, 2, nil)
			} else {
				_, err = e.Sync(ctxT(t, time.Minute), Endpoint{cs, "/t"}, Endpoint{cd, "/m"}, SyncOptions{Jobs: 2})
			}
			t.Logf("%s: %v", how, err)
			if err == nil {
				t.Fatal("a file larger than the disk was copied")
			}
			diskFile(t, dst.Root, "/m/new", newData)
			if fi := diskFile(t, dst.Root, "/m/mid", midData); fi != nil && fi.Mode().Perm() != 0o600 {
				t.Errorf("replaced file has mode %v, want the original's 0600", fi.Mode().Perm())
			}
			diskFile(t, dst.Root, "/m/big", bigOld)
			if l := ftptest.TempFiles(t, filepath.Join(dst.Root, "m")); len(l) != 0 {
				t.Errorf("temporaries left: %v", l)
			}
		})
	}
}

func newTestClient(t *testing.T, s *ftptest.Server, name string) *ftpclient.Client {
	t.Helper()
	cl, err := ftpclient.New(s.Config(name), testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// writeDisk writes rel under root with mode and mtime.
func writeDisk(t *testing.T, root, rel string, data []byte, mode os.FileMode, mtime time.Time) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // the umask does not apply
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// diskFile checks that rel under root holds want, and returns its info (nil
// if it is missing).
func diskFile(t *testing.T, root, rel string, want []byte) os.FileInfo {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	got, err := os.ReadFile(p)
	if err != nil {
		t.Errorf("%s: %v", rel, err)
		return nil
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s has %d bytes sha %s, want %d bytes sha %s", rel, len(got), sha(got), len(want), sha(want))
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}
