package e2e

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// matrixItem is one entry of the matrix test's tree.
type matrixItem struct {
	rel    string // slash-separated, relative to the tree's root
	kind   byte   // 'f', 'd' or 'l' (find's %y)
	data   []byte
	perm   fs.FileMode
	mtime  time.Time
	target string // symlink target
}

// Times of the matrix tree, all with seconds (LIST shows minutes or days:
// the seconds come from MDTM, or the mount shows them wrong). "Old" is more
// than six months back, so LIST shows only the day, and several old files
// share one day.
var (
	matrixOld    = time.Date(2021, 3, 4, 10, 11, 12, 0, time.UTC)
	matrixRecent = time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
)

// matrixTree returns the matrix test's tree: 100+ files of mixed sizes
// (empty, a few bytes, a few KiB, two over 1 MiB), names with spaces and
// UTF-8, nested and empty directories, non-default modes, old and recent
// mtimes (with seconds), and, with links, a symlink. Directories come
// before their contents.
func matrixTree(t testing.TB, links bool) []matrixItem {
	t.Helper()
	var items []matrixItem
	dir := func(rel string, perm fs.FileMode, mt time.Time) {
		items = append(items, matrixItem{rel: rel, kind: 'd', perm: perm, mtime: mt})
	}
	file := func(rel string, size int, perm fs.FileMode, mt time.Time) {
		items = append(items, matrixItem{rel: rel, kind: 'f', data: randomBytes(t, size), perm: perm, mtime: mt})
	}
	sizes := randomBytes(t, 100)
	for d := range 4 {
		dir(fmt.Sprintf("bulk %02d", d), 0o755, matrixOld.Add(time.Duration(d)*time.Hour))
	}
	for i := range 100 {
		size := int(sizes[i]) * 12 // up to 3 KiB: size matters little here
		if i%10 == 0 {
			size = 0
		}
		mt := matrixRecent.Add(time.Duration(i) * 7 * time.Second)
		if i%2 == 0 {
			// The same day (LIST: "Mar  4  2021") for all of these.
			mt = matrixOld.Add(time.Duration(i) * 97 * time.Second)
		}
		file(fmt.Sprintf("bulk %02d/file %03d.dat", i%4, i), size, 0o644, mt)
	}
	dir("big", 0o755, matrixRecent)
	file("big/one.bin", 1<<20+3, 0o644, matrixOld.Add(17*time.Second))
	file("big/two with space.bin", 3<<19+1, 0o644, matrixRecent.Add(-41*time.Second))
	dir("docs", 0o755, matrixRecent.Add(-time.Hour))
	dir("docs/ünïcødé 日本", 0o755, matrixOld.AddDate(0, 1, 0))
	file("docs/ünïcødé 日本/файл №1.txt", 321, 0o644, matrixOld.AddDate(0, 1, 1))
	file("docs/emoji 🙂 name.txt", 12, 0o644, matrixRecent.Add(-5*time.Second))
	file("docs/readme.txt", 100, 0o644, matrixOld.Add(-33*time.Second))
	// Leading and doubled spaces; no trailing ones: pure-ftpd stores
	// "a " as "a_".
	file("docs/  leading and  inner spaces", 7, 0o644, matrixRecent.Add(3*time.Second))
	if links {
		items = append(items, matrixItem{rel: "docs/link to readme", kind: 'l', target: "readme.txt"})
	}
	dir("modes", 0o750, matrixOld.Add(-time.Minute))
	file("modes/private", 10, 0o600, matrixOld.Add(2*time.Second))
	file("modes/group", 11, 0o640, matrixRecent.Add(9*time.Second))
	file("modes/run.sh", 12, 0o755, matrixOld.Add(4*time.Second))
	file("modes/read only", 13, 0o444, matrixRecent.Add(-9*time.Second))
	dir("deep", 0o755, matrixOld)
	dir("deep/a", 0o755, matrixOld.Add(time.Second))
	dir("deep/a/b", 0o755, matrixOld.Add(2*time.Second))
	dir("deep/a/b/c", 0o755, matrixOld.Add(3*time.Second))
	file("deep/a/b/c/leaf", 5, 0o644, matrixOld.Add(5*time.Second))
	dir("empty dir", 0o755, matrixOld.Add(6*time.Second))
	dir("empty dir/nested empty", 0o755, matrixRecent.Add(-7*time.Second))
	return items
}

