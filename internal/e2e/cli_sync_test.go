package e2e

import (
	"maps"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// TestCLISync runs the real `fxpfs sync` between vsftpd (LIST only, minute
// precision) and pure-ftpd (MLSD), both ways: a first run copies the tree
// with the source's mtimes to the second, a run right after copies nothing,
// --dry-run prints the plan and changes nothing, --size-only ignores a
// same-size change that a normal run then catches (10 s apart, within one
// minute), --delete removes what SRC lacks but not what --exclude protects.
func TestCLISync(t *testing.T) {
	t.Parallel()
	alpha, beta := startPair(t, realftpd.Options{FXP: true}, realftpd.Options{FXP: true})
	servers := []*realftpd.Server{alpha, beta}
	for _, tc := range []struct {
		name     string
		src, dst *realftpd.Server
	}{
		{"vsftpd_to_pureftpd", alpha, beta},
		{"pureftpd_to_vsftpd", beta, alpha},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := tc.src, tc.dst
			run := func(t *testing.T, wantExit int, flags ...string) result {
				t.Helper()
				args := []string{"sync"}
				for _, s := range servers {
					args = append(args, "--server", s.Name+"="+serverURL(s))
				}
				args = append(args, flags...)
				args = append(args, src.Name+":/sync-src", dst.Name+":/sync-dst/copy")
				r := runCmd(t, cmdSpec{env: testEnv(t, servers), timeout: 3 * time.Minute}, fxpfsBin, args...)
				if r.code != wantExit {
					t.Fatalf("fxpfs sync %v: exit %d, want %d: %s", flags, r.code, wantExit, r)
				}
				t.Logf("fxpfs sync %v: %v: %s", flags, r.elapsed.Round(time.Millisecond), lastLines(r.stderr, 4))
				return r
			}
			counts := func(t *testing.T, r result, want map[string]int) {
				t.Helper()
				for k, n := range want {
					m := regexp.MustCompile(`(\d+) ` + regexp.QuoteMeta(k)).FindStringSubmatch(r.stderr)
					if m == nil {
						t.Errorf("summary has no %q: %s", k, lastLines(r.stderr, 4))
					} else if got, _ := strconv.Atoi(m[1]); got != n {
						t.Errorf("summary: %d %s, want %d: %s", got, k, n, lastLines(r.stderr, 4))
					}
				}
			}

			// A tree with spaces and UTF-8 in names; mtimes with seconds.
			const n = 120
			tree := makeTree(t, "/sync-src", n, 6, 1, 8<<10)
			tree = append(tree, fileSpec{rel: "/sync-src/naïve dir/日本語 file.txt", data: []byte("utf-8"), perm: 0o644})
			putTree(t, src, tree)
			mt := time.Now().Add(-3 * time.Hour).Truncate(time.Minute).Add(23 * time.Second)
			for i, f := range tree {
				setTimes(t, src.Path(f.rel), mt.Add(time.Duration(i)*time.Second))
			}
			dst.MkdirAll(t, "/sync-dst")

			r := run(t, 0, "-j", "4")
			counts(t, r, map[string]int{"copied": n + 1, "up to date": 0, "by FXP": n + 1, "relayed": 0})
			checkTree(t, dst.Root, tree, "/sync-src", "/sync-dst/copy")
			for i, f := range tree {
				rel := "/sync-dst/copy" + strings.TrimPrefix(f.rel, "/sync-src")
				fi, err := os.Stat(dst.Path(rel))
				if err != nil {
					t.Fatal(err)
				}
				if want := mt.Add(time.Duration(i) * time.Second); !fi.ModTime().Equal(want) {
					t.Errorf("%s: mtime %v, want the source's %v", rel, fi.ModTime(), want)
					break
				}
			}

			// Right after: nothing to copy.
			r = run(t, 0)
			counts(t, r, map[string]int{"copied": 0, "up to date": n + 1})

			// Changes on both sides.
			same := tree[3]   // same size, 10 s later (same minute on LIST)
			bigger := tree[4] // other size
			src.WriteFile(t, same.rel, flipFirst(same.data))
			setTimes(t, src.Path(same.rel), mt.Add(3*time.Second+10*time.Second))
			src.WriteFile(t, bigger.rel, append(append([]byte{}, bigger.data...), "more"...))
			setTimes(t, src.Path(bigger.rel), mt.Add(4*time.Second))
			src.WriteFile(t, "/sync-src/skip.part", []byte("excluded"))
			dst.WriteFile(t, "/sync-dst/copy/only-on-dst.txt", []byte("delete me"))
			dst.WriteFile(t, "/sync-dst/copy/old dir/sub/x.txt", []byte("delete me too"))
			dst.WriteFile(t, "/sync-dst/copy/protected.part", []byte("excluded: kept"))
			dstDir := dst.Path("/sync-dst/copy")
			before := diskTree(t, dstDir)

			r = run(t, 0, "--dry-run", "--delete", "--exclude", "*.part")
			if after := diskTree(t, dstDir); !maps.Equal(before, after) {
				t.Errorf("--dry-run changed the destination")
			}
			sameRel := strings.TrimPrefix(same.rel, "/sync-src")
			biggerRel := strings.TrimPrefix(bigger.rel, "/sync-src")
			for _, want := range []string{
				"copy   " + src.Name + ":" + same.rel + " -> " + dst.Name + ":/sync-dst/copy" + sameRel + " (mtime ",
				"copy   " + src.Name + ":" + bigger.rel + " -> " + dst.Name + ":/sync-dst/copy" + biggerRel + " (size ",
				"delete " + dst.Name + ":/sync-dst/copy/only-on-dst.txt",
				"delete " + dst.Name + ":/sync-dst/copy/old dir/sub/x.txt",
				"rmdir  " + dst.Name + ":/sync-dst/copy/old dir/sub",
				"rmdir  " + dst.Name + ":/sync-dst/copy/old dir",
			} {
				if !strings.Contains(r.stdout, want+"") {
					t.Errorf("--dry-run plan lacks %q:\n%s", want, r.stdout)
				}
			}
			if got := strings.Count(strings.TrimSpace(r.stdout), "\n") + 1; got != 6 || strings.Contains(r.stdout, ".part") {
				t.Errorf("--dry-run plan has %d lines (want 6, no .part):\n%s", got, r.stdout)
			}

			r = run(t, 0, "--size-only", "--exclude", "*.part")
			counts(t, r, map[string]int{"copied": 1, "up to date": n, "excluded": 2})
			r = run(t, 0, "--delete", "--exclude", "*.part")
			counts(t, r, map[string]int{"copied": 1, "up to date": n, "excluded": 2})
			if !strings.Contains(r.stderr, "2 files and 2 directories deleted") {
				t.Errorf("summary: %s", lastLines(r.stderr, 4))
			}
			want := append([]fileSpec{}, tree...)
			for i := range want {
				want[i].data, _ = os.ReadFile(src.Path(want[i].rel))
			}
			want = append(want, fileSpec{rel: "/sync-src/protected.part", data: []byte("excluded: kept")})
			checkTree(t, dst.Root, want, "/sync-src", "/sync-dst/copy")

			r = run(t, 0, "--delete", "--exclude", "*.part")
			counts(t, r, map[string]int{"copied": 0, "up to date": n + 1})
		})
	}
}

func flipFirst(b []byte) []byte {
	out := append([]byte{}, b...)
	out[0] ^= 0xff
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
