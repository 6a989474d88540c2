package fusefs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestDirectoryOperations(t *testing.T) {
	m := mount(t, setup{})
	data := randomFile(t, m.disk("alpha", "src/a.txt"), 1000)
	randomFile(t, m.disk("alpha", "tree/sub/f"), 10)
	mnt := func(p string) string { return m.path("alpha", p) }

	mustRun(t, "mkdir", "-p", mnt("x/y/z"))
	if st, err := os.Stat(m.disk("alpha", "x/y/z")); err != nil || !st.IsDir() {
		t.Fatalf("mkdir -p on the server: %v %v", st, err)
	}
	mustRun(t, "mv", mnt("src/a.txt"), mnt("x/y/b.txt"))
	fileEquals(t, m.disk("alpha", "x/y/b.txt"), data)
	if _, err := os.Stat(mnt("src/a.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("source still visible after mv: %v", err)
	}
	fileEquals(t, mnt("x/y/b.txt"), data)

	// rmdir of a non-empty directory fails; after rm it works.
	if out, err := run(t, "rmdir", mnt("x/y")); err == nil {
		t.Fatalf("rmdir of a non-empty dir succeeded: %s", out)
	}
	mustRun(t, "rm", mnt("x/y/b.txt"))
	mustRun(t, "rmdir", mnt("x/y/z"), mnt("x/y"))
	if _, err := os.Stat(m.disk("alpha", "x/y")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("x/y still on the server: %v", err)
	}
	if got := mustRun(t, "ls", "-A", mnt("x")); strings.TrimSpace(got) != "" {
		t.Fatalf("ls x = %q after rmdir", got)
	}

	// A directory rename carries its contents.
	mustRun(t, "ls", "-R", mnt("tree"))
	mustRun(t, "mv", mnt("tree"), mnt("x/tree2"))
	if _, err := os.Stat(mnt("x/tree2/sub/f")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mnt("tree")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("old dir still visible: %v", err)
	}
	// A new file at a renamed file's old path is a different file.
	if err := os.WriteFile(mnt("tree"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	fileEquals(t, mnt("tree"), []byte("new"))
	if _, err := os.Stat(mnt("x/tree2/sub/f")); err != nil {
		t.Fatal(err)
	}
}

func TestRenameNoReplace(t *testing.T) {
	m := mount(t, setup{})
	randomFile(t, m.disk("alpha", "a"), 3)
	randomFile(t, m.disk("alpha", "b"), 4)
	// mv -n does not overwrite (RENAME_NOREPLACE in coreutils).
	mustRun(t, "mv", "-n", m.path("alpha", "a"), m.path("alpha", "b"))
	if st, err := os.Stat(m.disk("alpha", "b")); err != nil || st.Size() != 4 {
		t.Fatalf("b after mv -n: %v %v", st, err)
	}
	err := unix.Renameat2(unix.AT_FDCWD, m.path("alpha", "a"), unix.AT_FDCWD, m.path("alpha", "b"), unix.RENAME_NOREPLACE)
	if !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("renameat2 NOREPLACE onto an existing file: %v, want EEXIST", err)
	}
}

func TestMoveAcrossServers(t *testing.T) {
	m := mount(t, setup{names: []string{"alpha", "beta"}})
	data := randomFile(t, m.disk("alpha", "f.bin"), 300000)
	err := os.Rename(m.path("alpha", "f.bin"), m.path("beta", "f.bin"))
	if !errors.Is(err, syscall.EXDEV) {
		t.Fatalf("rename across servers: %v, want EXDEV", err)
	}
	mustRun(t, "mv", m.path("alpha", "f.bin"), m.path("beta", "f.bin"))
	fileEquals(t, m.disk("beta", "f.bin"), data)
	if _, err := os.Stat(m.disk("alpha", "f.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("source left after mv: %v", err)
	}
}

func TestTouchSetsMtime(t *testing.T) {
	m := mount(t, setup{})
	randomFile(t, m.disk("alpha", "f"), 10)
	p := m.path("alpha", "f")
	mustRun(t, "touch", "-d", "2020-01-02 03:04:05 UTC", p)
	want := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	st, err := os.Stat(p)
	if err != nil || !st.ModTime().Equal(want) {
		t.Fatalf("mtime through the mount %v (%v), want %v", st.ModTime(), err, want)
	}
	disk, err := os.Stat(m.disk("alpha", "f"))
	if err != nil || !disk.ModTime().Equal(want) {
		t.Fatalf("mtime on the server %v (%v), want %v", disk.ModTime(), err, want)
	}
	// touch of a new file creates it (empty).
	mustRun(t, "touch", m.path("alpha", "empty"))
	if st, err := os.Stat(m.disk("alpha", "empty")); err != nil || st.Size() != 0 {
		t.Fatalf("touch new file: %v %v", st, err)
	}
}

func TestRsyncInto(t *testing.T) {
	m := mount(t, setup{})
	src := t.TempDir()
	files := map[string][]byte{}
	for _, p := range []string{"a.txt", "d/b.bin", "d/e/c with space.txt", "big.bin"} {
		size := 1000
		if p == "big.bin" {
			size = 3 << 20
		}
		files[p] = randomFile(t, filepath.Join(src, p), size)
	}
	old := time.Date(2019, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(src, "a.txt"), old, old); err != nil {
		t.Fatal(err)
	}
	dst := m.path("alpha", "backup")
	mustRun(t, "rsync", "-a", src+"/", dst+"/")
	for p, data := range files {
		fileEquals(t, m.disk("alpha", filepath.Join("backup", p)), data)
	}
	st, err := os.Stat(filepath.Join(dst, "a.txt"))
	if err != nil || !st.ModTime().Equal(old) {
		t.Fatalf("rsync -a mtime %v (%v), want %v", st.ModTime(), err, old)
	}
	// A second run finds nothing to do.
	out := mustRun(t, "rsync", "-ai", src+"/", dst+"/")
	if strings.TrimSpace(out) != "" {
		t.Fatalf("second rsync -a transferred:\n%s", out)
	}
}

func TestRenameWhileOpen(t *testing.T) {
	m := mount(t, setup{})
	f, err := os.Create(m.path("alpha", "tmp.part"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("first,")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(m.path("alpha", "tmp.part"), m.path("alpha", "final")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("second")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	fileEquals(t, m.disk("alpha", "final"), []byte("first,second"))
	if _, err := os.Stat(m.disk("alpha", "tmp.part")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("old name left on the server: %v", err)
	}
}
