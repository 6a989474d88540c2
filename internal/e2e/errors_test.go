package e2e

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// diskNames lists the names in directory rel on s's disk.
func diskNames(t testing.TB, s *realftpd.Server, rel string) []string {
	t.Helper()
	ents, err := os.ReadDir(s.Path(rel))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestBadNames: names with LF or CR get EINVAL from the mount, names of 256
// bytes ENAMETOOLONG, and nothing reaches the server (no FTP command at
// all, with the directory cached).
func TestBadNames(t *testing.T) {
	t.Parallel()
	alpha, beta := startPair(t, realftpd.Options{}, realftpd.Options{})
	for _, s := range []*realftpd.Server{alpha, beta} {
		s.WriteFile(t, "/bad/ok.txt", []byte("ok\n"))
	}
	m := startMount(t, mountSpec{servers: []*realftpd.Server{alpha, beta}})
	long := strings.Repeat("n", 256)
	cases := []struct{ name, script, want string }{
		{"touch_LF", `touch "$1"/$'a\nb'`, "Invalid argument"},
		{"touch_CR", `touch "$1"/$'c\rd'`, "Invalid argument"},
		{"redirect_LF", `echo x > "$1"/$'e\nf'`, "Invalid argument"},
		{"mkdir_LF", `mkdir "$1"/$'g\nh'`, "Invalid argument"},
		{"mv_to_LF", `mv "$1"/ok.txt "$1"/$'i\nj'`, "Invalid argument"},
		{"touch_CRLF_suffix", `touch "$1"/$'k\r\n'`, "Invalid argument"},
		{"touch_256_bytes", `touch "$1"/` + long, "File name too long"},
		{"mkdir_256_bytes", `mkdir "$1"/` + long, "File name too long"},
	}
	for _, s := range []*realftpd.Server{alpha, beta} {
		t.Run(s.Name+"-"+string(s.Kind), func(t *testing.T) {
			dir := m.path(s.Name, "bad")
			m.mustRun(t, "ls", "-l", dir) // the listing is cached from here on
			before := m.stats(t, s.Name)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					r := m.sh(t, c.script, dir)
					if r.err == nil || !strings.Contains(r.stderr, c.want) {
						t.Errorf("want a failure with %q: %s", c.want, r)
					}
				})
			}
			if d := m.stats(t, s.Name).Commands - before.Commands; d != 0 {
				t.Errorf("the bad names sent %d FTP commands, want 0", d)
			}
			if got := diskNames(t, s, "/bad"); !slices.Equal(got, []string{"ok.txt"}) {
				t.Errorf("on disk after the bad names: %q, want only ok.txt", got)
			}
		})
	}
}

