package e2e

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// The desktop trash through a kernel mount of vsftpd and pure-ftpd, driven
// by GIO itself (what Nautilus and other GTK file managers use): `gio
// trash` moves a file into the mount's trash, which keeps it on its own
// server; `gio trash --list/--restore/--empty` go through gvfs's trash://
// backend (gvfsd-trash). Every gio command runs isolated and bounded (see
// gio_helpers_test.go).

// gvfsTools are what the trash tests drive (scripts/install-deps.sh installs them).
var gvfsTools = append([]string{"/usr/libexec/gvfsd-trash"}, gioTools...)

// canTrash returns GIO's access::can-trash of p.
func (m *mount) canTrash(t *testing.T, p string) string {
	t.Helper()
	r := m.gio(t, "info", "-a", "access::can-trash", p)
	if r.err != nil {
		t.Fatalf("gio info %s: %v", p, r)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "access::can-trash: "); ok {
			return v
		}
	}
	t.Fatalf("gio info %s: no access::can-trash in %q", p, r.stdout)
	return ""
}

// trashList returns `gio trash --list` as original path → trash:// URI.
func (m *mount) trashList(t *testing.T) map[string]string {
	t.Helper()
	r := m.gio(t, "trash", "--list")
	if r.err != nil {
		t.Fatalf("gio trash --list: %v", r)
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if uri, orig, ok := strings.Cut(line, "\t"); ok {
			out[orig] = uri
		}
	}
	return out
}

// diskIno returns the inode number of rel on s's disk (0 if missing).
func diskIno(s *realftpd.Server, rel string) uint64 {
	var st syscall.Stat_t
	if err := syscall.Lstat(s.Path(rel), &st); err != nil {
		return 0
	}
	return st.Ino
}

func TestTrashWithGIO(t *testing.T) {
	t.Parallel()
	needTools(t, gvfsTools...)
	alpha, beta := startPair(t, realftpd.Options{}, realftpd.Options{})
	a := putRandom(t, alpha, "/docs/report.txt", 300000)
	b := putRandom(t, beta, "/report.txt", 1000)
	putRandom(t, beta, "/dir/inner/c.bin", 2000)
	m := startMount(t, mountSpec{servers: []*realftpd.Server{alpha, beta}})
	uid := os.Geteuid()
	st := fmt.Sprintf("/.Trash-%d", uid) // each server's trash folder

	for _, p := range []string{m.path("alpha", "docs", "report.txt"), m.path("beta", "dir")} {
		if got := m.canTrash(t, p); got != "TRUE" {
			t.Errorf("access::can-trash of %s = %s, want TRUE", p, got)
		}
	}

	// gio trash: each file into its own server's trash, by a rename on the
	// server (the same inode on its disk), the same name on both servers
	// made unique.
	ino := diskIno(alpha, "/docs/report.txt")
	r := m.gio(t, "trash", m.path("alpha", "docs", "report.txt"), m.path("beta", "report.txt"), m.path("beta", "dir"))
	if r.err != nil {
		t.Fatalf("gio trash: %v", r)
	}
	if got := diskIno(alpha, st+"/files/report.txt"); got != ino {
		t.Errorf("alpha's trashed file: inode %d, want %d (the file renamed, not copied)", got, ino)
	}
	if got := readDisk(t, beta, st+"/files/report.2.txt"); string(got) != string(b) {
		t.Error("beta's trashed file differs")
	}
	if ok, _ := existsDisk(beta, st+"/files/dir/inner/c.bin"); !ok {
		t.Error("beta's trashed folder is not in beta's trash")
	}
	for _, p := range []string{m.path("alpha", "docs", "report.txt"), m.path("beta", "report.txt"), m.path("beta", "dir")} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s after gio trash: %v", p, err)
		}
	}

	// gio trash --list (gvfsd-trash) shows all three with their original paths.
	list := m.trashList(t)
	for _, orig := range []string{m.path("alpha", "docs", "report.txt"), m.path("beta", "report.txt"), m.path("beta", "dir")} {
		if list[orig] == "" {
			t.Errorf("gio trash --list lacks %s: %v", orig, list)
		}
	}

	// Restore: back in place on its server, the same inode.
	if r := m.gio(t, "trash", "--restore", list[m.path("alpha", "docs", "report.txt")]); r.err != nil {
		t.Fatalf("gio trash --restore: %v", r)
	}
	if got := diskIno(alpha, "/docs/report.txt"); got != ino {
		t.Errorf("restored file: inode %d, want %d", got, ino)
	}
	if got := readDisk(t, alpha, "/docs/report.txt"); string(got) != string(a) {
		t.Error("restored file differs")
	}
	if ok, _ := existsDisk(alpha, st+"/info/report.txt.trashinfo"); ok {
		t.Error("the restored file's info file is still in alpha's trash")
	}
	if got := fileSHA(t, m.path("alpha", "docs", "report.txt")); got != shaHex(a) {
		t.Error("the restored file reads wrong through the mount")
	}

	// Empty: gvfs moves each item into expunged/ and deletes it there (in
	// the background: the session waits for it).
	r = m.gioSh(t, time.Minute, `gio trash --empty || exit 1
for i in $(seq 300); do
	[ -z "$(find "$1" "$2" -mindepth 1 2>/dev/null)" ] && exit 0
	sleep 0.1
done
echo "never emptied: $(find "$1" "$2" -mindepth 1)"; exit 1`, beta.Path(st+"/expunged"), beta.Path(st+"/files"))
	if r.err != nil {
		t.Fatalf("gio trash --empty: %v", r)
	}
	if got := m.trashList(t); len(got) != 0 {
		t.Errorf("gio trash --list after --empty: %v", got)
	}
	for _, s := range []*realftpd.Server{alpha, beta} {
		for _, sub := range []string{"files", "info", "expunged"} {
			ents, _ := os.ReadDir(s.Path(st + "/" + sub))
			if len(ents) != 0 {
				t.Errorf("%s:%s/%s after --empty holds %d entries", s.Name, st, sub, len(ents))
			}
		}
	}
}

