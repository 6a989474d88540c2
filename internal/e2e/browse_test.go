package e2e

import (
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fxpfs/fxpfs/internal/realftpd"
)

// Times on minute boundaries, so that LIST's precision (minutes for recent
// files, days for old ones) loses nothing: the mount must show them exactly.
var (
	oldTime    = time.Date(2021, 3, 4, 0, 0, 0, 0, time.UTC)
	recentTime = time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Minute)
)

// populateBrowseTree puts the listing tests' tree on s's disk and returns
// the number of directories a full walk lists (the root included).
func populateBrowseTree(t testing.TB, s *realftpd.Server) int {
	t.Helper()
	files := []struct {
		rel  string
		size int
		perm fs.FileMode
		mt   time.Time
	}{
		{"/a.txt", 100, 0o644, oldTime},
		{"/name with  two spaces.bin", 3000, 0o644, recentTime},
		{"/private.txt", 10, 0o640, recentTime},
		{"/empty file", 0, 0o644, oldTime},
		{"/dir one/b.bin", 70000, 0o644, oldTime},
		{"/dir one/nested/deep/c c.txt", 5, 0o600, recentTime},
	}
	const many = 12
	for i := range many {
		files = append(files, struct {
			rel  string
			size int
			perm fs.FileMode
			mt   time.Time
		}{fmt.Sprintf("/many/d%02d/f%02d.txt", i, i), i + 1, 0o644, recentTime})
	}
	for _, f := range files {
		putRandom(t, s, f.rel, f.size)
		if err := os.Chmod(s.Path(f.rel), f.perm); err != nil {
			t.Fatal(err)
		}
		setTimes(t, s.Path(f.rel), f.mt)
	}
	s.MkdirAll(t, "/empty dir")
	if err := os.Symlink("a.txt", s.Path("/link to a")); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(s.Path("/link to a"), s.UID, s.GID); err != nil {
		t.Fatal(err)
	}
	dirs := []string{"/dir one", "/dir one/nested", "/dir one/nested/deep", "/empty dir", "/many"}
	for i := range many {
		dirs = append(dirs, fmt.Sprintf("/many/d%02d", i))
	}
	for _, d := range dirs {
		setTimes(t, s.Path(d), oldTime)
	}
	return len(dirs) + 1
}

// listingRE matches a traced listing command of the daemon's --debug log.
var listingRE = regexp.MustCompile(`msg="ftp > (MLSD|LIST)[ "]`)

// countListings counts the listing commands sent to server name in log.
func countListings(log, name string) int {
	n := 0
	for _, line := range strings.Split(log, "\n") {
		if listingRE.MatchString(line) && strings.Contains(line, " server="+name) {
			n++
		}
	}
	return n
}

