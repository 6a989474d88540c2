package fusefs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/fxpfs/fxpfs/internal/ftptest"
	"github.com/fxpfs/fxpfs/internal/vfs"
)

// gioTrash does what GIO's g_local_file_trash does for a file outside the
// home file system (glib gio/glocalfile.c), with plain system calls: find
// MOUNT/.Trash-UID, make info/ and files/ (EEXIST is fine), create
// info/NAME.trashinfo exclusively (NAME, NAME.2, ... until one is free),
// write it through a temporary file renamed over it, rename the file into
// files/NAME; on failure unlink the info file. It returns NAME.
func gioTrash(t *testing.T, mnt, rel string) (string, error) {
	t.Helper()
	trash := filepath.Join(mnt, fmt.Sprintf(".Trash-%d", os.Geteuid()))
	if _, err := os.Lstat(filepath.Join(mnt, ".Trash")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lstat MOUNT/.Trash: %v, want ENOENT (no shared trash)", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(trash, &st); err != nil {
		return "", fmt.Errorf("lstat %s: %w", trash, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Uid != uint32(os.Geteuid()) {
		t.Fatalf("%s: mode %o uid %d, want a directory owned by %d", trash, st.Mode, st.Uid, os.Geteuid())
	}
	for _, sub := range []string{"info", "files"} {
		if err := os.Mkdir(filepath.Join(trash, sub), 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("mkdir %s: %w", sub, err)
		}
	}
	base := filepath.Base(rel)
	var name, info string
	for i := 1; ; i++ {
		name = base
		if i > 1 {
			if dot := strings.IndexByte(base, '.'); dot >= 0 {
				name = fmt.Sprintf("%s.%d%s", base[:dot], i, base[dot:])
			} else {
				name = fmt.Sprintf("%s.%d", base, i)
			}
		}
		info = filepath.Join(trash, "info", name+".trashinfo")
		f, err := os.OpenFile(info, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("create %s: %w", info, err)
		}
		f.Close()
		break
	}
	tmp, err := os.CreateTemp(filepath.Dir(info), filepath.Base(info)+".*")
	if err != nil {
		return "", fmt.Errorf("temporary info file: %w", err)
	}
	fmt.Fprintf(tmp, "[Trash Info]\nPath=%s\nDeletionDate=2026-01-02T03:04:05\n", vfs.EscapeTrashPath(rel))
	tmp.Close()
	if err := os.Rename(tmp.Name(), info); err != nil {
		return "", fmt.Errorf("rename the info file into place: %w", err)
	}
	if err := os.Rename(filepath.Join(mnt, rel), filepath.Join(trash, "files", name)); err != nil {
		os.Remove(info)
		return "", err
	}
	return name, nil
}

// names lists a directory, sorted.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// inode returns the inode number of a file on disk.
func inode(t *testing.T, p string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestTrash(t *testing.T) {
	m := mount(t, setup{names: []string{"alpha", "beta"}})
	uid := os.Geteuid()
	trash := filepath.Join(m.mnt, fmt.Sprintf(".Trash-%d", uid))
	serverTrash := fmt.Sprintf(".Trash-%d", uid)
	a := randomFile(t, m.disk("alpha", "docs/report v1.txt"), 5000)
	b := randomFile(t, m.disk("beta", "report v1.txt"), 7000)
	randomFile(t, m.disk("alpha", "tree/sub/x"), 10)
	randomFile(t, m.disk("alpha", "tree/y"), 20)
	aIno := inode(t, m.disk("alpha", "docs/report v1.txt"))

	if out := mustRun(t, "ls", "-a", m.mnt); strings.Contains(out, ".Trash") {
		t.Errorf("ls -a of the mount root lists the trash: %q", out)
	}

	// Trash a file of alpha: it moves into alpha's own trash folder (the
	// same inode on the server's disk: a rename, not a copy).
	name, err := gioTrash(t, m.mnt, "alpha/docs/report v1.txt")
	if err != nil {
		t.Fatal(err)
	}
	if name != "report v1.txt" {
		t.Errorf("trash name %q", name)
	}
	trashed := m.disk("alpha", serverTrash+"/files/report v1.txt")
	fileEquals(t, trashed, a)
	if inode(t, trashed) != aIno {
		t.Error("the trashed file has another inode on the server: it was copied, not renamed")
	}
	if _, err := os.Stat(m.disk("alpha", "docs/report v1.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the original is still there: %v", err)
	}
	info, err := os.ReadFile(m.disk("alpha", serverTrash+"/info/report v1.txt.trashinfo"))
	if err != nil || !strings.Contains(string(info), "\nPath=alpha/docs/report%20v1.txt\n") {
		t.Errorf("info file on alpha: %q, %v", info, err)
	}

	// The same name on beta: GIO's exclusive create finds it taken on
	// alpha and picks the next name, so names are unique across servers.
	name2, err := gioTrash(t, m.mnt, "beta/report v1.txt")
	if err != nil {
		t.Fatal(err)
	}
	if name2 != "report v1.2.txt" {
		t.Errorf("second trash name %q, want %q", name2, "report v1.2.txt")
	}
	fileEquals(t, m.disk("beta", serverTrash+"/files/report v1.2.txt"), b)
	if got, want := names(t, filepath.Join(trash, "files")), []string{"report v1.2.txt", "report v1.txt"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("files/: %q, want %q", got, want)
	}
	if got, want := names(t, filepath.Join(trash, "info")), []string{"report v1.2.txt.trashinfo", "report v1.txt.trashinfo"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("info/: %q, want %q", got, want)
	}
	fileEquals(t, filepath.Join(trash, "files", "report v1.txt"), a) // readable through the trash

	// A directory, by a plain mv (no info file written first): fxpfs
	// writes the info file itself.
	if err := os.Rename(m.path("alpha", "tree"), filepath.Join(trash, "files", "tree")); err != nil {
		t.Fatal(err)
	}
	fileEquals(t, filepath.Join(trash, "files", "tree", "sub", "x"), mustRead(t, m.disk("alpha", serverTrash+"/files/tree/sub/x")))
	info, _ = os.ReadFile(filepath.Join(trash, "info", "tree.trashinfo"))
	if !strings.HasPrefix(string(info), "[Trash Info]\nPath=alpha/tree\nDeletionDate=") {
		t.Errorf("info file fxpfs wrote: %q", info)
	}

	// Restore: back where it was, on its server; onto another server: EXDEV.
	if err := os.Rename(filepath.Join(trash, "files", "report v1.2.txt"), m.path("alpha", "x")); !errors.Is(err, syscall.EXDEV) {
		t.Errorf("restore onto another server: %v, want EXDEV", err)
	}
	if err := os.Rename(filepath.Join(trash, "files", "report v1.2.txt"), m.path("beta", "report v1.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(trash, "info", "report v1.2.txt.trashinfo")); err != nil {
		t.Fatal(err)
	}
	fileEquals(t, m.disk("beta", "report v1.txt"), b)
	if got := names(t, m.disk("beta", serverTrash+"/info")); len(got) != 0 {
		t.Errorf("beta's info/ after the restore: %q", got)
	}

	// Empty, as gvfs does: move into expunged/, delete there.
	if err := os.Mkdir(filepath.Join(trash, "expunged"), 0o700); !errors.Is(err, os.ErrExist) {
		t.Errorf("mkdir expunged: %v, want EEXIST", err)
	}
	for i, n := range []string{"report v1.txt", "tree"} {
		if err := os.Rename(filepath.Join(trash, "files", n), filepath.Join(trash, "expunged", fmt.Sprint(1000+i))); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(trash, "info", n+".trashinfo")); err != nil {
			t.Fatal(err)
		}
	}
	mustRun(t, "rm", "-rf", filepath.Join(trash, "expunged", "1000"), filepath.Join(trash, "expunged", "1001"))
	for _, sub := range []string{"files", "info", "expunged"} {
		if got := names(t, m.disk("alpha", serverTrash+"/"+sub)); len(got) != 0 {
			t.Errorf("alpha's %s/ after emptying: %q", sub, got)
		}
		if got := names(t, filepath.Join(trash, sub)); len(got) != 0 {
			t.Errorf("%s/ after emptying: %q", sub, got)
		}
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTrashRefused(t *testing.T) {
	m := mount(t, setup{names: []string{"alpha", "ro"}, srvOptsFor: map[string][]ftptest.Option{"ro": {ftptest.WithReadOnly()}}})
	a := randomFile(t, m.disk("ro", "f.txt"), 100)
	randomFile(t, m.disk("alpha", "g.txt"), 100)

	// access(W_OK), from which GIO decides can-trash: yes on alpha, no on
	// the server that refuses its trash folder (and nothing left behind).
	if err := unix.Access(m.path("alpha", ""), unix.W_OK); err != nil {
		t.Errorf("access(alpha, W_OK): %v", err)
	}
	if err := unix.Access(m.path("ro", ""), unix.W_OK); !errors.Is(err, unix.EACCES) {
		t.Errorf("access(ro, W_OK): %v, want EACCES", err)
	}
	if err := unix.Access(m.path("ro", ""), unix.R_OK|unix.X_OK); err != nil {
		t.Errorf("access(ro, R_OK|X_OK): %v", err)
	}
	if got := names(t, m.disk("alpha", "")); fmt.Sprint(got) != "[g.txt]" {
		t.Errorf("alpha after the probe: %q", got)
	}

	// A trash attempt anyway fails cleanly and loses nothing.
	if _, err := gioTrash(t, m.mnt, "ro/f.txt"); !errors.Is(err, syscall.EACCES) {
		t.Errorf("trash on the read-only server: %v, want EACCES", err)
	}
	fileEquals(t, m.path("ro", "f.txt"), a)
	trash := filepath.Join(m.mnt, fmt.Sprintf(".Trash-%d", os.Geteuid()))
	if got := names(t, filepath.Join(trash, "info")); len(got) != 0 {
		t.Errorf("info/ after the failed trash: %q", got)
	}
}