// TestFailedUpload: an upload the server refuses (a directory the FTP user
// cannot write) fails the writing command with an error, and leaves no file
// that looks complete, on disk or in the mount.
func TestFailedUpload(t *testing.T) {
	t.Parallel()
	alpha, beta := startPair(t, realftpd.Options{}, realftpd.Options{})
	existing := randomBytes(t, 300_000)
	for _, s := range []*realftpd.Server{alpha, beta} {
		s.WriteFile(t, "/locked/existing.bin", existing)
		// A file the FTP user may delete (its directory is writable) but
		// not write.
		s.WriteFile(t, "/open/readonly.bin", existing)
		for _, p := range []string{"/locked/existing.bin", "/locked", "/open/readonly.bin"} {
			if err := os.Chown(s.Path(p), 0, 0); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(s.Path("/locked"), 0o555); err != nil {
			t.Fatal(err)
		}
	}
	local := filepath.Join(t.TempDir(), "in.bin")
	data := randomBytes(t, 2<<20)
	if err := os.WriteFile(local, data, 0o644); err != nil {
		t.Fatal(err)
	}
	m := startMount(t, mountSpec{servers: []*realftpd.Server{alpha, beta}})
	okErr := func(s string) bool {
		return strings.Contains(s, "Input/output error") || strings.Contains(s, "Permission denied")
	}
	for _, s := range []*realftpd.Server{alpha, beta} {
		t.Run(s.Name+"-"+string(s.Kind), func(t *testing.T) {
			dir := m.path(s.Name, "locked")
			r := m.run(t, "cp", local, dir+"/cp.bin")
			if r.err == nil || !okErr(r.stderr) {
				t.Errorf("cp into an unwritable directory: want EIO or EACCES: %s", r)
			}

			// The same by hand: open, write, close, streamed (O_WRONLY)
			// and spooled (O_RDWR, uploaded at close); the first error
			// must be EIO or EACCES, and there must be one.
			for _, c := range []struct {
				name string
				flag int
			}{{"byhand.bin", os.O_WRONLY}, {"rdwr.bin", os.O_RDWR}} {
				var firstErr error
				f, err := os.OpenFile(dir+"/"+c.name, os.O_CREATE|os.O_TRUNC|c.flag, 0o644)
				if err != nil {
					firstErr = err
				} else {
					if _, err := f.Write(data); err != nil {
						firstErr = err
					}
					if err := f.Close(); err != nil && firstErr == nil {
						firstErr = err
					}
				}
				switch {
				case firstErr == nil:
					t.Errorf("%s: open+write+close into an unwritable directory all succeeded", c.name)
				case !errors.Is(firstErr, syscall.EIO) && !errors.Is(firstErr, syscall.EACCES):
					t.Errorf("%s: open+write+close: first error %v, want EIO or EACCES", c.name, firstErr)
				default:
					t.Logf("%s: open+write+close: %v", c.name, firstErr)
				}
			}

			// Patching and appending to a file the FTP user cannot write:
			// the upload happens at close, so close fails; the file stays
			// as it was, on disk and in the mount, whether or not the user
			// could delete it.
			for _, rel := range []string{"/locked/existing.bin", "/open/readonly.bin"} {
				for _, script := range []string{
					`printf 'PATCH' | dd of="$1" bs=1 seek=1000 conv=notrunc status=none`,
					`printf 'more' >> "$1"`,
				} {
					if r := m.sh(t, script, m.path(s.Name, rel)); r.err == nil || !okErr(r.stderr) {
						t.Errorf("%s on %s (the server refuses to write it): want EIO or EACCES: %s", script, rel, r)
					}
				}
				if ok, _ := existsDisk(s, rel); !ok {
					t.Errorf("%s was deleted from the server after a refused write (data loss)", rel)
				} else if got := readDisk(t, s, rel); shaHex(got) != shaHex(existing) {
					t.Errorf("%s changed on disk (%d bytes) after refused writes", rel, len(got))
				}
				if r := m.run(t, "stat", "-c", "%s", m.path(s.Name, rel)); r.err != nil || r.stdout != "300000\n" {
					t.Errorf("%s: the mount no longer shows the intact file after a refused write: %s", rel, r)
				}
			}

			if got := diskNames(t, s, "/locked"); !slices.Equal(got, []string{"existing.bin"}) {
				t.Errorf("on disk after the failed uploads: %q, want only existing.bin", got)
			}
			for _, name := range []string{"cp.bin", "byhand.bin", "rdwr.bin"} {
				if r := m.run(t, "stat", "-c", "%s", dir+"/"+name); r.err == nil {
					t.Errorf("%s: the mount still shows the failed upload (size %s)", name, strings.TrimSpace(r.stdout))
				}
			}
		})
	}
}

// TestReadOnlyMount: with --read-only every change fails with EROFS and the
// servers' disks stay as they were; reading works.
func TestReadOnlyMount(t *testing.T) {
	t.Parallel()
	alpha, beta := startPair(t, realftpd.Options{}, realftpd.Options{})
	for _, s := range []*realftpd.Server{alpha, beta} {
		s.WriteFile(t, "/ro/file.txt", []byte("read me\n"))
		s.MkdirAll(t, "/ro/dir")
	}
	local := filepath.Join(t.TempDir(), "local.txt")
	if err := os.WriteFile(local, []byte("local\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := startMount(t, mountSpec{servers: []*realftpd.Server{alpha, beta}, args: []string{"--read-only"}})
	cases := []struct{ name, script string }{
		{"touch_new", `touch "$1/new"`},
		{"touch_d_existing", `touch -d '2020-01-02 03:04:05' "$1/file.txt"`},
		{"overwrite", `echo x > "$1/file.txt"`},
		{"append", `echo x >> "$1/file.txt"`},
		{"rm", `rm "$1/file.txt"`},
		{"mkdir", `mkdir "$1/newdir"`},
		{"rmdir", `rmdir "$1/dir"`},
		{"mv", `mv "$1/file.txt" "$1/moved.txt"`},
		{"cp_in", `cp "$2" "$1/"`},
		{"chmod", `chmod 600 "$1/file.txt"`},
	}
	for _, s := range []*realftpd.Server{alpha, beta} {
		t.Run(s.Name+"-"+string(s.Kind), func(t *testing.T) {
			dir := m.path(s.Name, "ro")
			fi0, err := os.Stat(s.Path("/ro/file.txt"))
			if err != nil {
				t.Fatal(err)
			}
			if got := m.mustRun(t, "cat", dir+"/file.txt"); got != "read me\n" {
				t.Errorf("cat = %q", got)
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					r := m.sh(t, c.script, dir, local)
					if r.err == nil || !strings.Contains(r.stderr, "Read-only file system") {
						t.Errorf("want a failure with EROFS: %s", r)
					}
				})
			}
			if got := diskNames(t, s, "/ro"); !slices.Equal(got, []string{"dir", "file.txt"}) {
				t.Errorf("on disk: %q, want dir and file.txt", got)
			}
			fi, err := os.Stat(s.Path("/ro/file.txt"))
			if err != nil || string(readDisk(t, s, "/ro/file.txt")) != "read me\n" ||
				!fi.ModTime().Equal(fi0.ModTime()) || fi.Mode() != fi0.Mode() {
				t.Errorf("file.txt changed on disk: %v", err)
			}
		})
	}
}