func TestTrashRefusedByServer(t *testing.T) {
	t.Parallel()
	needTools(t, gvfsTools...)
	// Both servers' login users cannot write the servers' root (owned by
	// root): MKD of the trash folder is refused there.
	alpha, beta := startPair(t, realftpd.Options{}, realftpd.Options{})
	for _, s := range []*realftpd.Server{alpha, beta} {
		putRandom(t, s, "/f.txt", 100)
		if err := os.Chown(s.Root, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	m := startMount(t, mountSpec{servers: []*realftpd.Server{alpha, beta}})
	for _, s := range []*realftpd.Server{alpha, beta} {
		t.Run(s.Name, func(t *testing.T) {
			p := m.path(s.Name, "f.txt")
			if got := m.canTrash(t, p); got != "FALSE" {
				t.Errorf("access::can-trash of %s on a server refusing its trash folder = %s, want FALSE", p, got)
			}
			r := m.gio(t, "trash", p)
			if r.err == nil {
				t.Fatalf("gio trash on a server refusing its trash folder succeeded: %v", r)
			}
			if _, err := os.Stat(p); err != nil {
				t.Errorf("after the refused trash: %v", err)
			}
			if ents, _ := os.ReadDir(s.Root); len(ents) != 1 {
				t.Errorf("the server's root holds %d entries after the refused trash, want f.txt only", len(ents))
			}
		})
	}
}

// TestGIOIgnoresOtherMounts: a FUSE mount elsewhere on the machine that
// does not answer (its daemon stopped) does not hold up GIO's trash: the
// gvfsd-trash of `gio trash --list` looks into every mount it sees
// (access(2) of its top directory, then .Trash-UID/files) and would wait
// for that one for ever; in the namespace the tests run gio in, it is not
// there (gio_helpers_test.go).
func TestGIOIgnoresOtherMounts(t *testing.T) {
	t.Parallel()
	needTools(t, gvfsTools...)
	alpha := startAlpha(t, realftpd.Options{})
	putRandom(t, alpha, "/f.txt", 100)
	m := startMount(t, mountSpec{servers: []*realftpd.Server{alpha}})
	stuck := startMount(t, mountSpec{servers: []*realftpd.Server{alpha}})
	if r := m.gio(t, "trash", m.path("alpha", "f.txt")); r.err != nil {
		t.Fatalf("gio trash: %v", r)
	}

	if err := syscall.Kill(stuck.pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resume := func() {
		if err := syscall.Kill(stuck.pid(), syscall.SIGCONT); err != nil {
			t.Errorf("resume the stopped mount: %v", err)
		}
	}
	defer resume() // before the mounts' cleanup unmounts them
	list := m.trashList(t)
	if list[m.path("alpha", "f.txt")] == "" {
		t.Errorf("gio trash --list with another mount not answering: %v, want f.txt", list)
	}
}