// writeMatrixTree writes items below root (which must exist), chowns them
// to uid:gid when uid >= 0, and sets modes and times (directories last,
// deepest first, so that writing their contents does not move them).
func writeMatrixTree(t testing.TB, root string, items []matrixItem, uid, gid int) {
	t.Helper()
	for _, it := range items {
		p := filepath.Join(root, filepath.FromSlash(it.rel))
		var err error
		switch it.kind {
		case 'd':
			err = os.Mkdir(p, 0o755)
		case 'f':
			err = os.WriteFile(p, it.data, 0o644)
		case 'l':
			err = os.Symlink(it.target, p)
		}
		if err == nil && uid >= 0 {
			err = os.Lchown(p, uid, gid)
		}
		if err == nil && it.kind == 'f' {
			err = os.Chmod(p, it.perm)
		}
		if err == nil && it.kind == 'f' {
			err = os.Chtimes(p, it.mtime, it.mtime)
		}
		if err != nil {
			t.Fatalf("write tree: %v", err)
		}
	}
	for i := len(items) - 1; i >= 0; i-- {
		if it := items[i]; it.kind == 'd' {
			p := filepath.Join(root, filepath.FromSlash(it.rel))
			if err := os.Chmod(p, it.perm); err != nil {
				t.Fatal(err)
			}
			setTimes(t, p, it.mtime)
		}
	}
}

// matrixWant is what a tree must look like.
type matrixWant struct {
	items    []matrixItem
	dirTimes bool // compare directory mtimes too
	dirModes bool // compare directory modes too
}

// checkMatrixTree compares the tree below root (on a server's disk, or
// local) with want: the same entries, file contents (sha256), modes and
// mtimes (to the second), symlink targets. It returns the number of
// differences (each reported, the first 15 in full).
func checkMatrixTree(t testing.TB, what, root string, want matrixWant) int {
	t.Helper()
	got := diskTree(t, root)
	bad := 0
	report := func(format string, args ...any) {
		if bad++; bad <= 15 {
			t.Errorf("%s: "+format, append([]any{what}, args...)...)
		}
	}
	seen := map[string]bool{}
	for _, it := range want.items {
		seen[it.rel] = true
		g, ok := got[it.rel]
		switch {
		case !ok:
			report("%q missing", it.rel)
			continue
		case g.Type != it.kind:
			report("%q is a %c, want a %c", it.rel, g.Type, it.kind)
			continue
		}
		switch it.kind {
		case 'f':
			sum := fileSHA(t, filepath.Join(root, filepath.FromSlash(it.rel)))
			if sum != shaHex(it.data) {
				report("%q: content differs (%d bytes, want %d)", it.rel, g.Size, len(it.data))
			}
			if g.Perm != it.perm {
				report("%q: mode %v, want %v", it.rel, g.Perm, it.perm)
			}
			if g.Mtime != it.mtime.Unix() {
				report("%q: mtime %v, want %v", it.rel, time.Unix(g.Mtime, 0).UTC(), it.mtime)
			}
		case 'd':
			if want.dirModes && g.Perm != it.perm {
				report("directory %q: mode %v, want %v", it.rel, g.Perm, it.perm)
			}
			if want.dirTimes && g.Mtime != it.mtime.Unix() {
				report("directory %q: mtime %v, want %v", it.rel, time.Unix(g.Mtime, 0).UTC(), it.mtime)
			}
		case 'l':
			if g.Target != it.target {
				report("symlink %q: target %q, want %q", it.rel, g.Target, it.target)
			}
		}
	}
	for _, k := range sortedKeys(got) {
		if !seen[k] {
			report("unexpected %q (%c)", k, got[k].Type)
		}
	}
	if bad > 15 {
		t.Errorf("%s: ... %d differences in all", what, bad)
	}
	return bad
}

// linksFollowed returns items with each symlink replaced by the file it
// points to (same directory), as a server that follows links lists it.
func linksFollowed(items []matrixItem) []matrixItem {
	byRel := map[string]matrixItem{}
	for _, it := range items {
		byRel[it.rel] = it
	}
	out := make([]matrixItem, len(items))
	for i, it := range items {
		if it.kind == 'l' {
			tgt := byRel[path.Join(path.Dir(it.rel), it.target)]
			tgt.rel = it.rel
			it = tgt
		}
		out[i] = it
	}
	return out
}

// fileID identifies one version of a file on disk: a re-upload (a new file
// renamed over it), a rewrite or a chmod/utime changes it.
type fileID struct {
	ino   uint64
	ctime unix.Timespec
	size  int64
}

// fileIDs returns the fileID of every regular file below root.
func fileIDs(t testing.TB, root string) map[string]fileID {
	t.Helper()
	out := map[string]fileID{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = fileID{ino: st.Ino, ctime: st.Ctim, size: st.Size}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return out
}

// changedIDs lists the files whose fileID differs between a and b.
func changedIDs(a, b map[string]fileID) []string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// rsyncTransferred reads "Number of regular files transferred: N" from
// the output of rsync --stats.
func rsyncTransferred(t testing.TB, out string) int {
	t.Helper()
	const key = "Number of regular files transferred: "
	i := strings.Index(out, key)
	if i < 0 {
		t.Fatalf("rsync --stats printed no %q:\n%s", key, tail(out, 2000))
	}
	var n int
	if _, err := fmt.Sscanf(strings.ReplaceAll(out[i+len(key):], ",", ""), "%d", &n); err != nil {
		t.Fatalf("rsync --stats: %v", err)
	}
	return n
}
