package e2e

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// cli runs `fxpfs <args>` against servers (no mount) within timeout.
func cli(t testing.TB, servers []*realftpd.Server, timeout time.Duration, args ...string) result {
	t.Helper()
	full := []string{args[0]}
	for _, s := range servers {
		full = append(full, "--server", s.Name+"="+serverURL(s))
	}
	full = append(full, args[1:]...)
	return runCmd(t, cmdSpec{env: testEnv(t, servers), timeout: timeout}, fxpfsBin, full...)
}

// leftBehind lists what a failed copy may leave in dir on s's disk: fxpfs
// temporaries and pure-ftpd's hidden upload and rename files.
func leftBehind(t testing.TB, s *realftpd.Server, dir string) []string {
	t.Helper()
	var out []string
	for _, n := range diskNames(t, s, dir) {
		if strings.Contains(n, "fxpfs-") || strings.HasPrefix(n, ".pureftpd-") {
			out = append(out, n)
		}
	}
	return out
}

// sameOnDisk fails t unless rel on s's disk holds want.
func sameOnDisk(t testing.TB, s *realftpd.Server, rel string, want []byte, what string) {
	t.Helper()
	got, err := os.ReadFile(s.Path(rel))
	switch {
	case err != nil:
		t.Errorf("%s: %s is gone: %v", what, rel, err)
	case !bytes.Equal(got, want):
		t.Errorf("%s: %s has %d bytes sha %s, want %d bytes sha %s", what, rel, len(got), shaHex(got), len(want), shaHex(want))
	}
}

// TestCLIFailedCopyKeepsOriginal (issue 7 item 1): `fxpfs cp` and
// `fxpfs sync` onto existing files of a server whose disk fills up during
// the copy, both ways between vsftpd and pure-ftpd: the command fails, each
// original is byte for byte as it was, nothing is left next to it, and
// sync's other file is copied. Bound: each command within cmdTimeout.
func TestCLIFailedCopyKeepsOriginal(t *testing.T) {
	t.Parallel()
	const disk = 8 << 20
	alpha := startAlpha(t, realftpd.Options{Root: smallDisk(t, disk), FXP: true})
	beta := startBeta(t, realftpd.Options{Root: smallDisk(t, disk), FXP: true})
	servers := []*realftpd.Server{alpha, beta}
	// Each server: a 5 MiB source for the other and two 1 MiB originals:
	// 1 MiB free, where the copy needs 5 next to the original.
	type files struct{ big, small, cpOrig, syncOrig []byte }
	fs := map[string]files{}
	for _, s := range servers {
		fs[s.Name] = files{
			big:      putRandom(t, s, "/stree/big.bin", 5<<20),
			small:    putRandom(t, s, "/stree/small.txt", 10_000),
			cpOrig:   putRandom(t, s, "/cp/big.bin", 1<<20),
			syncOrig: putRandom(t, s, "/mirror/big.bin", 1<<20),
		}
	}
	for _, tc := range []struct{ src, dst *realftpd.Server }{{alpha, beta}, {beta, alpha}} {
		src, dst := tc.src, tc.dst
		t.Run(string(src.Kind)+"_to_"+string(dst.Kind), func(t *testing.T) {
			t.Run("cp", func(t *testing.T) {
				r := cli(t, servers, cmdTimeout, "cp", src.Name+":/stree/big.bin", dst.Name+":/cp/big.bin")
				t.Logf("fxpfs cp onto a full disk: exit %d after %v: %s", r.code, r.elapsed.Round(time.Millisecond), lastLines(r.stderr, 3))
				if r.err == nil {
					t.Fatalf("fxpfs cp onto a full disk succeeded: %s", r)
				}
				sameOnDisk(t, dst, "/cp/big.bin", fs[dst.Name].cpOrig, "after a failed fxpfs cp")
				if l := leftBehind(t, dst, "/cp"); len(l) != 0 {
					t.Errorf("left on the server: %v", l)
				}
			})
			t.Run("sync", func(t *testing.T) {
				r := cli(t, servers, cmdTimeout, "sync", "-j", "1", src.Name+":/stree", dst.Name+":/mirror") // big.bin first, then small.txt
				t.Logf("fxpfs sync onto a full disk: exit %d after %v: %s", r.code, r.elapsed.Round(time.Millisecond), lastLines(r.stderr, 3))
				if r.err == nil {
					t.Fatalf("fxpfs sync onto a full disk succeeded: %s", r)
				}
				sameOnDisk(t, dst, "/mirror/big.bin", fs[dst.Name].syncOrig, "after a failed fxpfs sync")
				sameOnDisk(t, dst, "/mirror/small.txt", fs[src.Name].small, "the file that fits")
				if l := leftBehind(t, dst, "/mirror"); len(l) != 0 {
					t.Errorf("left on the server: %v", l)
				}
			})
		})
	}
}