// TestBrowseListings checks ls -l, stat and find through the mount against
// each server's tree on disk, and that a cold walk costs one listing per
// directory while a warm one (within the TTL) sends no FTP command at all.
func TestBrowseListings(t *testing.T) {
	t.Parallel()
	alpha, beta := startPair(t, realftpd.Options{}, realftpd.Options{})
	dirs := map[string]int{}
	for _, s := range []*realftpd.Server{alpha, beta} {
		dirs[s.Name] = populateBrowseTree(t, s)
	}
	m := startMount(t, mountSpec{servers: []*realftpd.Server{alpha, beta}, args: []string{"--debug"}})

	if got := m.mustSh(t, `ls "$1"`, m.dir); got != "alpha\nbeta\n" {
		t.Errorf("ls of the mount root = %q, want alpha and beta", got)
	}
	for _, s := range []*realftpd.Server{alpha, beta} {
		t.Run(s.Name+"-"+string(s.Kind), func(t *testing.T) {
			disk := diskTree(t, s.Root)
			root := m.path(s.Name)

			// Cold walk: one listing per directory, plus a few commands.
			before := m.stats(t, s.Name)
			logStart := fileSize(m.logFile)
			got := parseFind(t, m.mustRun(t, "find", root, "-mindepth", "1", "-printf", findFormat))
			cold := m.stats(t, s.Name).Commands - before.Commands
			listings := countListings(readFrom(t, m.logFile, logStart), s.Name)
			t.Logf("cold find: %d FTP commands, %d listings, %d directories", cold, listings, dirs[s.Name])
			// One listing per directory, plus one LIST of the root where
			// MLSD names a symlink without its target (pure-ftpd): the
			// tree has one symlink, in the root.
			want := dirs[s.Name]
			if s.Kind == realftpd.PureFTPd {
				want++
			}
			if listings < 1 || listings > want {
				t.Errorf("cold find sent %d listing commands for %d directories, want at most %d",
					listings, dirs[s.Name], want)
			}
			files := 0 // a LIST server gets one MDTM per file too (precise mtimes, pipelined)
			for _, e := range disk {
				if e.Type == 'f' {
					files++
				}
			}
			if limit := int64(4*dirs[s.Name] + files + 10); cold < 1 || cold > limit {
				t.Errorf("cold find sent %d FTP commands, want 1..%d (%d directories, %d files)", cold, limit, dirs[s.Name], files)
			}
			compareEntries(t, s, "find", got, disk)

			// Warm: find, ls -l and stat answer from the cache.
			before = m.stats(t, s.Name)
			again := parseFind(t, m.mustRun(t, "find", root, "-mindepth", "1", "-printf", findFormat))
			compareEntries(t, s, "second find", again, disk)
			for _, dir := range []string{"", "dir one", "many/d03", "empty dir"} {
				checkLsL(t, m, s, dir, disk)
			}
			checkStat(t, m, s, disk)
			if warm := m.stats(t, s.Name).Commands - before.Commands; warm != 0 {
				t.Errorf("warm find + ls -l + stat within the TTL sent %d FTP commands, want 0", warm)
			}
		})
	}
}

// compareEntries compares a listing of the mount with the disk tree.
func compareEntries(t *testing.T, s *realftpd.Server, what string, got, disk map[string]entry) {
	t.Helper()
	for _, k := range sortedKeys(disk) {
		d, g := disk[k], got[k]
		if _, ok := got[k]; !ok {
			t.Errorf("%s: %q missing from the mount (on disk: %+v)", what, k, d)
			continue
		}
		if g.Type != d.Type {
			t.Errorf("%s: %q has type %c in the mount, %c on disk", what, k, g.Type, d.Type)
			continue
		}
		switch d.Type {
		case 'f':
			if g.Size != d.Size || g.Perm != d.Perm || g.Mtime != d.Mtime {
				t.Errorf("%s: %q in the mount: size %d mode %v mtime %s; on disk: size %d mode %v mtime %s", what, k,
					g.Size, g.Perm, time.Unix(g.Mtime, 0).UTC(), d.Size, d.Perm, time.Unix(d.Mtime, 0).UTC())
			}
		case 'd':
			if g.Perm != d.Perm || g.Mtime != d.Mtime {
				t.Errorf("%s: directory %q in the mount: mode %v mtime %s; on disk: mode %v mtime %s", what, k,
					g.Perm, time.Unix(g.Mtime, 0).UTC(), d.Perm, time.Unix(d.Mtime, 0).UTC())
			}
		case 'l':
			checkLinkTarget(t, s, what, k, g.Target, d.Target)
		}
	}
	for _, k := range sortedKeys(got) {
		if _, ok := disk[k]; !ok {
			t.Errorf("%s: %q in the mount but not on disk", what, k)
		}
	}
}

// checkLinkTarget: the mount shows a symlink's target as on disk: from
// vsftpd's LIST ("name -> target") and, where pure-ftpd's MLSD says only
// "type=OS.unix=slink:", from a LIST of the directory.
func checkLinkTarget(t *testing.T, s *realftpd.Server, what, name, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s: symlink %q points to %q in the mount, %q on disk (%s)", what, name, got, want, s.Kind)
	}
}

// lsLineRE parses `ls -l --time-style=+%s` lines: mode, size, mtime, name.
var lsLineRE = regexp.MustCompile(`^(\S{10})\S*\s+\d+\s+\S+\s+\S+\s+(\d+)\s+(\d+) (.*)$`)

