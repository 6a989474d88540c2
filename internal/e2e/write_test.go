package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// touchTime is `touch -d '2020-01-02 03:04:05'` in UTC (testEnv sets TZ=UTC).
var touchTime = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

// TestWriteOps drives cp, mv, rm, mkdir, rmdir and touch -d through the
// mount on each server and checks the result on disk.
func TestWriteOps(t *testing.T) {
	t.Parallel()
	alpha, beta := startPair(t, realftpd.Options{}, realftpd.Options{})
	local := t.TempDir()
	in := randomBytes(t, 3<<20+777)
	if err := os.WriteFile(filepath.Join(local, "in.bin"), in, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*realftpd.Server{alpha, beta} {
		putRandom(t, s, "/work/touched.txt", 1000)
	}
	m := startMount(t, mountSpec{servers: []*realftpd.Server{alpha, beta}})

	// Both servers can set a file's mtime: vsftpd with "MDTM time path"
	// (mdtm_write=YES, its default), pure-ftpd with MFMT. On a server that
	// can't, touch must still succeed (the time then lives in the cache).
	setsMtime := map[realftpd.Kind]bool{realftpd.Vsftpd: true, realftpd.PureFTPd: true}

	for _, s := range []*realftpd.Server{alpha, beta} {
		t.Run(s.Name+"-"+string(s.Kind), func(t *testing.T) {
			w := m.path(s.Name, "work")
			t.Run("cp_in", func(t *testing.T) {
				m.mustRun(t, "cp", filepath.Join(local, "in.bin"), w+"/in.bin")
				if got := readDisk(t, s, "/work/in.bin"); shaHex(got) != shaHex(in) {
					t.Errorf("on disk: %d bytes sha %s, want %d bytes sha %s", len(got), shaHex(got), len(in), shaHex(in))
				}
				if got := m.mustRun(t, "stat", "-c", "%s", w+"/in.bin"); got != strconv.Itoa(len(in))+"\n" {
					t.Errorf("stat size through the mount = %q, want %d", got, len(in))
				}
			})
			t.Run("mv_within_server", func(t *testing.T) {
				m.mustRun(t, "mkdir", w+"/sub dir")
				m.mustRun(t, "mv", w+"/in.bin", w+"/sub dir/moved file.bin")
				if ok, _ := existsDisk(s, "/work/in.bin"); ok {
					t.Errorf("in.bin still on disk after mv")
				}
				if got := readDisk(t, s, "/work/sub dir/moved file.bin"); shaHex(got) != shaHex(in) {
					t.Errorf("moved file on disk: sha %s, want %s", shaHex(got), shaHex(in))
				}
				if r := m.run(t, "stat", w+"/in.bin"); r.err == nil || !strings.Contains(r.stderr, "No such file") {
					t.Errorf("stat of the old name through the mount: %s", r)
				}
			})
			t.Run("rm", func(t *testing.T) {
				m.mustRun(t, "rm", w+"/sub dir/moved file.bin")
				if ok, _ := existsDisk(s, "/work/sub dir/moved file.bin"); ok {
					t.Errorf("file still on disk after rm")
				}
				if got := m.mustRun(t, "ls", "-A", w+"/sub dir"); got != "" {
					t.Errorf("ls after rm = %q, want nothing", got)
				}
			})
			t.Run("mkdir_rmdir", func(t *testing.T) {
				m.mustRun(t, "mkdir", w+"/new dir")
				if fi, err := os.Stat(s.Path("/work/new dir")); err != nil || !fi.IsDir() {
					t.Fatalf("after mkdir, on disk: %v", err)
				}
				m.mustRun(t, "touch", w+"/new dir/f")
				if r := m.run(t, "rmdir", w+"/new dir"); r.err == nil || !strings.Contains(r.stderr, "not empty") {
					t.Errorf("rmdir of a non-empty directory: %s", r)
				}
				m.mustRun(t, "rm", w+"/new dir/f")
				m.mustRun(t, "rmdir", w+"/new dir")
				if ok, _ := existsDisk(s, "/work/new dir"); ok {
					t.Errorf("directory still on disk after rmdir")
				}
			})
			t.Run("fchmod_open_new_file", func(t *testing.T) {
				// rsync and mkstemp: create, fchmod before any write, stat.
				for _, c := range []struct {
					name string
					data []byte
				}{{"fchmod-empty", nil}, {"fchmod-data", []byte("data\n")}} {
					p := w + "/" + c.name
					f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
					if err != nil {
						t.Fatal(err)
					}
					if err := f.Chmod(0o640); err != nil {
						t.Errorf("%s: fchmod: %v", c.name, err)
					}
					if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o640 {
						t.Errorf("%s: stat after fchmod 640 on the open file: %v, mode %v", c.name, err, fi.Mode().Perm())
					}
					if _, err := f.Write(c.data); err != nil {
						t.Errorf("%s: write: %v", c.name, err)
					}
					if err := f.Close(); err != nil {
						t.Errorf("%s: close: %v", c.name, err)
					}
					if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o640 {
						t.Errorf("%s: stat after close: %v, mode %v", c.name, err, fi.Mode().Perm())
					}
					if fi, err := os.Stat(s.Path("/work/" + c.name)); err != nil || fi.Mode().Perm() != 0o640 {
						t.Errorf("%s on disk: %v, mode %v, want 0640 (%s has SITE CHMOD)", c.name, err, fi.Mode().Perm(), s.Kind)
					}
				}
			})
			t.Run("touch_d", func(t *testing.T) {
				// A directory first: where the server cannot set a
				// directory's time (vsftpd's MDTM works on files only),
				// the call still succeeds, and files' times still reach
				// the server afterwards.
				m.mustRun(t, "mkdir", w+"/tdir")
				m.mustRun(t, "touch", "-d", "2020-01-02 03:04:05", w+"/tdir")
				for _, name := range []string{"touched.txt", "touched-new.txt"} {
					m.mustRun(t, "touch", "-d", "2020-01-02 03:04:05", w+"/"+name)
					want := strconv.FormatInt(touchTime.Unix(), 10) + "\n"
					if got := m.mustRun(t, "stat", "-c", "%Y", w+"/"+name); got != want {
						t.Errorf("%s: mtime through the mount %q, want %q", name, got, want)
					}
					fi, err := os.Stat(s.Path("/work/" + name))
					if err != nil {
						t.Fatalf("%s on disk: %v", name, err)
					}
					if setsMtime[s.Kind] && !fi.ModTime().Equal(touchTime) {
						t.Errorf("%s: mtime on disk %v, want %v (%s can set mtimes)", name, fi.ModTime().UTC(), touchTime, s.Kind)
					}
				}
				if _, n := existsDisk(s, "/work/touched.txt"); n != 1000 {
					t.Errorf("touch changed the size on disk to %d", n)
				}
			})
		})
	}
}

// TestPartialWrites checks appending (>>), overwriting with a shorter file
// (> truncates), patching in place with dd conv=notrunc and with an O_RDWR
// handle, on each server.
func TestPartialWrites(t *testing.T) {
	t.Parallel()
	alpha, beta := startPair(t, realftpd.Options{}, realftpd.Options{})
	orig := map[string]map[string][]byte{}
	for _, s := range []*realftpd.Server{alpha, beta} {
		orig[s.Name] = map[string][]byte{
			"small.txt":  []byte("hello\n"),
			"append.bin": putRandom(t, s, "/p/append.bin", 2<<20+3),
			"trunc.bin":  putRandom(t, s, "/p/trunc.bin", 1<<20),
			"dd.bin":     putRandom(t, s, "/p/dd.bin", 1<<20+11),
			"rdwr.bin":   putRandom(t, s, "/p/rdwr.bin", 3<<20+5),
		}
		s.WriteFile(t, "/p/small.txt", orig[s.Name]["small.txt"])
	}
	local := t.TempDir()
	extra := randomBytes(t, 100_000)
	if err := os.WriteFile(filepath.Join(local, "extra"), extra, 0o644); err != nil {
		t.Fatal(err)
	}
	m := startMount(t, mountSpec{servers: []*realftpd.Server{alpha, beta}})

	for _, s := range []*realftpd.Server{alpha, beta} {
		t.Run(s.Name+"-"+string(s.Kind), func(t *testing.T) {
			o := orig[s.Name]
			p := func(name string) string { return m.path(s.Name, "p", name) }
			check := func(t *testing.T, name string, want []byte) {
				t.Helper()
				got := readDisk(t, s, "/p/"+name)
				if !bytes.Equal(got, want) {
					t.Errorf("%s on disk: %d bytes sha %s, want %d bytes sha %s",
						name, len(got), shaHex(got), len(want), shaHex(want))
				}
				if sz := m.mustRun(t, "stat", "-c", "%s", p(name)); sz != strconv.Itoa(len(want))+"\n" {
					t.Errorf("%s: size through the mount %q, want %d", name, sz, len(want))
				}
			}
			t.Run("append_small", func(t *testing.T) {
				m.mustSh(t, `printf 'more\n' >> "$1"`, p("small.txt"))
				check(t, "small.txt", []byte("hello\nmore\n"))
			})
			t.Run("append_large", func(t *testing.T) {
				m.mustSh(t, `cat "$1" >> "$2"`, filepath.Join(local, "extra"), p("append.bin"))
				check(t, "append.bin", append(bytes.Clone(o["append.bin"]), extra...))
			})
			t.Run("overwrite_shorter", func(t *testing.T) {
				m.mustSh(t, `printf 'short' > "$1"`, p("trunc.bin"))
				check(t, "trunc.bin", []byte("short"))
			})
			t.Run("dd_notrunc_seek", func(t *testing.T) {
				m.mustSh(t, `printf 'PATCH' | dd of="$1" bs=1 seek=500000 conv=notrunc status=none`, p("dd.bin"))
				want := bytes.Clone(o["dd.bin"])
				copy(want[500000:], "PATCH")
				check(t, "dd.bin", want)
			})
			t.Run("o_rdwr_patch", func(t *testing.T) {
				want := bytes.Clone(o["rdwr.bin"])
				f, err := os.OpenFile(p("rdwr.bin"), os.O_RDWR, 0)
				if err != nil {
					t.Fatalf("open O_RDWR: %v", err)
				}
				buf := make([]byte, 4096)
				if _, err := f.ReadAt(buf, 1<<20); err != nil || !bytes.Equal(buf, want[1<<20:1<<20+4096]) {
					t.Errorf("read before the patch: %v, data equal %v", err, bytes.Equal(buf, want[1<<20:1<<20+4096]))
				}
				patch := randomBytes(t, 10_000)
				if _, err := f.WriteAt(patch, 2<<20-5000); err != nil {
					t.Errorf("write in the middle: %v", err)
				}
				copy(want[2<<20-5000:], patch)
				back := make([]byte, 20_000)
				if _, err := f.ReadAt(back, 2<<20-10_000); err != nil || !bytes.Equal(back, want[2<<20-10_000:2<<20+10_000]) {
					t.Errorf("reading the patched region back through the same handle: %v, equal %v",
						err, bytes.Equal(back, want[2<<20-10_000:2<<20+10_000]))
				}
				if err := f.Close(); err != nil {
					t.Fatalf("close after the patch: %v", err)
				}
				check(t, "rdwr.bin", want)
			})
		})
	}
}