// TestCLISourceKilledKeepsOriginal (issue 7 item 1): the source server is
// killed while `fxpfs cp` or `fxpfs sync` copies onto an existing file
// (FXP, the source capped at 2 MiB/s): the command fails within cmdTimeout,
// the original is byte for byte as it was, and the destination server has
// nothing left next to it within 30 s of the command's end.
func TestCLISourceKilledKeepsOriginal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		srcIsAlpha bool // vsftpd source, pure-ftpd destination
		sync       bool
	}{
		{"cp_vsftpd_to_pureftpd", true, false},
		{"cp_pureftpd_to_vsftpd", false, false},
		{"sync_vsftpd_to_pureftpd", true, true},
		{"sync_pureftpd_to_vsftpd", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			slow := realftpd.Options{FXP: true, MaxRate: 2 << 20}
			fast := realftpd.Options{FXP: true}
			var src, dst *realftpd.Server
			if tc.srcIsAlpha {
				src, dst = startPair(t, slow, fast)
			} else {
				dst, src = startPair(t, fast, slow)
			}
			servers := []*realftpd.Server{src, dst}
			src.WriteFile(t, "/d/huge.bin", nil)
			if err := os.Truncate(src.Path("/d/huge.bin"), 256<<20); err != nil { // sparse: ~2 min at 2 MiB/s
				t.Fatal(err)
			}
			orig := putRandom(t, dst, "/d/huge.bin", 1<<20)
			args := []string{"cp", src.Name + ":/d/huge.bin", dst.Name + ":/d/huge.bin"}
			if tc.sync {
				args = []string{"sync", src.Name + ":/d", dst.Name + ":/d"}
			}
			done := make(chan result, 1)
			go func() { done <- cli(t, servers, cmdTimeout, args...) }()

			// Kill the source once the copy has moved more than a megabyte
			// (a file in /d is larger than the original: the copy's).
			deadline := time.Now().Add(time.Minute)
			for {
				moved := false
				ents, _ := os.ReadDir(dst.Path("/d"))
				for _, e := range ents {
					if fi, err := e.Info(); err == nil && fi.Size() > int64(len(orig)) {
						moved = true
					}
				}
				if moved {
					break
				}
				select {
				case r := <-done:
					t.Fatalf("fxpfs %s ended before the source was killed: %s", args[0], r)
				case <-time.After(50 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatal("the copy did not move a megabyte within a minute")
				}
			}
			src.Kill()
			killed := time.Now()
			r := <-done
			t.Logf("fxpfs %s with its source killed: exit %d %v after the kill: %s", args[0], r.code,
				time.Since(killed).Round(time.Millisecond), lastLines(r.stderr, 3))
			if r.err == nil {
				t.Fatalf("fxpfs %s succeeded with its source killed: %s", args[0], r)
			}
			sameOnDisk(t, dst, "/d/huge.bin", orig, "after the source was killed")
			// The destination removes its upload as its session ends.
			var left []string
			for end := time.Now().Add(30 * time.Second); ; {
				if left = leftBehind(t, dst, "/d"); len(left) == 0 || time.Now().After(end) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if len(left) != 0 {
				t.Errorf("left on the destination 30 s after the command ended: %v", left)
			}
		})
	}
}

// TestCLICopyReplacesExisting: `fxpfs cp` onto an existing file, both ways
// between vsftpd and pure-ftpd, replaces it with the source's bytes and
// mtime, keeps the original's mode (0640, neither server's default), and
// leaves no temporary.
func TestCLICopyReplacesExisting(t *testing.T) {
	t.Parallel()
	alpha, beta := startPair(t, realftpd.Options{FXP: true}, realftpd.Options{FXP: true})
	servers := []*realftpd.Server{alpha, beta}
	mt := time.Now().Add(-5 * time.Hour).Truncate(time.Second)
	for _, tc := range []struct{ src, dst *realftpd.Server }{{alpha, beta}, {beta, alpha}} {
		src, dst := tc.src, tc.dst
		t.Run(string(src.Kind)+"_to_"+string(dst.Kind), func(t *testing.T) {
			data := putRandom(t, src, "/r/new.bin", 3<<20)
			setTimes(t, src.Path("/r/new.bin"), mt)
			putRandom(t, dst, "/r/file.bin", 1<<20)
			if err := os.Chmod(dst.Path("/r/file.bin"), 0o640); err != nil {
				t.Fatal(err)
			}
			r := cli(t, servers, cmdTimeout, "cp", src.Name+":/r/new.bin", dst.Name+":/r/file.bin")
			if r.err != nil {
				t.Fatalf("fxpfs cp onto an existing file: %s", r)
			}
			sameOnDisk(t, dst, "/r/file.bin", data, "after fxpfs cp")
			fi, err := os.Stat(dst.Path("/r/file.bin"))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o640 || !fi.ModTime().Equal(mt) {
				t.Errorf("mode %v, mtime %v; want the original's 0640 and the source's %v", fi.Mode().Perm(), fi.ModTime(), mt)
			}
			if l := leftBehind(t, dst, "/r"); len(l) != 0 {
				t.Errorf("left on the server: %v", l)
			}
		})
	}
}