// checkLsL compares `ls -l` of dir (relative to the server root) with disk.
func checkLsL(t *testing.T, m *mount, s *realftpd.Server, dir string, disk map[string]entry) {
	t.Helper()
	out := m.mustRun(t, "ls", "-l", "--time-style=+%s", m.path(s.Name, dir))
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, "total ") || line == "" {
			continue
		}
		f := lsLineRE.FindStringSubmatch(line)
		if f == nil {
			t.Errorf("ls -l %q: unparsed line %q", dir, line)
			continue
		}
		name := f[4]
		if f[1][0] == 'l' {
			name, _, _ = strings.Cut(name, " -> ")
		}
		rel := strings.TrimPrefix(dir+"/"+name, "/")
		seen[rel] = true
		d, ok := disk[rel]
		if !ok {
			t.Errorf("ls -l %q: %q is not on disk", dir, name)
			continue
		}
		wantMode := string(d.Type) + d.Perm.String()[1:]
		if d.Type == 'f' {
			wantMode = "-" + d.Perm.String()[1:]
		}
		size, _ := strconv.ParseInt(f[2], 10, 64)
		mt, _ := strconv.ParseInt(f[3], 10, 64)
		if f[1] != wantMode {
			t.Errorf("ls -l %q: %q mode %s, want %s", dir, name, f[1], wantMode)
		}
		if d.Type == 'f' && size != d.Size {
			t.Errorf("ls -l %q: %q size %d, want %d", dir, name, size, d.Size)
		}
		if d.Type != 'l' && mt != d.Mtime {
			t.Errorf("ls -l %q: %q mtime %d, want %d", dir, name, mt, d.Mtime)
		}
	}
	for rel := range disk {
		parent := ""
		if i := strings.LastIndexByte(rel, '/'); i >= 0 {
			parent = rel[:i]
		}
		if parent == dir && !seen[rel] {
			t.Errorf("ls -l %q: %q missing", dir, rel)
		}
	}
}

// checkStat runs stat(1) on every entry and compares type, size, mtime,
// mode and st_blocks (= ceil(size/512), so cp never takes a file for sparse).
func checkStat(t *testing.T, m *mount, s *realftpd.Server, disk map[string]entry) {
	t.Helper()
	keys := sortedKeys(disk)
	args := []string{"-c", "%F\t%s\t%Y\t%a\t%b\t%B"}
	for _, k := range keys {
		args = append(args, m.path(s.Name, k))
	}
	lines := strings.Split(strings.TrimSuffix(m.mustRun(t, "stat", args...), "\n"), "\n")
	if len(lines) != len(keys) {
		t.Fatalf("stat printed %d lines for %d paths", len(lines), len(keys))
	}
	kinds := map[byte][]string{'f': {"regular file", "regular empty file"}, 'd': {"directory"}, 'l': {"symbolic link"}}
	for i, k := range keys {
		d := disk[k]
		f := strings.Split(lines[i], "\t")
		if len(f) != 6 {
			t.Errorf("stat %q: %q", k, lines[i])
			continue
		}
		okKind := false
		for _, want := range kinds[d.Type] {
			okKind = okKind || f[0] == want
		}
		if !okKind {
			t.Errorf("stat %q: %q, want %q", k, f[0], kinds[d.Type])
			continue
		}
		if d.Type == 'l' {
			continue
		}
		size, _ := strconv.ParseInt(f[1], 10, 64)
		mt, _ := strconv.ParseInt(f[2], 10, 64)
		perm, _ := strconv.ParseUint(f[3], 8, 32)
		blocks, _ := strconv.ParseInt(f[4], 10, 64)
		if mt != d.Mtime || fs.FileMode(perm) != d.Perm {
			t.Errorf("stat %q: mtime %d mode %o, want %d %o", k, mt, perm, d.Mtime, d.Perm)
		}
		if d.Type == 'f' {
			if size != d.Size {
				t.Errorf("stat %q: size %d, want %d", k, size, d.Size)
			}
			if want := (d.Size + 511) / 512; f[5] != "512" || blocks != want {
				t.Errorf("stat %q: %d blocks of %s bytes, want %d of 512", k, blocks, f[5], want)
			}
		}
	}
}

// fileSize is the size of p now (0 if absent).
func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readFrom reads p from offset off to its end.
func readFrom(t testing.TB, p string, off int64) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	return string(b[off:])
}
