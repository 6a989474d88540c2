package e2e

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// entry is what a listing says about one path.
type entry struct {
	Type   byte // 'f', 'd' or 'l' (find's %y)
	Size   int64
	Mtime  int64 // seconds
	Perm   fs.FileMode
	Target string // symlink target
}

// diskTree lstat's everything below root (not root itself), keyed by the
// slash-separated path relative to root.
func diskTree(t testing.TB, root string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		e := entry{Size: fi.Size(), Mtime: fi.ModTime().Unix(), Perm: fi.Mode().Perm()}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Type = 'l'
			if e.Target, err = os.Readlink(p); err != nil {
				return err
			}
		case fi.IsDir():
			e.Type = 'd'
		default:
			e.Type = 'f'
		}
		out[filepath.ToSlash(rel)] = e
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return out
}

// parseFind parses the output of
// find DIR -mindepth 1 -printf '%P\0%y\0%s\0%T@\0%m\0%l\0'.
func parseFind(t testing.TB, out string) map[string]entry {
	t.Helper()
	f := strings.Split(out, "\x00")
	if len(f)%6 != 1 || f[len(f)-1] != "" {
		t.Fatalf("find output has %d NUL-separated fields: %q", len(f), tail(out, 500))
	}
	res := map[string]entry{}
	for i := 0; i+6 <= len(f); i += 6 {
		size, err1 := strconv.ParseInt(f[i+2], 10, 64)
		secs, _, _ := strings.Cut(f[i+3], ".")
		mt, err2 := strconv.ParseInt(secs, 10, 64)
		perm, err3 := strconv.ParseUint(f[i+4], 8, 32)
		if err1 != nil || err2 != nil || err3 != nil || len(f[i+1]) != 1 {
			t.Fatalf("find output record %q", f[i:i+6])
		}
		res[f[i]] = entry{Type: f[i+1][0], Size: size, Mtime: mt, Perm: fs.FileMode(perm), Target: f[i+5]}
	}
	return res
}

// findFormat is the -printf format parseFind reads.
const findFormat = `%P\0%y\0%s\0%T@\0%m\0%l\0`

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// setTimes sets the mtime (and atime) of p on disk (it follows symlinks:
// use it for files and directories only).
func setTimes(t testing.TB, p string, mt time.Time) {
	t.Helper()
	if err := os.Chtimes(p, mt, mt); err != nil {
		t.Fatalf("chtimes %s: %v", p, err)
	}
}

// fileSpec is one file of a generated tree.
type fileSpec struct {
	rel  string
	data []byte
	perm fs.FileMode
}

// makeTree returns n files spread over dirs directories below prefix, of
// random sizes in [minSize, maxSize], with names that include spaces.
func makeTree(t testing.TB, prefix string, n, dirs, minSize, maxSize int) []fileSpec {
	t.Helper()
	sizes := randomBytes(t, n)
	files := make([]fileSpec, n)
	for i := range files {
		size := minSize + int(sizes[i])*(maxSize-minSize)/255
		files[i] = fileSpec{
			rel:  fmt.Sprintf("%s/dir %02d/file %04d.bin", prefix, i%dirs, i),
			data: randomBytes(t, size),
			perm: 0o644,
		}
	}
	return files
}

// putTree writes files onto s's disk.
func putTree(t testing.TB, s *realftpd.Server, files []fileSpec) {
	t.Helper()
	for _, f := range files {
		s.WriteFile(t, f.rel, f.data)
	}
}

// checkTree compares every file of files (with rel rebased from oldPrefix to
// newPrefix) with root on disk, by sha256, and that no other file is there.
func checkTree(t testing.TB, root string, files []fileSpec, oldPrefix, newPrefix string) {
	t.Helper()
	want := map[string]string{}
	for _, f := range files {
		rel := newPrefix + strings.TrimPrefix(f.rel, oldPrefix)
		want[strings.TrimPrefix(rel, "/")] = shaHex(f.data)
	}
	got := map[string]string{}
	base := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(newPrefix, "/")))
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		got[filepath.ToSlash(rel)] = fileSHA(t, p)
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", base, err)
	}
	bad := 0
	for _, k := range sortedKeys(want) {
		if got[k] != want[k] {
			if bad++; bad <= 10 {
				t.Errorf("%s on disk: sha256 %q, want %q", k, got[k], want[k])
			}
		}
	}
	for _, k := range sortedKeys(got) {
		if _, ok := want[k]; !ok {
			if bad++; bad <= 10 {
				t.Errorf("%s on disk: unexpected file", k)
			}
		}
	}
	if bad > 10 {
		t.Errorf("... %d differences in all", bad)
	}
}
