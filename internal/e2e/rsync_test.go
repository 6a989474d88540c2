package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// TestRsyncInto runs `rsync -a` of a local tree into the mount on each
// server, twice (the second time after changing and adding a file), and
// compares every file (sha256, mode, mtime) with the server's disk.
func TestRsyncInto(t *testing.T) {
	t.Parallel()
	needTools(t, "rsync")
	alpha, beta := startPair(t, realftpd.Options{}, realftpd.Options{})
	src := filepath.Join(t.TempDir(), "src")
	files := makeTree(t, "", 30, 4, 0, 200_000)
	perms := []fs.FileMode{0o644, 0o600, 0o755, 0o640}
	writeLocal := func(i int) {
		f := files[i]
		p := filepath.Join(src, filepath.FromSlash(f.rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.perm); err != nil {
			t.Fatal(err)
		}
		setTimes(t, p, oldTime.Add(time.Duration(i)*time.Minute))
	}
	files[4].data = nil // an empty file: rsync's temporary copy gets no write
	for i := range files {
		files[i].perm = perms[i%len(perms)]
		writeLocal(i)
	}
	m := startMount(t, mountSpec{servers: []*realftpd.Server{alpha, beta}, args: []string{"--debug"}})
	servers := []*realftpd.Server{alpha, beta}

	check := func(t *testing.T, s *realftpd.Server) {
		t.Helper()
		checkTree(t, s.Root, files, "", "/rs")
		for i, f := range files {
			fi, err := os.Stat(s.Path("/rs" + f.rel))
			if err != nil {
				continue // reported by checkTree
			}
			if fi.Mode().Perm() != f.perm {
				t.Errorf("%s on disk: mode %v, want %v", f.rel, fi.Mode().Perm(), f.perm)
			}
			if want := oldTime.Add(time.Duration(i) * time.Minute); !fi.ModTime().Equal(want) {
				t.Errorf("%s on disk: mtime %v, want %v", f.rel, fi.ModTime().UTC(), want)
			}
		}
	}
	for _, s := range servers {
		t.Run("first/"+s.Name+"-"+string(s.Kind), func(t *testing.T) {
			m.mustRun(t, "rsync", "-a", src+"/", m.path(s.Name, "rs")+"/")
			check(t, s)
		})
	}

	// Change one file's content and size, add one.
	files[0].data = append(files[0].data, randomBytes(t, 1000)...)
	writeLocal(0)
	files = append(files, fileSpec{rel: "/dir 01/new file.bin", data: randomBytes(t, 5000), perm: 0o644})
	writeLocal(len(files) - 1)
	wantChanged := []string{strings.TrimPrefix(files[0].rel, "/"), "dir 01/new file.bin"}
	sort.Strings(wantChanged)

	for _, s := range servers {
		t.Run("second/"+s.Name+"-"+string(s.Kind), func(t *testing.T) {
			out := m.mustRun(t, "rsync", "-a", "-i", src+"/", m.path(s.Name, "rs")+"/")
			var changed []string
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, ">f") && len(line) > 12 {
					changed = append(changed, strings.TrimSpace(line[12:]))
				}
			}
			sort.Strings(changed)
			if strings.Join(changed, "|") != strings.Join(wantChanged, "|") {
				t.Errorf("second rsync -a transferred %q, want only %q (unchanged files must look unchanged)\n%s",
					changed, wantChanged, out)
			}
			check(t, s)
		})
	}
}
