package fxpcopy

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/ftpclient"
	"github.com/fxpfs/fxpfs/internal/ftptest"
)

// syncPair is two in-process servers: src (with or without MLSD) and dst.
type syncPair struct {
	src, dst   *ftptest.Server
	srcC, dstC *ftpclient.Client
	e          *Engine
	mk         func(s *ftptest.Server, name string) *ftpclient.Client
}

func newSyncPair(t *testing.T, srcMLSD, dstMLSD bool) *syncPair {
	return newSyncPairPolicy(t, srcMLSD, dstMLSD, "")
}

// newSyncPairPolicy is newSyncPair with the clients' precise_mtime policy.
func newSyncPairPolicy(t *testing.T, srcMLSD, dstMLSD bool, policy ftpclient.MtimePolicy) *syncPair {
	t.Helper()
	opt := func(mlsd bool) []ftptest.Option {
		if mlsd {
			return nil
		}
		return []ftptest.Option{ftptest.WithoutMLSD()}
	}
	p := &syncPair{src: ftptest.Start(t, opt(srcMLSD)...), dst: ftptest.Start(t, opt(dstMLSD)...), e: newEngine(t)}
	p.mk = func(s *ftptest.Server, name string) *ftpclient.Client {
		cfg := s.Config(name)
		cfg.PreciseMtime = policy
		c, err := ftpclient.New(cfg, testLog(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	p.srcC, p.dstC = p.mk(p.src, "alpha"), p.mk(p.dst, "beta")
	return p
}

// sync runs a sync with new clients, as each `fxpfs sync` is a new process.
// (A long-lived client may reuse an MDTM answer for a file whose size and
// listed minute did not change: see ftpclient.MtimeAuto.)
func (p *syncPair) sync(t *testing.T, opts SyncOptions) SyncSummary {
	t.Helper()
	src, dst := p.mk(p.src, "alpha"), p.mk(p.dst, "beta")
	defer src.Close()
	defer dst.Close()
	sum, err := p.e.Sync(ctxT(t, time.Minute), Endpoint{src, "/tree"}, Endpoint{dst, "/mirror"}, opts)
	t.Logf("sync %+v:\n%s\nplan:\n%s", opts, sum, strings.Join(sum.Plan.Lines(), "\n"))
	if err != nil && len(sum.Failures) == 0 {
		t.Fatalf("sync: %v", err)
	}
	return sum
}

// base is a recent time with non-zero seconds, so that a minute-precision
// listing cannot tell it from base+10s.
var base = time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Minute).Add(17 * time.Second)

func writeAt(t *testing.T, root, rel, data string, mtime time.Time) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// snapshot maps every path under root to "size mtime(s) content-prefix" (dirs: "dir").
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if fi.IsDir() {
			out[rel] = "dir"
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = fi.ModTime().UTC().Format(time.RFC3339) + " " + string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSyncTree(t *testing.T) {
	for _, tc := range []struct {
		name             string
		srcMLSD, dstMLSD bool
		policy           ftpclient.MtimePolicy
		checks           int // MDTM commands sync sends itself on a run that copies nothing
	}{
		{"MLSD to MLSD", true, true, "", 0},
		// LIST with ftpclient's default policy: the listing's times are MDTM's already.
		{"LIST to LIST, precise_mtime auto", false, false, ftpclient.MtimeAuto, 0},
		// LIST as listed (minutes): sync asks MDTM per same-size file and LIST side.
		{"LIST to LIST, precise_mtime never", false, false, ftpclient.MtimeNever, 10},
		{"LIST to MLSD, precise_mtime never", false, true, ftpclient.MtimeNever, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newSyncPairPolicy(t, tc.srcMLSD, tc.dstMLSD, tc.policy)
			srcRoot := filepath.Join(p.src.Root, "tree")
			files := map[string]string{
				"a.txt":                 "alpha",
				"empty":                 "",
				"dir one/b.txt":         "bravo",
				"dir one/sub/c.txt":     "charlie",
				"naïve/日本語.txt":         "unicode",
				"skip.iso":              "excluded by pattern",
				"cache/x.bin":           "excluded dir",
				"keep/cache/nested.bin": "excluded dir below",
			}
			for rel, data := range files {
				writeAt(t, srcRoot, rel, data, base)
			}
			if err := os.MkdirAll(filepath.Join(srcRoot, "empty dir"), 0o755); err != nil {
				t.Fatal(err)
			}
			ex, err := NewExcluder([]string{"*.iso", "cache/"})
			if err != nil {
				t.Fatal(err)
			}
			opts := SyncOptions{Jobs: 3, Exclude: ex}

			// First run: everything but the excluded paths.
			sum := p.sync(t, opts)
			if len(sum.Failures) != 0 || sum.Copied.Files != 5 || sum.UpToDate != 0 || sum.Excluded != 3 {
				t.Fatalf("first run: %+v", sum)
			}
			dstRoot := filepath.Join(p.dst.Root, "mirror")
			got := snapshot(t, dstRoot)
			for rel, data := range files {
				want := base.Format(time.RFC3339) + " " + data
				_, excluded := map[string]bool{"skip.iso": true, "cache/x.bin": true, "keep/cache/nested.bin": true}[rel]
				if excluded {
					if _, there := got[filepath.FromSlash(rel)]; there {
						t.Errorf("%s: excluded but copied", rel)
					}
					continue
				}
				if got[filepath.FromSlash(rel)] != want {
					t.Errorf("%s on DST: %q, want %q (mtime to the second, content)", rel, got[rel], want)
				}
			}
			if got["empty dir"] != "dir" {
				t.Error("empty directory not made")
			}

			// Second run: nothing to do.
			sum = p.sync(t, opts)
			if len(sum.Failures) != 0 || sum.Copied.Files != 0 || sum.UpToDate != 5 || sum.Mkdirs != 0 || len(sum.Plan.Lines()) != 0 {
				t.Fatalf("second run copied or planned something: %+v\n%v", sum, sum.Plan.Lines())
			}
			if sum.MtimeChecks != tc.checks {
				t.Errorf("%d MDTM checks, want %d", sum.MtimeChecks, tc.checks)
			}

			// Changes: same size, mtime 10 s later (same minute); other size;
			// DST's copy newer than SRC's (rsync copies on any difference).
			writeAt(t, srcRoot, "a.txt", "ALPHA", base.Add(10*time.Second))
			writeAt(t, srcRoot, "dir one/b.txt", "bravo-longer", base)
			writeAt(t, dstRoot, "dir one/sub/c.txt", "charlie", base.Add(time.Hour))
			sizeOnly := opts
			sizeOnly.SizeOnly, sizeOnly.DryRun = true, true
			sum = p.sync(t, sizeOnly)
			if lines := sum.Plan.Lines(); len(lines) != 1 || !strings.Contains(lines[0], "b.txt") {
				t.Errorf("--size-only plan: %q, want only the size change", lines)
			}
			sum = p.sync(t, opts)
			var copied []string
			for _, it := range sum.Plan.Copies {
				copied = append(copied, it.Rel+": "+it.Why)
			}
			sort.Strings(copied)
			if len(copied) != 3 || !strings.HasPrefix(copied[0], "a.txt: mtime") || !strings.HasPrefix(copied[1], "dir one/b.txt: size") ||
				!strings.HasPrefix(copied[2], "dir one/sub/c.txt: mtime") {
				t.Errorf("copied %q, want a.txt (mtime), dir one/b.txt (size), dir one/sub/c.txt (mtime)", copied)
			}
			if got := snapshot(t, dstRoot)["a.txt"]; got != base.Add(10*time.Second).Format(time.RFC3339)+" ALPHA" {
				t.Errorf("a.txt on DST after the change: %q", got)
			}
			if sum = p.sync(t, opts); sum.Copied.Files != 0 || len(sum.Plan.Lines()) != 0 {
				t.Errorf("run after the changes copied %d files: %v", sum.Copied.Files, sum.Plan.Lines())
			}
		})
	}
}

func TestSyncDeleteAndDryRun(t *testing.T) {
	p := newSyncPair(t, true, false)
	srcRoot, dstRoot := filepath.Join(p.src.Root, "tree"), filepath.Join(p.dst.Root, "mirror")
	writeAt(t, srcRoot, "keep.txt", "keep", base)
	writeAt(t, srcRoot, "d/new.txt", "new", base)
	writeAt(t, dstRoot, "keep.txt", "keep", base)
	writeAt(t, dstRoot, "gone.txt", "not in SRC", base)
	writeAt(t, dstRoot, "old/deep/x.txt", "not in SRC", base)
	writeAt(t, dstRoot, "old/y.txt", "not in SRC", base)
	writeAt(t, dstRoot, "partial/.file.a1b2c3", "excluded: kept", base)
	writeAt(t, dstRoot, "partial/z.txt", "not in SRC", base)
	ex, _ := NewExcluder([]string{".*.??????"})

	before := snapshot(t, dstRoot)
	sum := p.sync(t, SyncOptions{Delete: true, DryRun: true, Exclude: ex})
	if after := snapshot(t, dstRoot); !maps.Equal(before, after) {
		t.Errorf("--dry-run changed DST:\nbefore %v\nafter  %v", before, after)
	}
	want := []string{
		"mkdir  beta:/mirror/d",
		"copy   alpha:/tree/d/new.txt -> beta:/mirror/d/new.txt (new, 3 B)",
		"delete beta:/mirror/gone.txt",
		"delete beta:/mirror/old/deep/x.txt",
		"delete beta:/mirror/old/y.txt",
		"delete beta:/mirror/partial/z.txt",
		"rmdir  beta:/mirror/old/deep",
		"rmdir  beta:/mirror/old",
	}
	if got := sum.Plan.Lines(); !slices.Equal(got, want) {
		t.Errorf("dry-run plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(sum.String(), "dry run: would copy 1 files (3 B), make 1 directories, delete 4 files and 2 directories; 1 up to date, 1 excluded") {
		t.Errorf("dry-run summary: %s", sum)
	}

	// Without --delete nothing is removed.
	sum = p.sync(t, SyncOptions{Exclude: ex})
	if sum.Deleted != 0 || snapshot(t, dstRoot)["gone.txt"] == "" {
		t.Errorf("removed without --delete: %+v", sum)
	}
	sum = p.sync(t, SyncOptions{Delete: true, Exclude: ex})
	if len(sum.Failures) != 0 || sum.Deleted != 4 || sum.Rmdirs != 2 {
		t.Errorf("--delete: %+v", sum)
	}
	got := snapshot(t, dstRoot)
	var paths []string
	for p := range got {
		paths = append(paths, filepath.ToSlash(p))
	}
	sort.Strings(paths)
	if want := []string{".", "d", "d/new.txt", "keep.txt", "partial", "partial/.file.a1b2c3"}; !slices.Equal(paths, want) {
		t.Errorf("DST after --delete: %q, want %q", paths, want)
	}
}

// TestSyncFailureKeepsDeletes: a path that cannot be synced is named, the
// error is returned, the rest is copied, and --delete removes nothing.
func TestSyncFailureKeepsDeletes(t *testing.T) {
	p := newSyncPair(t, true, true)
	srcRoot, dstRoot := filepath.Join(p.src.Root, "tree"), filepath.Join(p.dst.Root, "mirror")
	writeAt(t, srcRoot, "ok.txt", "fine", base)
	writeAt(t, srcRoot, "sub/f.txt", "also fine", base)
	writeAt(t, dstRoot, "extra.txt", "only on DST", base)
	// DST has a directory where SRC has a file: a failure sync does not resolve.
	writeAt(t, srcRoot, "clash", "file", base)
	if err := os.MkdirAll(filepath.Join(dstRoot, "clash", "inner"), 0o755); err != nil {
		t.Fatal(err)
	}
	sum, err := p.e.Sync(ctxT(t, time.Minute), Endpoint{p.srcC, "/tree"}, Endpoint{p.dstC, "/mirror"}, SyncOptions{Delete: true})
	t.Logf("%s", sum)
	if err == nil || len(sum.Failures) != 1 || !strings.Contains(sum.Failures[0].Src, "beta:/mirror/clash") {
		t.Fatalf("err %v, failures %+v: want the clash named", err, sum.Failures)
	}
	if sum.DeletesSkipped != 1 || snapshot(t, dstRoot)["extra.txt"] == "" {
		t.Errorf("deletions done despite a failure: %+v", sum)
	}
	if !strings.Contains(sum.String(), "1 FAILED:\n  beta:/mirror/clash: is a directory") {
		t.Errorf("summary does not name the failure:\n%s", sum)
	}
	if sum.Copied.Files != 2 {
		t.Errorf("the other files were not copied: %+v", sum.Copied)
	}
}

func TestSyncSingleFileAndGuards(t *testing.T) {
	p := newSyncPair(t, true, true)
	writeAt(t, p.src.Root, "one.bin", "payload", base)
	ctx := ctxT(t, time.Minute)
	for i, wantCopies := range []int{1, 0} {
		sum, err := p.e.Sync(ctx, Endpoint{p.srcC, "/one.bin"}, Endpoint{p.dstC, "/in/one.bin"}, SyncOptions{})
		if err != nil || sum.Copied.Files != wantCopies {
			t.Fatalf("run %d: %v, %+v", i+1, err, sum)
		}
	}
	if got := snapshot(t, p.dst.Root)[filepath.Join("in", "one.bin")]; got != base.Format(time.RFC3339)+" payload" {
		t.Errorf("DST file: %q", got)
	}
	for _, tc := range []struct{ src, dst string }{{"/a", "/a/b"}, {"/a/b", "/a"}, {"/a", "/a"}} {
		_, err := p.e.Sync(ctx, Endpoint{p.srcC, tc.src}, Endpoint{p.srcC, tc.dst}, SyncOptions{})
		if !errors.Is(err, ftpclient.ErrExists) {
			t.Errorf("sync %s into %s on one server: %v, want refused", tc.src, tc.dst, err)
		}
	}
}

func TestSameTime(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 10, 20, 30, 0, time.UTC)
	for _, tc := range []struct {
		a, b stamp
		want bool
	}{
		{stamp{t0, time.Second}, stamp{t0, time.Second}, true},
		{stamp{t0, time.Second}, stamp{t0.Add(time.Second), time.Second}, false},
		{stamp{t0.Add(300 * time.Millisecond), time.Second}, stamp{t0, time.Second}, true}, // MLSD fractions
		{stamp{t0, time.Second}, stamp{t0.Truncate(time.Minute), time.Minute}, true},       // LIST minutes
		{stamp{t0, time.Second}, stamp{t0.Truncate(time.Minute).Add(time.Minute), time.Minute}, false},
		{stamp{t0, time.Second}, stamp{t0.Truncate(24 * time.Hour), 24 * time.Hour}, true}, // LIST days
		{stamp{t0, time.Second}, stamp{}, true},                                            // unknown: size decides
	} {
		if got := sameTime(tc.a, tc.b); got != tc.want {
			t.Errorf("sameTime(%v/%v, %v/%v) = %v", tc.a.t, tc.a.prec, tc.b.t, tc.b.prec, got)
		}
	}
}
